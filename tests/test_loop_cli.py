"""`mmevol loop` on a tiny config writes its config, splits, per-round snapshots, table and plot."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

import json
from pathlib import Path

from typer.testing import CliRunner

from mmevol.cli.app import app
from mmevol.world.questions import QTYPES


def test_loop_cli_tiny(tmp_path: Path) -> None:
    out = tmp_path / "loop"
    res = CliRunner().invoke(
        app,
        ["loop", "--rounds", "1", "--strategy", "abs", "--budget", "40", "--seed", "2",
         "--n-train", "20", "--epochs", "1", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "held-out accuracy" in res.output
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["strategy"] == "abs" and cfg["budget"] == 40 and cfg["seed"] == 2
    for name in ("train", "dev", "heldout"):
        assert (out / "data" / f"{name}_questions.jsonl").stat().st_size > 0
    abs_rec = json.loads((out / "round_0" / "abs.json").read_text())
    assert sum(abs_rec["quotas"].values()) == 40
    assert set(abs_rec["weights"]) == set(QTYPES)
    assert min(abs_rec["weights"].values()) >= cfg["floor"] - 1e-9
    gen = (out / "round_0" / "generated_questions.jsonl").read_text().splitlines()
    assert 0 < len(gen) <= 40
    held_ids = {
        json.loads(x)["id"]
        for x in (out / "data" / "heldout_scenes.jsonl").read_text().splitlines()
    }
    assert not {json.loads(x)["scene_id"] for x in gen} & held_ids
    history = json.loads((out / "metrics.json").read_text())
    assert [h["round"] for h in history] == [0, 1]
    assert history[1]["n_generated"] == len(gen)
    assert set(history[0]["heldout"]["per_type"]) == set(QTYPES)
    assert (out / "table.md").read_text().count("\n") == 4
    assert (out / "accuracy.png").read_bytes()[:4] == b"\x89PNG"
    assert "<svg" in (out / "accuracy.svg").read_text()


def test_loop_cli_rejects_unknown_strategy(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["loop", "--strategy", "best", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2
    assert "--strategy" in res.output


def test_loop_gain_weighting_records_the_probe_and_follows_it(tmp_path: Path) -> None:
    out = tmp_path / "loop"
    res = CliRunner().invoke(
        app,
        ["loop", "--rounds", "1", "--budget", "40", "--n-train", "20", "--epochs", "1",
         "--weighting", "gain", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    rec = json.loads((out / "round_0" / "abs.json").read_text())
    gains, weights = rec["gains_dev"], rec["weights"]
    assert rec["weighting"] == "gain" and set(gains) == set(QTYPES)
    if any(g > 0 for g in gains.values()):  # else the documented fall back to linear
        best = max(QTYPES, key=lambda t: gains[t])
        assert weights[best] == max(weights.values())
        assert all(weights[t] == min(weights.values()) for t in QTYPES if gains[t] <= 0)


def test_loop_out_never_mixes_two_runs(tmp_path: Path) -> None:
    """A loop run's folder takes only a re-run with the same settings; another folder's files,
    other settings or a backend that cannot be made stop before anything is written."""
    tiny = ["loop", "--rounds", "1", "--budget", "20", "--n-train", "12", "--epochs", "1"]
    runner = CliRunner()
    run = tmp_path / "run"
    assert runner.invoke(app, [*tiny, "--out", str(run)]).exit_code == 0
    again = runner.invoke(app, [*tiny, "--out", str(run)])
    assert again.exit_code == 0, again.output  # the same settings: re-run in place
    other = runner.invoke(app, [*tiny, "--seed", "1", "--out", str(run)])
    assert other.exit_code == 2 and "other settings (seed: 0 then, 1 now)" in other.output
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep", "utf-8")
    res = runner.invoke(app, [*tiny, "--out", str(mine)])
    assert res.exit_code == 2 and "not an mmevol loop run (notes.txt)" in res.output
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    res = runner.invoke(app, [*tiny, "--generator", "engine", "--engine-backend", "nope",
                              "--out", str(tmp_path / "x")])  # fmt: skip
    assert res.exit_code == 2 and "unknown backend 'nope'" in res.output
    assert not (tmp_path / "x").exists()
