"""Human review decisions on a run's samples, kept in ``RUN_DIR/reviews.sqlite``.

This module owns the review journal and nothing else, and imports no web framework, so the
exporter can read reviews without the ``web`` extra. Every decision is appended to ``reviews``
(never updated in place, so the history stays); ``current`` maps each sample to its latest
decision and is updated in the same transaction. The latest decision wins by insertion order,
not by clock, so two reviews within one clock tick still resolve the way they were made.

A decision is ``accept``, ``reject`` or ``edit``; an edit carries the corrected question and
answer, which ``apply_review`` puts into the sample at export time. Every text is checked before
it is stored, whichever way it came: at most ``MAX_TEXT`` characters, valid Unicode (no lone
surrogates, which SQLite could not encode) and no control characters but tab and newlines.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmevol.errors import MmevolError, note_sqlite, sqlite_error
from mmevol.schema import Sample

REVIEWS_FILE = "reviews.sqlite"
ACTIONS = ("accept", "reject", "edit")
MAX_TEXT = 20_000
_BAD_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

SCHEMA = """
CREATE TABLE IF NOT EXISTS reviews(
  id INTEGER PRIMARY KEY AUTOINCREMENT, sample_id TEXT NOT NULL, action TEXT NOT NULL,
  question TEXT, answer TEXT, note TEXT NOT NULL DEFAULT '', created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS reviews_sample ON reviews(sample_id, id);
CREATE TABLE IF NOT EXISTS current(
  sample_id TEXT PRIMARY KEY, review_id INTEGER NOT NULL, action TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS current_action ON current(action);
"""


class ReviewError(MmevolError):
    """A review that cannot be recorded (unknown action, empty edit, text too long)."""


@dataclass(frozen=True)
class Review:
    """One recorded decision on one sample."""

    id: int
    sample_id: str
    action: str
    question: str | None
    answer: str | None
    note: str
    created: float

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sample_id": self.sample_id,
            "action": self.action,
            "question": self.question,
            "answer": self.answer,
            "note": self.note,
            "created": self.created,
            "created_iso": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.created)),
        }


_COLS = "id, sample_id, action, question, answer, note, created"


def _review(row: tuple[Any, ...]) -> Review:
    return Review(int(row[0]), row[1], row[2], row[3], row[4], row[5] or "", float(row[6]))


def _check_text(name: str, text: str | None) -> None:
    if text is not None and not isinstance(text, str):
        raise ReviewError(f"the {name} must be text")
    if text and _BAD_CHARS.search(text):
        raise ReviewError(f"the {name} contains control characters or invalid Unicode")


def validate(
    action: str, question: str | None, answer: str | None, note: str
) -> tuple[str | None, str | None]:
    """Check a decision; return the (question, answer) to store (only an edit keeps them)."""
    if not isinstance(action, str) or action not in ACTIONS:
        shown = repr(action[:40]) if isinstance(action, str) else type(action).__name__
        raise ReviewError(f"unknown review action {shown}; use one of {', '.join(ACTIONS)}")
    _check_text("note", note)
    if len(note) > MAX_TEXT:
        raise ReviewError(f"the note is longer than {MAX_TEXT} characters")
    if action != "edit":
        return None, None  # the question and answer sent along are not kept: not checked
    _check_text("question", question)
    _check_text("answer", answer)
    q, a = (question or "").strip(), (answer or "").strip()
    if not q or not a:
        raise ReviewError("an edit needs a non-empty question and answer")
    if len(q) > MAX_TEXT or len(a) > MAX_TEXT:
        raise ReviewError(f"an edited question or answer is longer than {MAX_TEXT} characters")
    return q, a


class ReviewStore:
    """The review journal of one run directory (created on first use)."""

    def __init__(self, run_dir: Path, *, create: bool = True) -> None:
        self.path = Path(run_dir) / REVIEWS_FILE
        if not create and not self.path.is_file():
            raise MmevolError(
                f"{run_dir}: no {REVIEWS_FILE} (review samples with `mmevol view {run_dir}` first)"
            )
        note_sqlite(self.path)
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA busy_timeout=5000")
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise sqlite_error(exc, self.path) from None
        self._lock = threading.Lock()

    def close(self) -> None:
        self.db.close()

    def _rows(self, sql: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self.db.execute(sql, tuple(args)))

    def add(
        self,
        sample_id: str,
        action: str,
        *,
        question: str | None = None,
        answer: str | None = None,
        note: str = "",
    ) -> Review:
        """Record a decision (it becomes the sample's current one) and return it."""
        note = note.strip()
        q, a = validate(action, question, answer, note)
        now = time.time()
        with self._lock, self.db:
            self.db.execute("BEGIN IMMEDIATE")
            cur = self.db.execute(
                "INSERT INTO reviews(sample_id, action, question, answer, note, created)"
                " VALUES(?,?,?,?,?,?)",
                (sample_id, action, q, a, note, now),
            )
            rid = int(cur.lastrowid or 0)
            self.db.execute(
                "INSERT OR REPLACE INTO current(sample_id, review_id, action) VALUES(?,?,?)",
                (sample_id, rid, action),
            )
        return Review(rid, sample_id, action, q, a, note, now)

    def latest(self, sample_id: str) -> Review | None:
        rows = self._rows(
            f"SELECT {_COLS} FROM reviews WHERE id=(SELECT review_id FROM current"
            " WHERE sample_id=?)",
            (sample_id,),
        )
        return _review(rows[0]) if rows else None

    def latest_many(self, sample_ids: Iterable[str]) -> dict[str, Review]:
        """The current decision of each of ``sample_ids`` that has one."""
        ids = list(dict.fromkeys(sample_ids))
        found: dict[str, Review] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._rows(
                f"SELECT {_COLS} FROM reviews WHERE id IN (SELECT review_id FROM current"
                f" WHERE sample_id IN ({marks}))",
                chunk,
            )
            found.update((r[1], _review(r)) for r in rows)
        return found

    def all_latest(self) -> dict[str, Review]:
        rows = self._rows(
            f"SELECT {_COLS} FROM reviews WHERE id IN (SELECT review_id FROM current)"
        )
        return {r[1]: _review(r) for r in rows}

    def history(self, sample_id: str) -> list[Review]:
        rows = self._rows(
            f"SELECT {_COLS} FROM reviews WHERE sample_id=? ORDER BY id DESC", (sample_id,)
        )
        return [_review(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """How many samples currently stand at each decision."""
        out = dict.fromkeys(ACTIONS, 0)
        for action, n in self._rows("SELECT action, COUNT(*) FROM current GROUP BY action"):
            out[str(action)] = int(n)
        return out


def apply_review(sample: Sample, review: Review) -> Sample:
    """The sample as the reviewer left it: an edit replaces its question and answer."""
    if review.action != "edit" or review.question is None or review.answer is None:
        return sample
    qa = sample.qa.model_copy(update={"question": review.question, "answer": review.answer})
    return sample.model_copy(update={"qa": qa})


def reviewed_samples(samples: Iterable[Sample], reviews: dict[str, Review]) -> list[Sample]:
    """Only the samples whose latest decision is accept or edit, with edits applied."""
    out = []
    for s in samples:
        r = reviews.get(s.id)
        if r is not None and r.action in ("accept", "edit"):
            out.append(apply_review(s, r))
    return out
