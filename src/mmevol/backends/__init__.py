"""Real model clients by name: ``openai`` (any OpenAI-compatible endpoint, with admission
control and the Batch API), ``hf`` and ``vllm`` (local models in-process).

Importing this package loads no backend: ``make_backend(name)`` imports the one asked for
(``backends.base.REGISTRY``). The offline programmatic generator lives in ``mmevol.grounded``
and the test model in ``mmevol.testing``; both are registered here by name too.
"""

from mmevol.backends.base import REGISTRY, Backend, backend_factory, make_backend, register

__all__ = ["REGISTRY", "Backend", "backend_factory", "make_backend", "register"]
