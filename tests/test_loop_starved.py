"""The data-starved world: only its types everywhere, starved types rare in the base data only,
the loop and the CLI on it, and the benchmark's statistics against hand-computed values."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from mmevol.loop.splits import WORLDS, WorldConfig, build_splits, world_named

REPO = Path(__file__).resolve().parents[1]


def _bench() -> ModuleType:
    path = REPO / "benchmarks" / "starved_world.py"
    spec = importlib.util.spec_from_file_location("mmevol_bench_starved", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_starved_world_skews_the_base_data_only() -> None:
    world = world_named("starved")
    assert world.starved() == ["grounding", "referring"] and len(world.types) < 9
    splits, _, _ = build_splits(0, 60, 30, 20, world=world)
    train = Counter(q.qtype for q in splits["train"].questions)
    dev = Counter(q.qtype for q in splits["dev"].questions)
    assert set(train) == set(dev) == set(world.types)
    for t in world.starved():
        scenes = {q.scene_id for q in splits["train"].questions if q.qtype == t}
        assert scenes <= set(list(splits["train"].scenes)[:6]) and train[t] <= 6
        assert dev[t] >= 25  # dev and held-out carry every type in full
    assert train["existence"] == 120 and train["comparison"] >= 50


def test_default_world_is_unchanged_and_unknown_types_are_refused() -> None:
    assert WORLDS["default"].types == list(WorldConfig().types) and not WORLDS["default"].starved()
    with pytest.raises(ValueError, match="unknown question types"):
        WorldConfig(types=["existence", "telepathy"])
    with pytest.raises(ValueError, match="fractions"):
        WorldConfig(base_share={"ocr": 2.0})
    with pytest.raises(ValueError, match="unknown world"):
        world_named("moon")


def test_paired_statistics_match_hand_computed_values() -> None:
    paired = _bench().paired
    r = paired([1.0, 2.0, 3.0, 4.0, 5.0])  # t = 3 / (1.5811 / sqrt 5) = 4.243, df 4
    assert r["t"] == pytest.approx(4.243, abs=1e-3)
    assert r["t_p_two_sided"] == pytest.approx(0.0132, abs=5e-4)
    assert r["sign_p_two_sided"] == pytest.approx(0.0625) and (r["wins"], r["losses"]) == (5, 0)
    r = paired([1.0, -1.0, 2.0, -2.0])
    assert r["mean"] == 0 and r["t_p_two_sided"] == pytest.approx(1.0) and r["sign_p_two_sided"] == 1.0  # fmt: skip


def test_loop_on_the_starved_world_scores_and_targets_its_types(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    import json

    from typer.testing import CliRunner

    from mmevol.cli.app import app

    out = tmp_path / "loop"
    res = CliRunner().invoke(
        app,
        ["loop", "--world", "starved", "--rounds", "1", "--budget", "40", "--n-train", "20",
         "--epochs", "1", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    types = world_named("starved").types
    rec = json.loads((out / "round_0" / "abs.json").read_text())
    assert set(rec["quotas"]) == set(types) and sum(rec["quotas"].values()) == 40
    assert rec["generated"] == rec["quotas"]  # the scene graph delivers every quota here
    history = json.loads((out / "metrics.json").read_text())
    assert set(history[1]["heldout"]["per_type"]) == set(types)
    assert json.loads((out / "config.json").read_text())["world"]["name"] == "starved"
    assert (out / "table.md").read_text().splitlines()[0].count("|") == len(types) + 4
    bad = CliRunner().invoke(app, ["loop", "--world", "moon", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "--world" in bad.output


def test_starved_benchmark_core_runs_and_reports_in_range() -> None:
    pytest.importorskip("torch")
    import argparse

    bench = _bench()
    args = argparse.Namespace(rounds=1, budget=24, n_train=20, epochs=1)
    run = bench.one_run((0, "abs_sqrt", args))
    assert run["arm"] == "abs_sqrt" and sum(run["quotas"][0].values()) == 24
    assert 0.0 <= run["heldout_starved"] <= 1.0 and 0.0 <= run["heldout_mean"] <= 1.0
    assert set(run["heldout_final_per_type"]) == set(world_named("starved").types)
