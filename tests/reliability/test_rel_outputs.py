"""Outputs never clobber inputs, runs, devices or foreign folders; one writer per run."""

from __future__ import annotations

from pathlib import Path

from reliability_cases.outputs import outputs_category

from mmevol.seeds import write_seeds
from mmevol.world.scenes import write_demo_set


def test_outputs_never_clobber_and_a_run_has_one_writer(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.jsonl"
    write_seeds(write_demo_set(tmp_path / "scenes", n=4, seed=5), seeds)
    report = outputs_category(seeds, tmp_path)
    assert report.passed, report.problems
    assert report.tried >= 18
