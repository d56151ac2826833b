"""``mmevol evolve --engine ray`` on a local Ray instance: same data, same resume, global limits.

One Ray session (two CPUs) is shared by the in-process tests of this module; the crash test
runs the CLI in subprocesses, each starting its own local Ray instance, so that the driver can
be killed with SIGKILL in the middle of a run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ray = pytest.importorskip("ray")

from mmevol.backends.admission import Limits  # noqa: E402
from mmevol.evolve.config import EvolveConfig  # noqa: E402
from mmevol.evolve.run import run_evolve  # noqa: E402
from mmevol.scale.admission_actor import AdmissionActor, RemoteAdmission  # noqa: E402
from mmevol.seeds import write_seeds  # noqa: E402
from mmevol.testing.server import FakeServerConfig, running_server  # noqa: E402
from mmevol.world.scenes import write_demo_set  # noqa: E402
from test_http_e2e import journal_calls, server_stats, wait_for  # noqa: E402

SERVER: dict[str, Any] = {
    "fault_rate": 0.08,
    "faults": ["rate_limit", "server_error", "unavailable", "drop", "truncated"],
    "latency": (0.01, 0.04),
    "retry_after_s": 0.2,
    "bad_rate": 0.25,
    "broken_json_rate": 0.05,
    "seed": 3,
}
QUIET = {"RAY_USAGE_STATS_ENABLED": "0", "MMEVOL_TEST_KEY": "sk-test"}
OUTPUTS = ["dataset.jsonl", "rounds/round_1.jsonl", "rounds/round_2.jsonl", "rounds/round_3.jsonl"]


@pytest.fixture(scope="module")
def ray_session() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for key, value in QUIET.items():
            mp.setenv(key, value)
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        # the remote helpers below live in this test module, which workers cannot import
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
        try:
            yield
        finally:
            ray.shutdown()


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ray-seeds")
    path = root / "seeds.jsonl"
    write_seeds(write_demo_set(root / "scenes", n=14, seed=5), path)
    return path


def same_outputs(a: Path, b: Path) -> None:
    for name in OUTPUTS:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_grounded_ray_run_equals_local_run(ray_session: None, seeds: Path, tmp_path: Path) -> None:
    common = {"seeds": str(seeds), "rounds": 3, "progress": False}
    local = run_evolve(EvolveConfig(out=str(tmp_path / "local"), **common))
    on_ray = run_evolve(
        EvolveConfig(out=str(tmp_path / "ray"), engine="ray", ray_workers=2, **common)
    )
    assert local.complete and on_ray.complete
    same_outputs(tmp_path / "local", tmp_path / "ray")
    assert on_ray.stats["dataset"] == local.stats["dataset"]  # type: ignore[index]
    assert local.stats["dataset"]["evolved"] > 20  # type: ignore[index]


def test_admission_actor_holds_limits_across_workers(ray_session: None) -> None:
    """Two Ray tasks, one endpoint: together they stay within its concurrency and rpm."""
    limits = Limits(max_concurrency=2, rpm=600, request_burst_s=0.5, timeout_s=10)
    actor = ray.remote(AdmissionActor).options(num_cpus=0).remote(limits.model_dump_json(), "t")

    @ray.remote(num_cpus=0)
    def client(n: int) -> list[tuple[float, float]]:
        async def main() -> list[tuple[float, float]]:
            ctl = RemoteAdmission(actor, limits)
            spans: list[tuple[float, float]] = []

            async def call() -> None:
                start = time.time()
                await asyncio.sleep(0.05)
                spans.append((start, time.time()))

            await asyncio.gather(*(ctl.run(call) for _ in range(n)))
            return spans

        return asyncio.run(main())

    spans = [s for part in ray.get([client.remote(12), client.remote(12)]) for s in part]
    assert len(spans) == 24
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    in_flight = peak = 0
    for _, step in events:
        in_flight += step
        peak = max(peak, in_flight)
    assert peak <= 2, f"{peak} calls in flight at once; the endpoint allows 2"
    starts = sorted(s for s, _ in spans)
    # 10/s with a burst of 5: 24 calls need at least 1.9 s (two private controllers: ~0.6 s)
    assert starts[-1] - starts[0] >= 1.7, starts[-1] - starts[0]
    snap = ray.get(actor.snapshot.remote())
    assert snap["sent"] == 24 and snap["ok"] == 24 and snap["in_flight"] == 0


def test_error_rate_stop_then_resume_on_ray(
    ray_session: None, seeds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong API key fails every unit: the run stops at the error rate; with the right key
    (sent to the workers by the driver) the same command finishes and resolves the failures."""
    config = EvolveConfig(
        seeds=str(seeds),
        out=str(tmp_path / "run"),
        rounds=2,
        backend="openai",
        model="fake-mllm",
        api_key_env="MMEVOL_RAY_KEY",
        concurrency=2,
        engine="ray",
        ray_workers=2,
        min_units_for_error_rate=4,
        progress=False,
    )
    with running_server(FakeServerConfig(port=0, api_key="sk-right", latency=0.01)) as url:
        config.base_url = url
        monkeypatch.setenv("MMEVOL_RAY_KEY", "sk-wrong")
        stopped = run_evolve(config)
        assert stopped.stop_reason and "units failed" in stopped.stop_reason
        assert "client_error" in stopped.stop_reason
        failures = stopped.stats["failures"]
        assert not stopped.complete and failures["open"] >= 4  # type: ignore[index]
        assert server_stats(url)["completed"] == 0
        monkeypatch.setenv("MMEVOL_RAY_KEY", "sk-right")
        resumed = run_evolve(config)
        assert resumed.complete and resumed.stop_reason is None
        assert resumed.stats["failures"]["open"] == 0  # type: ignore[index]
        assert resumed.stats["dataset"]["evolved"] > 0  # type: ignore[index]


