"""A local OpenAI-compatible HTTP server built on ``FakeLLM``, with latency and fault injection.

Routes: ``POST /v1/chat/completions`` (choices + usage, ~len/4 tokens, honours
``response_format``), ``GET /v1/models`` and ``GET /_fake/stats`` (requests received, completed
answers, repeated completed answers = completions whose request body had already been answered
once, counts by status and fault, and the ledger of good/bad evolutions). Faults, drawn at
``fault_rate`` among the enabled ``faults`` (and forced for the first ``fault_first_n``
requests): ``rate_limit`` (429 + Retry-After), ``server_error`` (500), ``unavailable`` (503),
``timeout`` (sleeps past any sane client timeout), ``drop`` (connection closed mid-body),
``truncated`` (200 with half a JSON body), ``non_json`` (200 with an HTML page), ``slow_drip``
(the body trickles out over ``drip_s``). ``rpm`` limits requests like hosted APIs do, as a
continuous bucket holding ``rpm_burst_s`` seconds of requests; above it: 429 + Retry-After.

For crash tests, ``POST /_fake/hold?after=N`` makes every request that would complete after the
N-th completion wait (unanswered) until ``POST /_fake/release`` or the client hangs up: a client
killed then is killed with requests in flight but none answered-and-unrecorded.
``GET /_fake/completions`` lists the ``text_key`` of every completed answer in order (what a
crash test compares with the client's journal), and ``POST /_fake/faults?rate=R`` changes the
fault rate of the running server (a re-run "with faults off" against the same counters).
The Batch API (files, batches, batch-level faults) is ``fakebatch``'s, mounted here.
With ``adversary`` set, the model answering is ``backends.adversary.Adversary`` (fluent false
evolutions with a ledger; ``mmevol fake-server --adversary lenient|noisy``) and the stats add
its ledger entries under "adversary". With ``limits`` set, ``fakelimits`` makes the server
behave like a rate-limited hosted provider (token and request buckets, OpenAI's headers,
lognormal latency, 5xx) and the stats add its counters and timeline under "limits".
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any, Literal

import uvicorn
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from mmevol.testing.adversary import Adversary, AdversaryConfig
from mmevol.testing.batch import FakeBatchConfig, batch_routes
from mmevol.testing.fake import FakeLLM
from mmevol.testing.limits import ProviderGate, ProviderLimits, Ticket, server_error
from mmevol.testing.wire import FORMAT_MODES, flatten_messages, text_key

FaultKind = Literal[
    "rate_limit",
    "server_error",
    "unavailable",
    "timeout",
    "drop",
    "truncated",
    "non_json",
    "slow_drip",
]
FAULT_KINDS: tuple[str, ...] = FaultKind.__args__  # type: ignore[attr-defined]


# ``mmevol fake-server --like NAME``: answer ``GET /models`` and structured modes as NAME does
SERVER_LIKE: dict[str, dict[str, Any]] = {
    "openai": {"owned_by": "system"},
    "llama-cpp-python": {
        "owned_by": "me",
        "response_formats": ["json_object"],  # json_object may carry a schema
        "response_format_status": 500,
    },
    "vllm": {"owned_by": "vllm"},
    "ollama": {"owned_by": "library"},
}


class FakeServerConfig(BaseModel):
    """Everything the fake server does; ``latency`` is seconds or a ``"min,max"`` range."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    model: str = "fake-mllm"
    latency: tuple[float, float] = (0.0, 0.0)
    fault_rate: float = Field(default=0.0, ge=0, le=1)
    faults: list[FaultKind] = Field(default_factory=lambda: list(FAULT_KINDS))  # type: ignore[arg-type]
    fault_first_n: int = Field(default=0, ge=0)
    retry_after_s: float = Field(default=1.0, ge=0)
    timeout_sleep_s: float = Field(default=30.0, ge=0)
    drip_s: float = Field(default=1.0, ge=0)
    rpm: int | None = Field(default=None, ge=1)
    rpm_burst_s: float = Field(default=1.0, gt=0)
    bad_rate: float = Field(default=0.2, ge=0, le=1)
    broken_json_rate: float = Field(default=0.05, ge=0, le=1)
    judge_error_rate: float = Field(default=0.0, ge=0, le=1)
    seed: int = 0
    api_key: str | None = None
    response_formats: list[str] = Field(default_factory=lambda: ["json_schema", "json_object"])
    response_format_status: int = 400  # llama.cpp's server answers 500 instead
    # what ``GET /v1/models`` says owns the model: the server family a client detects
    # ("me": llama-cpp-python, "vllm", "library": Ollama ...)
    owned_by: str = "mmevol-fake"
    log_level: str = "warning"
    batch: FakeBatchConfig = Field(default_factory=FakeBatchConfig)
    # set: the adversarial model (``backends.adversary``) answers instead of ``FakeLLM``
    adversary: AdversaryConfig | None = None
    # set: a realistic rate-limited provider (``backends.fakelimits``); None: off
    limits: ProviderLimits | None = None

    @field_validator("latency", mode="before")
    @classmethod
    def _latency(cls, v: Any) -> Any:
        if isinstance(v, (int, float)):
            return (float(v), float(v))
        if isinstance(v, str):
            parts = [float(p) for p in v.split(",")]
            if len(parts) not in (1, 2):
                raise ValueError("latency is seconds or 'min,max'")
            return (parts[0], parts[-1])
        return v

    @field_validator("latency")
    @classmethod
    def _order(cls, v: tuple[float, float]) -> tuple[float, float]:
        if v[0] < 0 or v[1] < v[0]:
            raise ValueError("latency needs 0 <= min <= max")
        return v


