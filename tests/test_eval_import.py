"""Importing real-model evaluation results (lmms-eval logs, VLMEvalKit sheets) -> ABS weights."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mmevol.cli.app import app
from mmevol.errors import MmevolError
from mmevol.loop.eval_import import Imported, require_usable
from mmevol.loop.eval_lmms import read_lmms_eval
from mmevol.loop.eval_vlmevalkit import matches, read_vlmevalkit
from mmevol.loop.plan import load_plan, plan

runner = CliRunner()


def strict(read: Any, path: Path) -> Imported:
    """Read one task as the CLI does: a task that cannot be read is skipped, and with nothing
    else read that is a one-line error naming the file, the line and what is wrong."""
    got = Imported()
    read(path, got, None)
    require_usable(got)
    return got


def jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def lmms_row(i: int, metric: str, value: Any, **doc: Any) -> dict[str, Any]:
    return {
        "doc_id": i, "doc": {"question_id": str(i), **doc}, "target": "yes",
        "arguments": [], "resps": [["yes"]], "filtered_resps": ["yes"], "filter": "none",
        metric: value,
    }  # fmt: skip


@pytest.fixture()
def lmms_dir(tmp_path: Path) -> Path:
    """POPE: 10 rows, 7 right; MME: count 4 rows (1 right), OCR 2 rows (2 right), and 1 row of
    a category the mapping leaves out; a scalar exact_match task with doc categories."""
    root = tmp_path / "logs" / "model"
    pope = [lmms_row(i, "pope_accuracy", {"question_id": str(i), "score": float(i < 7)}) for i in range(10)]  # fmt: skip
    jsonl(root / "2024-06-01_10-00-00_samples_pope.jsonl", pope)
    mme = [
        lmms_row(i, "mme_percetion_score", {"question_id": str(i), "category": cat, "score": s})
        for i, (cat, s) in enumerate(
            [("count", 1.0), ("count", 0.0), ("count", 0.0), ("count", 0.0), ("OCR", 1.0),
             ("OCR", 1.0), ("artwork", 0.0)]
        )
    ]  # fmt: skip
    jsonl(root / "samples_mme_2024-06-01T10-00-00.123.jsonl", mme)
    return tmp_path / "logs"


MAPPING = {"pope": "existence", "mme:count": "counting", "OCR": "ocr"}


def test_lmms_eval_per_type_accuracy_and_weights(lmms_dir: Path) -> None:
    got = Imported()
    read_lmms_eval(lmms_dir, got, MAPPING)
    acc = {t: (x.n, round(x.accuracy, 4)) for t, x in got.per_type.items()}
    assert acc == {"existence": (10, 0.7), "counting": (4, 0.25), "ocr": (2, 1.0)}
    assert got.skipped == {"mme:artwork": 1}
    assert got.metrics == {"pope_accuracy": 10, "mme_percetion_score": 6}
    p = plan(got, "linear", 0.03, 100)
    # errors 0.3, 0.75, 0 -> w = 0.03 + 0.91 * e / 1.05
    assert p.weights["existence"] == pytest.approx(0.03 + 0.91 * 0.3 / 1.05, abs=1e-6)
    assert p.weights["counting"] == pytest.approx(0.03 + 0.91 * 0.75 / 1.05, abs=1e-6)
    assert p.weights["ocr"] == pytest.approx(0.03, abs=1e-6)
    assert p.quotas == {"existence": 29, "counting": 68, "ocr": 3}
    assert p.evolve_weights is None  # these are not evolution directions


def test_lmms_eval_without_mapping_uses_category_then_task(lmms_dir: Path) -> None:
    got = Imported()
    read_lmms_eval(lmms_dir, got, None)
    assert set(got.per_type) == {"pope", "count", "OCR", "artwork"}
    assert not got.skipped


def test_scalar_metric_doc_category_and_filters(tmp_path: Path) -> None:
    rows = [lmms_row(i, "exact_match", i % 2 == 0, category="chart") for i in range(4)]
    rows += [{**r, "filter": "strict"} for r in rows]
    path = jsonl(tmp_path / "samples_chartqa.jsonl", rows)
    with pytest.raises(MmevolError, match=r"samples_chartqa.jsonl\): filter: several filters \(none, strict\)"):  # fmt: skip
        strict(read_lmms_eval, path)
    got = Imported()
    read_lmms_eval(path, got, None, filter_name="strict")
    assert (got.per_type["chart"].n, got.per_type["chart"].accuracy) == (4, 0.5)


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("{not json", r"samples_x.jsonl\): line 2: not JSON"),
        (
            json.dumps({"doc_id": 1, "doc": {}, "resps": []}),
            r"line 2: no per-sample score among its metric keys \(none\)",
        ),
        (json.dumps(lmms_row(1, "acc", 5)), r"line 2: acc: 5 is not a per-sample score"),
        (
            json.dumps(lmms_row(1, "pope_accuracy", {"x": 1})),
            r"line 2: pope_accuracy: a dict metric needs a 'score'",
        ),
    ],
)
def test_bad_lmms_rows_name_file_and_line(tmp_path: Path, line: str, match: str) -> None:
    path = tmp_path / "samples_x.jsonl"
    path.write_text(json.dumps(lmms_row(0, "acc", 1)) + "\n" + line + "\n")
    with pytest.raises(MmevolError, match=match):
        strict(read_lmms_eval, path)


def sheet(path: Path, head: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t" if path.suffix == ".tsv" else ",")
        w.writerow(head)
        w.writerows(rows)
    return path


def test_vlmevalkit_hit_column_and_prediction_fallback(tmp_path: Path) -> None:
    head = ["index", "question", "A", "B", "answer", "prediction", "category", "l2-category", "hit"]
    rows = [
        [0, "q", "x", "y", "A", "A", "object_localization", "finegrained_perception", 1],
        [1, "q", "x", "y", "B", "A", "object_localization", "finegrained_perception", 0],
        [2, "q", "x", "y", "B", "B", "ocr", "finegrained_perception", 1],
        [3, "q", "x", "y", "A", "B", "image_scene", "coarse_perception", 0],
    ]
    res = sheet(tmp_path / "Model_MMBench_DEV_EN_gpt-4o_result.csv", head, rows)
    got = Imported()
    read_vlmevalkit(res, got, {"object_localization": "grounding", "ocr": "ocr"})
    assert {t: (x.n, x.accuracy) for t, x in got.per_type.items()} == {
        "grounding": (2, 0.5), "ocr": (1, 1.0)}  # fmt: skip
    assert got.skipped == {f"{res.stem}:image_scene": 1}
    got = Imported()
    read_vlmevalkit(res, got, None, category_field="l2-category")
    assert got.per_type["finegrained_perception"].accuracy == pytest.approx(2 / 3)

    # no hit/score column: prediction vs answer, option letters in their usual dress
    tsv = sheet(
        tmp_path / "Model_POPE.tsv", ["index", "question", "answer", "prediction", "category"],
        [[0, "q", "Yes", "yes.", "adversarial"], [1, "q", "No", "Yes", "adversarial"],
         [2, "q", "C", "(C) a cat", "random"], [3, "q", "C", "B. a dog", "random"]],
    )  # fmt: skip
    got = Imported()
    read_vlmevalkit(tsv, got, None)
    assert {t: x.accuracy for t, x in got.per_type.items()} == {"adversarial": 0.5, "random": 0.5}
    assert got.bad_cases == {  # the wrong rows, as in-context examples for the next round
        "adversarial": [{"question": "q", "answer": "No", "model_answer": "Yes"}],
        "random": [{"question": "q", "answer": "C", "model_answer": "B. a dog"}],
    }
    assert matches("B) text", "b") and not matches("Because", "B")


def test_vlmevalkit_bad_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = sheet(tmp_path / "m_d.csv", ["index", "category", "hit"], [[0, "ocr", "maybe"]])
    with pytest.raises(MmevolError, match=r"m_d.csv\): line 2: hit: 'maybe' is not a per-sample"):
        strict(read_vlmevalkit, bad)
    nohit = sheet(tmp_path / "m_e.csv", ["index", "category"], [[0, "ocr"]])
    with pytest.raises(MmevolError, match=r"m_e.csv\): header: needs a 'hit' or 'score'"):
        strict(read_vlmevalkit, nohit)
    (tmp_path / "m.json").write_text("{}")
    with pytest.raises(MmevolError, match=r"m.json: expected a VLMEvalKit .xlsx"):
        read_vlmevalkit(tmp_path / "m.json", Imported(), None)
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # as if it were not installed
    (tmp_path / "m.xlsx").write_bytes(b"PK")
    with pytest.raises(MmevolError, match=r"m.xlsx: reading .xlsx needs openpyxl"):
        read_vlmevalkit(tmp_path / "m.xlsx", Imported(), None)


def test_vlmevalkit_xlsx_when_openpyxl_is_installed(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    ws = book.active
    for row in (["index", "category", "hit"], [0, "ocr", 1], [1, "ocr", 0], [2, "count", True]):
        ws.append(row)
    book.save(tmp_path / "m_d.xlsx")
    got = Imported()
    read_vlmevalkit(tmp_path / "m_d.xlsx", got, None)
    assert {t: (x.n, x.accuracy) for t, x in got.per_type.items()} == {
        "ocr": (2, 0.5), "count": (1, 1.0)}  # fmt: skip


def test_cli_writes_plan_and_evolve_weights(lmms_dir: Path, tmp_path: Path) -> None:
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"pope": "perception", "count": "reasoning", "OCR": "perception", "artwork": "interactive"}))  # fmt: skip
    out = tmp_path / "w" / "plan.json"
    res = runner.invoke(
        app, ["weights", "--from-lmms-eval", str(lmms_dir), "--map", str(mapping),
              "--budget", "50", "--weighting", "sqrt", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    p = load_plan(out)
    # perception 12 rows (9 right), reasoning 4 (1 right), interactive 1 (0 right)
    assert {t: r.n for t, r in p.per_type.items()} == {"perception": 12, "reasoning": 4, "interactive": 1}  # fmt: skip
    assert p.per_type["perception"].error_rate == 0.25
    assert sum(p.quotas.values()) == 50 and p.weighting == "sqrt"
    e = {"perception": 0.25, "reasoning": 0.75, "interactive": 1.0}
    total = sum(v**0.5 for v in e.values())
    for t, v in e.items():
        assert p.weights[t] == pytest.approx(0.03 + 0.91 * v**0.5 / total, abs=1e-5)
    assert p.evolve_weights == ",".join(f"{p.weights[d]:.4f}" for d in ("perception", "reasoning", "interactive"))  # fmt: skip
    assert f"--weights {p.evolve_weights}" in res.output and "reasoning" in res.output


def test_cli_bad_inputs_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "samples_t.jsonl"
    bad.write_text("[1, 2]\n")
    out = tmp_path / "plan.json"
    for args in (
        ["--from-lmms-eval", str(bad)],
        ["--from-lmms-eval", str(tmp_path / "missing")],
        [],
        ["--from-lmms-eval", str(bad), "--weighting", "cubic"],
    ):
        res = runner.invoke(app, ["weights", *args, "--out", str(out)])
        assert res.exit_code == 2, res.output
        assert len(res.output.strip().splitlines()) == 1 and "error" in res.output
    assert not out.exists()
    mapping = tmp_path / "m.json"
    mapping.write_text('{"a": ""}')
    res = runner.invoke(app, ["weights", "--from-lmms-eval", str(bad), "--map", str(mapping), "--out", str(out)])  # fmt: skip
    assert res.exit_code == 2 and "m.json: a: the question type must be" in res.output


def test_plan_bad_cases_reach_the_model_through_evolve_focus(
    tmp_path: Path, world_seeds: tuple[Path, list[Any]]
) -> None:
    rows = [
        {**lmms_row(i, "exact_match", float(i == 0), question=f"How many stars are in picture {i}?"),
         "target": "3", "filtered_resps": [f"{i + 4}"]}
        for i in range(12)
    ]  # fmt: skip
    logs = jsonl(tmp_path / "logs" / "samples_count.jsonl", rows)
    plan_file = tmp_path / "plan.json"
    res = runner.invoke(app, ["weights", "--from-lmms-eval", str(logs), "--out", str(plan_file)])
    assert res.exit_code == 0, res.output
    cases = load_plan(plan_file).bad_cases["count"]
    assert len(cases) == 8  # the first 8 of the 11 wrong rows
    assert cases[0] == {"question": "How many stars are in picture 1?", "answer": "3",
                        "model_answer": "5"}  # fmt: skip

    seeds, _ = world_seeds
    out = tmp_path / "run"
    args = ["evolve", str(seeds), "--out", str(out), "--backend", "fake", "--rounds", "1"]
    wrong = runner.invoke(app, [*args, "--focus", str(plan_file), "--focus-type", "ocr"])
    assert wrong.exit_code == 2 and "--focus-type must name one of its types: count" in wrong.output
    assert not out.exists()
    res = runner.invoke(app, [*args, "--focus", str(plan_file), "--focus-type", "count"])
    assert res.exit_code == 0, res.output
    from mmevol.store import Store

    db = Store(out / "run.sqlite")
    requests = [
        json.loads(r)
        for (r,) in db.db.execute("SELECT request FROM calls WHERE task='evolve'").fetchall()
    ]
    db.close()
    assert requests
    for req in requests:
        user = req["messages"][-1]["content"]
        assert "How many stars are in picture 1?" in user and '"question_type": "count"' in user


def test_only_the_newest_log_of_a_task_is_read(lmms_dir: Path) -> None:
    root = lmms_dir / "model"
    older = [lmms_row(i, "pope_accuracy", {"score": 0.0}) for i in range(4)]
    jsonl(root / "2024-05-01_09-00-00_samples_pope.jsonl", older)  # an earlier run, all wrong
    got = Imported()
    read_lmms_eval(lmms_dir, got, MAPPING)
    assert (got.per_type["existence"].n, got.per_type["existence"].accuracy) == (10, 0.7)
    assert got.superseded == [str(root / "2024-05-01_09-00-00_samples_pope.jsonl")]
