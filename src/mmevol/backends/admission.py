"""Admission control for one model endpoint: concurrency, request/token rates, retries.

Every HTTP call to an endpoint goes through that endpoint's single ``AdmissionController``
(``controller_for(base_url, limits)``), so all backends and tasks that talk to the same server
share one view of its limits. The controller owns:

* a concurrency cap that adapts AIMD-style: halved on a 429, grown by ``1/cap`` per success
  back up to ``max_concurrency``;
* token buckets (reservation style, FIFO, no thundering herd) for requests/min and tokens/min;
  the token estimate is reserved before a call and reconciled with the real usage afterwards;
  requests/min is checked once more at the moment of sending, so callers woken late by a busy
  event loop are spaced out again instead of arriving at the server in a burst;
* a shared pause: a 429 carrying Retry-After stops *every* caller of the endpoint until then;
* jittered exponential backoff for retryable ``CallError``s and a per-attempt timeout;
  after ``max_attempts`` the last error is raised with ``.attempts`` set.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from mmevol.backends.base import CallError, CallTimeout, RateLimited

T = TypeVar("T")
log = logging.getLogger(__name__)


class Limits(BaseModel):
    """What one endpoint allows. ``None`` rates mean unlimited."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_concurrency: int = Field(default=16, ge=1)
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    timeout_s: float = Field(default=120.0, gt=0)
    max_attempts: int = Field(default=6, ge=1)
    backoff_base_s: float = Field(default=0.5, ge=0)
    backoff_cap_s: float = Field(default=30.0, ge=0)
    # how much of a burst the buckets allow, in seconds of the steady rate
    request_burst_s: float = Field(default=0.5, gt=0)
    token_burst_s: float = Field(default=6.0, gt=0)


@dataclass
class Counters:
    """Running totals of one endpoint (``rate_limited`` counts 429 answers)."""

    sent: int = 0
    ok: int = 0
    rate_limited: int = 0
    retries: int = 0
    in_flight: int = 0
    tokens: int = 0

    def snapshot(self) -> dict[str, int]:
        return asdict(self)


class TokenBucket:
    """A continuously refilled bucket; ``reserve`` takes tokens now and says how long to wait.

    The level may go negative: each reservation queues behind the earlier ones, so waiters
    leave in order, one by one, at exactly the refill rate.
    """

    def __init__(self, per_minute: float, burst_s: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * burst_s)
        self.level = self.capacity
        self._stamp = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self._stamp) * self.rate)
        self._stamp = now

    def reserve(self, n: float) -> float:
        """Take ``n`` tokens; return the seconds to wait before they are really available."""
        self._refill()
        self.level -= n
        return 0.0 if self.level >= 0 else -self.level / self.rate

    def give_back(self, n: float) -> None:
        """Return tokens (``n`` > 0) or charge more (``n`` < 0) after the fact."""
        self._refill()
        self.level = min(self.capacity, self.level + n)

    def take_now(self, n: float) -> float:
        """Take ``n`` tokens if the bucket holds them (0.0); else take none, return the wait."""
        self._refill()
        if self.level >= n:
            self.level -= n
            return 0.0
        return (n - self.level) / self.rate


def _default_tokens(result: Any) -> int | None:
    usage = getattr(result, "usage", None)
    if usage is None:
        return None
    total = getattr(usage, "input_tokens", 0) + getattr(usage, "output_tokens", 0)
    return int(total)


