"""The run journal: one SQLite file that records every call, unit of work, sample and failure.

Durability rules that make resume exact:
- a model reply is committed the moment it arrives (``put_call``); a later identical request is
  answered from this cache, so a completed call is never paid for twice;
- a unit of work (one image, one round) commits its samples and its ``done`` mark in one
  transaction, so a crash leaves either all of a unit or none of it;
- failures are appended, never overwrite anything, and are marked resolved when a re-run succeeds.

Its tables, schema version and migrations are in ``store.schema``; the queries that stats, export,
invariants and the report run are named methods in ``store.reads``. Nothing else writes SQL
against the journal but the Ray slice mover (``scale.journal_slice``, whole rows between two
``Store``s) and the viewer's read-only index (``view.query``).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mmevol.calls import ModelCall, Reply, Usage
from mmevol.errors import MmevolError, note_sqlite, sqlite_error
from mmevol.schema import Sample
from mmevol.store.reads import JournalReads
from mmevol.store.schema import (
    MIGRATIONS,
    SCHEMA,
    SCHEMA_VERSION,
    check_version,
    migrate,
    schema_version,
)

__all__ = [
    "MIGRATIONS",
    "SCHEMA",
    "SCHEMA_VERSION",
    "Store",
    "check_journal",
    "check_version",
    "migrate",
    "request_record",
    "schema_version",
]


def request_record(call: ModelCall) -> str:
    """What is journalled of a request: the rendered messages and image digest (no pixels)."""
    return json.dumps(
        {
            "template": call.template_version,
            "messages": [m.model_dump() for m in call.messages],
            "image": call.image.digest if call.image else None,
            "temperature": call.temperature,
            "max_tokens": call.max_tokens,
        },
        ensure_ascii=False,
    )


class Store(JournalReads):
    """A run's ``run.sqlite``. Single writer (the engine's event loop thread)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        note_sqlite(path)
        try:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            check_version(self.db, path)  # before WAL: a refused file is left byte for byte
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA busy_timeout=5000")
            migrate(self.db, path)
        except sqlite3.DatabaseError as exc:
            raise sqlite_error(exc, path) from None

    def close(self) -> None:
        self.db.close()

    # --- meta -------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", (key, value))

    # --- calls (the request cache) ----------------------------------------------------------
    def cached_reply(self, key: str) -> Reply | None:
        row = self.db.execute(
            "SELECT response, model, input_tokens, output_tokens, attempts, finish_reason"
            " FROM calls WHERE key=?",
            (key,),
        ).fetchone()
        if row is None:
            return None
        text, model, tin, tout, attempts, finish = row
        return Reply(
            text=text,
            model=model,
            usage=Usage(input_tokens=tin, output_tokens=tout),
            cost_usd=0.0,
            attempts=attempts,
            finish_reason=finish,
        )

    def put_call(self, key: str, unit: str, backend: str, call: ModelCall, reply: Reply) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO calls VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                key,
                unit,
                call.task,
                call.template_version,
                backend,
                reply.model,
                request_record(call),
                reply.text,
                reply.usage.input_tokens,
                reply.usage.output_tokens,
                reply.cost_usd,
                reply.latency_s,
                reply.attempts,
                reply.finish_reason,
                time.time(),
            ),
        )

    def spent(self) -> float:
        return float(self.db.execute("SELECT COALESCE(SUM(cost), 0) FROM calls").fetchone()[0])

    # --- failures ---------------------------------------------------------------------------
    def add_failure(
        self, unit: str, seed_id: str, round_: int, task: str, error_class: str, message: str,
        attempts: int,
    ) -> None:  # fmt: skip
        self.db.execute(
            "INSERT INTO failures(unit, seed_id, round, task, error_class, message, attempts,"
            " created) VALUES(?,?,?,?,?,?,?,?)",
            (unit, seed_id, round_, task, error_class, message[:2000], attempts, time.time()),
        )

    def forget_failures(self) -> None:
        """Drop every failure record (a run that starts over because nothing succeeded)."""
        self.db.execute("DELETE FROM failures")

    def failure_count(self, unit: str, error_class: str) -> int:
        """How often ``unit`` failed with ``error_class`` (resolved or not)."""
        row = self.db.execute(
            "SELECT COUNT(*) FROM failures WHERE unit=? AND error_class=?", (unit, error_class)
        ).fetchone()
        return int(row[0])

    def failures(self, *, open_only: bool = False) -> list[dict[str, Any]]:
        sql = "SELECT unit, seed_id, round, task, error_class, message, attempts, resolved FROM failures"
        if open_only:
            sql += " WHERE resolved=0"
        cols = (
            "unit",
            "seed_id",
            "round",
            "task",
            "error_class",
            "message",
            "attempts",
            "resolved",
        )
        return [dict(zip(cols, r, strict=True)) for r in self.db.execute(sql + " ORDER BY id")]

    # --- units and samples ------------------------------------------------------------------
    def unit_status(self, unit: str) -> str | None:
        row = self.db.execute("SELECT status FROM units WHERE id=?", (unit,)).fetchone()
        return None if row is None else str(row[0])

    def add_seed_samples(self, samples: list[Sample]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self._insert_samples(samples)

    def commit_unit(
        self,
        unit: str,
        seed_id: str,
        round_: int,
        direction: str | None,
        samples: list[Sample],
        stats: dict[str, int],
    ) -> None:
        """Record a finished unit and its samples atomically; resolve its earlier failures."""
        with self.db:
            self.db.execute("BEGIN")
            self._insert_samples(samples)
            self.db.execute(
                "INSERT OR REPLACE INTO units VALUES(?,?,?,?,?,?,?)",
                (unit, seed_id, round_, "done", direction, json.dumps(stats), time.time()),
            )
            self.db.execute("UPDATE failures SET resolved=1 WHERE unit=?", (unit,))

    def _insert_samples(self, samples: list[Sample]) -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO samples VALUES(?,?,?,?,?,?,?,?)",
            [
                (
                    s.id,
                    s.seed_id,
                    s.round,
                    s.lineage.parent_id,
                    s.lineage.direction,
                    int(s.lineage.kept),
                    s.lineage.reason,
                    s.model_dump_json(exclude_none=True),
                )
                for s in samples
            ],
        )

    def kept_samples(self, seed_id: str, round_: int) -> list[Sample]:
        rows = self.db.execute(
            "SELECT json FROM samples WHERE seed_id=? AND round=? AND kept=1 ORDER BY id",
            (seed_id, round_),
        )
        return [Sample.model_validate_json(r[0]) for r in rows]

    def seed_questions(self, seed_id: str) -> list[str]:
        """Questions of every kept sample of a seed so far (for near-duplicate checks)."""
        rows = self.db.execute(
            "SELECT json FROM samples WHERE seed_id=? AND kept=1 ORDER BY round, id", (seed_id,)
        )
        return [Sample.model_validate_json(r[0]).qa.question for r in rows]

    def iter_samples(self, *, kept_only: bool, round_: int | None = None) -> Iterator[Sample]:
        sql = "SELECT json FROM samples WHERE 1=1"
        args: list[Any] = []
        if kept_only:
            sql += " AND kept=1"
        if round_ is not None:
            sql += " AND round=?"
            args.append(round_)
        for (blob,) in self.db.execute(sql + " ORDER BY id", args):
            yield Sample.model_validate_json(blob)

    def unit_stats(self) -> Iterator[tuple[int, str | None, dict[str, int]]]:
        for round_, direction, blob in self.db.execute(
            "SELECT round, direction, stats FROM units WHERE status='done'"
        ):
            yield int(round_), direction, json.loads(blob)

    # --- provider batches (``--mode batch|hybrid``, see backends.batch) ----------------------
    def add_batch(self, local_id: str, input_file_id: str, keys: list[str]) -> None:
        """Journal a batch about to be created: the request keys it covers, no remote id yet."""
        now = time.time()
        self.db.execute(
            "INSERT INTO batches VALUES(?,?,?,?,?,?,?,?)",
            (local_id, None, input_file_id, "creating", None, json.dumps(keys), now, now),
        )

    def update_batch(self, local_id: str, **fields: str | None) -> None:
        """Set ``batch_id``, ``status`` and/or ``remote_status`` of a journalled batch."""
        cols = [c for c in fields if c in {"batch_id", "status", "remote_status"}]
        sets = "".join(f"{c}=?, " for c in cols)
        args = [fields[c] for c in cols]
        self.db.execute(
            f"UPDATE batches SET {sets}updated=? WHERE id=?", (*args, time.time(), local_id)
        )

    def open_batches(self) -> list[dict[str, Any]]:
        """Batches neither collected nor abandoned: a re-run follows these, never resubmits."""
        rows = self.db.execute(
            "SELECT id, batch_id, input_file_id, status, keys, created FROM batches"
            " WHERE status NOT IN ('collected', 'abandoned') ORDER BY created"
        )
        cols = ("id", "batch_id", "input_file_id", "status", "keys", "created")
        return [{**dict(zip(cols, r, strict=True)), "keys": json.loads(r[4])} for r in rows]

    def settle_answered_batches(self) -> int:
        """Close the open batches whose every request has a journalled reply (answered online
        after a hybrid cut-off, or by another batch): nothing is left for them to bring, so a
        finished run is complete and a later run need not follow them. Returns how many."""
        settled = 0
        for batch in self.open_batches():
            keys = batch["keys"]
            if all(self.cached_key(k) for k in keys):
                self.update_batch(batch["id"], status="abandoned", remote_status="answered online")
                settled += 1
        return settled

    def cached_key(self, key: str) -> bool:
        """Whether the journal holds a reply for request ``key``."""
        return self.db.execute("SELECT 1 FROM calls WHERE key=?", (key,)).fetchone() is not None

    def collect_batch(self, local_id: str, remote_status: str, ok: dict[str, str]) -> None:
        """Store a finished batch's successful replies (key -> body) and mark it collected."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT OR IGNORE INTO batch_results VALUES(?,?,?)",
                [(k, local_id, body) for k, body in ok.items()],
            )
            self.update_batch(local_id, status="collected", remote_status=remote_status)

    def batch_result(self, key: str) -> str | None:
        """The reply body a collected batch holds for a request key."""
        row = self.db.execute("SELECT response FROM batch_results WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def drop_batch_result(self, key: str) -> None:
        """Forget a collected reply that turned out unusable, so a re-run asks again."""
        with self.db:
            self.db.execute("DELETE FROM batch_results WHERE key=?", (key,))


def check_journal(run_dir: Path) -> None:
    """Before a run is resumed (and before anything in it is rewritten): its journal must be
    whole. A damaged file, or one missing or empty while the run has outputs, is a one-line
    error naming it."""
    db = run_dir / "run.sqlite"
    if not db.exists() or db.stat().st_size == 0:
        if (run_dir / "dataset.jsonl").exists() or (run_dir / "rounds").exists():
            raise MmevolError(f"{db}: the run journal is missing or empty although the run has "
                              "outputs; restore it from a copy, or start again with a new --out")  # fmt: skip
        return
    try:
        con = sqlite3.connect(db)  # not read-only: a killed run's WAL is recovered, as on open
        try:
            row = con.execute("PRAGMA quick_check(1)").fetchone()
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise sqlite_error(exc, db) from None
    if row is None or row[0] != "ok":
        raise sqlite_error(sqlite3.DatabaseError(f"database disk image is malformed: {row}"), db)
