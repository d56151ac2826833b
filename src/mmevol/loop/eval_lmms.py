"""lmms-eval per-sample logs -> per-question-type tallies (``mmevol weights --from-lmms-eval``).

This module owns reading lmms-eval's ``--log_samples`` output, as lmms-eval 0.7.x writes it
(``lmms_eval/loggers/evaluation_tracker.py``, ``save_results_samples``; ``lmms_eval/evaluator.py``):

* one file per task, ``<model>/<YYYYMMDD_HHMMSS>_samples_<task>.jsonl`` (older lm-eval-style
  names ``samples_<task>_<ISO time>.jsonl`` are read too); a new dated file at every run, so in
  one folder only the newest file of each task is read (older ones go to ``superseded``);
* one JSON object per document: ``doc_id``, ``target`` (a string), ``filtered_resps`` (the
  answer, unwrapped when there is one), ``resps`` (when it differs), ``input`` (the prompt:
  the request's first argument), ``doc_hash``, ``token_counts``, maybe ``input_media``, and one
  key per metric that the task's ``process_results`` returned. The dataset row ``doc`` is
  **not** written (older versions wrote it, and a ``filter`` key: both are still read).

A task's per-sample score comes from a registry of metric readers (``METRICS``, tried in order;
``--metric`` names one): a number/bool in 0..1 (``exact_match``, ``acc``), a dict with a 0..1
``score`` (``pope_accuracy``; ``mme_perception_score``/``mme_cognition_score``, which also carry
the ``category``), SEED-Bench's ``{pred, answer}`` (``seed_all``: right when equal without
case), or MMBench's ``gpt_eval_score``/``submission`` dict (prediction, answer, options A-E,
category, index; no score: lmms-eval scores it at aggregation) matched as VLMEvalKit does with
no judge (``loop.eval_match``), circular copies grouped by ``index % 1e6``. Unknown keys are
tried last by their shape. A task none of this can score, or with a bad line, is skipped whole
with its reason. Bad cases take the question from ``input`` (or the old ``doc``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmevol.errors import InputError, MmevolError
from mmevol.io.safeio import open_regular
from mmevol.loop.eval_import import Imported, is_score, score_value, type_of
from mmevol.loop.eval_match import Choice, as_index, choices_of, missing, score_choices

TASK_RE = re.compile(r"samples_(.+?)(?:_\d{4}-\d{2}-\d{2}T[\d\-:.]+)?\.jsonl$")
LOG_KEYS = frozenset({
    "doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter", "metrics",
    "doc_hash", "prompt_hash", "target_hash", "input", "input_media", "token_counts",
})  # fmt: skip
QUESTION_KEYS = ("question", "prompt", "query", "text")
MAX_LINE_BYTES = 16 << 20  # one logged sample (images are never logged)
MAX_FILE_BYTES = 4 << 30


@dataclass
class Verdict:
    """One sample: its score, the gold and model answers a bad case shows, its category."""

    score: float
    answer: Any = None
    prediction: Any = None
    category: Any = None


Reader = Callable[[Any, str, Path], "Verdict | Choice[Any]"]


def _field(value: Any, *names: str) -> Any:
    """A dict field by any of ``names``, case-insensitively."""
    if isinstance(value, dict):
        low = {str(k).lower(): v for k, v in value.items()}
        return next((low[n.lower()] for n in names if n.lower() in low), None)
    return None


def read_score(value: Any, where: str, path: Path) -> Verdict:
    """A number/bool in 0..1, or a dict with a 0..1 ``score`` (POPE, MME and the like)."""
    return Verdict(score_value(value, where, path), _field(value, "ground_truth", "gt_answer", "answer"),
                   _field(value, "prediction", "pred_answer", "pred"), _field(value, "category"))  # fmt: skip


def read_pred_answer(value: Any, where: str, path: Path) -> Verdict:
    """SEED-Bench's ``{"pred", "answer", "question_id"}``: right when equal without case."""
    pred, answer = _field(value, "pred"), _field(value, "answer")
    if not isinstance(pred, str) or not isinstance(answer, str):
        raise InputError(path, where, "expected a dict with string 'pred' and 'answer'")
    return Verdict(float(pred.strip().lower() == answer.strip().lower()), answer, pred)