class AdmissionController:
    """Admits calls to one endpoint within its limits and retries the retryable failures."""

    def __init__(self, limits: Limits | None = None, *, name: str = "") -> None:
        self.name = name
        self.counters = Counters()
        self._limits = limits or Limits()
        self._cap = float(self._limits.max_concurrency)
        self._paused_until = 0.0
        self._last_decrease = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cond: asyncio.Condition | None = None
        self._rng = random.Random()
        self._set_buckets()

    # --- configuration -------------------------------------------------------------------
    @property
    def limits(self) -> Limits:
        return self._limits

    @property
    def concurrency(self) -> int:
        """The current (adapted) concurrency cap."""
        return max(1, int(self._cap))

    def update(self, limits: Limits) -> None:
        """Apply new limits (the last backend built for an endpoint says what it allows)."""
        if limits == self._limits:
            return
        self._limits = limits
        self._cap = min(max(self._cap, 1.0), float(limits.max_concurrency))
        self._set_buckets()

    def _set_buckets(self) -> None:
        lim = self._limits
        self._requests = TokenBucket(lim.rpm, lim.request_burst_s) if lim.rpm else None
        # the same limit checked at the real moment of sending: a waiter woken late (a busy
        # event loop) must not go out in a bunch with the others, as the server counts arrivals
        self._sends = TokenBucket(lim.rpm, lim.request_burst_s) if lim.rpm else None
        self._tokens = TokenBucket(lim.tpm, lim.token_burst_s) if lim.tpm else None

    # --- the concurrency gate (rebuilt when used from a new event loop) ---------------------
    def _condition(self) -> asyncio.Condition:
        loop = asyncio.get_running_loop()
        if self._cond is None or self._loop is not loop:
            self._loop = loop
            self._cond = asyncio.Condition()
            self.counters.in_flight = 0
        return self._cond

    async def _acquire_slot(self) -> None:
        cond = self._condition()
        async with cond:
            await cond.wait_for(lambda: self.counters.in_flight < self.concurrency)
            self.counters.in_flight += 1

    async def _release_slot(self) -> None:
        cond = self._condition()
        async with cond:
            self.counters.in_flight = max(0, self.counters.in_flight - 1)
            cond.notify_all()

    async def _wait_pause(self) -> None:
        while (delay := self._paused_until - time.monotonic()) > 0:
            await asyncio.sleep(delay)

    def pause(self, seconds: float) -> None:
        """Hold every caller of this endpoint for ``seconds`` from now."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    # --- reactions ---------------------------------------------------------------------------
    def _on_success(self) -> None:
        self.counters.ok += 1
        self._cap = min(float(self._limits.max_concurrency), self._cap + 1.0 / self._cap)

    def _on_rate_limited(self, err: RateLimited, started: float) -> None:
        self.counters.rate_limited += 1
        if started >= self._last_decrease:  # one halving per wave of 429s
            self._cap = max(1.0, self._cap / 2.0)
            self._last_decrease = time.monotonic()
        if err.retry_after is not None and err.retry_after > 0:
            self.pause(err.retry_after)

    def _backoff(self, attempt: int, err: CallError) -> float:
        if isinstance(err, RateLimited) and err.retry_after:
            # the shared pause does the waiting; a little jitter spreads the restart
            return self._rng.uniform(0.0, min(1.0, 0.1 * err.retry_after))
        lim = self._limits
        ceiling = min(lim.backoff_cap_s, lim.backoff_base_s * 2 ** (attempt - 1))
        return ceiling * self._rng.uniform(0.5, 1.0)

    # --- admission and settlement (a subclass may hold them elsewhere, e.g. in a Ray actor) ---
    async def admit(self, est_tokens: int) -> float:
        """Wait for the shared pause, a concurrency slot and the rate buckets; return a stamp.

        The slot stays taken until ``settle`` is called with the stamp (the send time here)."""
        await self._wait_pause()
        await self._acquire_slot()
        try:
            delay = self._requests.reserve(1) if self._requests else 0.0
            if self._tokens and est_tokens > 0:
                delay = max(delay, self._tokens.reserve(est_tokens))
            if delay > 0:
                await asyncio.sleep(delay)
            await self._wait_pause()  # a 429 elsewhere may have paused us meanwhile
            while self._sends and (late := self._sends.take_now(1)) > 0:
                await asyncio.sleep(late)
        except BaseException:
            await self._release_slot()
            raise
        self.counters.sent += 1
        return time.monotonic()

    async def settle(
        self,
        stamp: float,
        est_tokens: int,
        *,
        failure: CallError | None = None,
        used: int | None = None,
        abandoned: bool = False,
    ) -> None:
        """Free the slot of an admitted call and react to its outcome (AIMD, pause, tokens)."""
        await self._release_slot()
        if abandoned:
            return
        if failure is None:
            self._on_success()
            if used is not None:
                self.counters.tokens += used
                if self._tokens and est_tokens > 0:
                    self._tokens.give_back(est_tokens - used)
            return
        if isinstance(failure, RateLimited):
            self._on_rate_limited(failure, stamp)
            if self._tokens and est_tokens > 0:
                self._tokens.give_back(est_tokens)  # the server did not process it

    # --- the one entry point -------------------------------------------------------------------
    async def run(
        self,
        fn: Callable[[], Awaitable[T]],
        *,
        est_tokens: int = 0,
        tokens_of: Callable[[T], int | None] | None = None,
    ) -> tuple[T, int]:
        """Run ``fn`` within the limits, retrying retryable errors; return (result, attempts).

        ``tokens_of`` reads the real token usage off a result (default: ``result.usage``) to
        reconcile the tokens/min bucket with the estimate taken before the call.
        """
        attempt = 0
        while True:
            attempt += 1
            stamp = await self.admit(est_tokens)
            try:
                try:
                    async with asyncio.timeout(self._limits.timeout_s):
                        result = await fn()
                except TimeoutError:
                    raise CallTimeout(f"no answer within {self._limits.timeout_s:g} s") from None
            except CallError as err:
                err.attempts = attempt
                failure = err
            except BaseException:
                await self.settle(stamp, est_tokens, abandoned=True)
                raise
            else:
                used = (tokens_of or _default_tokens)(result)
                await self.settle(stamp, est_tokens, used=used)
                return result, attempt

            await self.settle(stamp, est_tokens, failure=failure)
            if not failure.retryable or attempt >= self._limits.max_attempts:
                raise failure
            self.counters.retries += 1
            wait = self._backoff(attempt, failure)
            log.debug(
                "%s: attempt %d failed (%s); retrying in %.2fs",
                self.name,
                attempt,
                failure.error_class,
                wait,
            )
            await asyncio.sleep(wait)


_CONTROLLERS: dict[str, AdmissionController] = {}


def controller_for(base_url: str, limits: Limits | None = None) -> AdmissionController:
    """The shared controller of an endpoint (keyed by base URL, trailing slash ignored).

    When ``limits`` differ from the ones the controller has, the new limits are applied.
    """
    key = base_url.rstrip("/")
    ctl = _CONTROLLERS.get(key)
    if ctl is None:
        ctl = _CONTROLLERS[key] = AdmissionController(limits, name=key)
    elif limits is not None:
        ctl.update(limits)
    return ctl
