"""The Ray Data worker: the local engine, run on one seed's slice of the journal at a time.

``ShardWorker`` is the callable class given to ``Dataset.map_batches``; Ray Data keeps a pool
of them, each with its own backend (sharing the endpoint's admission actor). For every row of a
batch (one seed) it loads the seed's ``JournalSlice`` into an in-memory ``Store``, runs
``Engine.run_seed`` there (rounds in order, each evolving the previous round's survivors and
judged against them, finished units skipped), and returns the ``SliceDelta``. The seeds of a
batch run concurrently on one event loop, as in the local engine.

``ShardEngine`` changes only where replies come from and go to: before a call it asks the
run's ledger (a reply this session already has, the money spent by all workers, the stop
flag); after a new reply it reports it to the ledger before using it.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import numpy as np

from mmevol.backends.base import Backend, make_backend
from mmevol.calls import ModelCall, Reply
from mmevol.evolve.config import EvolveConfig
from mmevol.evolve.engine import Engine
from mmevol.prompts import Template
from mmevol.scale.admission_actor import share_admission
from mmevol.scale.journal_slice import (
    JournalSlice,
    SliceDelta,
    call_row,
    insert_calls,
    load_slice,
    slice_delta,
)
from mmevol.schema import Seed
from mmevol.store import Store

CLAIM_POLL_S = 0.05  # first wait for a reply another worker is getting (then x1.5, to 1 s)


class ShardEngine(Engine):
    """The local engine on a one-seed store, reporting every new reply to the run's ledger."""

    def __init__(
        self,
        config: EvolveConfig,
        store: Store,
        backend: Backend,
        ledger: Any,
        templates: dict[str, Template],
    ) -> None:
        super().__init__(config, store, backend, templates)
        self.ledger = ledger

    async def call_model(self, call: ModelCall, unit: str) -> Reply:
        key = call.cache_key(self.backend.identity())
        mine = False
        wait = CLAIM_POLL_S
        while self.store.cached_reply(key) is None:
            row, mine, spent, stop = await self.ledger.claim.remote(key)
            self._spent = spent  # what every worker spent, for --max-cost
            if stop and not self.stop_reason:
                self.stop_reason = stop  # finish this unit, start no other
            if row is not None:  # made earlier by another worker (or one lost since)
                insert_calls(self.store, [row])
            elif not mine:  # another worker is asking the model this very question now
                await asyncio.sleep(wait)
                wait = min(wait * 1.5, 1.0)
                continue
            break
        made = self.counters.calls
        try:
            reply = await super().call_model(call, unit)
        finally:
            if mine and self.counters.calls == made:  # no reply came: let another ask
                await self.ledger.release.remote(key)
        if self.counters.calls > made:
            await self.ledger.put.remote(call_row(self.store, key))
        return reply


class ShardWorker:
    """``map_batches`` callable: rows ``{"slice": JournalSlice JSON}`` -> ``{"delta": ...}``."""

    def __init__(
        self,
        config: dict[str, Any],
        ledger: Any,
        admission: Any | None,
        templates: dict[str, Template] | None = None,
    ) -> None:
        self.config = EvolveConfig.model_validate(config)
        self.ledger = ledger
        self.templates = templates or {}
        self.backend = make_backend(self.config.backend, **self.config.backend_settings())
        if admission is not None:
            share_admission(self.backend, admission)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        pieces = [JournalSlice.model_validate_json(str(text)) for text in batch["slice"]]
        deltas = asyncio.run(self._run_batch(pieces))
        return {"delta": np.array([d.model_dump_json() for d in deltas], dtype=object)}

    async def _run_batch(self, pieces: list[JournalSlice]) -> list[SliceDelta]:
        try:
            return list(await asyncio.gather(*(self._run_seed(p) for p in pieces)))
        finally:
            await self.backend.aclose()

    async def _run_seed(self, piece: JournalSlice) -> SliceDelta:
        stop = await self.ledger.stopping.remote()
        if stop:  # the run is stopping: leave this seed for the re-run
            return SliceDelta(seed_id=piece.seed_id, stop_reason=stop)
        store = Store(Path(":memory:"))
        try:
            load_slice(store, piece)
            engine = ShardEngine(self.config, store, self.backend, self.ledger, self.templates)
            await engine.run_seed(Seed.model_validate_json(piece.seed))
            delta = slice_delta(store, piece)
        finally:
            store.close()
        c = engine.counters
        delta.counters = {
            "units_done": c.units_done,
            "units_failed": c.units_failed,
            "units_skipped": c.units_skipped,
            "calls": c.calls,
            "cached_calls": c.cached_calls,
            "input_tokens": c.input_tokens,
            "output_tokens": c.output_tokens,
            "cost": c.cost,
            "kept": c.kept,
            "dropped": c.dropped,
            "failures_by_class": dict(c.failures_by_class),
        }
        delta.last_error = engine._last_error
        delta.stop_reason = engine.stop_reason
        return delta


def bound_worker(
    config: EvolveConfig, ledger: Any, admission: Any | None, templates: dict[str, Template]
) -> type[ShardWorker]:
    """A ``ShardWorker`` class with the run's settings and actors built in.

    Ray Data then starts (and restarts, after a lost node) its actors without constructor
    arguments kept in the object store. The API key named by ``api_key_env`` travels with the
    class when the driver has it, since workers on other nodes do not share its environment."""
    settings = config.model_dump(mode="json")
    key_env = config.api_key_env
    key = os.environ.get(key_env)

    class RunShardWorker(ShardWorker):
        def __init__(self) -> None:
            if key is not None:
                os.environ[key_env] = key
            super().__init__(settings, ledger, admission, templates)

    return RunShardWorker
