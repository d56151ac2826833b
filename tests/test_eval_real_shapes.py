"""``mmevol weights`` on result files in the exact shape lmms-eval 0.7.x and VLMEvalKit write
(``tests/fixtures/eval``, see its README). Every expected number is worked out by hand here from
the tools' own rules; the old reader failed on these (a folder of real lmms-eval logs stopped at
"no metric key", bad cases were always empty, VLMEvalKit sheets without ``hit`` counted only a
bare option letter as right)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmevol.cli.app import app
from mmevol.loop.eval_import import Imported
from mmevol.loop.eval_lmms import read_lmms_eval
from mmevol.loop.eval_vlmevalkit import read_vlmevalkit
from mmevol.loop.plan import load_plan

FIX = Path(__file__).parent / "fixtures" / "eval"
LMMS = FIX / "lmms_eval_0.7"
VLM = FIX / "vlmevalkit"
runner = CliRunner()


def acc(got: Imported) -> dict[str, tuple[int, float]]:
    return {t: (x.n, round(x.accuracy, 4)) for t, x in got.per_type.items()}


def test_lmms_eval_folder_gives_every_task_and_skips_the_unscorable_one() -> None:
    got = Imported()
    read_lmms_eval(LMMS, got, None)
    assert acc(got) == {
        # MMBench, no score in the log, matched as VLMEvalKit does: 241 "A" right, 242 "The
        # answer is C" right, 243 "a mountain lake" is option B (gold D) wrong; 517 "B" right,
        # 518 "on the left" is option A's text, right; 519 "A or C" names two options, wrong
        "image_scene": (3, 0.6667),
        "object_localization": (3, 0.6667),
        "OCR": (2, 0.5),  # MME: category and score from mme_perception_score
        "count": (2, 1.0),
        "code_reasoning": (2, 0.0),  # mme_cognition_score
        "pope": (6, 0.6667),  # pope_accuracy scores 1 1 0 1 1 0
        "seedbench": (4, 0.75),  # seed_all: pred C for gold B
    }
    assert got.metrics == {"gpt_eval_score": 6, "mme_perception_score": 4,
                           "mme_cognition_score": 2, "pope_accuracy": 6, "seed_all": 4}  # fmt: skip
    [skip] = got.task_skips
    assert skip.task == "llava_in_the_wild"
    assert "line 1: no per-sample score among its metric keys (gpt_eval_llava_conv" in skip.reason
    assert len(got.files) == 4


def test_lmms_eval_bad_cases_come_from_input() -> None:
    got = Imported()
    read_lmms_eval(LMMS, got, None)
    assert set(got.bad_cases) == {"image_scene", "object_localization", "OCR",
                                  "code_reasoning", "pope", "seedbench"}  # fmt: skip
    [scene] = got.bad_cases["image_scene"]
    assert scene == {
        "question": "Which scene is shown? There are several options:\nA. a city street\n"
        "B. a mountain lake\nC. a desert\nD. a harbour\n"
        "Answer with the option's letter from the given choices directly.",
        "answer": "D",
        "model_answer": "a mountain lake",
    }
    assert got.bad_cases["pope"][0] == {
        "question": "Is there a car in the image?\nAnswer the question using a single word or phrase.",
        "answer": "yes", "model_answer": "no",
    }  # fmt: skip
    assert got.bad_cases["code_reasoning"][0]["answer"] == "Yes"  # the target, no dict answer


def test_cli_on_a_real_folder_names_the_skipped_task(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    res = runner.invoke(app, ["weights", "--from-lmms-eval", str(LMMS), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "skipped task llava_in_the_wild" in res.output and "--metric" in res.output
    p = load_plan(out)
    assert p.per_type["pope"].n == 6 and p.bad_cases["image_scene"]


def test_a_broken_task_file_is_skipped_and_the_others_count(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    shutil.copytree(LMMS, logs)
    model = next(logs.iterdir())
    pope = model / "20250314_101500_samples_pope.jsonl"
    pope.write_text(pope.read_text().rstrip("\n")[:-40] + "\n")  # a run killed mid-line
    got = Imported()
    read_lmms_eval(logs, got, None)
    assert "pope" not in got.per_type and "image_scene" in got.per_type
    reasons = {s.task: s.reason for s in got.task_skips}
    assert reasons["pope"].startswith("line 6: not JSON")
    res = runner.invoke(app, ["weights", "--from-lmms-eval", str(logs), "--out", str(tmp_path / "p.json")])  # fmt: skip
    assert res.exit_code == 0 and "skipped task pope" in res.output and "line 6" in res.output


def test_nothing_usable_is_one_line_naming_the_reasons(tmp_path: Path) -> None:
    only = tmp_path / "20250314_101500_samples_llava_in_the_wild.jsonl"
    shutil.copy(next(LMMS.iterdir()) / only.name, only)
    res = runner.invoke(app, ["weights", "--from-lmms-eval", str(only), "--out", str(tmp_path / "p.json")])  # fmt: skip
    assert res.exit_code == 2
    assert len(res.output.strip().splitlines()) == 1
    assert "no usable evaluation results: llava_in_the_wild" in res.output


def test_metric_option_still_picks_a_key(tmp_path: Path) -> None:
    got = Imported()
    read_lmms_eval(LMMS, got, None, metric="gpt_eval_score")
    assert set(got.per_type) == {"image_scene", "object_localization"}
    assert {s.task for s in got.task_skips} == {"pope", "mme", "seedbench", "llava_in_the_wild"}
    assert "no 'gpt_eval_score' key" in got.task_skips[0].reason


def test_mmbench_test_split_without_answers_is_skipped(tmp_path: Path) -> None:
    src = next(LMMS.iterdir()) / "20250314_101500_samples_mmbench_en_dev.jsonl"
    rows = [json.loads(line) for line in src.read_text().splitlines()]
    for r in rows:  # mmbench_en_test logs only ``submission``, and the test split has no answers
        del r["gpt_eval_score"]
        r["submission"]["answer"] = None
    path = tmp_path / "20250314_101500_samples_mmbench_en_test.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = Imported()
    read_lmms_eval(path, got, None)
    assert not got.files
    assert got.task_skips[0].reason.startswith("line 1: submission: no gold 'answer'")


def test_lmms_eval_mmbench_circular_copies_are_grouped(tmp_path: Path) -> None:
    src = next(LMMS.iterdir()) / "20250314_101500_samples_mmbench_en_dev.jsonl"
    first = json.loads(src.read_text().splitlines()[0])  # index 241, gold A, answered "A"
    copy = json.loads(json.dumps(first))
    copy["doc_id"] = 99
    for key in ("gpt_eval_score", "submission"):  # options shifted by one: gold is now D
        v = copy[key]
        v.update(index=1000241, answer="D", prediction="A", A="summer", B="autumn", C="winter", D="spring")  # fmt: skip
    path = tmp_path / "samples_mmbench_en_dev.jsonl"
    path.write_text(json.dumps(first) + "\n" + json.dumps(copy) + "\n")
    got = Imported()
    read_lmms_eval(path, got, None)
    assert acc(got) == {"image_scene": (1, 0.0)}  # one question, wrong in its copy
    assert got.bad_cases["image_scene"][0]["answer"] == "D"  # the copy that went wrong
    assert got.metrics == {"gpt_eval_score": 1}


def test_vlmevalkit_mmbench_without_hit_scores_as_its_circular_eval() -> None:
    got = Imported()
    read_vlmevalkit(VLM / "LLaVA-OV-7B_MMBench_DEV_EN.tsv", got, None)
    # 10: A, D, (C), B. all right; 11: third copy says B for gold D; 12: third copy B for gold
    # A; 13: "A or C" names two options. Copy 1000099 has no question 99: left out.
    assert acc(got) == {"image_scene": (2, 0.5), "object_localization": (2, 0.0)}
    assert got.metrics == {"option match": 4}
    assert got.notes == ["LLaVA-OV-7B_MMBench_DEV_EN: 1 circular copies without their original question were left out"]  # fmt: skip
    case = got.bad_cases["image_scene"][0]
    assert case == {
        "question": "Hint: Taken on holiday.\nWhat kind of place is this?\nA. a forest\n"
        "B. an office\nC. a kitchen\nD. a beach",
        "answer": "D", "model_answer": "B",
    }  # fmt: skip


def test_vlmevalkit_mmbench_hit_sheet_agrees() -> None:
    got = Imported()
    read_vlmevalkit(VLM / "LLaVA-OV-7B_MMBench_DEV_EN_exact_matching_result.tsv", got, None)
    assert acc(got) == {"image_scene": (2, 0.5), "object_localization": (2, 0.0)}
    assert got.metrics == {"hit": 4}
    assert "A. spring\nB. summer" not in got.bad_cases["image_scene"][0]["question"]
    assert "A. a kitchen\nB. a beach" in got.bad_cases["image_scene"][0]["question"]
    got = Imported()
    read_vlmevalkit(VLM / "LLaVA-OV-7B_MMBench_DEV_EN.tsv", got, None, category_field="L2-category")  # fmt: skip
    assert acc(got) == {"coarse_perception": (2, 0.5),
                        "finegrained_perception (instance-level)": (2, 0.0)}  # fmt: skip


def test_vlmevalkit_choice_sheet_without_hit() -> None:
    """A, B. and "The answer is C" name their option; "a harbour" is option D's text; "A or B"
    names two; "C" for gold B is wrong: 4/6 (the old bare-letter rule gave 2/6)."""
    got = Imported()
    read_vlmevalkit(VLM / "LLaVA-OV-7B_AI2D_TEST.tsv", got, None)
    assert acc(got) == {"scenes": (6, 0.6667)}
    assert got.metrics == {"option match": 6}
    assert [c["model_answer"] for c in got.bad_cases["scenes"]] == ["A or B", "C"]


def test_vlmevalkit_yes_no_sheet_without_score() -> None:
    """Yes, there is... / No. right; "There is no car." is No (gold Yes); "yes" for No; "yes or
    no" is Unknown; "No, there isn't." is No: adversarial 2/3, random 1/3."""
    got = Imported()
    read_vlmevalkit(VLM / "LLaVA-OV-7B_POPE.tsv", got, None)
    assert acc(got) == {"adversarial": (3, 0.6667), "random": (3, 0.3333)}
    assert got.metrics == {"yes/no match": 6}


