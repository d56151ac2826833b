"""VLMEvalKit result sheets -> per-question-type tallies (``mmevol weights --from-vlmevalkit``).

This module owns reading VLMEvalKit's sheets (``.xlsx``, or saved as ``.csv``/``.tsv``), as
VLMEvalKit (commit e8e78f0, 2026-08-18) writes them:

* the predictions ``<model>_<dataset>.xlsx``: ``index, question, hint, A, B, C, D, answer,
  category, l2-category, split, prediction`` for multiple choice (MMBench; its circular copies
  have ``index + k * 1e6``), ``index, question, answer, category, prediction`` for yes/no sets
  (POPE, MME, HallusionBench);
* once judged: ``<model>_<dataset>_<judge>_result.xlsx`` with a 0/1 ``hit`` per question
  (circular sets: one row per question, copies folded in), or ``..._auxmatch.xlsx`` with the
  ``extracted`` Yes/No/Unknown and a ``score``.

A judge column is used as it is, in this order (``JUDGES``): ``hit``, ``score``, ``extracted``
(right when it equals the answer). Without one, each row is matched as VLMEvalKit's
``exact_matching`` would (``loop.eval_match``, ``MATCHERS``): a row whose answer is an option
letter and which has two or more options by its option text and letter (and, for MMBench,
CCBench and ``*circular*`` sets, or when copies with ``index >= 1e6`` are present, all copies of
a question must be right); a Yes/No answer by the yes/no extraction; any other by trimmed,
case-insensitive equality. Column names other than option letters are matched without case, as
VLMEvalKit lower-cases them. Bad cases carry the hint, the question and its options A-D.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mmevol.errors import InputError, MmevolError
from mmevol.io.safeio import open_regular
from mmevol.loop.eval_import import Imported, score_value, type_of
from mmevol.loop.eval_match import (
    LETTERS,
    Choice,
    as_index,
    choices_of,
    is_yes_no,
    looks_circular,
    missing,
    score_choices,
    yes_no_right,
)

MAX_SHEET_BYTES = 512 << 20
MAX_ROWS = 2_000_000
MAX_COLUMNS = 512
MAX_FIELD_CHARS = 16 << 20
LETTER_RE = re.compile(r"^\(?([A-Za-z])\)?(?:[.:)\s]|$)")
CIRCULAR_NAMES = ("mmbench", "ccbench", "circular", "mmcr")  # VLMEvalKit's ``listinstr`` test

Get = Callable[[str], Any]


def _judged(column: str) -> Callable[[Get, str, Path], float]:
    def judge(get: Get, where: str, path: Path) -> float:
        return score_value(get(column), where, path)

    return judge


def _extracted(get: Get, where: str, path: Path) -> float:
    answer, said = get("answer"), get("extracted")
    if missing(said) or missing(answer):
        raise InputError(path, where, "needs both 'answer' and 'extracted'")
    return float(str(said).strip().lower() == str(answer).strip().lower())


JUDGES: dict[str, Callable[[Get, str, Path], float]] = {
    "hit": _judged("hit"),
    "score": _judged("score"),
    "extracted": _extracted,
}


def _text(v: Any) -> str:
    return " ".join(str("" if missing(v) else v).split()).strip().lower().rstrip(".")


def matches(prediction: Any, answer: Any) -> bool:
    """Trimmed, case-insensitive equality; a one-letter answer also matches ``B.``/``(B)``."""
    pred, ans = _text(prediction), _text(answer)
    if pred == ans:
        return True
    m = LETTER_RE.match(str(prediction or "").strip())
    return len(ans) == 1 and ans.isalpha() and m is not None and m.group(1).lower() == ans


MATCHERS: dict[str, Callable[[Get], bool]] = {  # no judge column: the first that applies
    "option match": lambda get: str(get("answer")).strip() in LETTERS and len(choices_of(get)) >= 2,
    "yes/no match": lambda get: is_yes_no(get("answer")),
    "prediction=answer": lambda get: True,
}


def read_vlmevalkit(
    path: Path, into: Imported, mapping: dict[str, str] | None, *, category_field: str = "category"
) -> None:
    """Add every row of a VLMEvalKit result sheet to ``into``; a sheet that cannot be read or
    scored goes to ``into.task_skips`` with its reason."""
    stage = Imported()
    try:
        _read(path, stage, mapping, category_field)
    except InputError as e:
        into.skip(path.stem, path, str(e).removeprefix(f"{path}: "))
        return
    into.merge(stage)
    into.files.append(str(path))


def _read(path: Path, into: Imported, mapping: dict[str, str] | None, category_field: str) -> None:
    head, rows = read_sheet(path)
    col = {_name(h): k for k, h in reversed(list(enumerate(head)))}
    task = path.stem
    judge = next((j for j in JUDGES if j in col), None)
    if judge is None and not {"prediction", "answer"} <= col.keys():
        raise InputError(path, "header", "needs a 'hit' or 'score' column, or 'prediction' and 'answer'")  # fmt: skip
    if _name(category_field) not in col and mapping is not None and task not in mapping:
        raise InputError(path, "header", f"no '{category_field}' column (try --category-field)")
    if not rows:
        raise InputError(path, None, "no result rows")
    circular = any(n in task.lower() for n in CIRCULAR_NAMES)
    choices: list[Choice[Any]] = []
    indices = []
    for line, cells in rows:

        def get(name: str, cells: list[Any] = cells) -> Any:
            k = col.get(_name(name))
            return cells[k] if k is not None and k < len(cells) else None

        raw = get(category_field)
        cat = str(raw).strip() if not missing(raw) else None
        qtype = type_of(task, cat, mapping)
        if qtype is None:
            into.skipped[f"{task}:{cat}" if cat else task] += 1
            continue
        question, answer, prediction = _question(get), get("answer"), get("prediction")
        if judge is not None:
            score = JUDGES[judge](get, f"line {line}: {judge}", path)
            into.add(qtype, score, (question, answer, prediction))
            into.metrics[judge] += 1
            continue
        how = next(name for name, applies in MATCHERS.items() if applies(get))
        if how == "option match":
            index = as_index(get("index"))
            indices.append(index)
            choices.append(Choice(index, str(answer).strip(), prediction, choices_of(get), (qtype, question)))  # fmt: skip
            continue
        right = yes_no_right(prediction, answer) if how == "yes/no match" else matches(prediction, answer)  # fmt: skip
        into.add(qtype, float(right), (question, answer, prediction))
        into.metrics[how] += 1
    scored, orphans = score_choices(choices, circular or looks_circular(indices))
    for main, score, shown in scored:
        into.add(main.extra[0], score, (shown.extra[1], shown.answer, shown.prediction))
        into.metrics["option match"] += 1
    if orphans:
        into.notes.append(f"{task}: {orphans} circular copies without their original question were left out")  # fmt: skip


def _name(header: str) -> str:
    """VLMEvalKit lower-cases every column name but the option letters."""
    return header if len(header) == 1 and header in LETTERS else header.lower()


def _question(get: Get) -> str | None:
    """Hint, question and options A-D, one per line, as the model saw them."""
    question = get("question")
    if missing(question):
        return None
    hint = get("hint")
    lines = [f"Hint: {hint}"] if not missing(hint) else []
    lines += [str(question), *(f"{c}. {t}" for c, t in choices_of(get).items())]
    return "\n".join(lines)


def read_sheet(path: Path) -> tuple[list[str], list[tuple[int, list[Any]]]]:
    """Header and (row number, cells) of a csv/tsv/xlsx sheet, bounded in bytes, rows and
    columns; a missing file or another format is an ``MmevolError``, bad content an
    ``InputError`` naming the row."""
    suffix = path.suffix.lower()
    if not path.exists():
        raise MmevolError(f"{path}: no such file")
    if suffix not in (".csv", ".tsv", ".xlsx"):
        raise MmevolError(f"{path}: expected a VLMEvalKit .xlsx, .csv or .tsv result file")
    if suffix == ".xlsx":
        try:
            import openpyxl
        except ImportError:
            raise MmevolError(
                f"{path}: reading .xlsx needs openpyxl (pip install 'mmevol[eval]'); or save it as csv/tsv"
            ) from None
    with open_regular(path, what="result sheet") as fh:
        if os.fstat(fh.fileno()).st_size > MAX_SHEET_BYTES:
            raise InputError(path, None, f"larger than {MAX_SHEET_BYTES} bytes (refused)")
        table = _xlsx(path, fh, openpyxl) if suffix == ".xlsx" else _delimited(path, fh.read())
    if not table:
        raise InputError(path, None, "empty sheet")
    head = ["" if missing(h) else str(h).strip() for h in table[0]]
    body = [(i, r) for i, r in enumerate(table[1:], 2) if any(not missing(c) for c in r)]
    return head, body


def _delimited(path: Path, data: bytes) -> list[list[Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(path, None, f"not UTF-8 text (byte {e.start})") from None
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    old = csv.field_size_limit(MAX_FIELD_CHARS)
    table: list[list[Any]] = []
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
        for row in reader:
            _bounded(path, table, row)
    except csv.Error as e:
        raise InputError(
            path, f"line {reader.line_num}", f"not a readable sheet row ({e})"
        ) from None
    finally:
        csv.field_size_limit(old)
    return table


def _xlsx(path: Path, fh: Any, openpyxl: Any) -> list[list[Any]]:
    table: list[list[Any]] = []
    try:
        book = openpyxl.load_workbook(fh, read_only=True, data_only=True)
        try:
            for row in book.worksheets[0].iter_rows(values_only=True, max_col=MAX_COLUMNS):
                _bounded(path, table, list(row))
        finally:
            book.close()
    except InputError:
        raise
    except Exception as e:  # a damaged or hostile workbook: zip, XML or cell errors
        raise InputError(
            path, None, f"not a readable .xlsx workbook ({type(e).__name__})"
        ) from None
    return table


def _bounded(path: Path, table: list[list[Any]], row: list[Any]) -> None:
    if len(table) > MAX_ROWS:
        raise InputError(path, None, f"more than {MAX_ROWS} rows (refused)")
    if len(row) > MAX_COLUMNS:
        raise InputError(path, f"line {len(table) + 1}", f"more than {MAX_COLUMNS} columns (refused)")  # fmt: skip
    table.append(row)
