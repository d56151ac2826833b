"""The mmevol part of ``benchmarks/throughput.py`` at a tiny size: at the rate limit, no 429s."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from mmevol.backends.admission import AdmissionController, Limits
from virtual_clock import VirtualClockLoop, run_virtual

REPO = Path(__file__).resolve().parents[1]


def _bench() -> ModuleType:
    path = REPO / "benchmarks" / "throughput.py"
    spec = importlib.util.spec_from_file_location("mmevol_bench_throughput", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_mmevol_sends_each_request_once_at_the_rate_limit(tmp_path: Path) -> None:
    tp = _bench()
    args = argparse.Namespace(n=20, timeout=120)
    requests = tp.build_requests(args.n, tmp_path / "requests")
    row = tp.measure("mmevol", "rpm600", 0, args, requests, tmp_path)
    assert "error" not in row, row.get("error")
    assert row["completed"] == args.n and row["failed"] == 0
    assert row["server_completed"] == args.n and row["paid_then_lost"] == 0
    assert row["sent_per_needed"] <= 1.05 and row["rejected_429"] <= 1
    assert row["driver"]["encodes_in_window"] == 0  # pre-encoded, as the peers' images are


def test_rate_pacing_survives_a_stalled_event_loop() -> None:
    """Waiters woken late by a blocked loop go out spaced, not in one burst the server rejects.
    On a virtual clock (virtual_clock.py): the stall is exactly 1 s of the limiter's time and
    the send times are exact, whatever else the machine is doing."""

    async def main(loop: VirtualClockLoop) -> list[float]:
        ctl = AdmissionController(Limits(max_concurrency=32, rpm=600, request_burst_s=0.5))
        sends: list[float] = []

        async def send() -> None:
            sends.append(loop.time())

        tasks = [asyncio.create_task(ctl.run(send, tokens_of=lambda _: None)) for _ in range(20)]
        await asyncio.sleep(0)  # every task reserves its turn: 5 now, then one per 0.1 s
        loop.stall(1.0)  # the event loop stalls (an image encoded on it, a slow parse ...)
        await asyncio.gather(*tasks)
        return sends

    sends = run_virtual(main)
    assert len(sends) == 20 and max(sends) > 1.0  # they did go after the stall
    # the server's view: a bucket of 10 requests/s holding 0.5 s, counting real arrivals
    level, stamp, rejected = 5.0, sends[0], 0
    for t in sorted(sends):
        level = min(5.0, level + (t - stamp) * 10.0)
        stamp = t
        if level >= 1.0 - 0.05:
            level -= 1.0
        else:
            rejected += 1
    assert rejected == 0


def test_ideal_span_keeps_every_slot_busy() -> None:
    tp = _bench()
    # two slots: 3 s and 1 s start at 0; the 1 s slot takes 1 s then 2 s (ends 4), not 3 + 1
    assert tp.ideal_span([3.0, 1.0, 1.0, 2.0], 2) == 4.0
    assert tp.ideal_span([1.0] * 6, 3) == 2.0 and tp.ideal_span([], 4) == 0.0
