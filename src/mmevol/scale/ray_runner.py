"""The driver of a Ray run: a Ray Data pipeline of seeds, journalled by this process alone.

``run_ray(engine, seeds)`` takes the local ``Engine`` of the run (its store, backend, config
and counters, which the progress display reads) and does what ``Engine.run`` does, on a Ray
cluster:

1. seeds whose every round is committed are skipped; every other seed becomes one row holding
   its ``JournalSlice``;
2. ``ray.data.from_items(rows).map_batches(ShardWorker, ...)`` evolves them on a pool of
   workers; the endpoint's limits are held by one ``AdmissionActor``;
3. while the pipeline runs (consumed by a thread into a queue), the event loop here drains the
   ``ReplyLedger`` into ``run.sqlite`` every ``DRAIN_S`` and merges each finished seed's
   ``SliceDelta`` in one transaction, then tells the ledger to forget its replies;
4. a budget stop or the error-rate stop sets the ledger's stop flag: workers finish the units
   they are in and start no more, the rest of the seeds pass through untouched.

Why Ray Data and still exactly-once: rows are whole seeds, so no data-dependent step crosses a
Ray Data boundary; the only state a worker creates that must survive a crash is a model reply,
and that leaves the worker through the ledger before the worker uses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import queue
import threading
from collections.abc import Iterable
from typing import Any

from mmevol.errors import ConfigError, MmevolError
from mmevol.evolve.engine import Engine
from mmevol.scale.admission_actor import AdmissionActor, local_controller
from mmevol.scale.cluster import ray_session
from mmevol.scale.journal_slice import (
    SliceDelta,
    cut_slice,
    done_seeds,
    insert_calls,
    merge_delta,
)
from mmevol.scale.ledger import ReplyLedger
from mmevol.scale.worker import bound_worker
from mmevol.schema import Seed

FINAL_DRAINS = 5  # after an error: replies still arriving from running units
DRAIN_S = 0.1
_END = object()


def plan(workers: int, n_seeds: int, concurrency: int) -> tuple[int, int]:
    """(actors, seeds per batch): about as many seeds in flight as the local engine keeps
    (``max(4, 2 * concurrency)``), spread so that every actor gets work."""
    actors = max(1, min(workers, n_seeds))
    per_actor = math.ceil(max(4, 2 * concurrency) / actors)
    return actors, max(1, min(per_actor, math.ceil(n_seeds / actors)))


def _consume(dataset: Any, out: queue.Queue[Any]) -> None:
    """Pull the pipeline's rows into ``out`` (run in a thread; Ray Data iteration blocks)."""
    try:
        for row in dataset.iter_rows():
            out.put(str(row["delta"]))
        out.put(_END)
    except BaseException as exc:  # handed to the driver's loop, which re-raises it
        out.put(exc)


class Driver:
    """Journals what the workers send and keeps the engine's counters and stop reason."""

    def __init__(self, engine: Engine, ledger: Any) -> None:
        self.engine = engine
        self.ledger = ledger

    async def drain(self) -> None:
        insert_calls(self.engine.store, await self.ledger.drain.remote())

    async def merge(self, delta: SliceDelta) -> None:
        await self.drain()  # replies first, so the calls table never lags the units
        merge_delta(self.engine.store, delta)
        if delta.calls:
            await self.ledger.forget.remote([str(r[0]) for r in delta.calls])
        c = self.engine.counters
        n = delta.counters
        for name in ("units_done", "units_skipped", "calls", "cached_calls", "kept", "dropped"):
            setattr(c, name, getattr(c, name) + int(n.get(name, 0)))
        c.input_tokens += int(n.get("input_tokens", 0))
        c.output_tokens += int(n.get("output_tokens", 0))
        c.cost += float(n.get("cost", 0.0))
        c.failures_by_class.update(n.get("failures_by_class", {}))
        failed = int(n.get("units_failed", 0))
        c.units_failed += failed
        if failed:
            self.engine.check_error_rate(delta.last_error)
        if delta.stop_reason and not self.engine.stop_reason:
            self.engine.stop_reason = delta.stop_reason
        if self.engine.stop_reason:
            await self.ledger.stop.remote(self.engine.stop_reason)


def _rows(engine: Engine, seeds: Iterable[Seed]) -> list[dict[str, str]]:
    rounds = engine.config.rounds
    finished = done_seeds(engine.store, rounds)
    rows = []
    for seed in seeds:
        if seed.id in finished:
            engine.counters.units_skipped += rounds
            continue
        piece = cut_slice(engine.store, seed.model_dump_json(), seed.id, rounds)
        rows.append({"slice": piece.model_dump_json()})
    return rows


async def run_ray(engine: Engine, seeds: Iterable[Seed]) -> None:
    """Evolve ``seeds`` on Ray (``engine.config.ray_address``, or a local instance)."""
    config = engine.config
    if engine.store.open_batches():
        raise ConfigError(
            f"{engine.store.path}: batches of an earlier --mode batch run are still open;"
            " collect them with --engine local first (a Ray worker would ask again online)"
        )
    rows = _rows(engine, seeds)
    if not rows:
        return
    with ray_session(config.ray_address) as ray:
        ledger = ray.remote(ReplyLedger).options(num_cpus=0).remote(engine.store.spent())
        ctl = local_controller(engine.backend)
        admission = None
        if ctl is not None:
            actor_cls = ray.remote(AdmissionActor).options(num_cpus=0, max_concurrency=10_000)
            admission = actor_cls.remote(ctl.limits.model_dump_json(), ctl.name)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        actors, batch = plan(config.ray_workers or cpus, len(rows), config.concurrency)
        dataset = ray.data.from_items(rows).map_batches(
            bound_worker(config, ledger, admission, engine.templates),
            batch_size=batch,
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=min(1.0, cpus / actors),
        )
        results: queue.Queue[Any] = queue.Queue()
        driver = Driver(engine, ledger)
        engine.counters.in_flight = len(rows)
        feeder = threading.Thread(target=_consume, args=(dataset, results), daemon=True)
        feeder.start()
        try:
            while True:
                await driver.drain()
                try:
                    item = results.get_nowait()
                except queue.Empty:
                    await asyncio.sleep(DRAIN_S)
                    continue
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    first = (str(item).strip().splitlines() or [type(item).__name__])[-1]
                    raise MmevolError(f"the Ray pipeline failed: {first[:300]}") from item
                await driver.merge(SliceDelta.model_validate_json(item))
                engine.counters.in_flight -= 1
        except BaseException:  # an error or Ctrl-C: keep the replies workers already paid for
            with contextlib.suppress(Exception):
                await ledger.stop.remote("the driver is stopping")
                for _ in range(FINAL_DRAINS):
                    await driver.drain()
                    await asyncio.sleep(DRAIN_S)
            raise
        await driver.drain()
        feeder.join()
