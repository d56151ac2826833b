"""Elimination quality against known truth, and the demo's wall time.

Runs 3-round ``evolve --backend openai`` over real HTTP against the fake server (faults on) for a
grid of bad-evolution rates and judge error rates, then scores every candidate against the
fake's ledger: the share of deliberately bad evolutions rejected and of good ones kept.
Also times ``mmevol demo``. Writes ``benchmarks/results/elimination.{json,md}``.

    .venv/bin/python benchmarks/elimination.py [--scenes 40]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from mmevol.backends.fake import elimination_outcome
from mmevol.backends.fakeserver import FakeServerConfig, running_server
from mmevol.demo import run_demo
from mmevol.evolve.config import EvolveConfig
from mmevol.evolve.run import run_evolve
from mmevol.loop.world import write_demo_set
from mmevol.seeds import write_seeds

RESULTS = Path(__file__).parent / "results"
GRID = [(bad, jerr) for bad in (0.1, 0.25, 0.4) for jerr in (0.0, 0.05, 0.1)]


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


def one_cell(seeds: Path, root: Path, bad: float, jerr: float) -> dict[str, Any]:
    server = FakeServerConfig(
        port=0, fault_rate=0.1, retry_after_s=0.1, timeout_sleep_s=3, drip_s=0.2,
        bad_rate=bad, judge_error_rate=jerr, seed=1,
    )  # fmt: skip
    os.environ["MMEVOL_BENCH_KEY"] = "sk-bench"
    with running_server(server) as url:
        out = root / f"run-{bad}-{jerr}"
        started = time.perf_counter()
        result = run_evolve(
            EvolveConfig(
                seeds=str(seeds), out=str(out), backend="openai", model="fake-mllm",
                base_url=url, api_key_env="MMEVOL_BENCH_KEY", timeout_s=1.5, progress=False,
            )
        )  # fmt: skip
        took = time.perf_counter() - started
        stats = httpx.get(url.rsplit("/v1", 1)[0] + "/_fake/stats").json()
    samples = [
        json.loads(line)
        for k in (1, 2, 3)
        for line in (out / "rounds" / f"round_{k}.jsonl").read_text().splitlines()
    ]
    score = elimination_outcome(samples, stats["ledger"]["items"])
    return {
        "bad_rate": bad,
        "judge_error_rate": jerr,
        "complete": result.complete,
        "seconds": round(took, 2),
        "faults_injected": sum(stats["faults"].values()),
        **score,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        seeds = root / "seeds.jsonl"
        write_seeds(write_demo_set(root / "scenes", n=args.scenes, seed=21), seeds)
        cells = [one_cell(seeds, root, bad, jerr) for bad, jerr in GRID]
        started = time.perf_counter()
        run_demo(root / "demo", scenes=24)
        demo_s = time.perf_counter() - started
    report = {
        "command": "python benchmarks/elimination.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "scenes": args.scenes,
        "demo_seconds": round(demo_s, 2),
        "cells": cells,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "elimination.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# Elimination against the fake model's ledger",
        "",
        f"`{report['command']}` on {report['machine']['platform']},"
        f" {report['machine']['cpus']} CPUs, Python {report['machine']['python']}.",
        f"{args.scenes} scenes, 3 rounds, 10 % of requests faulted; demo took {demo_s:.1f} s.",
        "",
        "| bad rate | judge error rate | bad evolutions | rejected | good judged | kept | good near-duplicates |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in cells:
        lines.append(
            f"| {c['bad_rate']} | {c['judge_error_rate']} | {c['bad']} | {c['bad_rejected']:.1%}"
            f" | {c['good_judged']} | {c['good_kept']:.1%} | {c['counts'].get('good_duplicate', 0)} |"
        )
    (RESULTS / "elimination.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
