"""SIGKILL at random, held and output-writing moments, restarted until done (small size; the
full 20-kill version runs in ``benchmarks/reliability.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from reliability_cases.crash import crash_category

from mmevol.seeds import write_seeds
from mmevol.world.scenes import write_demo_set


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("crash-seeds")
    path = root / "seeds.jsonl"
    write_seeds(write_demo_set(root / "scenes", n=6, seed=11), path)
    return path


def test_kills_lose_nothing_and_repeat_no_recorded_call(seeds: Path, tmp_path: Path) -> None:
    report = crash_category(seeds, tmp_path, n_seeds=6, kills=5, seed=1)
    notes = report.notes
    assert report.passed, report.problems
    assert notes["kills"] == 5, notes
    assert report.lost == report.duplicated == 0
    assert notes["repeated_paid_calls_of_recorded_answers"] == 0
    assert notes["answered_but_unrecorded_at_held_kills"] == 0
    assert notes["server_repeated_completed_held_only_runs"] == 0
    assert notes["journal_integrity_failures"] == 0


@pytest.mark.slow
def test_twenty_kills(seeds: Path, tmp_path: Path) -> None:
    report = crash_category(seeds, tmp_path, n_seeds=6, kills=20, seed=2)
    assert report.passed, report.problems
    assert report.notes["kills"] == 20
