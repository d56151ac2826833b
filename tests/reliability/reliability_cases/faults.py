"""Every fault the fake server can inject, at several rates, through ``mmevol evolve``.

A case passes when the run completes, or stops cleanly (exit 3 at the error threshold, exit 1
with failed units) with a message saying to re-run; every open failure is a typed record that
``mmevol stats --json`` lists and ``failures.jsonl`` holds; and a re-run against the same
server with its faults switched off completes with the same dataset as a fault-free run, with
no completed request answered twice.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from mmevol.calls import CallError
from mmevol.testing.server import FAULT_KINDS
from reliability_cases.common import (
    CategoryReport,
    compare_runs,
    evolve_argv,
    fake_server,
    free_port,
    leftover_temps,
    run_cli,
    run_env,
    server_post,
    server_stats,
)

BASE = {"latency": (0.0, 0.01), "seed": 3, "bad_rate": 0.2, "broken_json_rate": 0.0}
FAULTY = {"retry_after_s": 0.05, "timeout_sleep_s": 3.0, "drip_s": 0.2}


def _typed_classes() -> set[str]:
    found: set[str] = set()
    todo: list[type[CallError]] = [CallError]
    while todo:
        cls = todo.pop()
        found.add(cls.error_class)
        todo.extend(cls.__subclasses__())
    return found


def _stats_json(run_dir: Path) -> dict[str, Any]:
    proc = run_cli([sys.executable, "-m", "mmevol.cli", "stats", str(run_dir), "--json"], run_env())
    if proc.returncode != 0:
        raise RuntimeError(f"mmevol stats failed: {proc.stderr[-300:]}")
    return dict(json.loads(proc.stdout))


def check_stop(rc: int, stderr: str) -> str | None:
    """Why an exit code and message are not a clean stop or a success, or None."""
    flat = " ".join(stderr.split())
    if "Traceback" in stderr:
        return f"traceback (exit {rc})"
    if rc == 0:
        return None
    if rc in (1, 3) and "re-run the same command" in flat:
        return None
    return f"exit {rc} without a re-run message: {flat[-200:]!r}"


def one_case(
    seeds: Path, root: Path, port: int, clean: Path, kind: str, rate: float, rounds: int
) -> tuple[bool, str | None, dict[str, Any]]:
    out = root / f"{kind}-{rate}"
    argv = evolve_argv(seeds, out, "", rounds=rounds)
    info: dict[str, Any] = {"kind": kind, "rate": rate}
    problems: list[str] = []
    settings = {**BASE, **FAULTY, "faults": [kind], "fault_rate": rate}
    with fake_server(port, **settings) as url:
        argv[argv.index("--base-url") + 1] = url
        first = run_cli(argv, run_env())
        info["exit"] = first.returncode
        if (why := check_stop(first.returncode, first.stderr)) is not None:
            problems.append(why)
        stats = _stats_json(out)
        opened = stats.get("open_failures", [])
        info["open_failures"] = len(opened)
        info["failure_classes"] = sorted({f["error_class"] for f in opened})
        untyped = [f for f in opened if f["error_class"] not in _typed_classes()]
        if untyped:
            problems.append(f"untyped failure records: {untyped[:2]}")
        listed = (out / "failures.jsonl").read_text("utf-8").splitlines()
        if len(listed) != stats["failures"]["open"] or len(opened) != min(50, len(listed)):
            problems.append("failures.jsonl and mmevol stats disagree")
        if first.returncode == 0 and opened:
            problems.append("exit 0 with open failures")
        server_post(url, "faults?rate=0")
        again = run_cli(argv, run_env())
        info["rerun_exit"] = again.returncode
        if again.returncode != 0:
            problems.append(
                f"re-run without faults: exit {again.returncode}: {again.stderr[-200:]!r}"
            )
        served = server_stats(url)
        info["faults_injected"] = sum(served["faults"].values())
        info["repeated_completed"] = served["repeated_completed"]
    lost, dup, differ = compare_runs(clean, out, rounds)
    info.update(lost=lost, duplicated=dup)
    if differ:
        problems.append(f"differs from the fault-free run: {differ}")
    if temps := leftover_temps(out):
        problems.append(f"temp files left: {temps}")
    return not problems, "; ".join(problems) or None, info


def faults_category(
    seeds: Path,
    root: Path,
    *,
    rates: tuple[float, ...] = (0.05, 0.2, 0.5),
    kinds: tuple[str, ...] = FAULT_KINDS,
    rounds: int = 3,
) -> CategoryReport:
    t0 = time.monotonic()
    report = CategoryReport("faults (injected)")
    port = free_port()
    clean = root / "clean"
    with fake_server(port, **BASE) as url:
        argv = evolve_argv(seeds, clean, url, rounds=rounds)
        proc = run_cli(argv, run_env())
        if proc.returncode != 0:
            raise RuntimeError(f"the fault-free run failed: {proc.stderr[-1000:]}")
    cases = []
    for rate in rates:
        for kind in kinds:
            ok, problem, info = one_case(seeds, root, port, clean, kind, rate, rounds)
            report.case(ok, f"{kind} @ {rate:.0%}: {problem}" if problem else None)
            report.lost += info["lost"]
            report.duplicated += info["duplicated"]
            report.repeated_paid += info["repeated_completed"]
            cases.append(info)
    report.notes = {
        "cases": cases,
        "stopped_at_threshold": sum(c["exit"] == 3 for c in cases),
        "ended_with_failed_units": sum(c["exit"] == 1 for c in cases),
        "completed_first_time": sum(c["exit"] == 0 for c in cases),
        "faults_injected": sum(c["faults_injected"] for c in cases),
    }
    report.seconds = round(time.monotonic() - t0, 1)
    return report
