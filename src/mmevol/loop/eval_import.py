"""Evaluation results of real models -> per-question-type tallies -> ABS weights and quotas.

This module owns what every reader of other tools' results shares; the weighting itself is
``loop.abs`` and ``loop.plan``. The readers:

* ``loop.eval_lmms``: lmms-eval per-sample logs (``<date>_samples_<task>.jsonl``);
* ``loop.eval_vlmevalkit``: VLMEvalKit result sheets (``.xlsx``/``.csv``/``.tsv``);
* ``loop.eval_match``: VLMEvalKit's answer matching, for files with no judge column.

Here: the tallies (``Imported``), the mapping file, per-sample score values, bad cases (the
wrongly answered questions that ``mmevol evolve --focus`` shows the model next round, bounded in
length and validated as ``evolve.config.BadCase``), and task-level skips. A task (an lmms-eval
log or a VLMEvalKit sheet) is read whole or not at all: one that is bad or cannot be scored is
skipped with its reason (``Imported.task_skips``) and the others still count;
``require_usable`` fails, in one line naming the files and reasons, only when nothing was read.

A row's question type is its category (or the task, when there is none), or what a mapping file
makes of it: a JSON object whose keys are ``task:category``, ``category`` or ``task`` (tried in
that order) and whose values are types. With a mapping, rows it does not cover are counted as
skipped, never guessed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmevol.errors import InputError, MmevolError
from mmevol.evolve.config import BadCase
from mmevol.io.safeio import CONTROL, parse_json, read_regular

TRUTHY = ("true", "1", "1.0")
FALSY = ("false", "0", "0.0")
MAX_BAD_CASES = 8  # per type: in-context examples for the next round (``evolve --focus``)
MAX_QUESTION_CHARS = 1200  # a question with its options; longer ones are cut
MAX_ANSWER_CHARS = 400
MAX_MAPPING_BYTES = 4 << 20
SHOWN_SKIPS = 3


@dataclass
class TypeTally:
    n: int = 0
    correct: float = 0.0

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0


@dataclass(frozen=True)
class TaskSkip:
    """A task left out whole: its name, its file and why (one line)."""

    task: str
    file: str
    reason: str

    def __str__(self) -> str:
        return f"{self.task} ({self.file}): {self.reason}"


@dataclass
class Imported:
    """Per-type tallies of everything read, the files, rows no mapping covered, the first
    wrongly answered rows of each type (``bad_cases``: question, gold answer, model answer),
    the tasks skipped whole and notes on what was left out of the tasks read."""

    per_type: dict[str, TypeTally] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    metrics: Counter[str] = field(default_factory=Counter)
    bad_cases: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    superseded: list[str] = field(default_factory=list)  # older logs of a task, not read
    task_skips: list[TaskSkip] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, qtype: str, score: float, case: tuple[Any, Any, Any] | None = None) -> None:
        """Count one row; ``case`` (question, answer, prediction) is kept when it was wrong."""
        tally = self.per_type.setdefault(qtype, TypeTally())
        tally.n += 1
        tally.correct += score
        if score < 0.5 and case is not None:
            kept = self.bad_cases.setdefault(qtype, [])
            made = bad_case(*case) if len(kept) < MAX_BAD_CASES else None
            if made is not None:
                kept.append(made)
            elif not kept:
                del self.bad_cases[qtype]

    def skip(self, task: str, path: Path | str, reason: str) -> None:
        self.task_skips.append(TaskSkip(task, str(path), reason))

    def merge(self, task: Imported) -> None:
        """Add what one task read (staged apart, so that a task counts whole or not at all)."""
        for qtype, tally in task.per_type.items():
            mine = self.per_type.setdefault(qtype, TypeTally())
            mine.n += tally.n
            mine.correct += tally.correct
        for qtype, cases in task.bad_cases.items():
            kept = self.bad_cases.setdefault(qtype, [])
            kept.extend(cases[: max(0, MAX_BAD_CASES - len(kept))])
        self.skipped.update(task.skipped)
        self.metrics.update(task.metrics)
        self.notes.extend(task.notes)


def clip(value: Any, limit: int) -> str:
    """Text of a cell or field: each line's spaces collapsed, empty lines dropped, at most
    ``limit`` characters (cut with an ellipsis)."""
    lines = (" ".join(CONTROL.sub(" ", line).split()) for line in str(value).splitlines())
    text = "\n".join(line for line in lines if line)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def bad_case(question: Any, answer: Any, prediction: Any) -> dict[str, str] | None:
    """A ``BadCase`` as a dict, or None when the question or gold answer is missing (a model
    that said nothing is a bad case too: its answer shows as ``(no answer)``)."""
    parts = [None if v is None else clip(v, lim) for v, lim in
             ((question, MAX_QUESTION_CHARS), (answer, MAX_ANSWER_CHARS), (prediction, MAX_ANSWER_CHARS))]  # fmt: skip
    if not parts[0] or not parts[1]:
        return None
    q, a = str(parts[0]), str(parts[1])
    m = str(parts[2]) if parts[2] else "(no answer)"
    return BadCase(question=q, answer=a, model_answer=m).model_dump()


def require_usable(got: Imported) -> None:
    """Fail (one line) when no task could be read; name the first skipped tasks and why."""
    if got.files:
        return
    shown = "; ".join(str(s) for s in got.task_skips[:SHOWN_SKIPS])
    more = len(got.task_skips) - SHOWN_SKIPS
    raise MmevolError(
        "no usable evaluation results"
        + (f": {shown}" if shown else "")
        + (f"; and {more} more tasks skipped" if more > 0 else "")
    )


def load_mapping(path: Path) -> dict[str, str]:
    """A JSON object ``{"task:category" | "category" | "task": "type"}``."""
    data = read_regular(path, what="mapping file", limit=MAX_MAPPING_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(path, None, "not UTF-8 text (expected a JSON object)") from None
    value = parse_json(text, path)
    if not isinstance(value, dict) or not value:
        raise InputError(path, None, "expected a non-empty JSON object {key: question type}")
    for k, v in value.items():
        if not isinstance(v, str) or not v.strip():
            raise InputError(path, k, "the question type must be a non-empty string")
    return {str(k): str(v).strip() for k, v in value.items()}


def type_of(task: str, category: str | None, mapping: dict[str, str] | None) -> str | None:
    if mapping is None:
        return category or task
    keys = [f"{task}:{category}", category] if category else []
    for key in [*keys, task]:
        if key in mapping:
            return mapping[key]
    return None


def score_value(value: Any, where: str, path: Path | str) -> float:
    """A per-sample correctness in 0..1 from a metric value (number, bool or {"score": ...})."""
    if isinstance(value, dict):
        if "score" not in value:
            raise InputError(path, where, "a dict metric needs a 'score' field")
        value = value["score"]
    if isinstance(value, str) and value.strip().lower() in TRUTHY + FALSY:
        value = value.strip().lower() in TRUTHY
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)) and 0 <= value <= 1:
        return float(value)
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    raise InputError(path, where, f"{shown} is not a per-sample score in 0..1")


def is_score(value: Any) -> bool:
    """``score_value`` would accept it."""
    try:
        score_value(value, "", "")
    except InputError:
        return False
    return True
