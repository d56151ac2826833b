"""Evaluation results of real models -> per-question-type accuracy -> ABS weights and quotas.

This module owns reading other tools' per-sample results; the weighting itself is ``loop.abs``.

* **lmms-eval** (``--log_samples``): JSONL files named ``*samples_<task>*.jsonl``, one object per
  evaluated document with ``doc_id``, ``doc`` (the dataset row), ``target``, ``resps``,
  ``filtered_resps``, optionally ``filter`` and ``metrics``, and one key per metric. A metric is
  a number or bool (``exact_match``, ``acc``) or a dict with a 0..1 ``score`` and often a
  ``category`` (``pope_accuracy``, ``mme_percetion_score``/``mme_perception_score``).
* **VLMEvalKit**: a result sheet ``.xlsx``/``.csv``/``.tsv`` with ``index, question, answer,
  prediction, category`` (MMBench adds ``l2-category``) and, once judged, a 0/1 ``hit`` (multiple
  choice) or ``score`` (yes/no ``*_auxmatch``) column. Without either, a row counts as right
  when prediction and answer match after trimming and lower-casing (an option letter also
  matches ``B.``, ``(B)`` or ``B) text``).

A row's question type is its category (or the task, when there is none), or what a mapping file
makes of it: a JSON object whose keys are ``task:category``, ``category`` or ``task`` (tried in
that order) and whose values are types. With a mapping, rows it does not cover are counted as
skipped, never guessed. Every bad file or row is a one-line error naming the file and line/field.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmevol.errors import InputError, MmevolError

LMMS_METRICS = (
    "exact_match", "acc", "accuracy", "pope_accuracy", "mme_percetion_score",
    "mme_perception_score", "mme_cognition_score",
)  # fmt: skip
TASK_RE = re.compile(r"samples_(.+?)(?:_\d{4}-\d{2}-\d{2}T[\d\-:.]+)?\.jsonl$")
TRUTHY = ("true", "1", "1.0")
FALSY = ("false", "0", "0.0")
MAX_BAD_CASES = 8  # per type: in-context examples for the next round (``evolve --focus``)
QUESTION_KEYS = ("question", "prompt", "query", "text")
LETTER_RE = re.compile(r"^\(?([A-Za-z])\)?(?:[.:)\s]|$)")


@dataclass
class TypeTally:
    n: int = 0
    correct: float = 0.0

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0


@dataclass
class Imported:
    """Per-type tallies of everything read, the files, rows no mapping covered, and the first
    wrongly answered rows of each type (``bad_cases``: question, gold answer, model answer)."""

    per_type: dict[str, TypeTally] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    metrics: Counter[str] = field(default_factory=Counter)
    bad_cases: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    superseded: list[str] = field(default_factory=list)  # older logs of a task, not read

    def add(self, qtype: str, score: float, case: tuple[Any, Any, Any] | None = None) -> None:
        """Count one row; ``case`` (question, answer, prediction) is kept when it was wrong."""
        tally = self.per_type.setdefault(qtype, TypeTally())
        tally.n += 1
        tally.correct += score
        if score < 0.5 and case is not None and all(c not in (None, "") for c in case):
            kept = self.bad_cases.setdefault(qtype, [])
            if len(kept) < MAX_BAD_CASES:
                q, a, m = (" ".join(str(c).split())[:500] for c in case)
                kept.append({"question": q, "answer": a, "model_answer": m})


def load_mapping(path: Path) -> dict[str, str]:
    """A JSON object ``{"task:category" | "category" | "task": "type"}``."""
    try:
        value = json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(path, f"line {e.lineno}", f"not JSON ({e.msg})") from None
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


def _score(value: Any, where: str, path: Path) -> float:
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
    raise InputError(path, where, f"{value!r} is not a per-sample score in 0..1")


def lmms_files(src: Path, superseded: list[str] | None = None) -> list[Path]:
    """The sample logs under ``src``. lmms-eval adds a dated file per task at every run, so in
    one model folder only the newest file of each task is read (older ones go to
    ``superseded``): counting two runs of a task together would mix their accuracies."""
    if src.is_file():
        return [src]
    if src.is_dir():
        found = sorted(p for p in src.rglob("*.jsonl") if TASK_RE.search(p.name))
        if not found:
            raise MmevolError(f"{src}: no lmms-eval samples_<task>.jsonl file inside")
        newest: dict[tuple[Path, str], Path] = {}
        for p in found:  # names carry the run's date and time, so the last in order is newest
            m = TASK_RE.search(p.name)
            task = m.group(1) if m else p.stem
            old = newest.get((p.parent, task))
            if old is not None and superseded is not None:
                superseded.append(str(old))
            newest[(p.parent, task)] = p
        return sorted(newest.values())
    raise MmevolError(f"{src}: no such file or folder")


def read_lmms_eval(
    src: Path,
    into: Imported,
    mapping: dict[str, str] | None,
    *,
    metric: str | None = None,
    filter_name: str | None = None,
    category_field: str = "category",
) -> None:
    """Add every logged sample of an lmms-eval output (file or folder) to ``into``."""
    for path in lmms_files(src, into.superseded):
        m = TASK_RE.search(path.name)
        task = m.group(1) if m else path.stem
        rows = list(_jsonl(path))
        filters = sorted({str(r.get("filter")) for _, r in rows if "filter" in r})
        if filter_name is not None:
            rows = [(i, r) for i, r in rows if r.get("filter", filter_name) == filter_name]
        elif len(filters) > 1:
            raise InputError(path, "filter", f"several filters ({', '.join(filters)}); pick one with --filter")  # fmt: skip
        if not rows:
            raise InputError(path, None, "no logged samples (empty, or none with that --filter)")
        for i, row in rows:
            names = [metric] if metric else [*row.get("metrics", []), *LMMS_METRICS]
            key = next((k for k in names if isinstance(k, str) and k in row), None)
            if key is None:
                wanted = metric or ", ".join(LMMS_METRICS)
                raise InputError(path, f"line {i}", f"no metric key ({wanted}); name one with --metric")  # fmt: skip
            value = row[key]
            doc: dict[str, Any] = row["doc"] if isinstance(row.get("doc"), dict) else {}
            cat = (value.get(category_field) if isinstance(value, dict) else None) or doc.get(category_field)  # fmt: skip
            qtype = type_of(task, str(cat) if cat not in (None, "") else None, mapping)
            if qtype is None:
                into.skipped[f"{task}:{cat}" if cat else task] += 1
                continue
            into.add(qtype, _score(value, f"line {i}: {key}", path), _lmms_case(row, doc))
            into.metrics[key] += 1
        into.files.append(str(path))


def _lmms_case(row: dict[str, Any], doc: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(question, target, model answer) of a logged sample, as far as the log has them."""
    question = next((doc[k] for k in QUESTION_KEYS if isinstance(doc.get(k), str)), None)
    answer = row.get("target")
    resp: Any = row.get("filtered_resps") or row.get("resps")
    while isinstance(resp, list) and resp:
        resp = resp[0]
    return question, answer if not isinstance(answer, (list, dict)) else None, resp


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for i, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(path, f"line {i}", f"not JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise InputError(path, f"line {i}", "expected a JSON object")
        yield i, row


def _sheet(path: Path) -> tuple[list[str], list[tuple[int, list[Any]]]]:
    """Header and (line number, cells) of a csv/tsv/xlsx sheet."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise MmevolError(f"{path}: no such file")
    if suffix in (".csv", ".tsv"):
        with path.open(newline="", encoding="utf-8-sig") as fh:
            table = list(csv.reader(fh, delimiter="\t" if suffix == ".tsv" else ","))
        if not table:
            raise InputError(path, None, "empty sheet")
        return [h.strip() for h in table[0]], [(i, r) for i, r in enumerate(table[1:], 2) if any(r)]
    if suffix == ".xlsx":
        try:
            import openpyxl
        except ImportError:
            raise MmevolError(
                f"{path}: reading .xlsx needs openpyxl (pip install 'mmevol[eval]'); or save it as csv/tsv"
            ) from None
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        cells = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
        book.close()
        if not cells:
            raise InputError(path, None, "empty sheet")
        head = [str(h).strip() if h is not None else "" for h in cells[0]]
        return head, [(i, r) for i, r in enumerate(cells[1:], 2) if any(c is not None for c in r)]
    raise MmevolError(f"{path}: expected a VLMEvalKit .xlsx, .csv or .tsv result file")


def _text(v: Any) -> str:
    return " ".join(str("" if v is None else v).split()).strip().lower().rstrip(".")


def matches(prediction: Any, answer: Any) -> bool:
    """Trimmed, case-insensitive equality; a one-letter answer also matches ``B.``/``(B)``."""
    pred, ans = _text(prediction), _text(answer)
    if pred == ans:
        return True
    m = LETTER_RE.match(str(prediction or "").strip())
    return len(ans) == 1 and ans.isalpha() and m is not None and m.group(1).lower() == ans


def read_vlmevalkit(
    path: Path, into: Imported, mapping: dict[str, str] | None, *, category_field: str = "category"
) -> None:
    """Add every row of a VLMEvalKit result sheet to ``into``."""
    head, rows = _sheet(path)
    col = {h: k for k, h in enumerate(head)}
    task = path.stem
    if "hit" in col or "score" in col:
        judge = "hit" if "hit" in col else "score"
    elif "prediction" in col and "answer" in col:
        judge = "prediction=answer"
    else:
        raise InputError(path, "header", "needs a 'hit' or 'score' column, or 'prediction' and 'answer'")  # fmt: skip
    if category_field not in col and mapping is not None and task not in mapping:
        raise InputError(path, "header", f"no '{category_field}' column (try --category-field)")
    if not rows:
        raise InputError(path, None, "no result rows")
    for line, cells in rows:

        def cell(name: str, cells: list[Any] = cells) -> Any:
            k = col.get(name)
            return cells[k] if k is not None and k < len(cells) else None

        raw = cell(category_field)
        cat = str(raw).strip() if raw not in (None, "") else None
        qtype = type_of(task, cat, mapping)
        if qtype is None:
            into.skipped[f"{task}:{cat}" if cat else task] += 1
            continue
        if judge == "prediction=answer":
            score = 1.0 if matches(cell("prediction"), cell("answer")) else 0.0
        else:
            score = _score(cell(judge), f"line {line}: {judge}", path)
        into.add(qtype, score, (cell("question"), cell("answer"), cell("prediction")))
        into.metrics[judge] += 1
    into.files.append(str(path))
