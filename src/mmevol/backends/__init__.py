"""Backends by name: importing this package registers every built-in backend."""

from mmevol.backends import fake as _fake  # noqa: F401  (registers "fake")
from mmevol.backends import grounded as _grounded  # noqa: F401  (registers "grounded")
from mmevol.backends import hf as _hf  # noqa: F401  (registers "hf"; transformers loads lazily)
from mmevol.backends import openai_compat as _openai  # noqa: F401  (registers "openai")
from mmevol.backends import vllm as _vllm  # noqa: F401  (registers "vllm"; vllm loads lazily)
from mmevol.backends.base import REGISTRY, Backend, make_backend, register

__all__ = ["REGISTRY", "Backend", "make_backend", "register"]
