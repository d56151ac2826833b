"""The Backend protocol, the request/reply models, typed call errors and the registry by name.

A backend turns one ``ModelCall`` (rendered chat messages + the structured context they were
rendered from + an optional image) into one ``Reply`` (text + usage). It never parses the text:
parsing and repair live in ``evolve.parse`` so every backend goes through the same ladder.
Backends raise ``CallError`` subclasses; the engine turns a final one into a failure record.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from mmevol.schema import ImageRef

Task = Literal["evolve", "judge", "revise_prompt"]


class Message(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class ModelCall(BaseModel):
    """One request to a model, fully rendered. ``context`` is what the prompt was rendered from."""

    task: Task
    template: str
    template_version: str
    messages: list[Message]
    context: dict[str, Any]
    image: ImageRef | None = None
    json_schema: dict[str, Any] | None = None
    temperature: float = 1.0
    max_tokens: int = 2048
    # > 0 when a unit is retried after its replies could not be parsed: asks anew, not the cache
    retry: int = 0

    def cache_key(self, backend_identity: str) -> str:
        """Digest of everything that determines the answer: model, params, prompt, image content."""
        payload: dict[str, Any] = {
            "backend": backend_identity,
            "template": self.template_version,
            "messages": [m.model_dump() for m in self.messages],
            "image": self.image.digest if self.image else None,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "schema": self.json_schema,
        }
        if self.retry:
            payload["retry"] = self.retry
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0


class Reply(BaseModel):
    """The raw answer of a backend to a call, with what it cost."""

    text: str
    model: str
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float = 0.0
    latency_s: float = 0.0
    attempts: int = 1
    finish_reason: str | None = None


class CallError(Exception):
    """A model call that failed. ``error_class`` is the stable name stored in failure records."""

    error_class: ClassVar[str] = "call_error"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, attempts: int = 1) -> None:
        super().__init__(message)
        self.attempts = attempts


class RateLimited(CallError):
    error_class = "rate_limited"
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        attempts: int = 1,
        kind: str | None = None,
        limit: int | None = None,
    ):
        super().__init__(message, attempts=attempts)
        self.retry_after = retry_after
        self.kind = kind  # "requests" or "tokens" when the server says which limit it hit
        self.limit = limit  # the per-minute limit the server names, if it does


class QuotaExceeded(CallError):
    """A 429 that is not a rate but an exhausted quota or budget: waiting will not help."""

    error_class = "quota_exceeded"
    retryable = False


class ServerError(CallError):
    error_class = "server_error"
    retryable = True

    def __init__(self, message: str, *, status: int = 500, attempts: int = 1):
        super().__init__(message, attempts=attempts)
        self.status = status


class CallTimeout(CallError):
    error_class = "timeout"
    retryable = True


class ConnectionFailed(CallError):
    error_class = "connection"
    retryable = True


class BadResponse(CallError):
    """The HTTP exchange worked but the body is not a usable completion (not JSON, no choices)."""

    error_class = "bad_response"
    retryable = True


class ClientError(CallError):
    """The endpoint refused the request itself (400/401/403/404): retrying will not help."""

    error_class = "client_error"
    retryable = False


class ParseFailed(CallError):
    """The model answered but no rung of the repair ladder produced a valid object."""

    error_class = "parse_failed"
    retryable = False


class BudgetExceeded(CallError):
    error_class = "budget"
    retryable = False


class Backend(ABC):
    """What the engine needs from a model: complete a call, say what it is, close."""

    name: ClassVar[str]
    model: str
    vision: bool

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

    def cost_estimate(self, call: ModelCall) -> float:
        """Dollars ``call`` is likely to cost, reserved against ``--max-cost`` while it runs
        (0 for backends that cost nothing, or whose price is unknown)."""
        return 0.0

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections; most backends hold none."""


BackendFactory = Callable[..., Backend]
REGISTRY: dict[str, BackendFactory] = {}


def register(name: str) -> Callable[[BackendFactory], BackendFactory]:
    """Class decorator: make a backend constructible by name (``--backend NAME``)."""

    def deco(factory: BackendFactory) -> BackendFactory:
        REGISTRY[name] = factory
        return factory

    return deco


def make_backend(name: str, **settings: Any) -> Backend:
    """Build a registered backend; unknown names get a one-line error listing the known ones."""
    import mmevol.backends  # noqa: F401  (registers the built-in backends)

    if name not in REGISTRY:
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(f"unknown backend {name!r}; known backends: {known}")
    cls = REGISTRY[name]
    missing = [
        p.name
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.default is inspect.Parameter.empty
        and p.kind is p.POSITIONAL_OR_KEYWORD
        and p.name != "self"
        and p.name not in settings
    ]
    if missing:
        flags = ", ".join("--" + m.replace("_", "-") for m in missing)
        raise ValueError(f"backend {name!r} needs {flags}")
    return cls(**settings)
