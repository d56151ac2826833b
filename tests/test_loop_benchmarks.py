"""The loop benchmarks' core functions at a tiny size, and the engine bridge they rely on."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

import argparse
import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType

from mmevol.grounded.facts import fact_conflict
from mmevol.grounded.scene import View
from mmevol.loop.evolved import evolve_scenes, scenes_to_seeds, to_questions
from mmevol.loop.perturb import PerturbedBackend, corrupt, ledger_key
from mmevol.loop.splits import draw_scenes
from mmevol.schema import QA
from mmevol.world.questions import ANSWERS, FAMILY_OF, QTYPES

REPO = Path(__file__).resolve().parents[1]


def _bench(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"mmevol_bench_{name}", REPO / "benchmarks" / f"{name}.py")  # fmt: skip
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_abs_vs_uniform_core_runs_and_reports_in_range() -> None:
    bench = _bench("abs_vs_uniform")
    args = argparse.Namespace(rounds=1, budget=30, n_train=15, epochs=1)
    for arm in ("abs", "abs_gain"):
        run = bench.one_run((0, arm, args))
        assert run["strategy"] == arm and run["weakest_on_dev"] in QTYPES
        assert len(run["heldout_per_round_mean"]) == 2
        assert 0.0 <= run["heldout_mean"] <= 1.0 and 0.0 <= run["heldout_weakest"] <= 1.0
        assert sum(run["quotas"][0].values()) == 30


def test_mmevol_ablation_core_runs_at_equal_count() -> None:
    bench = _bench("mmevol_ablation")
    run = bench.run_seed(0, n_train=12, n_pool=16, n_heldout=20, rounds=1, error_rate=0.5, epochs=1)  # fmt: skip
    assert set(run["arms"]) == set(bench.ARMS)
    assert run["n_per_arm"] > 0 and run["ledger_errors"] > 0
    assert run["erroneous_candidates_kept"] < run["ledger_errors"]  # elimination catches some
    for arm in run["arms"].values():
        assert sum(arm["qtypes"].values()) == run["n_per_arm"]
        assert 0.0 <= arm["heldout_mean"] <= 1.0 and 0.0 <= arm["pope_absent"] <= 1.0
    assert run["arms"]["seed"]["share_from_erroneous_samples"] == 0.0
    assert run["arms"]["evolved_no_elim"]["share_from_erroneous_samples"] > 0.0


def test_engine_bridge_maps_grounded_evolutions_to_true_questions(tmp_path: Path) -> None:
    scenes = draw_scenes("bridge", 0, 12, set())
    seeds, owner = scenes_to_seeds(scenes, tmp_path / "img")
    samples = evolve_scenes(seeds, tmp_path / "run", PerturbedBackend(0.0), rounds=2)
    mapped = to_questions([s for s in samples if s.round > 0], owner, kept_only=True)
    assert len(mapped.questions) > 10
    assert all(q.answer in ANSWERS and q.family == FAMILY_OF[q.answer] for q in mapped.questions)
    checked = 0
    for q in mapped.questions:  # grounded answers are true: check what the scene graph says
        scene = scenes[q.scene_id]
        if q.text.startswith("Is there a ") and q.qtype == "existence":
            *mods, kind = q.text[len("Is there a ") : -len(" in the image?")].split()
            present = any(s.shape == kind and all(m in (s.color, s.size) for m in mods) for s in scene.shapes)  # fmt: skip
            assert present == (q.answer == "yes"), q
            checked += 1
        elif q.text.startswith("How many ") and q.text.endswith("s are there?"):
            kind = q.text.split()[2][:-1]
            assert int(q.answer) == scene.count(shape=kind), q
            checked += 1
    assert checked > 3


def test_fact_checks_catch_corrupted_answers_and_pass_true_ones() -> None:
    ctx = {
        "objects": [
            {
                "category": "circle",
                "bbox": [0.1, 0.1, 0.3, 0.3],
                "attributes": {"color": "red", "size": "medium"},
            },
            {
                "category": "square",
                "bbox": [0.6, 0.6, 0.8, 0.8],
                "attributes": {"color": "blue", "size": "small"},
            },
            {
                "category": "square",
                "bbox": [0.6, 0.1, 0.8, 0.3],
                "attributes": {"color": "blue", "size": "large"},
            },
        ]
    }
    view = View(ctx)
    q = "Check the image for a star and a circle. For each, say whether it is present."
    true = "No, there is no star. Yes, there is a circle at [0.100, 0.100, 0.300, 0.300]."
    assert fact_conflict(view, QA(question=q, answer=true)) is None
    fake, kind = corrupt(true, random.Random(0)) or ("", "")
    assert kind == "hallucination" and fact_conflict(view, QA(question=q, answer=fake))
    assert fact_conflict(view, QA(question="What colour?", answer="The circle is blue and sits at x.")) is not None  # fmt: skip
    assert fact_conflict(view, QA(question="How many squares?", answer="There are 3 squares.")) is not None  # fmt: skip
    assert fact_conflict(view, QA(question="How many squares?", answer="There are 2 squares.")) is None  # fmt: skip
    region = "The region [0.100, 0.100, 0.300, 0.300] contains a medium red star."
    assert fact_conflict(view, QA(question="Describe", answer=region)) is not None
    assert ledger_key("a", "b") != ledger_key("a", "c")


def test_loop_generation_through_the_engine(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from mmevol.cli.app import app

    out = tmp_path / "loop"
    res = CliRunner().invoke(
        app,
        ["loop", "--rounds", "1", "--budget", "30", "--n-train", "15", "--epochs", "1",
         "--generator", "engine", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    gen = [json.loads(x) for x in (out / "round_0" / "generated_questions.jsonl").read_text().splitlines()]  # fmt: skip
    assert 0 < len(gen) <= 30
    assert all(q["variant"] == "evolved" and q["answer"] in ANSWERS for q in gen)
    assert list((out / "round_0" / "engine").glob("*/run/run.sqlite"))
    bad = CliRunner().invoke(app, ["loop", "--generator", "llm", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0


def test_engine_generation_sends_the_bad_cases_to_the_model(tmp_path: Path) -> None:
    import json

    from mmevol.backends.base import make_backend
    from mmevol.loop.evolved import engine_for_type
    from mmevol.store import Store

    scenes = draw_scenes("focus", 0, 3, set())
    cases = [{"scene_id": "s", "question": "How many red stars are there?", "answer": "2",
              "model_answer": "3"}]  # fmt: skip
    llm = make_backend("fake", bad_rate=0.0, broken_json_rate=0.0)  # an LLM stand-in
    engine_for_type(
        "counting", 4, list(scenes), scenes, 2, 1, tmp_path / "counting", llm, bad_cases=cases
    )
    db = Store(tmp_path / "counting" / "run" / "run.sqlite")
    requests = [
        json.loads(r)
        for (r,) in db.db.execute("SELECT request FROM calls WHERE task='evolve'").fetchall()
    ]
    db.close()
    assert len(requests) == 3
    for req in requests:  # the user message carries the context block, focus included
        user = req["messages"][-1]["content"]
        assert "How many red stars are there?" in user and '"model_answer": "3"' in user
        assert '"question_type": "counting"' in user
