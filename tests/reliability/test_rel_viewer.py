"""The real viewer process against hostile Host, Origin, bodies, image paths and a huge image."""

from __future__ import annotations

from pathlib import Path

from reliability_cases.viewer import viewer_category

from mmevol.seeds import write_seeds
from mmevol.world.scenes import write_demo_set


def test_viewer_refuses_attacks_and_stays_small(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.jsonl"
    write_seeds(write_demo_set(tmp_path / "scenes", n=3, seed=11), seeds)
    report = viewer_category(seeds, tmp_path)
    assert report.passed, report.problems
    assert report.tried >= 25
    assert report.notes["viewer_peak_rss_mib"] < 300