class _InjectedDrop(Exception):
    """Raised mid-response to make the server close the connection (the ``drop`` fault)."""


class _DropLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and record.exc_info[0] is _InjectedDrop)


class _DroppedResponse(Response):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"id": "chatcmpl-', "more_body": True})
        raise _InjectedDrop


def _error(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"message": message, "type": kind, "code": None}}
    return JSONResponse(body, status_code=status, headers=headers)


class FakeServerState:
    """Counters, the rpm bucket and the fault dice of one running server."""

    def __init__(self, config: FakeServerConfig) -> None:
        self.config = config
        self.llm: FakeLLM | Adversary = (
            Adversary(config.adversary)
            if config.adversary is not None
            else FakeLLM(
                config.bad_rate, config.broken_json_rate, config.judge_error_rate, config.seed
            )
        )
        self.rng = random.Random(config.seed)
        self.received = 0
        self.completed = 0
        self.repeated = 0
        self.with_image = 0
        self.by_status: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.formats: Counter[str] = Counter()
        self.done: set[str] = set()
        # per conversation (messages digest): when it was first asked, how long to its answer
        self.first_seen: dict[str, float] = {}
        self.latencies: list[float] = []
        self.fault_rate = config.fault_rate
        self.completion_keys: list[str] = []
        self.hold_after: int | None = None
        self.held = 0
        self.released = asyncio.Event()
        rate = (config.rpm or 0) / 60.0
        self.rate = rate
        self.capacity = max(1.0, rate * config.rpm_burst_s)
        self.level = self.capacity
        self.stamp = time.monotonic()
        self.gate = ProviderGate(config.limits, config.model) if config.limits else None

    def take_request_token(self) -> float:
        """0 when the request is within rpm, else the seconds until it would be."""
        if not self.config.rpm:
            return 0.0
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.level >= 1.0:
            self.level -= 1.0
            return 0.0
        return (1.0 - self.level) / self.rate

    def pick_fault(self) -> str | None:
        kinds = self.config.faults
        if not kinds:
            return None
        if self.received <= self.config.fault_first_n:
            return kinds[(self.received - 1) % len(kinds)]
        if self.rng.random() < self.fault_rate:
            return self.rng.choice(kinds)
        return None

    def stats(self) -> dict[str, Any]:
        ledger = dict(self.llm.ledger)
        return {
            "received": self.received,
            "completed": self.completed,
            "repeated_completed": self.repeated,
            "with_image": self.with_image,
            "by_status": dict(self.by_status),
            "faults": dict(self.faults),
            "response_formats": dict(self.formats),
            "ledger": {"counts": dict(Counter(ledger.values())), "items": ledger},
            "broken_json": dict(self.llm.broken),
            "judge_flips": self.llm.judge_flips,
            "held": self.held,
            "latency_s": _percentiles(self.latencies),
            **({"adversary": self.llm.report()} if isinstance(self.llm, Adversary) else {}),
            **({"limits": self.gate.stats()} if self.gate is not None else {}),
        }

    async def wait_if_held(self, request: Request) -> bool:
        """Hold a request while a hold is on; True when its client hung up meanwhile."""
        if self.hold_after is None or self.completed < self.hold_after:
            return False
        self.held += 1
        try:
            while not self.released.is_set():
                if await request.is_disconnected():
                    return True
                await asyncio.sleep(0.05)
            return False
        finally:
            self.held -= 1


def _percentiles(values: list[float]) -> dict[str, float | None]:
    """p50 / p99 / mean of a list of seconds (None when empty)."""
    if not values:
        return {"p50": None, "p99": None, "mean": None}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4)

    return {"p50": pick(0.5), "p99": pick(0.99), "mean": round(sum(ordered) / len(ordered), 4)}


