"""The fake server's realistic provider mode: the limits a hosted API enforces, as it enforces them.

``ProviderLimits`` (``FakeServerConfig.limits``; off when None) configures it and
``ProviderGate`` applies it to one running server:

* two continuously refilled buckets, requests (``rpm``) and tokens (``tpm``), each holding
  ``burst_s`` seconds of its steady rate: the minute limit enforced per second, as OpenAI does;
* the token charge of a request, taken at arrival and never refunded: ceil(text characters / 4)
  + ``image_tokens`` per image + the request's ``max_tokens`` (``default_max_tokens`` when it
  names none); ``usage.prompt_tokens`` reports the first two terms;
* a request that does not fit is answered 429 with OpenAI's error body (type "requests" or
  "tokens"), an integer ``Retry-After`` and the six ``x-ratelimit-*`` headers, which every 200
  carries too (``headers=False`` leaves them out);
* latency drawn from a lognormal with the given median and p99, and ``error_rate`` of 5xx
  answers (500, 502, 503 in turn) drawn once a request has been charged;
* the counters and the server-clock timeline of ``/_fake/stats`` under "limits".

Nothing here sleeps or does I/O: ``testing.server`` asks ``admit`` and then does what the ticket says.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.responses import JSONResponse, Response

Z99 = 2.326  # the standard normal's 99th percentile
SERVER_ERRORS = (500, 502, 503)
MAX_KEPT_LATENCIES = 100_000  # the latencies drawn, kept for a benchmark to replay


class ProviderLimits(BaseModel):
    """A hosted provider's limits, costs, latency and error rate (all opt-in)."""

    model_config = ConfigDict(extra="forbid")

    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    burst_s: float = Field(default=1.0, gt=0)
    image_tokens: int = Field(default=255, ge=0)
    default_max_tokens: int = Field(default=1024, ge=0)
    latency_median_s: float = Field(default=0.0, ge=0)
    latency_p99_s: float | None = Field(default=None, ge=0)
    error_rate: float = Field(default=0.0, ge=0, le=1)
    headers: bool = True  # the x-ratelimit-* headers
    retry_after: bool = True  # the Retry-After header of 429s
    seed: int = 0

    @model_validator(mode="after")
    def _p99_above_median(self) -> ProviderLimits:
        if self.latency_p99_s is not None and self.latency_p99_s < self.latency_median_s:
            raise ValueError("latency_p99_s must be at least latency_median_s")
        return self


def lognormal_latency(median: float, p99: float | None, rng: random.Random) -> float:
    """Seconds from a lognormal with this median and 99th percentile (``median`` when no p99)."""
    if median <= 0:
        return 0.0
    sigma = math.log(p99 / median) / Z99 if p99 else 0.0
    return rng.lognormvariate(math.log(median), sigma)