def test_vlmevalkit_xlsx_prediction_sheet(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    ws = book.active
    lines = (VLM / "LLaVA-OV-7B_MMBench_DEV_EN.tsv").read_text().splitlines()
    for line in lines:  # as VLMEvalKit writes it: numbers as numbers, empty cells empty
        ws.append([int(c) if c.isdigit() else (c or None) for c in line.split("\t")])
    book.save(tmp_path / "LLaVA-OV-7B_MMBench_DEV_EN.xlsx")
    got = Imported()
    read_vlmevalkit(tmp_path / "LLaVA-OV-7B_MMBench_DEV_EN.xlsx", got, None)
    assert acc(got) == {"image_scene": (2, 0.5), "object_localization": (2, 0.0)}


def test_cli_mixes_both_tools_and_skips_a_bad_sheet(tmp_path: Path) -> None:
    bad = tmp_path / "m_MMBench.csv"
    bad.write_text("index,category,hit\n0,ocr,maybe\n")
    out = tmp_path / "plan.json"
    res = runner.invoke(app, [
        "weights", "--from-lmms-eval", str(LMMS), "--from-vlmevalkit", str(VLM / "LLaVA-OV-7B_POPE.tsv"),
        "--from-vlmevalkit", str(bad), "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "skipped task m_MMBench" in res.output and "line 2: hit: 'maybe'" in res.output
    assert load_plan(out).per_type["adversarial"].n == 3


def test_gpt_eval_score_with_a_judge_score_is_read_as_a_score(tmp_path: Path) -> None:
    """MM-Vet (``tasks/mmvet/utils.py``) logs ``gpt_eval_score`` too, with a 0..1 ``score``."""
    rows = [
        {"doc_id": i, "target": "2", "filtered_resps": pred, "doc_hash": "h", "input": "How many?",
         "gpt_eval_score": {"question_id": f"v1_{i}", "question": "How many?", "gt_answer": "2",
                            "capabilities": "rec,ocr", "pred_answer": pred, "score": score,
                            "eval_model": "gpt-4"}}
        for i, (pred, score) in enumerate([("2", 1.0), ("two or three", 0.5), ("5", 0.0)])
    ]  # fmt: skip
    path = tmp_path / "20250314_101500_samples_mmvet.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = Imported()
    read_lmms_eval(path, got, None)
    assert acc(got) == {"mmvet": (3, 0.5)}
    assert got.bad_cases["mmvet"] == [{"question": "How many?", "answer": "2", "model_answer": "5"}]


def test_the_plan_records_the_tasks_it_left_out(tmp_path: Path) -> None:
    """A skipped task is printed and kept in the plan with its reason."""
    out = tmp_path / "plan.json"
    res = CliRunner().invoke(app, ["weights", "--from-lmms-eval", str(LMMS), "--out", str(out)])
    assert res.exit_code == 0, res.output
    skipped = json.loads(out.read_text("utf-8"))["skipped_tasks"]
    assert any(k.startswith("llava_in_the_wild ") for k in skipped)
    assert all(isinstance(v, str) and v for v in skipped.values())


def test_a_bad_case_keeps_a_model_that_said_nothing() -> None:
    from mmevol.loop.eval_import import bad_case

    case = bad_case("What is shown?", "B", "")
    assert case is not None and case["model_answer"] == "(no answer)"
    assert bad_case("", "B", "A") is None  # no question: nothing to show the model


def test_a_repeated_index_is_not_a_negative_count_of_orphans() -> None:
    from mmevol.loop.eval_match import Choice, score_choices

    rows = [Choice(i, "A", "A", {"A": "x", "B": "y"}, None) for i in (1, 1_000_001, 2, 2)]
    scored, orphans = score_choices(rows, circular=True)
    assert orphans == 0 and len(scored) == 3


def test_control_characters_in_names_never_reach_the_terminal(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    shutil.copytree(LMMS, logs)
    victim = next(logs.rglob("*_samples_pope.jsonl"))
    victim.rename(victim.with_name(victim.name.replace("pope", "po\x1b[2Jpe")))
    res = runner.invoke(app, ["weights", "--from-lmms-eval", str(logs), "--out",
                              str(tmp_path / "plan.json")])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "\x1b" not in res.output and "po?[2Jpe" in res.output
