"""Admission control for one model endpoint: concurrency, request/token rates, retries.

Every HTTP call to an endpoint goes through that endpoint's single ``AdmissionController``
(``controller_for(base_url, limits)``), so all backends and tasks that talk to the same server
share one view of its limits. The controller owns:

* a concurrency cap (``max_concurrency``);
* token buckets (reservation style, FIFO, no thundering herd) for requests/min and tokens/min;
  a token reservation is corrected afterwards to what the server charged; requests/min is
  checked once more at the moment of sending, so callers woken late by a busy event loop are
  spaced out again instead of arriving at the server in a burst;
* the limits in force, which may differ from the configured ones: a limit the server states
  (``x-ratelimit-limit-*`` headers, or the number in a 429's message) replaces a configured one
  above it; a 429 that states none makes the limit what the server accepted lately
  (``ratelimits.AcceptedWindow``, over the last minute), which then creeps back up by 1 % a
  second while no 429 comes, and is undone when the server goes on refusing about as often
  after it (``ratelimits.CutTrials``: random 429s are not a rate); a header never raises a rate a 429 set (its number may count
  another window, e.g. a day). A 429 empties the bucket it hit (the server is full now,
  whatever our count said); one that says neither a usable wait (no Retry-After, or 0) nor a
  limit holds every caller for a pause that doubles while the single probe after it meets
  429s (1 s to 8 s);
* retries: a 429 never uses up an attempt (the call waits its Retry-After, jittered, and goes
  again; only a Retry-After longer than ``pause_all_after_s`` holds every caller), other
  retryable errors back off exponentially with jitter up to ``max_attempts``; a 5xx is not a
  rate signal; a per-attempt timeout. ``costs`` learns what calls really cost in tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from mmevol.backends.ratelimits import (
    AcceptedWindow,
    CostLearner,
    CutTrials,
    Signals,
    TokenBucket,
    Trial,
)
from mmevol.calls import CallError, CallTimeout, RateLimited

T = TypeVar("T")
log = logging.getLogger(__name__)
LEARN_MARGIN = 0.98  # a learned limit starts just under what the server was seen to accept
PROBE_STEP, PROBE_EVERY_S, PROBE_QUIET_S = 1.01, 1.0, 3.0  # a learned limit creeps back up
TOKEN_PACE = 0.985  # tokens are paced just under the limit: estimates and clocks are not exact
SLOW_START_S = 2.0  # told no rate: one call until the server first answers (or this long)
# a 429 that says no usable wait (no Retry-After, or 0) holds every caller, for twice as long
# each time the next probe meets another one (a refusal that lasts the rest of a minute costs
# a handful of probes, not one 429 per caller and half-second)
BLIND_PAUSE_S, BLIND_PAUSE_CAP_S = 1.0, 8.0


class Limits(BaseModel):
    """What one endpoint allows, as the user configured it. ``None`` rates mean "not told":
    the controller then keeps to what the server says (headers, 429 bodies) or shows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_concurrency: int = Field(default=16, ge=1)
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    timeout_s: float = Field(default=120.0, gt=0)
    max_attempts: int = Field(default=6, ge=1)  # failures other than 429 before giving up
    backoff_base_s: float = Field(default=0.5, ge=0)
    backoff_cap_s: float = Field(default=30.0, ge=0)
    # how much of a burst the buckets allow, in seconds of the steady rate
    request_burst_s: float = Field(default=0.5, gt=0)
    token_burst_s: float = Field(default=1.0, gt=0)
    # a Retry-After longer than this holds every caller of the endpoint (a quota window, not a
    # pacing slip); a call that has met only 429s for ``rate_limit_patience_s`` fails; None
    # (the default): a rate limit slows a run and never fails a call
    pause_all_after_s: float = Field(default=5.0, ge=0)
    rate_limit_patience_s: float | None = Field(default=None, gt=0)


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


def _default_tokens(result: Any) -> int | None:
    usage = getattr(result, "usage", None)
    if usage is None:
        return None
    total = getattr(usage, "input_tokens", 0) + getattr(usage, "output_tokens", 0)
    return int(total)


class Estimate:
    """The tokens one attempt reserves: a number, or a function asked once, when needed."""

    def __init__(self, source: int | Callable[[], int]) -> None:
        self._source = source
        self._value: int | None = None

    def __call__(self) -> int:
        if self._value is None:
            self._value = self._source() if callable(self._source) else self._source
        return self._value


