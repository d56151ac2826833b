"""One seed's rows of the run journal, moved between the driver's Store and a worker's.

A Ray worker never opens ``run.sqlite``: the driver cuts out the rows that concern one seed
(its samples, its units, its failures and the replies journalled for its units), the worker
loads them into an in-memory ``Store`` and runs the unchanged local engine on it, and what the
engine added there comes back as a ``SliceDelta`` that the driver merges in one transaction.
Rows travel as they are stored, so the merge writes exactly what the local engine would have.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from mmevol.evolve.engine import unit_id
from mmevol.store import Store

Row = list[Any]
FAILURE_COLUMNS = "unit, seed_id, round, task, error_class, message, attempts, created, resolved"


class JournalSlice(BaseModel):
    """What a worker needs to evolve one seed: the seed line and its rows of the journal."""

    seed: str  # the seed's JSON line from seeds.jsonl
    seed_id: str
    samples: list[Row] = Field(default_factory=list)
    units: list[Row] = Field(default_factory=list)
    failures: list[Row] = Field(default_factory=list)
    calls: list[Row] = Field(default_factory=list)


class SliceDelta(BaseModel):
    """The rows a worker's engine added to a slice, and its counters for the progress view."""

    seed_id: str
    samples: list[Row] = Field(default_factory=list)
    units: list[Row] = Field(default_factory=list)
    failures: list[Row] = Field(default_factory=list)
    calls: list[Row] = Field(default_factory=list)
    counters: dict[str, Any] = Field(default_factory=dict)
    last_error: str = ""
    stop_reason: str | None = None


def _rows(store: Store, sql: str, args: tuple[Any, ...]) -> list[Row]:
    return [list(r) for r in store.db.execute(sql, args)]


def cut_slice(store: Store, seed_line: str, seed_id: str, rounds: int) -> JournalSlice:
    """The slice of ``seed_id`` as the driver's journal holds it now."""
    units = [unit_id(seed_id, r) for r in range(1, rounds + 1)]
    marks = ",".join("?" * len(units))
    return JournalSlice(
        seed=seed_line,
        seed_id=seed_id,
        samples=_rows(store, "SELECT * FROM samples WHERE seed_id=? ORDER BY id", (seed_id,)),
        units=_rows(store, "SELECT * FROM units WHERE seed_id=? ORDER BY id", (seed_id,)),
        failures=_rows(
            store, f"SELECT {FAILURE_COLUMNS} FROM failures WHERE seed_id=? ORDER BY id", (seed_id,)
        ),
        calls=_rows(store, f"SELECT * FROM calls WHERE unit IN ({marks}) ORDER BY key", (*units,)),
    )


def insert_calls(store: Store, rows: list[Row]) -> None:
    """Journal raw ``calls`` rows; a key already there keeps its first reply."""
    if rows:
        store.db.executemany(
            "INSERT OR IGNORE INTO calls VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows
        )


def call_row(store: Store, key: str) -> Row:
    return _rows(store, "SELECT * FROM calls WHERE key=?", (key,))[0]


def load_slice(store: Store, piece: JournalSlice) -> None:
    """Fill an empty (in-memory) store with a slice."""
    with store.db:
        store.db.execute("BEGIN")
        store.db.executemany("INSERT INTO samples VALUES(?,?,?,?,?,?,?,?)", piece.samples)
        store.db.executemany("INSERT INTO units VALUES(?,?,?,?,?,?,?)", piece.units)
        store.db.executemany(
            f"INSERT INTO failures({FAILURE_COLUMNS}) VALUES(?,?,?,?,?,?,?,?,?)", piece.failures
        )
        insert_calls(store, piece.calls)


def slice_delta(store: Store, piece: JournalSlice) -> SliceDelta:
    """What the engine added to ``store`` since ``piece`` was loaded into it."""
    old_samples = {r[0] for r in piece.samples}
    old_units = {r[0] for r in piece.units}
    old_calls = {r[0] for r in piece.calls}
    samples = _rows(store, "SELECT * FROM samples ORDER BY id", ())
    units = _rows(store, "SELECT * FROM units ORDER BY id", ())
    calls = _rows(store, "SELECT * FROM calls ORDER BY key", ())
    failures = _rows(
        store,
        f"SELECT {FAILURE_COLUMNS} FROM failures WHERE id > ? ORDER BY id",
        (len(piece.failures),),
    )
    return SliceDelta(
        seed_id=piece.seed_id,
        samples=[r for r in samples if r[0] not in old_samples],
        units=[r for r in units if r[0] not in old_units],
        failures=failures,
        calls=[r for r in calls if r[0] not in old_calls],
    )


def merge_delta(store: Store, delta: SliceDelta) -> None:
    """Write a worker's additions into the driver's journal, all or nothing.

    Like ``Store.commit_unit``: a unit's samples, its ``done`` mark and the resolution of its
    earlier failures land in the same transaction; new failures are appended."""
    with store.db:
        store.db.execute("BEGIN")
        insert_calls(store, delta.calls)
        store.db.executemany("INSERT OR IGNORE INTO samples VALUES(?,?,?,?,?,?,?,?)", delta.samples)
        store.db.executemany("INSERT OR REPLACE INTO units VALUES(?,?,?,?,?,?,?)", delta.units)
        store.db.executemany(
            "UPDATE failures SET resolved=1 WHERE unit=?", [(u[0],) for u in delta.units]
        )
        store.db.executemany(
            f"INSERT INTO failures({FAILURE_COLUMNS}) VALUES(?,?,?,?,?,?,?,?,?)", delta.failures
        )


def done_seeds(store: Store, rounds: int) -> set[str]:
    """Seeds whose every round up to ``rounds`` is committed: nothing to send to a worker."""
    rows = store.db.execute(
        "SELECT seed_id, COUNT(*) FROM units WHERE status='done' AND round<=? GROUP BY seed_id",
        (rounds,),
    )
    return {str(seed_id) for seed_id, n in rows if int(n) >= rounds}
