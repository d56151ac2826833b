"""One admission controller per endpoint for a whole Ray run, held in an async Ray actor.

``AdmissionActor`` hosts the endpoint's ``AdmissionController``: concurrency cap,
requests/min and tokens/min buckets and the limits the server states or shows (workers forward
each reply's rate-limit headers and each 429's kind and number), the shared Retry-After pause. Every worker's backend talks
to it through ``RemoteAdmission``, a controller whose ``admit``/``settle`` are calls to the
actor while the retry loop and per-attempt timeout stay in the worker. So N workers together
never pass the endpoint's limits, and one 429 pauses them all. A worker also spaces its own
sends at the endpoint's rate, so grants that reach it late (a busy worker) do not leave as a
burst.

Each admitted call holds a lease; a worker that dies between ``admit`` and ``settle`` would
keep its concurrency slot forever, so leases older than twice the call timeout (plus a margin)
are taken back by a reaper task in the actor.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict
from typing import Any

from mmevol.backends.admission import AdmissionController, Estimate, Limits
from mmevol.backends.base import Backend
from mmevol.backends.ratelimits import Signals, TokenBucket
from mmevol.calls import CallError, RateLimited

LEASE_MARGIN_S = 10.0


class AdmissionActor:
    """Plain class; the driver runs it as ``ray.remote(AdmissionActor)`` (async actor)."""

    def __init__(self, limits_json: str, name: str) -> None:
        limits = Limits.model_validate_json(limits_json)
        self._ctl = AdmissionController(limits, name=name)
        self._lease_s = 2 * limits.timeout_s + LEASE_MARGIN_S
        self._leases: dict[int, tuple[float, float]] = {}  # ticket -> (stamp, deadline)
        self._tickets = 0
        self._reaper: asyncio.Task[None] | None = None
        self.reaped = 0

    async def admit(self, est_tokens: int) -> int:
        """Wait until the endpoint's limits admit one call; return its ticket."""
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._reap_forever())
        stamp = await self._ctl.admit(est_tokens)
        self._tickets += 1
        self._leases[self._tickets] = (stamp, time.monotonic() + self._lease_s)
        return self._tickets

    async def settle(
        self,
        ticket: int,
        est_tokens: int,
        outcome: str,
        retry_after: float | None,
        used: int | None,
        kind: str | None = None,
        limit: int | None = None,
    ) -> float | None:
        """Report how an admitted call ended: ok, rate_limited, failed or abandoned (for a
        429: which limit and its number, when the server said). Returns the requests/min in
        force, so the worker spaces its sends at it."""
        lease = self._leases.pop(ticket, None)
        if lease is None:  # reaped already: its slot was given back then
            return self._ctl.rate("requests")
        failure: CallError | None = None
        if outcome == "rate_limited":
            failure = RateLimited("rate limited", retry_after=retry_after, kind=kind, limit=limit)
        elif outcome == "failed":
            failure = CallError("failed")
        await self._ctl.settle(
            lease[0], est_tokens, failure=failure, used=used, abandoned=outcome == "abandoned"
        )
        return self._ctl.rate("requests")

    def observe(self, signals: dict[str, Any]) -> None:
        """A reply's rate-limit headers, as a worker read them."""
        self._ctl.observe(Signals(**signals))

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            for ticket in [t for t, (_, deadline) in self._leases.items() if deadline < now]:
                stamp, _ = self._leases.pop(ticket)
                self.reaped += 1
                await self._ctl.settle(stamp, 0, abandoned=True)

    def snapshot(self) -> dict[str, Any]:
        """Counters of the endpoint, the current concurrency cap and leases taken back."""
        return {
            **self._ctl.counters.snapshot(),
            "concurrency": self._ctl.concurrency,
            "reaped": self.reaped,
        }


class RemoteAdmission(AdmissionController):
    """A worker's view of the shared controller: admission and settlement happen in the actor."""

    def __init__(self, actor: Any, limits: Limits, *, name: str = "") -> None:
        super().__init__(limits, name=name)
        self._actor = actor
        # the actor spaces its grants; a worker whose event loop stalled must not then send
        # the grants it received meanwhile in one burst: at most one call per rate interval
        self._spacer: TokenBucket | None = None
        self._space(limits.rpm)

    def _space(self, per_minute: float | None) -> None:
        if not per_minute:
            self._spacer = None
        elif self._spacer is None:
            self._spacer = TokenBucket(per_minute, 60.0 / per_minute)
        elif self._spacer.rate * 60.0 != per_minute:
            self._spacer.burst_s = 60.0 / per_minute
            self._spacer.set_rate(per_minute)

    def observe(self, signals: Signals) -> None:
        self._actor.observe.remote(asdict(signals))  # no answer awaited

    async def admit(self, est_tokens: int | Estimate) -> float:
        tokens = est_tokens() if isinstance(est_tokens, Estimate) else est_tokens
        ticket = await self._actor.admit.remote(tokens)
        while self._spacer and (late := self._spacer.take_now(1)) > 0:
            await asyncio.sleep(late)
        self.counters.sent += 1
        return float(ticket)

    async def settle(
        self,
        stamp: float,
        est_tokens: int,
        *,
        failure: CallError | None = None,
        used: int | None = None,
        abandoned: bool = False,
    ) -> None:
        if abandoned:
            outcome = "abandoned"
        elif failure is None:
            outcome = "ok"
        else:
            outcome = "rate_limited" if isinstance(failure, RateLimited) else "failed"
        limited = failure if isinstance(failure, RateLimited) else None
        rate = await self._actor.settle.remote(
            int(stamp), est_tokens, outcome,
            limited.retry_after if limited else None, used,
            limited.kind if limited else None, limited.limit if limited else None,
        )  # fmt: skip
        self._space(rate)


def local_controller(backend: Backend) -> AdmissionController | None:
    """The admission controller a backend sends its calls through, if it has one."""
    ctl = getattr(backend, "admission", None)
    return ctl if isinstance(ctl, AdmissionController) else None


def share_admission(backend: Backend, actor: Any) -> None:
    """Make ``backend`` admit its calls through the run's shared actor instead of its own."""
    ctl = local_controller(backend)
    if ctl is not None:
        backend.admission = RemoteAdmission(actor, ctl.limits, name=ctl.name)  # type: ignore[attr-defined]