def read_choice(value: Any, where: str, path: Path) -> Choice[Any]:
    """MMBench's dict: prediction, answer, options A-E, index (scored in ``eval_match``)."""
    if not isinstance(value, dict) or "prediction" not in value:
        raise InputError(path, where, "expected a dict with 'prediction', 'answer' and options")
    choices = choices_of(value.get)
    if len(choices) < 2:
        raise InputError(path, where, "fewer than two options (A, B, ...) to choose from")
    answer = value.get("answer")
    if missing(answer) or not isinstance(answer, str) or not answer.strip():
        raise InputError(path, where, "no gold 'answer' (a test split? it cannot be scored here)")
    return Choice(as_index(value.get("index")), answer.strip(), value["prediction"], choices, None)


def read_judged_or_choice(value: Any, where: str, path: Path) -> Verdict | Choice[Any]:
    """A judge's 0..1 ``score`` when the dict has one (MM-Vet), else MMBench's options."""
    if isinstance(value, dict) and "score" in value:
        return read_score(value, where, path)
    return read_choice(value, where, path)


METRICS: dict[str, Reader] = {
    "gpt_eval_score": read_judged_or_choice,  # MMBench en/cn/cc/ru/ko dev; MM-Vet's has a score
    "submission": read_choice,  # MMBench test: skipped for want of answers
    "pope_accuracy": read_score,
    "mme_perception_score": read_score,
    "mme_percetion_score": read_score,  # the spelling of older lmms-eval
    "mme_cognition_score": read_score,
    "seed_all": read_pred_answer,
    "seed_image": read_pred_answer,
    "seed_video": read_pred_answer,
    "exact_match": read_score,
    "acc": read_score,
    "accuracy": read_score,
}


def _by_shape(value: Any) -> Reader | None:
    """A reader for a metric this registry does not know, from the value's shape."""
    if isinstance(value, dict) and {"prediction", "answer", "A", "B"} <= value.keys():
        return read_choice
    if isinstance(value, dict) and {"pred", "answer"} <= value.keys():
        return read_pred_answer
    return read_score if is_score(value) else None


def _metric_of(row: dict[str, Any], metric: str | None, path: Path, i: int) -> tuple[str, Reader]:
    if metric is not None:
        if metric not in row:
            raise InputError(path, f"line {i}", f"no '{metric}' key (the --metric asked for)")
        return metric, METRICS.get(metric) or _by_shape(row[metric]) or read_score
    listed = row.get("metrics")
    declared = [k for k in listed if isinstance(k, str)] if isinstance(listed, list) else []
    for key in [*declared, *METRICS]:
        if key in row:
            return key, METRICS.get(key) or _by_shape(row[key]) or read_score
    for key, value in row.items():
        if key not in LOG_KEYS and (found := _by_shape(value)) is not None:
            return key, found
    keys = ", ".join(k for k in row if k not in LOG_KEYS)[:200] or "none"
    raise InputError(path, f"line {i}", f"no per-sample score among its metric keys ({keys}); name one with --metric")  # fmt: skip


def lmms_files(src: Path, superseded: list[str] | None = None) -> list[Path]:
    """The sample logs under ``src``, the newest of each task per folder."""
    if src.is_file():
        return [src]
    if src.is_dir():
        found = sorted(p for p in src.rglob("*.jsonl") if TASK_RE.search(p.name))
        if not found:
            raise MmevolError(f"{src}: no lmms-eval <date>_samples_<task>.jsonl file inside")
        newest: dict[tuple[Path, str], Path] = {}
        for p in found:  # names carry the run's date and time, so the last in order is newest
            old = newest.get((p.parent, task_of(p)))
            if old is not None and superseded is not None:
                superseded.append(str(old))
            newest[(p.parent, task_of(p))] = p
        return sorted(newest.values())
    raise MmevolError(f"{src}: no such file or folder")


def task_of(path: Path) -> str:
    m = TASK_RE.search(path.name)
    return m.group(1) if m else path.stem


def read_lmms_eval(
    src: Path,
    into: Imported,
    mapping: dict[str, str] | None,
    *,
    metric: str | None = None,
    filter_name: str | None = None,
    category_field: str = "category",
) -> None:
    """Add every task of an lmms-eval output (file or folder) to ``into``; a task that cannot
    be read or scored goes to ``into.task_skips`` with its reason and the others still count."""
    for path in lmms_files(src, into.superseded):
        stage = Imported()
        try:
            _read_task(path, stage, mapping, metric, filter_name, category_field)
        except InputError as e:
            into.skip(task_of(path), path, str(e).removeprefix(f"{path}: "))
            continue
        into.merge(stage)
        into.files.append(str(path))


