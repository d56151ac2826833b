"""The ``openai`` backend: any OpenAI-compatible ``/chat/completions`` endpoint over async HTTP.

It renders a ``ModelCall`` into a chat request (the image as a base64 data URL part of the
first user message when ``vision`` is on), asks for structured output the way the server
supports it (``json_mode``: schema, object, none, or auto = try schema and step down once a
400 says ``response_format`` is not accepted), sends it through the endpoint's shared
``AdmissionController`` and maps every HTTP outcome onto the typed ``CallError``s of
``mmevol.calls``. The API key is read once from the environment and never leaves the
Authorization header: not in ``describe()``, reprs, errors or logs (``backends.secrets``:
every spelling of it is masked in messages); a URL is recorded and shown without the
credentials it may carry (``public_url``).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import os
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
from pydantic import Field

from mmevol.backends.admission import Limits, controller_for
from mmevol.backends.base import Backend
from mmevol.backends.payload import image_data_url
from mmevol.backends.pricing import OUT_TOKENS_PER_ITEM, PriceTable
from mmevol.backends.ratelimits import QUOTA_CODES, Signals, limit_from_error
from mmevol.backends.secrets import Redactor, clean_key, public_url, url_secrets
from mmevol.backends.structured import (
    LOCAL_FAMILIES,
    MODES,
    EndpointFormat,
    apply_mode,
    detect_family,
    names_mode,
)
from mmevol.calls import (
    BadResponse,
    CallTimeout,
    ClientError,
    ConnectionFailed,
    ModelCall,
    QuotaExceeded,
    RateLimited,
    Reply,
    ServerError,
    Usage,
)

log = logging.getLogger(__name__)
JSON_MODES = ("auto", *MODES)
# a local server generating on the CPU: wait this long plus this much per token asked for
LOCAL_BASE_S = 60.0
LOCAL_S_PER_TOKEN = 0.25
IMAGE_TOKENS = 85  # what a "low" detail image costs on OpenAI
ERROR_TEXT_LIMIT = 300


def endpoint(base_url: str, path: str) -> str:
    """``path`` appended to the base URL's path, before any query it carries
    (``https://host/v1?api-version=x`` + ``/chat/completions``)."""
    head, sep, query = base_url.partition("?")
    return f"{head.rstrip('/')}{path}{sep}{query}"


class _Secret:
    """Holds the API key; prints as ``***`` wherever an object dump might show it."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


class ResponseFormatRejected(ClientError):
    """A 400 that names ``response_format``: the server does not take that structured mode."""


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_fields(resp: httpx.Response) -> tuple[str | None, str | None]:
    """The ``type`` and ``code`` of an OpenAI-shaped error body."""
    try:
        err = resp.json().get("error")
    except (ValueError, AttributeError):
        return None, None
    if not isinstance(err, dict):
        return None, None
    kind, code = err.get("type"), err.get("code")
    return (kind if isinstance(kind, str) else None), (code if isinstance(code, str) else None)


def _rate_error(resp: httpx.Response, message: str) -> RateLimited | QuotaExceeded:
    """A 429 as the error it is: an exhausted quota (not retried) or a rate limit, with the
    limit's kind and number when the body names them."""
    kind, code = _error_fields(resp)
    if code in QUOTA_CODES or kind in QUOTA_CODES:
        return QuotaExceeded(message)
    kind, limit = limit_from_error(kind, message)
    return RateLimited(message, retry_after=parse_retry_after(resp.headers), kind=kind, limit=limit)


def _error_text(resp: httpx.Response) -> str:
    try:
        body = resp.json()
        err = body.get("error") if isinstance(body, dict) else None
        text = err.get("message") if isinstance(err, dict) else (err or body)
        text = text if isinstance(text, str) else json.dumps(text)
    except (ValueError, AttributeError):
        text = resp.text
    text = " ".join(text.split())
    return text[:ERROR_TEXT_LIMIT] + ("..." if len(text) > ERROR_TEXT_LIMIT else "")


class OpenAIBackend(Backend):
    """Chat completions on an OpenAI-compatible server (OpenAI, vLLM, llama.cpp, the fake)."""

    name = "openai"

    def __init__(
        self,
        model: str,
        base_url: str = "https://api.openai.com/v1",
        api_key_env: str = "OPENAI_API_KEY",
        vision: bool = True,
        detail: Literal["low", "high", "auto"] = "low",
        image_long_side: Annotated[int, Field(ge=16)] = 512,
        concurrency: Annotated[int, Field(ge=1)] = 16,
        rpm: Annotated[int | None, Field(ge=1)] = None,
        tpm: Annotated[int | None, Field(ge=1)] = None,
        timeout_s: Annotated[float, Field(gt=0)] = 120,
        json_mode: Literal[
            "auto", "schema", "object_schema", "guided", "format", "object", "none"
        ] = "auto",
        prices: dict[str, Any] | str | Path | None = None,
        max_attempts: Annotated[int, Field(ge=1)] = 6,
        backoff_base_s: Annotated[float, Field(ge=0)] = 0.5,
        backoff_cap_s: Annotated[float, Field(ge=0)] = 30.0,
    ) -> None:
        if json_mode not in JSON_MODES:
            raise ValueError(f"json_mode must be one of {', '.join(JSON_MODES)}, not {json_mode!r}")
        self.max_concurrency = concurrency
        self.model = model
        self.base_url = base_url.rstrip("/")  # as given: requests go here
        self.public_url = public_url(self.base_url)  # what is recorded and shown
        self.api_key_env = api_key_env
        self.vision = vision
        self.detail = detail
        self.image_long_side = image_long_side
        self.timeout_s = timeout_s
        self.json_mode = json_mode
        # "auto": the server family's strongest mode, stepping down for the rest of the run
        self.format = EndpointFormat(self.public_url)
        if json_mode != "auto":
            self.format.mode, self.format.ladder = json_mode, (json_mode,)
            self.format.fixed = True
        self._detecting: asyncio.Lock | None = None
        raw = os.environ.get(api_key_env)
        key = clean_key(raw, api_key_env) if raw and raw.strip() else None
        self._key = _Secret(key) if key else None
        self._redactor = Redactor(key, *url_secrets(self.base_url))
        self.limits = Limits(
            max_concurrency=concurrency,
            rpm=rpm,
            tpm=tpm,
            timeout_s=timeout_s,
            max_attempts=max_attempts,
            backoff_base_s=backoff_base_s,
            backoff_cap_s=backoff_cap_s,
        )
        self.admission = controller_for(self.public_url, self.limits)
        self.prices = PriceTable(prices)
        self._warned_price = False
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    # --- what it is ----------------------------------------------------------------------------
    def identity(self) -> str:
        return f"openai:{self.public_url}:{self.model}"

    def label(self) -> str:
        return f"openai:{self.model}"

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "base_url": self.public_url,
            "api_key_env": self.api_key_env,
            "api_key_set": self._key is not None,
            "detail": self.detail,
            "image_long_side": self.image_long_side,
            "json_mode": self.json_mode,
            "concurrency": self.limits.max_concurrency,
            "rpm": self.limits.rpm,
            "tpm": self.limits.tpm,
            "timeout_s": self.timeout_s,
        }

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self.model!r}, base_url={self.public_url!r})"

    @property
    def structured_mode(self) -> str:
        """The structured-output mode in use now (``auto`` may have stepped down)."""
        return self.format.mode

    def runtime_record(self) -> dict[str, Any]:
        """What the run learnt of the server: its family, structured mode and slots."""
        if self.format.family is None:  # no call went out (a resumed run answered by the cache)
            return {}
        return {"endpoint": self.public_url, **self.format.record()}

    async def detect(self) -> None:
        """Read the server family once (``GET /models``, and ``/props`` for llama.cpp's slots);
        a local single-process server gets calls one slot at a time. Never fails a run: a
        server without ``/models`` is "unknown"."""
        if self.format.family is not None:
            return
        if self._detecting is None:
            self._detecting = asyncio.Lock()
        async with self._detecting:
            if self.format.family is not None:
                return
            family, slots = await self._probe()
            self.format.settle_family(family, slots)
            if family in LOCAL_FAMILIES and slots:
                cap = min(self.max_concurrency, slots)
                if cap < self.admission.limits.max_concurrency:
                    self.admission.update(
                        self.admission.limits.model_copy(update={"max_concurrency": cap})
                    )

    async def _probe(self) -> tuple[str, int | None]:
        client, timeout = self._http(), min(10.0, self.timeout_s)
        try:
            resp = await client.get(
                endpoint(self.base_url, "/models"), headers=self._headers(), timeout=timeout
            )
            models = resp.json() if resp.status_code == 200 else None
        except (httpx.HTTPError, OSError, ValueError):
            return "unknown", None
        family = detect_family(models, resp.headers.get("server"))
        slots: int | None = 1 if family == "llama-cpp-python" else None
        if family == "llama.cpp":
            with contextlib.suppress(httpx.HTTPError, OSError, ValueError, TypeError):
                props = await client.get(
                    endpoint(self.base_url.removesuffix("/v1"), "/props"),
                    headers=self._headers(),
                    timeout=timeout,
                )
                data = props.json() if props.status_code == 200 else None
                total = data.get("total_slots") if isinstance(data, dict) else None
                if isinstance(total, int) and not isinstance(total, bool) and total > 0:
                    slots = total
        return family, slots

    def call_timeout(self, call: ModelCall) -> float:
        """Seconds to wait for ``call``: ``timeout_s``, or for a local server generating on the
        CPU, enough for ``max_tokens`` at a slow pace (it does not queue: one slot per call)."""
        if self.format.family not in LOCAL_FAMILIES:
            return self.timeout_s
        return max(self.timeout_s, LOCAL_BASE_S + call.max_tokens * LOCAL_S_PER_TOKEN)

    # --- HTTP ------------------------------------------------------------------------------------
    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            limits = httpx.Limits(max_connections=max(4, self.limits.max_concurrency * 2))
            timeout = httpx.Timeout(self.timeout_s, connect=min(10.0, self.timeout_s))
            self._client = httpx.AsyncClient(timeout=timeout, limits=limits)
            self._client_loop = loop
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            with contextlib.suppress(RuntimeError):  # its event loop may be gone already
                await client.aclose()

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self._key is not None:
            headers["Authorization"] = f"Bearer {self._key.value}"
        return headers

    def _redact(self, text: str) -> str:
        return self._redactor(text)

    # --- pre-flight (``backends.preflight``) -------------------------------------------------------
    @property
    def has_key(self) -> bool:
        return self._key is not None

    def url(self, path: str) -> str:
        return endpoint(self.base_url, path)

    def auth_headers(self) -> dict[str, str]:
        return self._headers()

    def redact(self, text: str) -> str:
        return self._redactor(text)

    def error_text(self, resp: httpx.Response) -> str:
        """The server's error message, short and with secrets removed."""
        return self._redactor(_error_text(resp))

    async def preflight(self) -> list[str]:
        """Check the endpoint before a run (``backends.preflight``); returns warnings."""
        from mmevol.backends.preflight import check_endpoint

        return await check_endpoint(self)

    # --- request body ------------------------------------------------------------------------------
    def build_body(self, call: ModelCall, mode: str | None = None) -> dict[str, Any]:
        """The JSON body of the chat request for ``call`` in structured ``mode``."""
        mode = mode or self.format.mode
        messages: list[dict[str, Any]] = [m.model_dump() for m in call.messages]
        if self.vision and call.image is not None:
            url = image_data_url(call.image, self.image_long_side)
            for msg in messages:
                if msg["role"] == "user":
                    msg["content"] = [
                        {"type": "text", "text": msg["content"]},
                        {"type": "image_url", "image_url": {"url": url, "detail": self.detail}},
                    ]
                    break
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": call.temperature,
            "max_tokens": call.max_tokens,
        }
        apply_mode(body, mode, call.json_schema, call.task)
        return body

    def cost_estimate(self, call: ModelCall) -> float:
        """Input tokens as measured by ``_estimate_input``, output tokens as ``--estimate``
        assumes them per item of the call."""
        items = call.context.get("items") or call.context.get("pairs") or [None]
        per_item = OUT_TOKENS_PER_ITEM.get(call.task, OUT_TOKENS_PER_ITEM["evolve"])
        out = min(call.max_tokens, per_item * len(items))
        return self.prices.cost(
            self.model, Usage(input_tokens=self._estimate_input(call), output_tokens=out)
        )

    def _text_tokens(self, call: ModelCall) -> int:
        return sum(len(m.content) for m in call.messages) // 4

    def _estimate_input(self, call: ModelCall) -> int:
        image = IMAGE_TOKENS if (self.vision and call.image is not None) else 0
        return self._text_tokens(call) + image

    def _cost_key(self, call: ModelCall) -> str:
        image = self.detail if (self.vision and call.image is not None) else "text"
        return f"{self.model}|{image}"

    async def _post(
        self, body: dict[str, Any], mode: str = "none", timeout_s: float | None = None
    ) -> tuple[dict[str, Any], float]:
        url = endpoint(self.public_url, "/chat/completions")  # in messages
        start = time.monotonic()
        try:
            resp = await self._http().post(
                endpoint(self.base_url, "/chat/completions"),
                json=body,
                headers=self._headers(),
                timeout=httpx.USE_CLIENT_DEFAULT if timeout_s is None else timeout_s,
            )
        except httpx.TimeoutException as err:
            raise CallTimeout(f"{url}: timed out ({type(err).__name__})") from None
        except (httpx.TransportError, OSError) as err:
            raise ConnectionFailed(self._redact(f"{url}: {type(err).__name__}: {err}")) from None
        latency = time.monotonic() - start
        status = resp.status_code
        if status in {400, 422, 500} and mode != "none":
            # some servers (llama-cpp-python's) refuse a structured mode with 422 or 500
            text = self._redact(_error_text(resp))
            if names_mode(text, mode):
                raise ResponseFormatRejected(f"{url}: HTTP {status}: {text}")
        if signals := Signals.from_headers(resp.headers):
            self.admission.observe(signals)
        if status == 429:
            raise _rate_error(resp, self._redact(f"{url}: HTTP 429: {_error_text(resp)}"))
        if status >= 500:
            raise ServerError(
                self._redact(f"{url}: HTTP {status}: {_error_text(resp)}"), status=status
            )
        if status >= 400:
            raise ClientError(self._redact(f"{url}: HTTP {status}: {_error_text(resp)}"))
        try:
            data = resp.json()
        except ValueError:
            snippet = " ".join(resp.text[:80].split())
            raise BadResponse(f"{url}: response body is not JSON: {snippet!r}") from None
        if not isinstance(data, dict):
            raise BadResponse(f"{url}: response body is not a JSON object")
        return data, latency

    # --- the call --------------------------------------------------------------------------------
    async def complete(self, call: ModelCall) -> Reply:
        await self.detect()
        timeout_s = self.call_timeout(call)
        local = self.format.family in LOCAL_FAMILIES
        while True:
            mode = self.format.mode
            # encoding the image takes milliseconds of CPU: off the event loop, so a burst of
            # calls does not stall the requests already admitted and paced
            body = await asyncio.to_thread(self.build_body, call, mode)
            sent = [mode]  # the mode the last attempt went out in

            async def attempt(
                body: dict[str, Any] = body, mode: str = mode, sent: list[str] = sent
            ) -> tuple[Reply, dict[str, Any]]:
                now = self.format.mode
                if now != mode:  # stepped down while this call waited: ask in the new mode
                    body, mode = await asyncio.to_thread(self.build_body, call, now), now
                sent[0] = mode
                data, latency = await self._post(body, mode, timeout_s)
                return self._reply(call, data, latency), data

            # what the server will count against tokens/min: the input (as calls of this kind
            # have really cost so far) plus max_tokens, which providers charge up front
            key, text = self._cost_key(call), self._text_tokens(call)
            fixed = IMAGE_TOKENS if (self.vision and call.image is not None) else 0

            def reserve(key: str = key, text: int = text, fixed: int = fixed) -> int:
                # asked when a slot is free: costs are learned while calls wait
                return self.admission.costs.estimate(key, text, fixed) + call.max_tokens

            try:
                (reply, data), attempts = await self.admission.run(
                    attempt,
                    est_tokens=reserve,
                    tokens_of=lambda r: r[0].usage.input_tokens + call.max_tokens,
                    timeout_s=timeout_s,
                    # a single local process goes on generating for a request it timed out:
                    # asking again would queue the same work behind it
                    retry_timeouts=not local,
                )
            except ResponseFormatRejected as err:
                if self.json_mode != "auto" or not self.format.step_down(sent[0], str(err)):
                    raise
                continue
            if isinstance(data.get("usage"), dict) and data["usage"].get("prompt_tokens"):
                self.admission.costs.observe(key, text, reply.usage.input_tokens)
            return reply.model_copy(update={"attempts": attempts})

    def _reply(self, call: ModelCall, data: dict[str, Any], latency: float) -> Reply:
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise BadResponse(f"{self.public_url}: response has no choices")
        message = choices[0].get("message") or {}
        text = message.get("content") if isinstance(message, dict) else None
        if not isinstance(text, str):
            raise BadResponse(f"{self.public_url}: response choice has no text content")
        raw = data.get("usage")
        raw = raw if isinstance(raw, dict) else {}
        try:
            tin = int(raw.get("prompt_tokens") or 0) or self._estimate_input(call)
            tout = int(raw.get("completion_tokens") or 0) or len(text) // 4
        except (TypeError, ValueError):
            tin, tout = self._estimate_input(call), len(text) // 4
        usage = Usage(input_tokens=tin, output_tokens=tout)
        cost = self.prices.cost(self.model, usage)
        if not self._warned_price and not self.prices.known(self.model):
            self._warned_price = True
            log.warning("no price known for model %r: its cost is counted as 0", self.model)
        return Reply(
            text=text,
            model=str(data.get("model") or self.model),
            usage=usage,
            cost_usd=cost,
            latency_s=latency,
            finish_reason=choices[0].get("finish_reason"),
        )


__all__ = [
    "OpenAIBackend",
    "ResponseFormatRejected",
    "endpoint",
    "parse_retry_after",
]
