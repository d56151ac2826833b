"""Hostile or broken evaluation files for ``mmevol weights``: each is a one-line reason naming the
file and line (a skipped task, or the command's one-line error when nothing else is usable),
never a hang, a traceback or an unbounded read."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mmevol.cli.app import app
from mmevol.errors import MmevolError
from mmevol.loop import eval_lmms, eval_vlmevalkit
from mmevol.loop.eval_import import Imported, load_mapping
from mmevol.loop.eval_lmms import read_lmms_eval
from mmevol.loop.eval_vlmevalkit import read_vlmevalkit

runner = CliRunner()
GOOD = {"doc_id": 0, "target": "yes", "filtered_resps": "no", "input": "Is it red?",
        "pope_accuracy": {"question_id": "1", "score": 0.0, "prediction": "no", "ground_truth": "yes"}}  # fmt: skip


def one_task(tmp_path: Path, body: bytes | str) -> tuple[Imported, str]:
    """A folder with a good POPE log and ``samples_bad.jsonl``: the good one counts, the bad
    one's reason is returned."""
    (tmp_path / "20250101_000000_samples_pope.jsonl").write_text(json.dumps(GOOD) + "\n")
    bad = tmp_path / "20250101_000000_samples_bad.jsonl"
    bad.write_bytes(body.encode() if isinstance(body, str) else body)
    got = Imported()
    read_lmms_eval(tmp_path, got, None)
    assert got.per_type["pope"].n == 1
    [skip] = got.task_skips
    assert skip.task == "bad" and "\n" not in skip.reason
    return got, skip.reason


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('{"doc_id": 0, "acc": 1}\n{"doc_id": 1, "acc": 1', "line 2: not JSON"),
        ("[" * 100_000 + "]" * 100_000 + "\n", "line 1: nested too deeply"),
        ('{"acc": ' + "9" * 5000 + "}\n", "line 1: nested too deeply or a number of thousands"),
        (b'{"acc": 1, "x": "\xff\xfe"}\n', "line 1: not UTF-8 text"),
        ('"just a string"\n', "line 1: expected a JSON object"),
        ('{"doc_id": 0, "acc": 7}\n', "line 1: acc: 7 is not a per-sample score in 0..1"),
        ('{"doc_id": 0, "acc": NaN}\n', "line 1: acc: nan is not a per-sample score"),
        ('{"doc_id": 0, "pope_accuracy": {"x": 1}}\n', "pope_accuracy: a dict metric needs a 'score'"),
        ('{"doc_id": 0, "seed_all": {"pred": 1}}\n', "seed_all: expected a dict with string 'pred'"),
        ('{"doc_id": 0, "gpt_eval_score": {"prediction": "A", "answer": "A", "A": "x"}}\n',
         "gpt_eval_score: fewer than two options"),
        ('{"doc_id": 0, "metrics": "acc", "bleu": 35.2}\n', "no per-sample score among its metric keys (bleu)"),
        ("\n\n", "no logged samples"),
    ],
)  # fmt: skip
def test_bad_task_files_are_skipped_with_a_line(tmp_path: Path, body: Any, reason: str) -> None:
    _, got = one_task(tmp_path, body)
    assert reason in got


def test_overlong_line_is_refused_before_it_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr(eval_lmms, "MAX_LINE_BYTES", 1000)
    _, reason = one_task(tmp_path, json.dumps({"acc": 1, "x": "y" * 5000}) + "\n")
    assert reason == "line 1: longer than 1000 bytes (refused)"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_does_not_hang(tmp_path: Path) -> None:
    (tmp_path / "20250101_000000_samples_pope.jsonl").write_text(json.dumps(GOOD) + "\n")
    os.mkfifo(tmp_path / "20250101_000000_samples_bad.jsonl")
    got = Imported()
    read_lmms_eval(tmp_path, got, None)
    assert "named pipe" in got.task_skips[0].reason
    os.mkfifo(tmp_path / "m_POPE.csv")
    got = Imported()
    read_vlmevalkit(tmp_path / "m_POPE.csv", got, None)
    assert "named pipe" in got.task_skips[0].reason
    os.mkfifo(tmp_path / "map.json")
    with pytest.raises(MmevolError, match="named pipe"):
        load_mapping(tmp_path / "map.json")