def _read_task(
    path: Path,
    into: Imported,
    mapping: dict[str, str] | None,
    metric: str | None,
    filter_name: str | None,
    category_field: str,
) -> None:
    task = task_of(path)
    rows = list(_jsonl(path))
    filters = sorted({str(r.get("filter")) for _, r in rows if "filter" in r})
    if filter_name is not None:
        rows = [(i, r) for i, r in rows if r.get("filter", filter_name) == filter_name]
    elif len(filters) > 1:
        raise InputError(path, "filter", f"several filters ({', '.join(filters)}); pick one with --filter")  # fmt: skip
    if not rows:
        raise InputError(path, None, "no logged samples (empty, or none with that --filter)")
    if not filters:  # 0.7.x logs each filter's rows in turn, without naming the filter
        seen: set[Any] = set()
        unique = [(i, r) for i, r in rows if _first(r.get("doc_id"), seen)]
        if len(unique) < len(rows):
            into.notes.append(f"{task}: {len(rows) - len(unique)} rows repeat a doc_id (a second filter?); the first of each was read")  # fmt: skip
        rows = unique
    choices: list[Choice[Any]] = []
    for i, row in rows:
        key, reader = _metric_of(row, metric, path, i)
        value = row[key]
        doc: dict[str, Any] = row["doc"] if isinstance(row.get("doc"), dict) else {}
        verdict = reader(value, f"line {i}: {key}", path)
        cat = _field(value, category_field) or doc.get(category_field)
        category = str(cat) if not missing(cat) and not isinstance(cat, (dict, list)) else None
        qtype = type_of(task, category, mapping)
        if qtype is None:
            into.skipped[f"{task}:{category}" if category else task] += 1
            continue
        question = _question(row, doc, value)
        if isinstance(verdict, Choice):
            verdict.extra = (qtype, question, key)
            choices.append(verdict)
        else:
            into.metrics[key] += 1
            answer = verdict.answer if verdict.answer is not None else row.get("target")
            prediction = verdict.prediction if verdict.prediction is not None else _response(row)
            into.add(qtype, verdict.score, (question, answer, prediction))
    scored, orphans = score_choices(choices, circular=True)
    for main, score, shown in scored:
        into.add(main.extra[0], score, (shown.extra[1], shown.answer, shown.prediction))
        into.metrics[main.extra[2]] += 1
    if orphans:
        into.notes.append(f"{task}: {orphans} circular copies without their original question were left out")  # fmt: skip


def _first(doc_id: Any, seen: set[Any]) -> bool:
    key = repr(doc_id)
    if doc_id is None or key not in seen:
        seen.add(key)
        return True
    return False


def _question(row: dict[str, Any], doc: dict[str, Any], value: Any) -> Any:
    """The prompt of a sample: ``input`` (0.7.x), a question field of the old ``doc``, or the
    metric dict's question with its options."""
    prompt = row.get("input")
    if isinstance(prompt, list):  # chat messages
        texts = [_field(m, "text") or _field(m, "content") for m in prompt]
        prompt = "\n".join(t for t in texts if isinstance(t, str)) or None
    if isinstance(prompt, str) and prompt.strip():
        return prompt
    q = next((doc[k] for k in QUESTION_KEYS if isinstance(doc.get(k), str)), None)
    if q is None and isinstance(_field(value, "question"), str):
        opts = choices_of(value.get)
        q = "\n".join([value["question"], *(f"{c}. {t}" for c, t in opts.items())])
    return q


def _response(row: dict[str, Any]) -> Any:
    resp: Any = row.get("filtered_resps") or row.get("resps")
    while isinstance(resp, list) and resp:
        resp = resp[0]
    return resp if isinstance(resp, (str, int, float)) else None


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """The objects of a JSONL file, each line and the whole file bounded in size."""
    total = 0
    with open_regular(path, what="sample log") as fh:
        for i, raw in enumerate(iter(lambda: fh.readline(MAX_LINE_BYTES + 1), b""), 1):
            total += len(raw)
            if len(raw) > MAX_LINE_BYTES:
                raise InputError(path, f"line {i}", f"longer than {MAX_LINE_BYTES} bytes (refused)")  # fmt: skip
            if total > MAX_FILE_BYTES:
                raise InputError(path, None, f"larger than {MAX_FILE_BYTES} bytes (refused)")
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError(path, f"line {i}", "not UTF-8 text") from None
            if not line.strip():
                continue
            try:  # NaN is fine (lmms-eval writes float NaN as it is); control codes in answers too
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(
                    path, f"line {i}", f"not JSON ({e.msg} at column {e.colno})"
                ) from None
            except (RecursionError, ValueError):
                raise InputError(path, f"line {i}", "nested too deeply or a number of thousands of digits (refused)") from None  # fmt: skip
            if not isinstance(row, dict):
                raise InputError(path, f"line {i}", "expected a JSON object")
            yield i, row
