"""A virtual clock for asyncio tests of pacing code: time moves only when every task waits.

``run_virtual(main)`` runs a coroutine on an event loop whose clock starts at 0 and, whenever no
task is ready, jumps straight to the next timer instead of sleeping until it. The rate limiter's
own readings (``time.monotonic()`` in ``mmevol.backends.admission`` and ``ratelimits``) read the
same clock. So "0.5 s later" means half a second of the limiter's time, exactly, however busy
or slow the machine is: a test can assert when each call went out, not how long it took here.
Only for code that does no real I/O (sockets and threads do not follow the clock).
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")
MIN_STEP = 1e-6


class _JumpingSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """Polls without blocking; a wait for the next timer moves the clock there instead."""

    def __init__(self, loop: VirtualClockLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        events = super().select(0)
        if events or timeout == 0:
            return events
        if timeout is None:
            raise RuntimeError("every task waits and no timer is set: it would wait forever")
        self._loop.now += timeout
        return events


class VirtualClockLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Any, *args: Any, context: Any = None) -> Any:
        # a timer is at least a microsecond away, as on a real clock: one that rounding left
        # 1e-17 s ahead would otherwise fire at the same instant, again and again
        return super().call_at(max(when, self.now + MIN_STEP), callback, *args, context=context)

    def stall(self, seconds: float) -> None:
        """The loop is blocked this long (a slow parse on it): the clock moves, no task runs."""
        self.now += seconds


class _ClockTime:
    """The ``time`` module as the patched modules see it: ``monotonic`` is the loop's clock."""

    def __init__(self, loop: VirtualClockLoop) -> None:
        self._loop = loop

    def monotonic(self) -> float:
        return self._loop.now

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@contextmanager
def _patched(loop: VirtualClockLoop) -> Iterator[None]:
    from mmevol.backends import admission, ratelimits

    modules = (admission, ratelimits)
    saved = [m.time for m in modules]
    for m in modules:
        m.time = _ClockTime(loop)  # type: ignore[assignment]
    try:
        yield
    finally:
        for m, t in zip(modules, saved, strict=True):
            m.time = t  # type: ignore[assignment]


def run_virtual(main: Callable[[VirtualClockLoop], Coroutine[Any, Any, T]]) -> T:
    """Run ``main(loop)`` to completion on a fresh virtual-clock loop; return its result."""
    loop = VirtualClockLoop()
    try:
        with _patched(loop):
            return loop.run_until_complete(main(loop))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
