"""What a model call is: the request and reply models, usage, and the typed call errors.

A ``ModelCall`` is one fully rendered request; a ``Reply`` is the raw answer with what it cost.
Backends raise ``CallError`` subclasses; the engine turns a final one into a failure record
(``error_class`` is the stable name stored there). No backend is imported here, so the store,
the parser and the prompts can use these types without loading any backend."""

from __future__ import annotations

import hashlib
import json
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
        self.task: str | None = None  # the call's task (evolve, judge), set where it is known


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
