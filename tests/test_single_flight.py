"""The same request asked by two units at once is paid for once (local engine, real HTTP)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmevol.evolve.config import EvolveConfig
from mmevol.evolve.run import run_evolve
from mmevol.seeds import write_seeds
from mmevol.testing.server import FakeServerConfig, running_server
from mmevol.world.scenes import write_demo_set
from test_http_e2e import journal_calls, server_stats


def test_twin_seeds_pay_each_request_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two seeds with the same image and items make the same evolve request at the same time:
    the second waits for the first's answer (before the fix the server answered it twice)."""
    monkeypatch.setenv("MMEVOL_TEST_KEY", "sk-test")
    seeds = tmp_path / "seeds.jsonl"
    write_seeds(write_demo_set(tmp_path / "scenes", n=3, seed=5), seeds)
    lines = seeds.read_text().splitlines()
    twins = [json.dumps({**json.loads(x), "id": json.loads(x)["id"] + "-twin"}) for x in lines]
    seeds.write_text("\n".join([*lines, *twins]) + "\n")
    with running_server(FakeServerConfig(port=0, latency=(0.15, 0.3))) as url:
        config = EvolveConfig(
            seeds=str(seeds), out=str(tmp_path / "run"), rounds=1, backend="openai",
            model="fake-mllm", base_url=url, api_key_env="MMEVOL_TEST_KEY", progress=False,
        )  # fmt: skip
        result = run_evolve(config)
        stats = server_stats(url)
    assert result.complete
    assert stats["repeated_completed"] == 0, stats
    assert stats["completed"] == journal_calls(tmp_path / "run")