class AdmissionController:
    """Admits calls to one endpoint within its limits and retries the retryable failures."""

    def __init__(self, limits: Limits | None = None, *, name: str = "") -> None:
        self.name = name
        self.counters = Counters()
        self._limits = limits or Limits()
        self._paused_until = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cond: asyncio.Condition | None = None
        self._rng = random.Random()
        self.accepted = AcceptedWindow()
        self.trials = CutTrials()
        self.costs = CostLearner()
        self._rates: dict[str, float | None] = {}  # "requests"/"tokens" -> per minute in force
        self._source: dict[str, str | None] = {}  # ... and where it came from
        self._last_cut = {"requests": 0.0, "tokens": 0.0}
        self._lowered: set[str] = set()  # rates a 429 set: a header may lower, never raise them
        self._blind = 0  # 429s in a row that said no wait
        self._blind_at = 0.0
        self._last_429 = self._last_probe = 0.0
        self._requests: TokenBucket | None = None
        self._sends: TokenBucket | None = None
        self._tokens: TokenBucket | None = None
        self._heard = False  # has the server answered yet (its headers may state the limits)
        self._ramp: int | None = None  # calls allowed in flight while opening up (None: all)
        self._first_admit: float | None = None
        self._configure()

    # --- configuration -------------------------------------------------------------------
    @property
    def limits(self) -> Limits:
        return self._limits

    @property
    def concurrency(self) -> int:
        """The concurrency cap (rates, not concurrency, answer 429s)."""
        return self._limits.max_concurrency

    def _cap(self) -> int:
        """The calls allowed in flight now. Not told both rates (requests and tokens per
        minute), the controller sends one call first and waits for the server's answer (its
        headers may state the limits) or ``SLOW_START_S``. If the answer left a rate unknown,
        it opens up by doubling the calls in flight with each success until a 429 names or
        shows the limit: a burst of ``max_concurrency`` calls into a limit nobody knows
        would mostly come back 429."""
        if self._slow_start_left() > 0 or self._blind:
            return 1  # ... or, after 429s that said no wait, one probe until one gets through
        return min(self._ramp, self.concurrency) if self._ramp else self.concurrency

    def _slow_start_left(self) -> float:
        if self._heard or (self._limits.rpm and self._limits.tpm):
            return 0.0
        if self._first_admit is None:
            return SLOW_START_S
        return SLOW_START_S - (time.monotonic() - self._first_admit)

    def rate(self, kind: str) -> float | None:
        """The requests or tokens per minute in force now (None: unlimited)."""
        return self._rates.get(kind)

    def rate_source(self, kind: str) -> str | None:
        """Where that rate came from: "config", "server" (its headers or 429 text) or
        "learned" (what it accepted when it said no without a number)."""
        return self._source.get(kind)

    def update(self, limits: Limits) -> None:
        """Apply new limits (the last backend built for an endpoint says what it allows)."""
        if limits == self._limits:
            return
        self._limits = limits
        self._configure()

    def _configure(self) -> None:
        for kind, per_minute in (("requests", self._limits.rpm), ("tokens", self._limits.tpm)):
            told = self._rates.get(kind) if self._source.get(kind) == "server" else None
            rate = min(x for x in (per_minute, told) if x) if (per_minute or told) else None
            self._set_rate(kind, rate, "server" if told and rate == told else "config")

    def _set_rate(self, kind: str, per_minute: float | None, source: str) -> None:
        self._rates[kind] = per_minute
        self._source[kind] = source if per_minute else None
        lim = self._limits
        if kind == "tokens":
            paced = per_minute * TOKEN_PACE if per_minute else None
            self._tokens = self._rebucket(self._tokens, paced, lim.token_burst_s)
            return
        self._requests = self._rebucket(self._requests, per_minute, lim.request_burst_s)
        # the same limit checked at the real moment of sending: a waiter woken late (a busy
        # event loop) must not go out in a bunch with the others, as the server counts arrivals
        self._sends = self._rebucket(self._sends, per_minute, lim.request_burst_s)

    @staticmethod
    def _rebucket(
        old: TokenBucket | None, per_minute: float | None, burst_s: float
    ) -> TokenBucket | None:
        if not per_minute:
            return None
        if old is None:
            return TokenBucket(per_minute, burst_s)
        old.set_rate(per_minute)
        return old

    # --- what the server says ------------------------------------------------------------------
    def observe(self, signals: Signals) -> None:
        """Adopt the limits a reply's headers state (never above the configured ones)."""
        for kind, told in (("requests", signals.limit_requests), ("tokens", signals.limit_tokens)):
            if told:
                self._told(kind, float(told))

    def _told(self, kind: str, per_minute: float, *, by_429: bool = False) -> None:
        current = self._rates.get(kind)
        if not by_429 and kind in self._lowered and current and per_minute >= current:
            # a header naming more than a 429 showed (another window's number, e.g. per day)
            return
        if by_429:
            self._lowered.add(kind)
        configured = self._limits.rpm if kind == "requests" else self._limits.tpm
        rate = min(per_minute, configured) if configured else per_minute
        source = "server" if rate == per_minute else "config"
        if self._rates.get(kind) != rate or self._source.get(kind) != source:
            log.info("%s: %s/min now %g (%s)", self.name, kind, rate, source)
            self._set_rate(kind, rate, source)

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
            self._first_admit = self._first_admit or time.monotonic()
            while self.counters.in_flight >= self._cap():
                if (left := self._slow_start_left()) > 0:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(left):
                            await cond.wait()
                else:
                    await cond.wait()
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
    def _on_success(self, charged: float) -> None:
        self.counters.ok += 1
        self.accepted.add(charged)
        now = time.monotonic()
        if now - self._last_429 < PROBE_QUIET_S or now - self._last_probe < PROBE_EVERY_S:
            return
        for kind in ("requests", "tokens"):  # a learned limit creeps up while no 429 comes
            rate = self._rates.get(kind)
            if rate and self._source.get(kind) == "learned":
                configured = self._limits.rpm if kind == "requests" else self._limits.tpm
                higher = rate * PROBE_STEP
                self._set_rate(kind, min(higher, configured) if configured else higher, "learned")
                self._last_probe = now

    def _on_rate_limited(self, err: RateLimited, started: float) -> None:
        self.counters.rate_limited += 1
        now = time.monotonic()
        self._last_429 = now
        kind = err.kind if err.kind in ("requests", "tokens") else None
        if err.limit:
            self._told(kind or "requests", float(err.limit), by_429=True)
        for k in (kind,) if kind else ("requests", "tokens"):
            bucket = self._requests if k == "requests" else self._tokens
            if bucket is not None and self._source.get(k) in ("server", "config"):
                bucket.drain()  # the server is full now, whatever our count said
        cut = kind or "requests"
        learn = self._source.get(cut) != "server" and self.trials.learning(cut, now)
        if learn and started >= self._last_cut[cut]:
            self._learn_from_429(cut, now)
        if err.retry_after is not None and err.retry_after > self._limits.pause_all_after_s:
            self.pause(err.retry_after)
        elif not (err.retry_after or err.limit) and started >= self._blind_at:
            # neither a wait nor a limit said: hold everyone and probe, slower each time
            self._blind += 1
            self._blind_at = now
            hold = min(BLIND_PAUSE_CAP_S, BLIND_PAUSE_S * 2 ** (self._blind - 1))
            self.pause(hold * self._rng.uniform(1.0, 1.1))

    def _learn_from_429(self, kind: str, now: float) -> None:
        """A 429 without a stated limit: the limit is what the server accepted lately."""
        rates = self.accepted.rates(now)
        self._last_cut[kind] = now
        if rates is None:
            return
        per_minute = (rates[0] if kind == "requests" else rates[1]) * 60.0 * LEARN_MARGIN
        current = self._rates.get(kind)
        if per_minute > 0 and (current is None or per_minute < current):
            log.info("%s: 429 without a stated limit; %s/min now %.1f", self.name, kind, per_minute)
            self.trials.start(kind, Trial(now, current, self._source.get(kind)))
            self._set_rate(kind, max(1.0, per_minute), "learned")
            self._lowered.add(kind)

    def _backoff(self, attempt: int, err: CallError) -> float:
        if isinstance(err, RateLimited):
            # this call waits as asked; the rate buckets keep the others at the server's pace
            # (no wait said: the endpoint's pause holds it, see ``_on_rate_limited``)
            return (err.retry_after or 0.0) * self._rng.uniform(1.0, 1.1)
        lim = self._limits
        ceiling = min(lim.backoff_cap_s, lim.backoff_base_s * 2 ** (attempt - 1))
        return ceiling * self._rng.uniform(0.5, 1.0)

    # --- admission and settlement (a subclass may hold them elsewhere, e.g. in a Ray actor) ---
    async def admit(self, est_tokens: int | Estimate) -> float:
        """Wait for the shared pause, a concurrency slot and the rate buckets; return a stamp.

        The slot stays taken until ``settle`` is called with the stamp (the send time here).
        An ``Estimate`` is asked once a slot is free (costs are learned while calls wait)."""
        await self._wait_pause()
        await self._acquire_slot()
        try:
            tokens = est_tokens() if isinstance(est_tokens, Estimate) else est_tokens
            delay = self._requests.reserve(1) if self._requests else 0.0
            if self._tokens and tokens > 0:
                delay = max(delay, self._tokens.reserve(tokens))
            if delay > 0:
                await asyncio.sleep(delay)
            await self._wait_pause()  # a long Retry-After elsewhere may have paused us meanwhile
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
        """Free the slot of an admitted call and react to its outcome. ``used``: the tokens
        the server charged for it (the reservation is corrected to that)."""
        if not abandoned:
            self._open_up(failure)
        await self._release_slot()
        if abandoned:
            return
        self.trials.add(stamp, isinstance(failure, RateLimited))
        for kind, trial in self.trials.judge(time.monotonic()):
            # refusals went on as before: not a rate limit, so the cut is undone
            log.info("%s: 429s continued after the %s cut; back to %s/min (429s here are noise)",
                     self.name, kind, trial.prior)  # fmt: skip
            self._set_rate(kind, trial.prior, trial.prior_source or "learned")
            if trial.prior is None:
                self._lowered.discard(kind)
        if failure is None:
            charged = est_tokens if used is None else used
            self._on_success(charged)
            if used is not None:
                self.counters.tokens += used
                if self._tokens and est_tokens > 0:
                    self._tokens.give_back(est_tokens - used)
            return
        if isinstance(failure, RateLimited):
            # its tokens are not given back: the slot they bought has passed (handing it to
            # the next caller would send two calls at the moment booked for one)
            self._on_rate_limited(failure, stamp)
        else:
            self.accepted.add(est_tokens)  # it passed the server's limits (then failed)

    def _open_up(self, failure: CallError | None) -> None:
        """Slow start after the first answer: double on success, open fully on a 429 (the
        limit is then known or learned) or once every rate is known."""
        if failure is None:
            self._blind = 0  # the probe got through: every slot opens (before waiters wake)
        if not self._heard:
            self._heard = True
            unknown = not (self._rates.get("requests") and self._rates.get("tokens"))
            self._ramp = 1 if unknown and self.concurrency > 1 else None
        if self._ramp is None:
            return
        if isinstance(failure, RateLimited) or (
            self._rates.get("requests") and self._rates.get("tokens")
        ):
            self._ramp = None
        elif failure is None:
            self._ramp *= 2
            if self._ramp >= self.concurrency:
                self._ramp = None

    # --- the one entry point -------------------------------------------------------------------
    async def run(
        self,
        fn: Callable[[], Awaitable[T]],
        *,
        est_tokens: int | Callable[[], int] = 0,
        tokens_of: Callable[[T], int | None] | None = None,
        timeout_s: float | None = None,
        retry_timeouts: bool = True,
    ) -> tuple[T, int]:
        """Run ``fn`` within the limits, retrying retryable errors; return (result, attempts).

        A 429 never uses up an attempt: the call waits and goes again (a rate limit slows a
        run, it does not fail it), unless a ``rate_limit_patience_s`` is set and the call has
        met nothing but 429s for that long. Other retryable errors are tried ``max_attempts`` times.
        ``tokens_of`` reads what the server charged off a result (default: ``result.usage``)
        to reconcile the tokens/min bucket with the reservation taken before the call.
        ``est_tokens`` may be a function, asked at each attempt (what calls cost is learned
        while this one waits). ``timeout_s`` overrides the endpoint's for this call;
        ``retry_timeouts=False`` fails a timed-out call at once (a single local process would
        still be generating for it).
        """
        attempt = failures = 0
        limited_since: float | None = None
        timeout_s = timeout_s or self._limits.timeout_s
        while True:
            attempt += 1
            estimate = Estimate(est_tokens)
            stamp = await self.admit(estimate)
            est = estimate()
            try:
                try:
                    async with asyncio.timeout(timeout_s):
                        result = await fn()
                except TimeoutError:
                    raise CallTimeout(f"no answer within {timeout_s:g} s") from None
            except CallError as err:
                err.attempts = attempt
                failure = err
            except BaseException:
                await self.settle(stamp, est, abandoned=True)
                raise
            else:
                used = (tokens_of or _default_tokens)(result)
                await self.settle(stamp, est, used=used)
                return result, attempt

            await self.settle(stamp, est, failure=failure)
            if isinstance(failure, RateLimited):
                limited_since = limited_since or time.monotonic()
                patience = self._limits.rate_limit_patience_s
                if patience is not None and time.monotonic() - limited_since > patience:
                    raise failure
            else:
                limited_since = None
                failures += 1
                if not failure.retryable or failures >= self._limits.max_attempts:
                    raise failure
                if isinstance(failure, CallTimeout) and not retry_timeouts:
                    raise failure
            self.counters.retries += 1
            wait = self._backoff(failures or 1, failure)
            log.debug("%s: attempt %d failed (%s); retrying in %.2fs", self.name, attempt,
                      failure.error_class, wait)  # fmt: skip
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