def build_app(config: FakeServerConfig) -> Starlette:
    """The Starlette app; its ``state.fake`` is the ``FakeServerState``."""
    st = FakeServerState(config)

    async def chat(request: Request) -> Response:
        st.received += 1
        response = await _chat(request)
        st.by_status[str(response.status_code)] += 1
        return response

    async def _chat(request: Request) -> Response:
        raw = await request.body()
        if config.api_key and request.headers.get("authorization") != f"Bearer {config.api_key}":
            return _error(401, "Incorrect or missing API key.", "invalid_request_error")
        try:
            body = json.loads(raw)
            messages, images = flatten_messages(body.get("messages"))
        except (ValueError, AttributeError) as err:
            return _error(400, f"Invalid request body: {err}", "invalid_request_error")
        mkey = hashlib.sha256(json.dumps(body.get("messages"), sort_keys=True).encode()).hexdigest()
        st.first_seen.setdefault(mkey, time.monotonic())
        wait = st.take_request_token()
        if wait > 0:
            headers = {
                "retry-after": str(math.ceil(wait)),
                "retry-after-ms": str(math.ceil(wait * 1000)),
            }
            return _error(
                429, f"Rate limit reached: {config.rpm} requests per minute.", "requests", headers
            )
        rf = body.get("response_format") or {"type": "text"}
        rf_type = str(rf.get("type")) if isinstance(rf, dict) else "?"
        if rf_type != "text" and rf_type not in config.response_formats:
            return _error(
                config.response_format_status,
                f"Invalid parameter: 'response_format' of type '{rf_type}' is not supported.",
                "invalid_request_error",
            )
        ticket: Ticket | None = None
        if st.gate is not None:
            admitted = st.gate.admit(
                sum(len(m["content"]) for m in messages),
                images,
                body.get("max_tokens", body.get("max_completion_tokens")),
            )
            if isinstance(admitted, Response):
                return admitted
            ticket = admitted
        st.formats[rf_type] += 1
        fault = st.pick_fault()
        lo, hi = config.latency
        if hi > 0:
            await asyncio.sleep(st.rng.uniform(lo, hi))
        if ticket is not None:
            await asyncio.sleep(ticket.latency_s)
            if ticket.error_status is not None:
                return server_error(ticket.error_status)
        if fault is not None:
            st.faults[fault] += 1
            early = _early_fault(fault, config)
            if early is not None:
                return early
            if fault == "timeout" and await _hang(request, config.timeout_sleep_s):
                return Response(status_code=499)  # the client gave up, as it should
        if await st.wait_if_held(request):
            return Response(status_code=499)
        st.with_image += 1 if images else 0
        mode = FORMAT_MODES.get(rf_type, "none")
        if rf_type == "json_object" and isinstance(rf.get("schema"), dict):
            mode = "schema"  # as llama-cpp-python: the schema constrains decoding
        text = st.llm.respond(messages, mode)
        finish = "stop"
        max_tokens = body.get("max_tokens")
        if isinstance(max_tokens, int) and max_tokens > 0 and len(text) > max_tokens * 4:
            text, finish = text[: max_tokens * 4], "length"
        prompt_tokens = sum(len(m["content"]) for m in messages) // 4 + 85 * images
        if ticket is not None:
            prompt_tokens = ticket.prompt_tokens
        completion = {
            "id": f"chatcmpl-fake-{st.received}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(body.get("model") or config.model),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": finish,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": max(1, len(text) // 4),
                "total_tokens": prompt_tokens + max(1, len(text) // 4),
            },
        }
        payload = json.dumps(completion).encode()
        limit_headers = ticket.headers if ticket is not None else None
        if fault == "truncated":
            return Response(
                payload[: len(payload) // 2], media_type="application/json", headers=limit_headers
            )
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        st.completed += 1
        if digest in st.done:
            st.repeated += 1
        else:
            st.latencies.append(time.monotonic() - st.first_seen[mkey])
        st.done.add(digest)
        if st.gate is not None:
            st.gate.completed_one()
        st.completion_keys.append(
            text_key(messages, body.get("temperature"), body.get("max_tokens"))
        )
        if fault == "slow_drip":  # a whole answer, just slow to arrive
            return StreamingResponse(
                _drip(payload, config.drip_s), media_type="application/json", headers=limit_headers
            )
        return Response(payload, media_type="application/json", headers=limit_headers)

    async def models(request: Request) -> Response:
        data = [{"id": config.model, "object": "model", "created": 0, "owned_by": config.owned_by}]
        return JSONResponse({"object": "list", "data": data})

    async def stats(request: Request) -> Response:
        return JSONResponse(st.stats())

    async def hold(request: Request) -> Response:
        try:
            st.hold_after = int(request.query_params.get("after", st.completed))
        except ValueError:
            return _error(400, "'after' must be an integer", "invalid_request_error")
        st.released.clear()
        return JSONResponse({"hold_after": st.hold_after, "completed": st.completed})

    async def release(request: Request) -> Response:
        st.hold_after = None
        st.released.set()
        return JSONResponse({"completed": st.completed})

    async def completions(request: Request) -> Response:
        return JSONResponse({"keys": st.completion_keys})

    async def set_faults(request: Request) -> Response:
        try:
            rate = float(request.query_params.get("rate", st.fault_rate))
        except ValueError:
            rate = -1.0
        if not 0.0 <= rate <= 1.0:
            return _error(400, "'rate' must be a number in 0..1", "invalid_request_error")
        st.fault_rate = rate
        return JSONResponse({"fault_rate": st.fault_rate})

    app = Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/_fake/stats", stats, methods=["GET"]),
            Route("/_fake/hold", hold, methods=["POST"]),
            Route("/_fake/release", release, methods=["POST"]),
            Route("/_fake/completions", completions, methods=["GET"]),
            Route("/_fake/faults", set_faults, methods=["POST"]),
            *batch_routes(st, config.batch),
        ]
    )
    app.state.fake = st
    return app


