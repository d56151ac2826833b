"""The live progress display of a run (rich), refreshed from the engine's counters.

Shows units done / failed / in flight, calls and tokens per minute, cost so far. It is off when
output is not a terminal (CI logs get the end-of-run summary only).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from rich.console import Console
from rich.live import Live
from rich.table import Table

if TYPE_CHECKING:
    from mmevol.evolve.engine import Engine


def render(engine: Engine, started: float) -> Table:
    c = engine.counters
    minutes = max((time.monotonic() - started) / 60, 1e-6)
    table = Table(title="mmevol evolve", show_header=False, box=None)
    table.add_row(
        "units done / skipped / failed", f"{c.units_done} / {c.units_skipped} / {c.units_failed}"
    )
    table.add_row("units in flight", str(c.in_flight))
    table.add_row("samples kept / dropped", f"{c.kept} / {c.dropped}")
    table.add_row("calls (cached)", f"{c.calls} ({c.cached_calls})")
    table.add_row("requests / min", f"{c.calls / minutes:.1f}")
    table.add_row("tokens / min", f"{(c.input_tokens + c.output_tokens) / minutes:.0f}")
    table.add_row("cost", f"${c.cost:.4f}")
    if engine.stop_reason:
        table.add_row("[red]stopping[/red]", engine.stop_reason)
    return table


@contextlib.asynccontextmanager
async def live_progress(engine: Engine, *, enabled: bool) -> AsyncIterator[None]:
    if not enabled or not sys.stderr.isatty():
        yield
        return
    started = time.monotonic()
    console = Console(stderr=True)
    with Live(render(engine, started), console=console, refresh_per_second=4) as live:

        async def refresh() -> None:
            while True:
                await asyncio.sleep(0.25)
                live.update(render(engine, started))

        task = asyncio.create_task(refresh())
        try:
            yield
        finally:
            task.cancel()
            live.update(render(engine, started))
