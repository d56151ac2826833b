"""Read-side queries over a run's journal for the viewer: filtered pages, facets and lineage.

This module owns the viewer's own connection to ``run.sqlite``. It never writes samples; on
open it adds a few secondary indexes (``CREATE INDEX IF NOT EXISTS``, harmless to the engine,
skipped when the file is read-only) so that filters and lineage look-ups stay fast on 100k
samples. ``reviews.sqlite`` is attached read-only-in-practice as ``rv`` so that the review
state can be filtered in the same SQL. Pages use ``LIMIT``/``OFFSET`` over the primary key
order; fields inside the sample JSON are reached with ``json_extract`` / ``json_each``.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmevol.schema import Sample
from mmevol.store import check_version

PAGE_SIZE = 50
REVIEW_STATES = ("unreviewed", "accept", "reject", "edit")
INDEXES = (
    "CREATE INDEX IF NOT EXISTS view_samples_parent ON samples(parent_id)",
    "CREATE INDEX IF NOT EXISTS view_samples_round ON samples(round, kept)",
    "CREATE INDEX IF NOT EXISTS view_samples_direction ON samples(direction)",
)


@dataclass
class Filters:
    """What the list page asks for; every field is optional."""

    round: int | None = None
    direction: str | None = None
    kept: bool | None = None
    skill: str | None = None
    format: str | None = None
    object: str | None = None
    q: str | None = None
    review: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        """The SQL condition on ``samples s`` (and ``rv.current c``) and its arguments."""
        parts: list[str] = []
        args: list[Any] = []
        if self.round is not None:
            parts.append("s.round = ?")
            args.append(self.round)
        if self.direction == "seed":
            parts.append("s.direction IS NULL")
        elif self.direction:
            parts.append("s.direction = ?")
            args.append(self.direction)
        if self.kept is not None:
            parts.append("s.kept = ?")
            args.append(int(self.kept))
        if self.skill:
            parts.append("EXISTS (SELECT 1 FROM json_each(s.json, '$.qa.skills') WHERE value = ?)")
            args.append(self.skill)
        if self.format:
            parts.append("json_extract(s.json, '$.qa.format') = ?")
            args.append(self.format)
        if self.object:
            parts.append(
                "EXISTS (SELECT 1 FROM json_each(s.json, '$.qa.objects')"
                " WHERE instr(lower(value), lower(?)) > 0)"
            )
            args.append(self.object.strip())
        if self.q:
            parts.append(
                "(instr(lower(json_extract(s.json, '$.qa.question')), lower(?)) > 0"
                " OR instr(lower(json_extract(s.json, '$.qa.answer')), lower(?)) > 0)"
            )
            args += [self.q.strip(), self.q.strip()]
        if self.review == "unreviewed":
            parts.append("c.action IS NULL")
        elif self.review in REVIEW_STATES:
            parts.append("c.action = ?")
            args.append(self.review)
        return (" AND ".join(parts) or "1=1"), args


@dataclass
class Row:
    """One line of the list page."""

    sample: Sample
    review: str | None


@dataclass
class Page:
    rows: list[Row]
    total: int
    page: int
    pages: int
    size: int = PAGE_SIZE

    @property
    def first(self) -> int:
        """1-based position of the first row on this page."""
        return (self.page - 1) * self.size + 1


@dataclass
class Facets:
    """The values the filter menus offer, with how many samples carry each."""

    rounds: list[tuple[int, int, int]] = field(default_factory=list)  # round, kept, dropped
    directions: list[tuple[str, int]] = field(default_factory=list)
    skills: list[tuple[str, int]] = field(default_factory=list)
    formats: list[tuple[str, int]] = field(default_factory=list)
    total: int = 0
    kept: int = 0


class SampleIndex:
    """The viewer's read connection to ``run.sqlite`` with ``reviews.sqlite`` attached."""

    def __init__(self, run_db: Path, reviews_db: Path) -> None:
        if not run_db.is_file():
            raise FileNotFoundError(run_db)
        self._lock = threading.Lock()
        self.db = sqlite3.connect(run_db, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA busy_timeout=5000")
        try:
            check_version(self.db, run_db)  # a newer release's journal: refused, left untouched
        except BaseException:
            self.db.close()
            raise
        for sql in INDEXES:
            with contextlib.suppress(sqlite3.OperationalError):  # read-only file, busy
                self.db.execute(sql)
        self.db.execute("ATTACH DATABASE ? AS rv", (str(reviews_db),))
        self._facets: tuple[tuple[int, int], Facets] | None = None

    def close(self) -> None:
        self.db.close()

    def _all(self, sql: str, args: list[Any] | tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self.db.execute(sql, args))

    def page(self, filters: Filters, page: int = 1, size: int = PAGE_SIZE) -> Page:
        where, args = filters.where()
        base = f"FROM samples s LEFT JOIN rv.current c ON c.sample_id = s.id WHERE {where}"
        total = int(self._all(f"SELECT COUNT(*) {base}", args)[0][0])
        pages = max(1, -(-total // size))
        page = min(max(1, page), pages)
        rows = self._all(
            f"SELECT s.json, c.action {base} ORDER BY s.id LIMIT ? OFFSET ?",
            [*args, size, (page - 1) * size],
        )
        out = [Row(Sample.model_validate_json(blob), action) for blob, action in rows]
        return Page(out, total, page, pages, size)

    def neighbour(self, filters: Filters, sample_id: str, *, after: bool) -> str | None:
        """The id next to ``sample_id`` (after or before it) among the filtered samples."""
        where, args = filters.where()
        op, order = (">", "ASC") if after else ("<", "DESC")
        rows = self._all(
            f"SELECT s.id FROM samples s LEFT JOIN rv.current c ON c.sample_id = s.id"
            f" WHERE s.id {op} ? AND {where} ORDER BY s.id {order} LIMIT 1",
            [sample_id, *args],
        )
        return str(rows[0][0]) if rows else None

    def get(self, sample_id: str) -> Sample | None:
        rows = self._all("SELECT json FROM samples WHERE id = ?", (sample_id,))
        return Sample.model_validate_json(rows[0][0]) if rows else None

    def ancestors(self, sample: Sample) -> list[Sample]:
        """The parents of ``sample`` back to its seed item, oldest first."""
        chain: list[Sample] = []
        seen = {sample.id}
        parent = sample.lineage.parent_id
        while parent and parent not in seen and len(chain) < 100:
            seen.add(parent)
            found = self.get(parent)
            if found is None:
                break
            chain.append(found)
            parent = found.lineage.parent_id
        chain.reverse()
        return chain

    def children(self, sample_id: str) -> list[Sample]:
        rows = self._all("SELECT json FROM samples WHERE parent_id = ? ORDER BY id", (sample_id,))
        return [Sample.model_validate_json(r[0]) for r in rows]

    def descendants(self, sample_id: str, depth: int = 20) -> list[tuple[int, Sample]]:
        """Every descendant as (depth, sample), depth-first, children in id order."""
        out: list[tuple[int, Sample]] = []

        def walk(sid: str, level: int) -> None:
            if level > depth or len(out) > 500:
                return
            for child in self.children(sid):
                out.append((level, child))
                walk(child.id, level + 1)

        walk(sample_id, 1)
        return out

    def facets(self) -> Facets:
        """Filter menu values; recomputed only when the journal has grown."""
        stamp = self._all("SELECT COUNT(*), COALESCE(MAX(rowid), 0) FROM samples")[0]
        key = (int(stamp[0]), int(stamp[1]))
        if self._facets is not None and self._facets[0] == key:
            return self._facets[1]
        f = Facets()
        per_round: dict[int, list[int]] = {}
        for rnd, kept, n in self._all(
            "SELECT round, kept, COUNT(*) FROM samples GROUP BY round, kept"
        ):
            per_round.setdefault(int(rnd), [0, 0])[0 if kept else 1] += int(n)
        f.rounds = [(r, k, d) for r, (k, d) in sorted(per_round.items())]
        f.total = sum(k + d for _, k, d in f.rounds)
        f.kept = sum(k for _, k, _ in f.rounds)
        f.directions = [
            (str(d or "seed"), int(n))
            for d, n in self._all(
                "SELECT direction, COUNT(*) FROM samples GROUP BY direction ORDER BY direction"
            )
        ]
        f.skills = self._value_counts(
            "SELECT value AS v FROM samples s, json_each(s.json, '$.qa.skills')"
        )
        f.formats = self._value_counts("SELECT json_extract(json, '$.qa.format') AS v FROM samples")
        self._facets = (key, f)
        return f

    def _value_counts(self, select: str) -> list[tuple[str, int]]:
        rows = self._all(f"SELECT v, COUNT(*) FROM ({select}) GROUP BY v ORDER BY v")
        return [(str(v), int(n)) for v, n in rows if v is not None]