def test_missing_ray_is_one_line_and_writes_nothing(seeds: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    code = "import sys; sys.modules['ray'] = None; from mmevol.cli import app; app()"
    proc = subprocess.run(
        [sys.executable, "-c", code, "evolve", str(seeds), "--out", str(out), "--engine", "ray"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'mmevol[ray]'" in lines[0], proc.stderr
    assert not out.exists()


# --- over real HTTP, with a SIGKILL of the Ray driver --------------------------------------
def cli(seeds: Path, out: Path, url: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "mmevol.cli", "evolve", str(seeds), "--out", str(out),
        "--backend", "openai", "--model", "fake-mllm", "--base-url", url,
        # a generous client timeout: on a loaded machine a 2 s one gave up on answers the
        # server then completed, and their retries read as repeated paid calls
        "--api-key-env", "MMEVOL_TEST_KEY", "--timeout", "60", "--concurrency", "6",
        "--rounds", "3", *extra,
    ]  # fmt: skip


def test_killed_ray_run_resumes_to_the_local_dataset(seeds: Path, tmp_path: Path) -> None:
    env = {**os.environ, **QUIET}
    local = tmp_path / "local"
    t0 = time.monotonic()
    with running_server(FakeServerConfig(port=0, **SERVER)) as url:
        done = subprocess.run(cli(seeds, local, url), env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        clean = server_stats(url)
    t1 = time.monotonic()
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    assert sum(clean["faults"].values()) > 0

    out = tmp_path / "ray"
    # same port: the endpoint is part of each sample's lineage
    with running_server(FakeServerConfig(port=port, **SERVER)) as url:
        root = url.rsplit("/v1", 1)[0]
        proc = subprocess.Popen(
            cli(seeds, out, url, "--engine", "ray", "--ray-workers", "2"),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # Ray's helper processes share the driver's group
        )
        try:
            wait_for(lambda: server_stats(url)["completed"] >= 25, "25 completed requests")
            answered = httpx.post(f"{root}/_fake/hold").json()["completed"]
            wait_for(lambda: journal_calls(out) >= answered, "the journal to catch up", 20)
            wait_for(lambda: server_stats(url)["held"] > 0, "requests in flight")
            assert proc.poll() is None, "the run finished before it could be killed"
            # the machine dies: the driver and the local Ray instance it started (workers,
            # actors) at once; a worker left running could finish calls nobody journals
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            wait_for(lambda: server_stats(url)["held"] == 0, "held requests to be abandoned")
        finally:
            if proc.poll() is None:
                proc.kill()
            httpx.post(f"{root}/_fake/release")
            with contextlib.suppress(ProcessLookupError):  # Ray agents outliving the driver
                os.killpg(proc.pid, signal.SIGKILL)
        assert not (out / "dataset.jsonl").exists()
        kept = journal_calls(out)
        t2 = time.monotonic()
        again = subprocess.run(
            cli(seeds, out, url, "--engine", "ray", "--ray-workers", "2"),
            env=env,
            capture_output=True,
            text=True,
        )
        assert again.returncode == 0, again.stderr[-2000:]
        stats = server_stats(url)
    t3 = time.monotonic()
    print(
        f"\nlocal run {t1 - t0:.1f} s ({clean['completed']} answers); Ray run killed after"
        f" {t2 - t1:.1f} s with {kept} replies journalled; Ray resume {t3 - t2:.1f} s;"
        f" answers in all {stats['completed']}, repeated {stats['repeated_completed']}"
    )
    assert stats["repeated_completed"] == 0, stats
    assert stats["completed"] == clean["completed"], "a resumed run asks what a clean one asks"
    same_outputs(local, out)


def test_duplicated_seeds_pay_once_on_ray(ray_session: None, seeds: Path, tmp_path: Path) -> None:
    """Two seeds with the same image and items make the same requests: on Ray, as locally,
    the second waits for the first's reply (the ledger's claim) instead of paying again."""
    import json

    lines = seeds.read_text().splitlines()[:3]
    doubled = tmp_path / "doubled.jsonl"
    twins = [json.dumps({**json.loads(line), "id": json.loads(line)["id"] + "-twin"})
             for line in lines]  # fmt: skip
    doubled.write_text("\n".join([*lines, *twins]) + "\n")
    with running_server(FakeServerConfig(port=0, latency=(0.15, 0.3))) as url:
        config = EvolveConfig(
            seeds=str(doubled), out=str(tmp_path / "run"), rounds=1, backend="openai",
            model="fake-mllm", base_url=url, api_key_env="MMEVOL_TEST_KEY", concurrency=8,
            engine="ray", ray_workers=2, progress=False,
        )  # fmt: skip
        result = run_evolve(config)
        stats = server_stats(url)
    assert result.complete
    assert stats["repeated_completed"] == 0, stats
    assert stats["completed"] == journal_calls(tmp_path / "run")
