"""Checks that hold for every finished run, run by ``write_outputs`` before a final file exists.

* lineage: each kept sample leads, parent by parent, to a round-0 seed sample of the same seed,
  every ancestor kept and exactly one round older than its child (an imported evolution, whose
  parent was matched by content, may descend from any older round, or from no item at all when
  its lineage says ``parent_match="unmatched"``);
* content: no kept evolution has an empty or placeholder answer, a placeholder box, or a box
  that is not normalised to 0..1 with ``x1 < x2`` and ``y1 < y2``.

Seed items (round 0) are the user's own data: they must have a non-empty answer, but their text
is not held to the rules for model output (a seed answer may well be "none", or a list such as
"[1, 2, 3, 4]"). Imported evolutions (no backend in their lineage) are checked for lineage only:
they are someone else's data, shown as it was released. A violation raises ``InvariantError``
naming the sample, so a run never publishes a dataset that breaks them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mmevol.errors import MmevolError
from mmevol.evolve.eliminate import PLACEHOLDER_ANSWERS, PLACEHOLDER_PATTERNS
from mmevol.geometry import has_placeholder_box, is_normalised, parse_boxes
from mmevol.schema import Sample
from mmevol.store import Store


class InvariantError(MmevolError):
    """A finished run breaks an invariant; nothing final was written."""

    exit_code = 4

    def __init__(self, sample_id: str, problem: str) -> None:
        self.sample_id = sample_id
        self.problem = problem
        super().__init__(
            f"sample {sample_id}: {problem}; no final file was written (this is a bug in "
            "mmevol or the data it was given: please report it with the run's run.sqlite)"
        )


@dataclass(frozen=True)
class Row:
    """What the lineage check needs of a journalled sample."""

    seed_id: str
    round: int
    parent_id: str | None
    kept: bool
    parent_match: str | None = None  # imported lineage: "content" or "unmatched"


def content_problem(sample: Sample) -> str | None:
    """Why a kept sample's text breaks the content rules, or None."""
    qa = sample.qa
    answer = qa.answer.strip()
    if not answer:
        return "empty answer"
    if sample.round == 0 or sample.lineage.backend is None:
        return None
    if not qa.question.strip():
        return "empty question"
    if answer.lower().strip(" .") in PLACEHOLDER_ANSWERS or PLACEHOLDER_PATTERNS.search(answer):
        return f"placeholder answer {answer[:60]!r}"
    for text in (qa.question, qa.answer, *(s.description for s in qa.steps)):
        if has_placeholder_box(text):
            return "placeholder box instead of coordinates"
        for box in parse_boxes(text):
            if not is_normalised(box):
                return f"box {list(box)} is not normalised with x1 < x2 and y1 < y2"
    return None


def lineage_problem(sample_id: str, rows: dict[str, Row]) -> str | None:
    """Why a kept sample's lineage does not lead back to a kept round-0 seed sample, or None."""
    row = rows[sample_id]
    current, seen = sample_id, {sample_id}
    while row.round > 0:
        parent = row.parent_id
        if parent is None and row.parent_match == "unmatched":
            return None  # an imported evolution whose parent the files do not tell
        if parent is None:
            return f"{current} (round {row.round}) has no parent"
        if parent in seen:
            return f"lineage loops at {parent}"
        up = rows.get(parent)
        if up is None:
            return f"parent {parent} of {current} is not in the journal"
        if not up.kept:
            return f"parent {parent} of {current} was not kept"
        if up.seed_id != row.seed_id:
            return f"parent {parent} of {current} belongs to another seed"
        older = row.parent_match is not None and up.round < row.round  # imported: any older
        if up.round != row.round - 1 and not older:
            return f"parent {parent} is round {up.round}, its child {current} round {row.round}"
        seen.add(parent)
        current, row = parent, up
    if row.parent_id is not None:
        return f"round-0 ancestor {current} names a parent ({row.parent_id})"
    return None


def check_samples(kept: Iterable[Sample], rows: dict[str, Row]) -> int:
    """Check every kept sample; returns how many were checked. Raises ``InvariantError``."""
    n = 0
    for sample in kept:
        problem = lineage_problem(sample.id, rows) if sample.id in rows else "not in the journal"
        problem = problem or content_problem(sample)
        if problem:
            raise InvariantError(sample.id, problem)
        n += 1
    return n


def check_run(store: Store) -> int:
    """Check the kept samples of a run's journal; returns how many were checked."""
    rows = {
        sid: Row(seed_id, int(round_), parent, bool(kept), match)
        for sid, seed_id, round_, parent, kept, match in store.lineage_rows()
    }
    return check_samples(store.iter_samples(kept_only=True), rows)
