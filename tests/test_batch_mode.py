"""``mmevol evolve --mode batch|hybrid`` over real HTTP against the fake server's Batch API.

Every run uses the same port (the endpoint is part of each sample's lineage), so datasets of
online, batch and hybrid runs can be compared byte for byte. The fake server counts every
answered request once per body (``repeated_completed``) and every custom_id submitted in a batch
(``resubmitted_ids``), which is how "nothing was paid twice" is checked.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from mmevol.backends.batch_api import OutputLine, RequestLine, line_error, write_inputs
from mmevol.cli.app import app
from mmevol.evolve.config import EvolveConfig
from mmevol.evolve.run import run_evolve
from mmevol.seeds import write_seeds
from mmevol.testing.batch import FakeBatchConfig
from mmevol.testing.server import FakeServerConfig, running_server
from mmevol.world.scenes import write_demo_set

MODEL = {"bad_rate": 0.25, "broken_json_rate": 0.08, "judge_error_rate": 0.03, "seed": 7}
POLL = 0.05


def server(port: int, **batch: Any) -> FakeServerConfig:
    return FakeServerConfig(port=port, batch=FakeBatchConfig(**batch), **MODEL)  # type: ignore[arg-type]


def config(seeds: Path, out: Path, url: str, mode: str, **more: Any) -> EvolveConfig:
    return EvolveConfig(
        seeds=str(seeds),
        out=str(out),
        rounds=2,
        backend="openai",
        model="fake-mllm",
        base_url=url,
        timeout_s=5.0,
        concurrency=4,
        progress=False,
        mode=mode,  # type: ignore[arg-type]
        batch_poll_s=POLL,
        **more,
    )


def fake(url: str, path: str) -> dict[str, Any]:
    return dict(httpx.get(url.rsplit("/v1", 1)[0] + path).json())


def journal(run_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    db = run_dir / "run.sqlite"
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return list(con.execute(sql))
    except sqlite3.OperationalError:  # tables not created yet
        return []
    finally:
        con.close()


@pytest.fixture(scope="module")
def port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("batch")
    path = root / "seeds.jsonl"
    write_seeds(write_demo_set(root / "scenes", n=10, seed=5), path)
    return path


@pytest.fixture(scope="module")
def online(seeds: Path, port: int, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The dataset of an ordinary online run: what every batch-mode run must reproduce."""
    out = tmp_path_factory.mktemp("online") / "run"
    with running_server(server(port)) as url:
        result = run_evolve(config(seeds, out, url, "online"))
        assert fake(url, "/_fake/batches")["created"] == 0
    assert result.complete
    return (out / "dataset.jsonl").read_text()


