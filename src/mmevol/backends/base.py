"""The Backend protocol and the registry of backends by name.

A backend turns one ``ModelCall`` (rendered chat messages + the structured context they were
rendered from + an optional image) into one ``Reply`` (text + usage); both types and the typed
call errors live in ``mmevol.calls``. A backend never parses the text: parsing and repair live in
``mmevol.parse`` so every backend goes through the same ladder.

The registry holds built-in backends as ``"module:Class"`` strings and imports one only when it
is asked for, so importing this module loads no backend; ``register`` adds a class by name.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import ValidationError

from mmevol.backends.options import check_options, one_line
from mmevol.calls import ModelCall, Reply

if TYPE_CHECKING:
    from mmevol.schema import Seed


class Backend(ABC):
    """What the engine needs from a model: complete a call, say what it is, close."""

    name: ClassVar[str]
    model: str
    vision: bool
    # whether ``vision`` means reading the image files (False: a generator that works from the
    # annotations alone, so a seed without its file is fine)
    reads_images: ClassVar[bool] = True

    @abstractmethod
    async def complete(self, call: ModelCall) -> Reply:
        """Answer one call or raise a ``CallError``."""

    def identity(self) -> str:
        """What goes into cache keys: backend name and model (never secrets)."""
        return f"{self.name}:{self.model}"

    def label(self) -> str:
        """Who answered, as a sample's lineage records it: by default ``identity()``; a
        backend whose identity names an endpoint gives a label without it (the endpoint is
        recorded once, in config.json, so two runs against the same model read the same)."""
        return self.identity()

    def describe(self) -> dict[str, Any]:
        """Settings recorded in config.json (never secrets)."""
        return {"backend": self.name, "model": self.model, "vision": self.vision}

    def runtime_record(self) -> dict[str, Any]:
        """What this run learnt of the server (family, structured mode), recorded in
        ``stats.json``; empty when nothing was learnt."""
        return {}

    def cost_estimate(self, call: ModelCall) -> float:
        """Dollars ``call`` is likely to cost, reserved against ``--max-cost`` while it runs
        (0 for backends that cost nothing, or whose price is unknown)."""
        return 0.0

    def seed_warnings(self, seeds: Iterable[Seed]) -> list[str]:
        """What this backend cannot do with these seeds, said before the run (none by default)."""
        return []

    async def preflight(self) -> list[str]:
        """Check, before a run spends calls, that this backend can serve it: raise a
        ``MmevolError`` saying why not, or return warnings (none for a backend with nothing
        to check)."""
        return []

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections; most backends hold none."""


BackendFactory = Callable[..., Backend]
# name -> a factory, or "module:attribute" of a built-in imported when first asked for
REGISTRY: dict[str, BackendFactory | str] = {
    "openai": "mmevol.backends.openai_compat:OpenAIBackend",
    "grounded": "mmevol.grounded.backend:GroundedBackend",
    "hf": "mmevol.backends.hf:HFBackend",
    "vllm": "mmevol.backends.vllm:VLLMBackend",
    "fake": "mmevol.testing.fake:FakeBackend",
}


def register(name: str) -> Callable[[BackendFactory], BackendFactory]:
    """Class decorator: make a backend constructible by name (``--backend NAME``)."""

    def deco(factory: BackendFactory) -> BackendFactory:
        REGISTRY[name] = factory
        return factory

    return deco


def backend_factory(name: str) -> BackendFactory:
    """The factory registered as ``name`` (a built-in is imported here, on first use);
    unknown names get a one-line error listing the known ones."""
    if name not in REGISTRY:
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(f"unknown backend {name!r}; known backends: {known}")
    entry = REGISTRY[name]
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        entry = getattr(importlib.import_module(module), attr)
        REGISTRY[name] = entry
    return entry


def make_backend(name: str, **settings: Any) -> Backend:
    """Build a registered backend from its options (``backends.options``): an unknown name,
    an unknown or ill-typed option and a missing required one are one-line ``ValueError``s."""
    cls = backend_factory(name)
    checked = check_options(name, cls, settings)
    try:
        return cls(**checked)
    except ValidationError as exc:  # a check the backend makes itself, as one line
        raise ValueError(one_line(name, exc)) from None