def test_control_characters_and_long_answers_are_bounded_in_bad_cases(tmp_path: Path) -> None:
    row = {**GOOD, "input": "Is it\x1b[31m red?\x00 " + "very " * 1000,
           "pope_accuracy": {**GOOD["pope_accuracy"], "prediction": "no\x07" * 500}}  # fmt: skip
    path = tmp_path / "samples_pope.jsonl"
    path.write_text(json.dumps(row) + "\n")
    got = Imported()
    read_lmms_eval(path, got, None)
    [case] = got.bad_cases["pope"]
    assert case["question"].startswith("Is it [31m red? very")
    assert len(case["question"]) == 1200 and case["question"].endswith("…")
    assert len(case["model_answer"]) <= 400 and "\x07" not in case["model_answer"]


@pytest.mark.parametrize(
    ("name", "body", "reason"),
    [
        ("m_POPE.csv", b"index,answer,prediction\n0,Yes,\xff\n", "not UTF-8 text"),
        ("m_POPE.csv", b"", "empty sheet"),
        ("m_POPE.csv", b"index,answer,prediction\n", "no result rows"),
        (
            "m_POPE.csv",
            b'index,answer,prediction\n0,Yes,"open quote\n',
            "line 2: not a readable sheet row",
        ),
        ("m_POPE.csv", b"index,category\n0,ocr\n", "header: needs a 'hit' or 'score' column"),
        ("m_POPE.csv", b"index,score\n0,3\n", "line 2: score: '3' is not a per-sample score"),
        ("m_POPE.xlsx", b"PK\x03\x04 not a zip", "not a readable .xlsx workbook"),
    ],
)
def test_bad_sheets_are_skipped_with_a_line(tmp_path: Path, name: str, body: bytes, reason: str) -> None:  # fmt: skip
    if name.endswith(".xlsx"):
        pytest.importorskip("openpyxl")
    path = tmp_path / name
    path.write_bytes(body)
    got = Imported()
    read_vlmevalkit(path, got, None)
    assert not got.files
    [skip] = got.task_skips
    assert reason in skip.reason and "\n" not in skip.reason


def test_too_many_columns_and_big_sheets_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    wide = tmp_path / "w_POPE.csv"
    wide.write_text(",".join(f"c{i}" for i in range(600)) + "\n")
    got = Imported()
    read_vlmevalkit(wide, got, None)
    assert "more than 512 columns" in got.task_skips[0].reason
    monkeypatch.setattr(eval_vlmevalkit, "MAX_SHEET_BYTES", 10)
    got = Imported()
    read_vlmevalkit(wide, got, None)
    assert "larger than 10 bytes" in got.task_skips[0].reason


def test_missing_files_and_wrong_formats_stop_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    with pytest.raises(MmevolError, match="no such file"):
        read_vlmevalkit(tmp_path / "gone.csv", Imported(), None)
    (tmp_path / "m.json").write_text("{}")
    with pytest.raises(MmevolError, match=r"m.json: expected a VLMEvalKit .xlsx"):
        read_vlmevalkit(tmp_path / "m.json", Imported(), None)
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    (tmp_path / "m.xlsx").write_bytes(b"PK")
    with pytest.raises(MmevolError, match=r"m.xlsx: reading .xlsx needs openpyxl"):
        read_vlmevalkit(tmp_path / "m.xlsx", Imported(), None)


def test_cli_hostile_inputs_are_one_line(tmp_path: Path) -> None:
    deep = tmp_path / "samples_deep.jsonl"
    deep.write_text("[" * 100_000 + "\n")
    nul = tmp_path / "m_POPE.csv"
    nul.write_bytes(b"index,answer,prediction\n0,Yes,\x00\x00\n\xff")
    mapping = tmp_path / "map.json"
    mapping.write_text('{"a": "' + "\ud800" + '"}', encoding="utf-8", errors="surrogatepass")
    out = tmp_path / "plan.json"
    for args in (
        ["--from-lmms-eval", str(deep)],
        ["--from-vlmevalkit", str(nul)],
        ["--from-lmms-eval", str(deep), "--from-vlmevalkit", str(nul)],
        ["--from-lmms-eval", str(deep), "--map", str(mapping)],
    ):
        res = runner.invoke(app, ["weights", *args, "--out", str(out)])
        assert res.exit_code == 2, res.output
        assert len(res.output.strip().splitlines()) == 1 and "error" in res.output, res.output
    assert not out.exists()
