"""Backends by name: importing this package registers every built-in backend."""

from mmevol.backends import grounded as _grounded  # noqa: F401  (registers "grounded")
from mmevol.backends.base import REGISTRY, Backend, make_backend, register

__all__ = ["REGISTRY", "Backend", "make_backend", "register"]
