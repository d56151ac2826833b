"""Each fault kind of the fake server at 20 %: a clean stop or success, typed failure records,
and a fault-free re-run that gives the fault-free dataset with nothing answered twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from reliability_cases.common import evolve_argv, fake_server, free_port, run_cli, run_env
from reliability_cases.faults import BASE, check_stop, one_case

from mmevol.seeds import write_seeds
from mmevol.testing.server import FAULT_KINDS
from mmevol.world.scenes import write_demo_set

ROUNDS = 2


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    root = tmp_path_factory.mktemp("faults")
    seeds = root / "seeds.jsonl"
    write_seeds(write_demo_set(root / "scenes", n=4, seed=11), seeds)
    port = free_port()
    with fake_server(port, **BASE) as url:
        proc = run_cli(evolve_argv(seeds, root / "clean", url, rounds=ROUNDS), run_env())
    assert proc.returncode == 0, proc.stderr
    return seeds, root / "clean", port


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_fault_at_20_percent(kind: str, clean: tuple[Path, Path, int], tmp_path: Path) -> None:
    seeds, clean_dir, port = clean
    ok, problem, info = one_case(seeds, tmp_path, port, clean_dir, kind, 0.2, ROUNDS)
    assert ok, problem
    assert info["lost"] == info["duplicated"] == info["repeated_completed"] == 0
    assert info["rerun_exit"] == 0


def test_check_stop_wants_a_message() -> None:
    assert check_stop(0, "") is None
    assert check_stop(3, "stopped: ... re-run the same command to resume.") is None
    assert check_stop(1, "2 unit(s) failed; re-run the same command to retry them.") is None
    assert check_stop(2, "error: boom") is not None
    assert check_stop(1, "Traceback (most recent call last):") is not None