def _early_fault(fault: str, config: FakeServerConfig) -> Response | None:
    if fault == "rate_limit":
        wait = config.retry_after_s
        headers = {"retry-after": str(math.ceil(wait)), "retry-after-ms": str(round(wait * 1000))}
        return _error(429, "Rate limit reached (injected).", "requests", headers)
    if fault == "server_error":
        return _error(
            500, "The server had an error while processing your request (injected).", "server_error"
        )
    if fault == "unavailable":
        return _error(503, "The server is overloaded (injected).", "server_error")
    if fault == "drop":
        return _DroppedResponse()
    if fault == "non_json":
        return Response(
            "<html><body><h1>502 Bad Gateway</h1></body></html>", media_type="text/html"
        )
    return None


async def _hang(request: Request, seconds: float) -> bool:
    """Sleep ``seconds`` unless the client hangs up first; True when it did."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await request.is_disconnected():
            return True
        await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
    return False


async def _drip(payload: bytes, seconds: float) -> AsyncIterator[bytes]:
    pieces = 10
    step = max(1, math.ceil(len(payload) / pieces))
    for i in range(0, len(payload), step):
        yield payload[i : i + step]
        await asyncio.sleep(seconds / pieces)


_DROP_FILTER = _DropLogFilter()


def _uvicorn(config: FakeServerConfig, port: int) -> uvicorn.Server:
    logging.getLogger("uvicorn.error").addFilter(_DROP_FILTER)  # adding twice is a no-op
    ucfg = uvicorn.Config(
        build_app(config),
        host=config.host,
        port=port,
        log_level=config.log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    return uvicorn.Server(ucfg)


def run_server(config: FakeServerConfig) -> None:
    """Serve until interrupted (blocking)."""
    _uvicorn(config, config.port).run()


def serve(
    port: int = 8000,
    latency: float | str = 0.0,
    fault_rate: float = 0.0,
    rpm: int | None = None,
    bad_rate: float = 0.2,
    broken_json_rate: float = 0.05,
    judge_error_rate: float = 0.0,
    seed: int = 0,
    **more: Any,
) -> None:
    """The ``mmevol fake-server`` command: build the config and serve on 127.0.0.1."""
    config = FakeServerConfig(
        port=port,
        latency=latency,  # type: ignore[arg-type]  # the validator parses it
        fault_rate=fault_rate,
        rpm=rpm,
        bad_rate=bad_rate,
        broken_json_rate=broken_json_rate,
        judge_error_rate=judge_error_rate,
        seed=seed,
        log_level=more.pop("log_level", "info"),
        **more,
    )
    print(f"fake OpenAI-compatible server: http://{config.host}:{config.port}/v1", flush=True)
    run_server(config)


@contextmanager
def running_server(config: FakeServerConfig | None = None) -> Iterator[str]:
    """Run the server in a background thread (``port=0``: a free port); yield its base URL."""
    config = config or FakeServerConfig(port=0)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((config.host, config.port))  # port 0: any free port
    port = sock.getsockname()[1]
    server = _uvicorn(config, port)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the fake server did not start")
        time.sleep(0.01)
    try:
        yield f"http://{config.host}:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