def test_batch_run_matches_online(seeds: Path, port: int, online: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    with running_server(server(port, delay_s=0.05)) as url:
        result = run_evolve(config(seeds, out, url, "batch"))
        stats, batches = fake(url, "/_fake/stats"), fake(url, "/_fake/batches")
    assert result.complete, result.stats["failures"]
    assert (out / "dataset.jsonl").read_text() == online
    assert stats["received"] == 0, "no call may bypass the batches"
    assert stats["repeated_completed"] == 0 and batches["resubmitted_ids"] == 0
    assert batches["by_status"] == {"completed": batches["created"]}
    # rounds run in step: one batch per round phase (evolve, judge), plus re-asks
    assert 4 <= batches["created"] <= 10, batches
    assert journal(out, "SELECT COUNT(*) FROM calls")[0][0] == stats["completed"]
    assert journal(out, "SELECT DISTINCT status FROM batches") == [("collected",)]


def test_hybrid_finishes_failed_expired_and_late_batches_online(
    seeds: Path, port: int, online: str, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    # batch 1 fails, batch 2 expires half done, batch 3 runs 0.2 s per line: past the 0.3 s
    # deadline it is cancelled; every call they did not answer (and every failed line) goes online
    outcomes = ["failed", "expired", "slow"]
    cfg = server(port, outcomes=outcomes, line_s=0.2, line_error_rate=0.2)
    with running_server(cfg) as url:
        result = run_evolve(config(seeds, out, url, "hybrid", batch_deadline_s=0.3))
        stats, batches = fake(url, "/_fake/stats"), fake(url, "/_fake/batches")
    assert result.complete, result.stats["failures"]
    assert (out / "dataset.jsonl").read_text() == online
    status = batches["by_status"]
    assert status.get("failed") == 1 and status.get("expired") == 1, status
    assert status.get("cancelled") == 1 and batches["line_errors"] >= 1, batches
    assert stats["received"] > 0, "stragglers and failed lines went online"
    # lines a batch answered before it expired or was cancelled were not asked again online
    assert stats["repeated_completed"] == 0
    assert journal(out, "SELECT COUNT(*) FROM calls")[0][0] == stats["completed"]


def test_line_errors_are_typed_failures_and_rerun_retries_them(
    seeds: Path, port: int, online: str, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    with running_server(server(port, line_error_rate=0.15)) as url:
        cfg = config(seeds, out, url, "batch", max_error_rate=1.0)
        first = run_evolve(cfg)
        assert not first.complete
        failures = [json.loads(x) for x in (out / "failures.jsonl").read_text().splitlines()]
        assert failures and {f["error_class"] for f in failures} == {"server_error"}
        assert all("HTTP 500" in f["message"] and "batch " in f["message"] for f in failures)
        shown = CliRunner().invoke(app, ["stats", str(out)], terminal_width=200)
        assert shown.exit_code == 0 and "open server_error" in shown.output, shown.output
        as_json = json.loads(CliRunner().invoke(app, ["stats", str(out), "--json"]).output)
        assert as_json["failures"]["by_class"] == {"server_error": len(failures)}
        # the fake errs on a request body at most once, so a resubmission succeeds; but a unit
        # that failed had no later rounds yet, and their (new) requests may err in turn
        for _ in range(6):
            again = run_evolve(cfg)
            if again.complete:
                break
        stats, batches = fake(url, "/_fake/stats"), fake(url, "/_fake/batches")
    assert again.complete and not (out / "failures.jsonl").read_text().strip()
    assert (out / "dataset.jsonl").read_text() == online
    assert stats["repeated_completed"] == 0, "only the failed lines were submitted again"
    assert batches["resubmitted_ids"] == batches["line_errors"] > 0


def evolve_cmd(seeds: Path, out: Path, url: str, poll: float, mode: str = "batch") -> list[str]:
    return [
        sys.executable, "-m", "mmevol.cli", "evolve", str(seeds), "--out", str(out),
        "--backend", "openai", "--model", "fake-mllm", "--base-url", url, "--rounds", "2",
        "--concurrency", "4", "--timeout", "5", "--mode", mode, "--batch-poll", str(poll),
    ]  # fmt: skip


def wait_for(cond: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("rerun_mode", "lose_batch_id"),
    [("batch", False), ("online", True)],
    ids=["rerun-batch", "rerun-online-id-lost"],
)
def test_sigkill_after_submit_then_rerun_collects_without_resubmitting(
    seeds: Path, port: int, online: str, tmp_path: Path, rerun_mode: str, lose_batch_id: bool
) -> None:
    out = tmp_path / "run"
    with running_server(server(port, delay_s=0.2)) as url:
        # the first run polls every 60 s: its batch completes on the server, uncollected
        proc = subprocess.Popen(evolve_cmd(seeds, out, url, 60.0), stdout=subprocess.DEVNULL)
        try:
            wait_for(
                lambda: journal(out, "SELECT batch_id FROM batches WHERE status='submitted'"),
                "a batch journalled as submitted",
            )
            wait_for(
                lambda: fake(url, "/_fake/batches")["by_status"].get("completed") == 1,
                "the batch to complete on the server",
            )
            assert proc.poll() is None, "the run finished before it could be killed"
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        paid = fake(url, "/_fake/stats")["completed"]
        assert paid > 0 and journal(out, "SELECT COUNT(*) FROM calls")[0][0] == 0
        if lose_batch_id:  # the journal as a kill between upload and the create's answer leaves it
            con = sqlite3.connect(out / "run.sqlite")
            con.execute("UPDATE batches SET batch_id=NULL, status='creating'")
            con.commit()
            con.close()
        again = subprocess.run(
            evolve_cmd(seeds, out, url, POLL, rerun_mode), capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        assert again.returncode == 0, again.stderr[-2000:]
        stats, batches = fake(url, "/_fake/stats"), fake(url, "/_fake/batches")
    assert batches["resubmitted_ids"] == 0 and stats["repeated_completed"] == 0, batches
    # an online re-run still waits for the open batch, then makes its later calls online
    assert (stats["received"] > 0) if rerun_mode == "online" else (stats["received"] == 0)
    assert journal(out, "SELECT COUNT(*) FROM calls")[0][0] == stats["completed"] > paid
    assert journal(out, "SELECT DISTINCT status FROM batches") == [("collected",)]
    assert (out / "dataset.jsonl").read_text() == online


def test_batch_mode_needs_a_batch_api(seeds: Path, tmp_path: Path) -> None:
    for backend in ("grounded", "fake"):
        res = CliRunner().invoke(
            app, ["evolve", str(seeds), "--out", str(tmp_path / backend), "--backend", backend,
                  "--mode", "batch"],
        )  # fmt: skip
        assert res.exit_code == 2
        assert f"--mode batch: backend '{backend}' has no batch API" in res.output
        assert not (tmp_path / backend).exists(), "nothing is written for a refused run"
    res = CliRunner().invoke(app, ["evolve", str(seeds), "--out", str(tmp_path / "m"),
                                   "--mode", "nightly"])  # fmt: skip
    assert res.exit_code == 2 and "--mode" in res.output


def test_estimate_shows_the_batch_price(seeds: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(
        app,
        ["evolve", str(seeds), "--out", str(tmp_path / "e"), "--backend", "openai",
         "--model", "gpt-4o-mini", "--mode", "batch", "--estimate"],
        )  # fmt: skip
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())  # the console wraps long lines
    found = re.search(r"\$([\d.]+) with --mode batch \(\$([\d.]+) online\)", text)
    assert found, text
    batch, online = float(found[1]), float(found[2])
    assert batch > 0 and abs(online - 2 * batch) <= 0.0002, text
    assert "batch prices are typically half" in text


def test_inputs_split_at_the_providers_limits(tmp_path: Path) -> None:
    lines = [RequestLine(custom_id=f"k{i}", body={"messages": ["x" * 50]}) for i in range(7)]
    size = len(lines[0].model_dump_json()) + 1
    by_count = write_inputs(lines, tmp_path, max_requests=3, max_bytes=10**6)
    assert [keys for _, keys in by_count] == [["k0", "k1", "k2"], ["k3", "k4", "k5"], ["k6"]]
    by_bytes = write_inputs(lines, tmp_path, max_requests=100, max_bytes=2 * size + 1)
    assert [len(keys) for _, keys in by_bytes] == [2, 2, 2, 1]
    for path, keys in by_bytes:
        assert [json.loads(x)["custom_id"] for x in path.read_text().splitlines()] == keys


def test_output_lines_map_to_the_online_failures() -> None:
    def line(status: int | None, code: str | None = None) -> OutputLine:
        return OutputLine.model_validate(
            {
                "custom_id": "abc",
                "response": None if status is None else {"status_code": status, "body": {}},
                "error": None if code is None else {"code": code, "message": "m"},
            }
        )

    assert line_error(line(200), "b") is None
    classes = {
        s: type(line_error(line(s), "b")).__name__ for s in (429, 500, 503, 400)
    }  # fmt: skip
    assert classes == {
        429: "RateLimited",
        500: "ServerError",
        503: "ServerError",
        400: "ClientError",
    }
    expired = line_error(line(None, "batch_expired"), "b")
    assert expired is not None and expired.error_class == "batch_incomplete"


def test_an_unusable_collected_reply_is_dropped_so_a_rerun_asks_again(tmp_path: Path) -> None:
    import asyncio

    from mmevol.backends.batch import BatchBackend
    from mmevol.backends.openai_compat import OpenAIBackend
    from mmevol.calls import BadResponse, ModelCall
    from mmevol.store import Store

    store = Store(tmp_path / "run.sqlite")
    inner = OpenAIBackend(model="m", base_url="http://127.0.0.1:9/v1", api_key_env="NO_SUCH_KEY")
    backend = BatchBackend(inner, store, tmp_path / "batches", "batch")
    call = ModelCall(
        task="evolve", template="t", template_version="t@1", context={},
        messages=[{"role": "user", "content": "hi"}],
    )  # fmt: skip
    key = call.cache_key(backend.identity())
    refusal = {"choices": [{"message": {"content": None, "refusal": "no"}}]}
    store.add_batch("b1", "file-1", [key])
    store.collect_batch("b1", "completed", {key: json.dumps(refusal)})

    async def ask() -> None:
        try:
            await backend.complete(call)
        finally:
            await asyncio.sleep(0)  # let the collector task start before it is closed
            await backend.aclose()

    with pytest.raises(BadResponse, match="no text content"):
        asyncio.run(ask())
    assert store.batch_result(key) is None  # not served again: the re-run submits it anew
    store.close()


def test_batches_step_down_from_a_refused_structured_mode(
    seeds: Path, port: int, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    cfg = server(port)
    cfg = cfg.model_copy(update={"response_formats": ["json_object"]})  # no json_schema
    with running_server(cfg) as url:
        result = run_evolve(config(seeds, out, url, "batch"))
        stats, batches = fake(url, "/_fake/stats"), fake(url, "/_fake/batches")
    assert result.complete, result.stats["failures"]
    assert stats["received"] == 0, "no call may bypass the batches"
    # the first batch was refused line by line for json_schema; every later line used json_object
    assert batches["resubmitted_ids"] > 0 and stats["response_formats"] == {
        "json_object": stats["completed"]
    }


def test_hybrid_never_pays_online_for_a_batch_whose_output_it_cannot_read(
    seeds: Path, port: int, online: str, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    # the first run's 4 tries to download the output fail: its outcome is unknown to it
    with running_server(server(port, output_failures=4)) as url:
        cfg = config(seeds, out, url, "hybrid", max_error_rate=1.0)
        first = run_evolve(cfg)
        stats = fake(url, "/_fake/stats")
        assert not first.complete and stats["received"] == 0, "nothing may be asked online"
        failures = [json.loads(x) for x in (out / "failures.jsonl").read_text().splitlines()]
        assert {f["error_class"] for f in failures} == {"batch_undelivered"}
        again = run_evolve(cfg)  # follows the open batch, downloads it, goes on
        stats, batches = fake(url, "/_fake/stats"), fake(url, "/_fake/batches")
    assert again.complete, again.stats["failures"]
    assert (out / "dataset.jsonl").read_text() == online
    assert stats["repeated_completed"] == 0 and batches["resubmitted_ids"] == 0


def test_a_creation_whose_answer_was_lost_is_found_later_not_paid_twice(
    seeds: Path, port: int, online: str, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    # the first batch is created but its answer is lost, and the listing lags by 2 s: the run
    # cannot confirm it, so it must neither abandon it nor ask its calls online
    with running_server(server(port, create_lost=1, listing_lag_s=2.0)) as url:
        cfg = config(seeds, out, url, "hybrid", max_error_rate=1.0)
        first = run_evolve(cfg)
        assert not first.complete and fake(url, "/_fake/stats")["received"] == 0
        failures = [json.loads(x) for x in (out / "failures.jsonl").read_text().splitlines()]
        assert {f["error_class"] for f in failures} == {"batch_undelivered"}
        time.sleep(2.5)  # the listing catches up
        again = run_evolve(cfg)
        stats, batches = fake(url, "/_fake/stats"), fake(url, "/_fake/batches")
    assert again.complete, again.stats["failures"]
    assert (out / "dataset.jsonl").read_text() == online
    assert batches["resubmitted_ids"] == 0 and stats["repeated_completed"] == 0


def test_max_cost_in_batch_mode_submits_only_what_the_budget_covers(
    seeds: Path, port: int, tmp_path: Path
) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"fake-mllm": {"input": 100.0, "output": 400.0}}))
    out = tmp_path / "run"
    with running_server(server(port)) as url:
        probe = batch_backend_for(url, prices)
        one = probe.cost_estimate(first_evolve_call(seeds))  # batch price of one call
        cfg = config(seeds, out, url, "batch", max_cost=3.5 * one, prices_file=str(prices))
        result = run_evolve(cfg)
        batches = fake(url, "/_fake/batches")
    assert result.stop_reason and "budget" in result.stop_reason
    # all ten round-1 evolve calls would have gone into the first batch (and their ten judge
    # calls into the next); running calls are reserved, so only what the budget covers went
    calls = result.stats["calls"]
    assert 1 <= calls["by_task"]["evolve"]["calls"] <= 3 and batches["lines"] <= 6, batches
    assert calls["cost_usd"] <= 3.5 * one


def batch_backend_for(url: str, prices: Path) -> Any:
    from mmevol.backends.batch import BatchBackend
    from mmevol.backends.openai_compat import OpenAIBackend
    from mmevol.store import Store

    inner = OpenAIBackend(model="fake-mllm", base_url=url, prices=str(prices))
    return BatchBackend(inner, Store(Path(":memory:")), Path("/nonexistent"), "batch")


def first_evolve_call(seeds: Path) -> Any:
    from mmevol.evolve.calls import evolve_call
    from mmevol.seeds import read_seeds

    seed = next(iter(read_seeds(seeds)))
    return evolve_call(seed, seed.items, "perception", 1, temperature=1.0, max_tokens=2048)


def test_batches_whose_calls_were_answered_online_are_closed(tmp_path: Path) -> None:
    """A hybrid cut-off sends a batch's calls online; once each has its reply the batch brings
    nothing more: it is closed, so the run is complete and a later run need not follow it."""
    from mmevol.calls import Message, ModelCall, Reply
    from mmevol.store import Store

    store = Store(tmp_path / "run.sqlite")
    call = ModelCall(task="evolve", template="t", template_version="t@1",
                     messages=[Message(role="user", content="q")], context={})  # fmt: skip
    store.add_batch("answered", "file-1", ["k1", "k2"])
    store.add_batch("pending", "file-2", ["k3", "k4"])
    for key in ("k1", "k2", "k3"):
        store.put_call(key, "unit", "openai", call, Reply(text="{}", model="m"))
    assert store.settle_answered_batches() == 1
    assert [b["id"] for b in store.open_batches()] == ["pending"]  # k4 has no reply yet
    store.close()
