"""The OpenAI Batch API on the wire: pydantic models of its objects and a small async client.

Used by ``backends.batch`` (the client side of ``--mode batch|hybrid``) and by
``testing.batch`` (the fake server's side), so both speak one definition of the format:
input lines ``{"custom_id", "method", "url", "body"}``, the batch object, and the output/error
lines ``{"id", "custom_id", "response": {"status_code", "body"} | null, "error": {...} | null}``.
``BatchClient`` maps every HTTP outcome of the file and batch endpoints onto the typed
``CallError``s of ``mmevol.calls``; ``line_error`` does the same for one failed output line.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from mmevol.backends.openai_compat import ResponseFormatRejected, endpoint
from mmevol.backends.secrets import public_url
from mmevol.calls import (
    BadResponse,
    CallError,
    CallTimeout,
    ClientError,
    ConnectionFailed,
    RateLimited,
    ServerError,
)

CHAT_URL = "/v1/chat/completions"
BatchStatus = Literal[
    "validating",
    "failed",
    "in_progress",
    "finalizing",
    "completed",
    "expired",
    "cancelling",
    "cancelled",
]
TERMINAL = frozenset({"failed", "completed", "expired", "cancelled"})
MAX_REQUESTS = 50_000  # the provider's limits per batch input file
MAX_BYTES = 190 * 2**20
_W = TypeVar("_W", bound=BaseModel)


class BatchUndelivered(CallError):
    """The batch may have run (and be billed) but its outcome could not be read: polling or
    downloading kept failing. Never made online meanwhile; a re-run follows the batch again."""

    error_class = "batch_undelivered"
    retryable = False


class BatchIncomplete(CallError):
    """The batch ended (failed, expired, cancelled, not collectable) before this request ran."""

    error_class = "batch_incomplete"
    retryable = True


class NotFound(ClientError):
    """HTTP 404 from a file or batch endpoint: the provider does not know (or no longer keeps) it."""


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RequestLine(_Wire):
    custom_id: str
    method: Literal["POST"] = "POST"
    url: str = CHAT_URL
    body: dict[str, Any]


class FileObject(_Wire):
    id: str
    object: str = "file"
    bytes: int = 0
    created_at: int = 0
    filename: str = ""
    purpose: str = "batch"


class LineError(_Wire):
    code: str | None = None
    message: str = ""
    line: int | None = None


class ErrorList(_Wire):
    object: str = "list"
    data: list[LineError] = []


class RequestCounts(_Wire):
    total: int = 0
    completed: int = 0
    failed: int = 0


class BatchObject(_Wire):
    id: str
    object: str = "batch"
    endpoint: str = CHAT_URL
    input_file_id: str
    completion_window: str = "24h"
    status: BatchStatus
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: ErrorList | None = None
    created_at: int = 0
    request_counts: RequestCounts = RequestCounts()
    metadata: dict[str, str] | None = None


class BatchList(_Wire):
    object: str = "list"
    data: list[BatchObject] = []
    has_more: bool = False
    last_id: str | None = None


class LineResponse(_Wire):
    status_code: int
    request_id: str = ""
    body: dict[str, Any] = {}


class OutputLine(_Wire):
    id: str = ""
    custom_id: str
    response: LineResponse | None = None
    error: LineError | None = None


def line_error(line: OutputLine, where: str) -> CallError | None:
    """The typed failure of one output line, as an online call would have raised it; None = ok."""
    resp = line.response
    if resp is not None and resp.status_code == 200 and line.error is None:
        return None
    if resp is not None and resp.status_code != 200:
        err = resp.body.get("error")
        text = err.get("message") if isinstance(err, dict) else json.dumps(resp.body)[:300]
        msg = f"{where}: line {line.custom_id[:12]}: HTTP {resp.status_code}: {text}"
        if resp.status_code == 429:
            return RateLimited(msg)
        if resp.status_code >= 500:
            return ServerError(msg, status=resp.status_code)
        if resp.status_code == 400 and "response_format" in str(text):
            return ResponseFormatRejected(msg)  # the structured mode, not the request, is wrong
        return ClientError(msg)
    code = line.error.code if line.error else None
    message = line.error.message if line.error else "no response"
    msg = f"{where}: line {line.custom_id[:12]}: {code or 'error'}: {message}"
    if code in {"batch_expired", "batch_cancelled", "batch_failed"}:
        return BatchIncomplete(msg)
    return BadResponse(msg)


def write_inputs(
    lines: Iterable[RequestLine], folder: Path, max_requests: int, max_bytes: int
) -> list[tuple[Path, list[str]]]:
    """Write request lines as JSONL input files of at most ``max_requests`` lines and
    ``max_bytes`` bytes each; returns every file with the custom_ids it holds."""
    chunks: list[tuple[Path, list[str]]] = []
    size = 0
    fh = None
    try:
        for line in lines:
            data = (line.model_dump_json() + "\n").encode()
            full = chunks and len(chunks[-1][1]) >= max_requests
            if fh is None or full or size + len(data) > max_bytes:
                if fh is not None:
                    fh.close()
                path = folder / f"{uuid.uuid4().hex}.jsonl"
                fh, size = path.open("wb"), 0
                chunks.append((path, []))
            fh.write(data)
            size += len(data)
            chunks[-1][1].append(line.custom_id)
    finally:
        if fh is not None:
            fh.close()
    return chunks


class BatchClient:
    """The file and batch endpoints of one OpenAI-compatible server, over the backend's client."""

    def __init__(
        self,
        base_url: str,
        http: httpx.AsyncClient,
        headers: dict[str, str],
        redact: Callable[[str], str] = str,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.shown = public_url(self.base_url)  # in messages: no credentials
        self.redact = redact  # masks the API key in every spelling (``backends.secrets``)
        self.http = http
        # the JSON content type of chat requests must not reach the multipart upload
        self.headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}

    async def _send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        url = endpoint(self.shown, path)
        try:
            resp = await self.http.request(
                method, endpoint(self.base_url, path), headers=self.headers, **kw
            )
        except httpx.TimeoutException as err:
            raise CallTimeout(f"{url}: timed out ({type(err).__name__})") from None
        except (httpx.TransportError, OSError) as err:
            raise ConnectionFailed(f"{url}: {type(err).__name__}") from None
        status = resp.status_code
        if status < 400:
            return resp
        text = self.redact(" ".join(resp.text[:300].split()))
        if status == 429:
            raise RateLimited(f"{url}: HTTP 429: {text}")
        if status >= 500:
            raise ServerError(f"{url}: HTTP {status}: {text}", status=status)
        raise (NotFound if status == 404 else ClientError)(f"{url}: HTTP {status}: {text}")

    async def _json(self, model: type[_W], method: str, path: str, **kw: Any) -> _W:
        resp = await self._send(method, path, **kw)
        try:
            return model.model_validate_json(resp.content)
        except ValidationError as err:
            first = err.errors()[0]
            raise BadResponse(
                f"{endpoint(self.shown, path)}: not a {model.__name__}: {first['loc']}: {first['msg']}"
            ) from None

    async def upload(self, path: Path) -> FileObject:
        with path.open("rb") as fh:
            files = {"file": (path.name, fh, "application/jsonl")}
            return await self._json(
                FileObject, "POST", "/files", data={"purpose": "batch"}, files=files
            )

    async def create(self, input_file_id: str, metadata: dict[str, str]) -> BatchObject:
        body = {
            "input_file_id": input_file_id,
            "endpoint": CHAT_URL,
            "completion_window": "24h",
            "metadata": metadata,
        }
        return await self._json(BatchObject, "POST", "/batches", json=body)

    async def get(self, batch_id: str) -> BatchObject:
        return await self._json(BatchObject, "GET", f"/batches/{batch_id}")

    async def cancel(self, batch_id: str) -> BatchObject:
        return await self._json(BatchObject, "POST", f"/batches/{batch_id}/cancel")

    async def find(self, input_file_id: str, pages: int = 20) -> BatchObject | None:
        """The batch made from ``input_file_id``, looked for among the newest batches."""
        after: str | None = None
        for _ in range(pages):
            params = {"limit": "100", **({"after": after} if after else {})}
            page = await self._json(BatchList, "GET", "/batches", params=params)
            for b in page.data:
                if b.input_file_id == input_file_id:
                    return b
            if not page.has_more or not page.data:
                return None
            after = page.data[-1].id
        return None

    async def lines(self, file_id: str) -> list[OutputLine]:
        """The output or error file of a batch, one parsed line per request."""
        resp = await self._send("GET", f"/files/{file_id}/content")
        out = []
        for n, raw in enumerate(resp.text.splitlines(), 1):
            if not raw.strip():
                continue
            try:
                out.append(OutputLine.model_validate_json(raw))
            except ValidationError:
                raise BadResponse(
                    f"{endpoint(self.shown, '/files/' + file_id)}: line {n} is not a batch output line"
                ) from None
        return out
