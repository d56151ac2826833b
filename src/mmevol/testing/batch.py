"""The fake server's Batch API: files, batches, background processing, batch-level faults.

Routes (mounted by ``testing.server.build_app``): ``POST /v1/files`` (multipart, purpose=batch),
``GET /v1/files/{id}/content``, ``POST /v1/batches``, ``GET /v1/batches`` (newest first,
``limit``/``after``), ``GET /v1/batches/{id}``, ``POST /v1/batches/{id}/cancel`` and
``GET /_fake/batches`` (what was submitted: batches, lines, custom_ids submitted more than once).
A batch waits ``delay_s`` in ``validating``, then its lines are answered one by one by the same
``FakeLLM`` and counted in the same completion ledger as chat requests, so
``repeated_completed`` covers both paths. Faults: ``outcomes[k]`` makes the k-th batch created
``failed`` (no line runs), ``expired`` (after ``expire_share`` of its lines; the rest get
``batch_expired`` error lines) or ``slow`` (``line_s`` per line: a straggler to cancel);
``line_error_rate`` answers lines with HTTP 500 in the error file, each request body at most
once, so a resubmission succeeds.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from collections import Counter
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mmevol.backends.batch_api import (
    CHAT_URL,
    BatchObject,
    BatchStatus,
    ErrorList,
    FileObject,
    LineError,
    LineResponse,
    OutputLine,
    RequestCounts,
    RequestLine,
)
from mmevol.testing.wire import FORMAT_MODES, flatten_messages, text_key

if TYPE_CHECKING:
    from mmevol.testing.server import FakeServerState


class FakeBatchConfig(BaseModel):
    """How the fake processes batches and which batch-level faults it injects."""

    model_config = ConfigDict(extra="forbid")

    delay_s: float = Field(default=0.0, ge=0)
    line_s: float = Field(default=1.0, ge=0)
    outcomes: list[Literal["ok", "failed", "expired", "slow"]] = Field(default_factory=list)
    expire_share: float = Field(default=0.5, ge=0, le=1)
    line_error_rate: float = Field(default=0.0, ge=0, le=1)
    # the first N downloads of a batch's output or error file answer 503 (output unreadable)
    output_failures: int = Field(default=0, ge=0)
    # the first N creations go through but answer 503 (the answer is lost on the way), and the
    # listing leaves out batches younger than ``listing_lag_s``
    create_lost: int = Field(default=0, ge=0)
    listing_lag_s: float = Field(default=0.0, ge=0)


def _error(status: int, message: str) -> Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "code": None}}
    return JSONResponse(body, status_code=status)


class FakeBatches:
    """Files and batches of one fake server, answered by its ``FakeServerState``."""

    def __init__(self, st: FakeServerState, config: FakeBatchConfig) -> None:
        self.st, self.config = st, config
        self.rng = random.Random(st.config.seed + 1)
        self.files: dict[str, tuple[FileObject, bytes]] = {}
        self.batches: dict[str, BatchObject] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.submitted: Counter[str] = Counter()  # custom_id -> times it came in a batch
        self.errored: set[str] = set()
        self.line_errors = 0
        self.output_failures_left = config.output_failures
        self.create_lost_left = config.create_lost

    def stats(self) -> dict[str, Any]:
        return {
            "created": len(self.batches),
            "lines": sum(self.submitted.values()),
            "resubmitted_ids": sum(1 for n in self.submitted.values() if n > 1),
            "line_errors": self.line_errors,
            "by_status": dict(Counter(b.status for b in self.batches.values())),
        }

    def add_file(self, data: bytes, filename: str, purpose: str) -> FileObject:
        fid = f"file-{len(self.files) + 1:06d}"
        obj = FileObject(
            id=fid, bytes=len(data), created_at=int(time.time()), filename=filename, purpose=purpose
        )
        self.files[fid] = (obj, data)
        return obj

    # --- one line, answered like a chat request -----------------------------------------------
    def answer(self, line: RequestLine) -> OutputLine:
        st, body = self.st, line.body
        rid = f"batch_req_{self.rng.getrandbits(48):012x}"

        def failed(status: int, message: str) -> OutputLine:
            err = {"error": {"message": message, "type": "server_error", "code": None}}
            return OutputLine(
                id=rid,
                custom_id=line.custom_id,
                response=LineResponse(status_code=status, request_id=rid, body=err),
            )

        try:
            messages, images = flatten_messages(body.get("messages"))
        except ValueError as err:
            return failed(400, f"Invalid request body: {err}")
        rf = body.get("response_format") or {"type": "text"}
        rf_type = str(rf.get("type")) if isinstance(rf, dict) else "?"
        if rf_type != "text" and rf_type not in st.config.response_formats:
            return failed(400, f"'response_format' of type '{rf_type}' is not supported.")
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        if digest not in self.errored and self.rng.random() < self.config.line_error_rate:
            self.errored.add(digest)
            self.line_errors += 1
            return failed(500, "The server had an error processing this line (injected).")
        st.formats[rf_type] += 1
        st.with_image += 1 if images else 0
        text = st.llm.respond(messages, FORMAT_MODES.get(rf_type, "none"))
        finish, max_tokens = "stop", body.get("max_tokens")
        if isinstance(max_tokens, int) and max_tokens > 0 and len(text) > max_tokens * 4:
            text, finish = text[: max_tokens * 4], "length"
        prompt = sum(len(m["content"]) for m in messages) // 4 + 85 * images
        completion = {
            "id": f"chatcmpl-fakebatch-{st.completed + 1}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(body.get("model") or st.config.model),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": finish,
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": max(1, len(text) // 4),
                "total_tokens": prompt + max(1, len(text) // 4),
            },
        }
        st.completed += 1
        st.repeated += digest in st.done
        st.done.add(digest)
        st.completion_keys.append(text_key(messages, body.get("temperature"), max_tokens))
        return OutputLine(
            id=rid,
            custom_id=line.custom_id,
            response=LineResponse(status_code=200, request_id=rid, body=completion),
        )

    # --- a batch's life -------------------------------------------------------------------------
    async def process(self, bid: str, outcome: str) -> None:
        b = self.batches[bid]
        await asyncio.sleep(self.config.delay_s)
        lines: list[RequestLine] = []
        problems: list[LineError] = []
        for n, raw in enumerate(self.files[b.input_file_id][1].decode().splitlines(), 1):
            try:
                lines.append(RequestLine.model_validate_json(raw))
            except ValidationError as err:
                problems.append(LineError(code="invalid_line", message=str(err)[:200], line=n))
        ids = [ln.custom_id for ln in lines]
        if len(set(ids)) != len(ids):
            problems.append(LineError(code="duplicate_custom_id", message="custom_id repeats"))
        problems += [
            LineError(code="invalid_url", message=f"url must be {CHAT_URL}", line=n)
            for n, ln in enumerate(lines, 1)
            if ln.url != CHAT_URL
        ]
        if outcome == "failed":
            problems.append(LineError(code="injected", message="the batch failed (injected)"))
        if problems:
            b.status, b.errors = "failed", ErrorList(data=problems)
            return
        if b.status == "cancelling":
            b.status = "cancelled"
            return
        self.submitted.update(ids)
        b.status, b.request_counts = "in_progress", RequestCounts(total=len(lines))
        share = self.config.expire_share if outcome == "expired" else 1.0
        runs = int(len(lines) * share)
        out: list[OutputLine] = []
        errs: list[OutputLine] = []
        for line in lines[:runs]:
            if b.status == "cancelling":
                break
            if outcome == "slow":
                await asyncio.sleep(self.config.line_s)
            result = self.answer(line)
            ok = result.response is not None and result.response.status_code == 200
            (out if ok else errs).append(result)
            b.request_counts.completed += ok
            b.request_counts.failed += not ok
        final: BatchStatus = "expired" if outcome == "expired" else "completed"
        if b.status == "cancelling":
            final = "cancelled"
        code = {"cancelled": "batch_cancelled", "expired": "batch_expired"}.get(final)
        for line in lines[len(out) + len(errs) :]:
            if code:
                msg = f"the batch was {final} before this request ran"
                errs.append(
                    OutputLine(custom_id=line.custom_id, error=LineError(code=code, message=msg))
                )
        for kind, items in (("output", out), ("error", errs)):
            if items:
                data = "".join(i.model_dump_json() + "\n" for i in items).encode()
                fid = self.add_file(data, f"{bid}_{kind}.jsonl", "batch_output").id
                setattr(b, f"{kind}_file_id", fid)
        b.status = final


def batch_routes(st: FakeServerState, config: FakeBatchConfig) -> list[Route]:
    """The Batch API routes of a fake server whose state is ``st``."""
    fb = FakeBatches(st, config)

    def authorized(request: Request) -> bool:
        key = st.config.api_key
        return not key or request.headers.get("authorization") == f"Bearer {key}"

    async def upload(request: Request) -> Response:
        if not authorized(request):
            return _error(401, "Incorrect or missing API key.")
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            return _error(400, "expected a multipart/form-data upload")
        head = f"Content-Type: {ctype}\r\n\r\n".encode()
        msg = BytesParser(policy=HTTP).parsebytes(head + await request.body())
        fields: dict[str, tuple[str | None, bytes]] = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes):
                fields[name] = (part.get_filename(), payload)
        purpose = fields.get("purpose", (None, b""))[1].decode()
        if "file" not in fields or purpose != "batch":
            return _error(400, "a batch upload needs 'file' and purpose='batch'")
        name, data = fields["file"]
        return JSONResponse(fb.add_file(data, name or "input.jsonl", purpose).model_dump())

    async def content(request: Request) -> Response:
        entry = fb.files.get(request.path_params["fid"])
        if entry is None:
            return _error(404, "No such file")
        if entry[0].purpose != "batch" and fb.output_failures_left > 0:
            fb.output_failures_left -= 1
            return _error(503, "The file service is unavailable (injected).")
        return Response(entry[1], media_type="application/jsonl")

    async def create(request: Request) -> Response:
        if not authorized(request):
            return _error(401, "Incorrect or missing API key.")
        try:
            body = json.loads(await request.body())
            fid = str(body["input_file_id"])
        except (ValueError, KeyError, TypeError):
            return _error(400, "a batch needs 'input_file_id'")
        if fid not in fb.files:
            return _error(400, f"no file {fid!r}")
        if body.get("endpoint") != CHAT_URL or body.get("completion_window") != "24h":
            return _error(400, f"endpoint must be {CHAT_URL}, completion_window '24h'")
        k = len(fb.batches)
        outcome = config.outcomes[k] if k < len(config.outcomes) else "ok"
        bid = f"batch_{k + 1:06d}"
        fb.batches[bid] = BatchObject(
            id=bid,
            input_file_id=fid,
            status="validating",
            created_at=int(time.time()),
            metadata=body.get("metadata"),
        )
        task = asyncio.get_running_loop().create_task(fb.process(bid, outcome))
        fb.tasks.add(task)
        task.add_done_callback(fb.tasks.discard)
        if fb.create_lost_left > 0:
            fb.create_lost_left -= 1
            return _error(503, "The server had an error while processing (injected).")
        return JSONResponse(fb.batches[bid].model_dump())

    def found(request: Request) -> BatchObject | None:
        return fb.batches.get(request.path_params["bid"])

    async def retrieve(request: Request) -> Response:
        b = found(request)
        return _error(404, "No such batch") if b is None else JSONResponse(b.model_dump())

    async def cancel(request: Request) -> Response:
        b = found(request)
        if b is None:
            return _error(404, "No such batch")
        if b.status in {"validating", "in_progress", "finalizing"}:
            b.status = "cancelling"
        return JSONResponse(b.model_dump())

    async def listing(request: Request) -> Response:
        now = time.time()
        newest = [
            b
            for b in sorted(fb.batches, reverse=True)
            if now - fb.batches[b].created_at >= config.listing_lag_s
        ]
        after = request.query_params.get("after")
        if after in fb.batches:
            newest = newest[newest.index(after) + 1 :]
        limit = int(request.query_params.get("limit", "20"))
        page = [fb.batches[b].model_dump() for b in newest[:limit]]
        return JSONResponse({"object": "list", "data": page, "has_more": len(newest) > limit})

    async def stats(request: Request) -> Response:
        return JSONResponse(fb.stats())

    return [
        Route("/v1/files", upload, methods=["POST"]),
        Route("/v1/files/{fid}/content", content, methods=["GET"]),
        Route("/v1/batches", create, methods=["POST"]),
        Route("/v1/batches", listing, methods=["GET"]),
        Route("/v1/batches/{bid}", retrieve, methods=["GET"]),
        Route("/v1/batches/{bid}/cancel", cancel, methods=["POST"]),
        Route("/_fake/batches", stats, methods=["GET"]),
    ]
