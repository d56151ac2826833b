"""End to end over real HTTP: ``mmevol evolve --backend openai`` against the fake server.

Three rounds with every fault kind injected; a run killed with SIGKILL mid-flight and re-run
must give the same dataset as an uninterrupted run, and the server must count zero repeated
completed requests. The fake's ledger (which evolutions were made bad on purpose) gives the
elimination figures.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from mmevol.seeds import write_seeds
from mmevol.testing.fake import elimination_outcome
from mmevol.testing.server import FakeServerConfig, running_server
from mmevol.world.scenes import write_demo_set

SERVER = {
    "fault_rate": 0.15,
    "latency": (0.005, 0.03),
    "retry_after_s": 0.2,
    "timeout_sleep_s": 5.0,
    "drip_s": 0.3,
    "bad_rate": 0.25,
    "broken_json_rate": 0.05,
    "judge_error_rate": 0.03,
    "seed": 7,
}


def evolve_cmd(seeds: Path, out: Path, base_url: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mmevol.cli",
        "evolve",
        str(seeds),
        "--out",
        str(out),
        "--backend",
        "openai",
        "--model",
        "fake-mllm",
        "--base-url",
        base_url,
        "--api-key-env",
        "MMEVOL_TEST_KEY",
        "--timeout",
        "1.5",
        "--concurrency",
        "8",
        "--rounds",
        "3",
    ]


def env() -> dict[str, str]:
    return {**os.environ, "MMEVOL_TEST_KEY": "sk-test"}


def server_stats(base_url: str) -> dict[str, Any]:
    root = base_url.rsplit("/v1", 1)[0]
    return dict(httpx.get(f"{root}/_fake/stats").json())


def journal_calls(run_dir: Path) -> int:
    db = run_dir / "run.sqlite"
    if not db.exists():
        return 0
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return int(con.execute("SELECT COUNT(*) FROM calls").fetchone()[0])
    except sqlite3.OperationalError:  # tables not created yet
        return 0
    finally:
        con.close()


def wait_for(cond: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("http")
    path = root / "seeds.jsonl"
    write_seeds(write_demo_set(root / "scenes", n=20, seed=11), path)
    return path


@pytest.fixture(scope="module")
def uninterrupted(
    seeds: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any], int]:
    """One clean 3-round run; returns its run dir, the server's stats and the port used."""
    out = tmp_path_factory.mktemp("clean") / "run"
    with running_server(FakeServerConfig(port=0, **SERVER)) as url:  # type: ignore[arg-type]
        proc = subprocess.run(
            evolve_cmd(seeds, out, url), env=env(), capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        stats = server_stats(url)
    return out, stats, int(url.rsplit(":", 1)[1].split("/")[0])


def test_run_completes_through_faults(uninterrupted: tuple[Path, dict[str, Any], int]) -> None:
    out, stats, _ = uninterrupted
    assert sum(stats["faults"].values()) >= 5, stats["faults"]
    assert stats["repeated_completed"] == 0
    assert stats["with_image"] > 0  # vision requests carried the image
    for name in ("config.json", "run.sqlite", "dataset.jsonl", "stats.json"):
        assert (out / name).is_file(), name
    assert all((out / "rounds" / f"round_{k}.jsonl").is_file() for k in (1, 2, 3))
    run_stats = json.loads((out / "stats.json").read_text())
    assert run_stats["complete"] is True
    assert run_stats["failures"]["open"] == 0
    assert [r["round"] for r in run_stats["rounds"]] == [1, 2, 3]
    assert run_stats["dataset"]["evolved"] > 0
    assert "sk-test" not in (out / "config.json").read_text()


def test_elimination_against_the_ledger(uninterrupted: tuple[Path, dict[str, Any], int]) -> None:
    out, stats, _ = uninterrupted
    samples = [
        json.loads(line)
        for k in (1, 2, 3)
        for line in (out / "rounds" / f"round_{k}.jsonl").read_text().splitlines()
    ]
    result = elimination_outcome(samples, stats["ledger"]["items"])
    counts = result["counts"]
    assert not any(k.startswith("unknown") for k in counts), "every candidate came from the fake"
    assert result["bad"] >= 20 and result["good_judged"] >= 50, counts
    print(
        f"\nelimination vs the fake's ledger: rejected {result['bad_rejected']:.1%} of"
        f" {result['bad']} bad evolutions; kept {result['good_kept']:.1%} of"
        f" {result['good_judged']} good ones ({counts.get('good_duplicate', 0)} more good ones"
        " were near-duplicates, dropped by dedup)"
    )
    assert result["bad_rejected"] >= 0.95
    assert result["good_kept"] >= 0.90


def test_sigkill_and_rerun_matches_uninterrupted(
    seeds: Path, tmp_path: Path, uninterrupted: tuple[Path, dict[str, Any], int]
) -> None:
    clean, _, port = uninterrupted
    out = tmp_path / "run"
    # same port as the clean run, so the runs' lineage (which names the endpoint) can match
    with running_server(FakeServerConfig(port=port, **SERVER)) as url:  # type: ignore[arg-type]
        root = url.rsplit("/v1", 1)[0]
        proc = subprocess.Popen(
            evolve_cmd(seeds, out, url),
            env=env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for(lambda: server_stats(url)["completed"] >= 40, "40 completed requests")
            # hold every later answer: the kill then finds requests in flight, none answered
            # and unrecorded (an answer the client never read can't count as paid twice)
            done = httpx.post(f"{root}/_fake/hold").json()["completed"]
            wait_for(lambda: journal_calls(out) >= done, "the journal to catch up")
            wait_for(lambda: server_stats(url)["held"] > 0, "requests in flight")
            assert proc.poll() is None, "the run finished before it could be killed"
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            # the server notices the dead client's hang-ups before anything is released
            wait_for(lambda: server_stats(url)["held"] == 0, "held requests to be abandoned")
        finally:
            if proc.poll() is None:
                proc.kill()
            httpx.post(f"{root}/_fake/release")
        assert not (out / "dataset.jsonl").exists(), "a killed run must not leave a final dataset"
        again = subprocess.run(
            evolve_cmd(seeds, out, url), env=env(), capture_output=True, text=True, timeout=300
        )
        assert again.returncode == 0, again.stderr[-2000:]
        stats = server_stats(url)
    assert stats["repeated_completed"] == 0, stats
    assert stats["completed"] >= 40
    mine = (out / "dataset.jsonl").read_text()
    ids = [json.loads(line)["id"] for line in mine.splitlines()]
    assert len(ids) == len(set(ids)), "no sample may be duplicated by the resume"
    assert mine == (clean / "dataset.jsonl").read_text()
    for k in (1, 2, 3):
        name = f"rounds/round_{k}.jsonl"
        assert (out / name).read_text() == (clean / name).read_text(), name
