"""The read side of ``run.sqlite`` that stats, export, invariants and the report need: every
query they run is a named method here, so the journal's tables are read in one place.

``JournalReads`` is a mixin of ``Store`` (it uses ``self.db``). Rows come back as plain tuples
or counts; what they mean (shares, tables, figures) is the caller's business.
"""

from __future__ import annotations

import sqlite3
from typing import Any

Row = tuple[Any, ...]


class JournalReads:
    db: sqlite3.Connection

    # --- counts for stats ------------------------------------------------------------------
    def seed_counts(self) -> tuple[int, int]:
        """(seed images, seed items): the samples of round 0."""
        row = self.db.execute(
            "SELECT COUNT(DISTINCT seed_id), COUNT(*) FROM samples WHERE round=0"
        ).fetchone()
        return int(row[0]), int(row[1])

    def work_done(self) -> int:
        """Answered calls, finished units, batches sent and evolved samples (an imported run has
        no calls): 0 when nothing was ever done."""
        row = self.db.execute(
            "SELECT (SELECT COUNT(*) FROM calls) + (SELECT COUNT(*) FROM units)"
            " + (SELECT COUNT(*) FROM batches) + (SELECT COUNT(*) FROM samples WHERE round>0)"
        ).fetchone()
        return int(row[0])

    def evolved_kept(self) -> int:
        """Evolved samples kept, over every round."""
        return int(
            self.db.execute("SELECT COUNT(*) FROM samples WHERE round>0 AND kept=1").fetchone()[0]
        )

    def kept_means(self, round_: int) -> Row:
        """(mean judge score, mean steps, mean skills) of the samples kept in ``round_``."""
        return tuple(
            self.db.execute(
                "SELECT AVG(json_extract(json, '$.lineage.verdict.score')),"
                " AVG(json_array_length(json, '$.qa.steps')),"
                " AVG(json_array_length(json, '$.qa.skills'))"
                " FROM samples WHERE round=? AND kept=1",
                (round_,),
            ).fetchone()
        )

    def verdict_groups(self, round_: int) -> list[Row]:
        """(direction, kept, improved, score, judge, count) of ``round_``'s candidates."""
        return list(
            self.db.execute(
                "SELECT direction, kept, json_extract(json, '$.lineage.verdict.improved'),"
                " json_extract(json, '$.lineage.verdict.score'),"
                " json_extract(json, '$.lineage.verdict.judge'), COUNT(*) FROM samples"
                " WHERE round=? GROUP BY 1, 2, 3, 4, 5",
                (round_,),
            )
        )

    def label_counts(self, path: str, prefix: str) -> list[tuple[str, int]]:
        """Each string in the JSON list at ``path`` of every sample that starts with ``prefix``
        (SQL ``LIKE``: ASCII case folded), with the samples carrying it, most frequent first."""
        rows = self.db.execute(
            "SELECT value, COUNT(*) FROM samples, json_each(samples.json, ?)"
            " WHERE value LIKE ? GROUP BY value ORDER BY COUNT(*) DESC, value",
            (path, prefix + "%"),
        )
        return [(str(v), int(n)) for v, n in rows]

    def calls_by_task(self) -> list[Row]:
        """(task, calls, input tokens, output tokens, cost) per task."""
        return list(
            self.db.execute(
                "SELECT task, COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(cost)"
                " FROM calls GROUP BY task"
            )
        )

    # --- rows for export, invariants and the report ----------------------------------------
    def finish_reasons(self) -> list[tuple[str, str | None, int]]:
        """(task, finish_reason, calls) over every reply journalled."""
        return [
            (str(t), f, int(n))
            for t, f, n in self.db.execute(
                "SELECT task, finish_reason, COUNT(*) FROM calls GROUP BY task, finish_reason"
            )
        ]

    def open_parse_failures(self) -> list[Row]:
        """(unit, task, message, last reply, its finish_reason) of each open parse failure:
        the reply is the latest one journalled for that unit and task."""
        return list(
            self.db.execute(
                "SELECT f.unit, f.task, f.message,"
                " (SELECT c.response FROM calls c WHERE c.unit = f.unit AND c.task = f.task"
                "  ORDER BY c.created DESC LIMIT 1),"
                " (SELECT c.finish_reason FROM calls c WHERE c.unit = f.unit AND c.task = f.task"
                "  ORDER BY c.created DESC LIMIT 1)"
                " FROM failures f WHERE f.resolved = 0 AND f.error_class = 'parse_failed'"
                " ORDER BY f.id"
            )
        )

    def unit_directions(self) -> dict[tuple[str, int], str | None]:
        """(seed id, round) -> the direction its unit drew."""
        rows = self.db.execute("SELECT seed_id, round, direction FROM units")
        return {(str(s), int(k)): d for s, k, d in rows}

    def lineage_rows(self) -> list[Row]:
        """(id, seed id, round, parent id, kept, parent match) of every sample."""
        return list(
            self.db.execute(
                "SELECT id, seed_id, round, parent_id, kept,"
                " json_extract(json, '$.lineage.parent_match') FROM samples"
            )
        )

    def seed_ids(self) -> set[str]:
        return {str(r[0]) for r in self.db.execute("SELECT DISTINCT seed_id FROM samples")}

    def sample_rows(self) -> list[Row]:
        """(round, kept, reason, sample JSON) of every sample, by round then id."""
        return list(
            self.db.execute("SELECT round, kept, reason, json FROM samples ORDER BY round, id")
        )

    def call_rows(self) -> list[Row]:
        """(unit, task, input tokens, output tokens, cost, latency) of every journalled call."""
        return list(
            self.db.execute(
                "SELECT unit, task, input_tokens, output_tokens, cost, latency FROM calls"
            )
        )