def format_reset(seconds: float) -> str:
    """OpenAI's reset format: "120ms" under a second, else "1s", "2.4s", "6m0s", "1h0m0s"."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    ms = math.ceil(seconds * 1000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs = f"{ms / 1000:.3f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{secs}"
    return f"{minutes}m{secs}" if minutes else secs


class Bucket:
    """A per-minute limit as a bucket of ``burst_s`` seconds of it, refilled continuously."""

    def __init__(self, per_minute: int, burst_s: float, clock: Callable[[], float]) -> None:
        self.limit = per_minute
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * burst_s)
        self.level = self.capacity
        self.clock = clock
        self.stamp = clock()

    def refill(self) -> None:
        now = self.clock()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_for(self, amount: float) -> float:
        """0 when ``amount`` fits now, else seconds until it does (a charge larger than the
        bucket fits once it is full, and leaves it in debt)."""
        need = min(amount, self.capacity)
        return 0.0 if self.level >= need else (need - self.level) / self.rate

    def reset_s(self) -> float:
        return max(0.0, self.capacity - self.level) / self.rate


@dataclass
class Ticket:
    """What ``admit`` decided for an admitted request."""

    prompt_tokens: int
    latency_s: float
    error_status: int | None
    headers: dict[str, str] = field(default_factory=dict)


class ProviderGate:
    """The buckets, dice and counters of the realistic mode for one running server."""

    def __init__(
        self, limits: ProviderLimits, model: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits
        self.model = model
        self.clock = clock
        self.origin = clock()
        self.rng = random.Random(limits.seed)
        self.requests = Bucket(limits.rpm, limits.burst_s, clock) if limits.rpm else None
        self.tokens = Bucket(limits.tpm, limits.burst_s, clock) if limits.tpm else None
        self.received = 0
        self.rejected: Counter[str] = Counter({"requests": 0, "tokens": 0})
        self.server_errors = 0
        self.tokens_charged = 0
        self.completed = 0
        self.first_arrival: float | None = None
        self.last_completion: float | None = None
        self.latencies: list[float] = []  # drawn, in order of acceptance (a benchmark's ideal)

    def prompt_tokens(self, chars: int, images: int) -> int:
        return math.ceil(chars / 4) + self.limits.image_tokens * images

    def admit(self, chars: int, images: int, max_tokens: Any) -> Ticket | Response:
        """Charge a request (``chars`` of text, ``images``) or answer it with a 429."""
        now = self.clock()
        self.received += 1
        if self.first_arrival is None:
            self.first_arrival = now
        prompt = self.prompt_tokens(chars, images)
        ask = max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else None
        cost = prompt + (ask if ask is not None else self.limits.default_max_tokens)
        for bucket in (self.requests, self.tokens):
            if bucket is not None:
                bucket.refill()
        for kind, bucket, amount in (("requests", self.requests, 1), ("tokens", self.tokens, cost)):
            wait = bucket.wait_for(amount) if bucket is not None else 0.0
            if bucket is not None and wait > 0:
                self.rejected[kind] += 1
                return self._too_many(kind, bucket, amount, wait)
        for bucket, amount in ((self.requests, 1), (self.tokens, cost)):
            if bucket is not None:
                bucket.level -= amount
        self.tokens_charged += cost
        latency = lognormal_latency(
            self.limits.latency_median_s, self.limits.latency_p99_s, self.rng
        )
        if len(self.latencies) < MAX_KEPT_LATENCIES:
            self.latencies.append(round(latency, 4))
        error = None
        if self.limits.error_rate and self.rng.random() < self.limits.error_rate:
            error = SERVER_ERRORS[self.server_errors % len(SERVER_ERRORS)]
            self.server_errors += 1
        return Ticket(prompt, latency, error, self.headers())

    def headers(self) -> dict[str, str]:
        """The six ``x-ratelimit-*`` headers as they stand now (none when switched off).

        ``limit`` is the minute limit; ``remaining`` what the bucket holds (at most ``burst_s``
        seconds of the limit); ``reset`` the time until it is full again."""
        if not self.limits.headers:
            return {}
        out: dict[str, str] = {}
        for kind, bucket in (("requests", self.requests), ("tokens", self.tokens)):
            if bucket is not None:
                out[f"x-ratelimit-limit-{kind}"] = str(bucket.limit)
                out[f"x-ratelimit-remaining-{kind}"] = str(max(0, math.floor(bucket.level)))
                out[f"x-ratelimit-reset-{kind}"] = format_reset(bucket.reset_s())
        return out

    def _too_many(self, kind: str, bucket: Bucket, amount: int, wait: float) -> Response:
        unit = "requests per min (RPM)" if kind == "requests" else "tokens per min (TPM)"
        used = max(0, math.ceil(bucket.capacity - bucket.level))
        message = (
            f"Rate limit reached for {self.model} in organization org-fake on {unit}: "
            f"Limit {bucket.limit}, Used {used}, Requested {amount}. "
            f"Please try again in {format_reset(wait)}."
        )
        headers = self.headers()
        if self.limits.retry_after:
            headers["retry-after"] = str(max(1, math.ceil(wait)))
        body = {
            "error": {
                "message": message,
                "type": kind,
                "param": None,
                "code": "rate_limit_exceeded",
            }
        }
        return JSONResponse(body, status_code=429, headers=headers)

    def completed_one(self) -> None:
        self.completed += 1
        self.last_completion = self.clock()

    def stats(self) -> dict[str, Any]:
        """Counters and the server-clock timeline (seconds since the server started)."""

        def since(t: float | None) -> float | None:
            return None if t is None else round(t - self.origin, 4)

        span = (
            self.last_completion - self.first_arrival
            if self.first_arrival is not None and self.last_completion is not None
            else None
        )
        return {
            "received": self.received,
            "rejected_429": dict(self.rejected),
            "server_errors": self.server_errors,
            "tokens_charged": self.tokens_charged,
            "completed": self.completed,
            "first_arrival_s": since(self.first_arrival),
            "last_completion_s": since(self.last_completion),
            "span_s": None if span is None else round(span, 4),
            "completed_per_min": round(self.completed * 60 / span, 2) if span else None,
            "latencies_s": list(self.latencies),
            "limits": self.limits.model_dump(),
        }


def server_error(status: int) -> Response:
    """The 5xx a ticket drew (no Retry-After: the client chooses its own backoff)."""
    message = {
        500: "The server had an error while processing your request.",
        502: "Bad gateway.",
        503: "The engine is currently overloaded, please try again later.",
    }[status]
    body = {"error": {"message": message, "type": "server_error", "param": None, "code": None}}
    return JSONResponse(body, status_code=status)
