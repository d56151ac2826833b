"""A full disk and unwritable output places: one clear line, nothing corrupted, resumable."""

from __future__ import annotations

from pathlib import Path

from reliability_cases.disk import disk_category

from mmevol.seeds import write_seeds
from mmevol.world.scenes import write_demo_set


def test_disk_full_and_unwritable(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.jsonl"
    write_seeds(write_demo_set(tmp_path / "scenes", n=6, seed=11), seeds)
    report = disk_category(seeds, tmp_path)
    assert report.passed, report.problems
    assert report.tried >= 8
