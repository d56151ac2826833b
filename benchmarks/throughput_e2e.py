"""End to end at a realistic provider's limits: ``mmevol evolve`` (evolve + judge + store) as a
user runs it, against the fake server's provider mode in its own process.

The server (``mmevol fake-server --provider-*``) enforces continuously refilled request and
token buckets of 1 s, answers 429 with an integer ``Retry-After`` and OpenAI's
``x-ratelimit-*`` headers, charges text/4 + ``--image-tokens`` per image + ``max_tokens`` at
arrival (never refunded), and has a lognormal latency. Scenarios:

* ``rpm_told_wrong``: the server allows ``--rpm`` requests/min; the client is told twice that;
* ``tpm_binds_first``: the server's tokens/min binds before its requests/min, and the client
  is told neither;
* each again (``*_no_headers``) from a server that sends no ``x-ratelimit-*`` headers: the
  limit is then only in the 429's message.

Per run, on the server's clock: the enforced limit's use (accepted requests or charged tokens
per minute between the first arrival and the last completion, over the limit), requests sent
per request needed (every arrival / the run's completed calls), 429s, the run's exit code and
whether it finished. Three interleaved repetitions; the machine's load is recorded. Writes
``benchmarks/results/throughput_e2e.{json,md}``.

    .venv/bin/python benchmarks/throughput_e2e.py [--reps 3] [--images 50] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
SHARED = ROOT.parent / "shared" / "data" / "tiny_coco"
KEY_ENV = "MMEVOL_BENCH_KEY"


def build_seeds(out: Path, n_images: int) -> Path:
    from mmevol.seeds import SourceSpec, build_from_specs

    ann = SHARED / "annotations"
    specs = SourceSpec.from_cli(
        coco_captions=[ann / "captions_train2017.json"],
        coco_instances=[ann / "instances_train2017.json"],
        images=[SHARED / "train2017"],
    )
    full = out / "all.jsonl"
    build_from_specs(specs, full)
    lines = full.read_text().splitlines()[:n_images]
    path = out / "seeds.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(args: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [sys.executable, "-m", "mmevol.cli", "fake-server", "--port", str(port), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(f"{root}/_fake/stats", timeout=1)
            return proc, root
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("fake server did not start")


SCENARIOS: dict[str, dict[str, Any]] = {
    "rpm_told_wrong": {
        "server": ["--provider-rpm", "120", "--provider-tpm", "100000000"],
        "client": ["--rpm", "240"],
        "binding": ("requests", 120),
    },
    "tpm_binds_first": {
        "server": ["--provider-rpm", "600", "--provider-tpm", "240000"],
        "client": [],
        "binding": ("tokens", 240000),
    },
}
for _name in list(SCENARIOS):  # the same limits from a server that sends no x-ratelimit-* headers
    SCENARIOS[f"{_name}_no_headers"] = SCENARIOS[_name] | {
        "server": [*SCENARIOS[_name]["server"], "--no-ratelimit-headers"]
    }
LATENCY = ["--latency-median", "0.3", "--latency-p99", "1.2"]


def one_run(name: str, seeds: Path, work: Path, rounds: int, rep: int) -> dict[str, Any]:
    sc = SCENARIOS[name]
    proc, root = start_server([*sc["server"], *LATENCY, "--seed", str(rep)])
    out = work / f"{name}-{rep}"
    try:
        cmd = [sys.executable, "-m", "mmevol.cli", "evolve", str(seeds), "--out", str(out),
               "--backend", "openai", "--model", "fake-mllm", "--base-url", f"{root}/v1",
               "--api-key-env", KEY_ENV, "--rounds", str(rounds), "--concurrency", "16",
               "--seed", str(rep), *sc["client"]]  # fmt: skip
        load = os.getloadavg()[0]
        t0 = time.monotonic()
        res = subprocess.run(cmd, capture_output=True, text=True,
                             env={**os.environ, KEY_ENV: "sk-bench"})  # fmt: skip
        wall = time.monotonic() - t0
        lim = httpx.get(f"{root}/_fake/stats", timeout=5).json()["limits"]
    finally:
        proc.terminate()
        proc.wait(10)
    kind, limit = sc["binding"]
    span = lim["span_s"] or float("nan")
    completed = lim["completed"]
    accepted = lim["received"] - sum(lim["rejected_429"].values())
    use = (accepted if kind == "requests" else lim["tokens_charged"]) * 60 / span / limit
    stats = json.loads((out / "stats.json").read_text()) if (out / "stats.json").exists() else {}
    return {
        "scenario": name,
        "rep": rep,
        "exit_code": res.returncode,
        "complete": bool(stats.get("complete")),
        "failures_open": stats.get("failures", {}).get("open"),
        "completed": completed,
        "received": lim["received"],
        "rejected_429": lim["rejected_429"],
        "server_errors": lim["server_errors"],
        "span_s": round(span, 2),
        "wall_s": round(wall, 2),
        "limit_use": round(use, 3),
        "sent_per_needed": round(lim["received"] / max(1, completed), 3),
        "load_1min_before": round(load, 2),
        "stderr_tail": res.stderr[-400:] if res.returncode else "",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--images", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--tag", default="")
    a = ap.parse_args()
    names = a.scenarios.split(",")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        seeds = build_seeds(Path(tmp), a.images)
        for rep in range(a.reps):  # interleaved: each repetition runs every scenario
            for name in names:
                r = one_run(name, seeds, Path(tmp), a.rounds, rep)
                print(json.dumps(r), flush=True)
                runs.append(r)
    summary = {
        name: {
            "limit_use_median": median(r["limit_use"] for r in runs if r["scenario"] == name),
            "sent_per_needed_median": median(
                r["sent_per_needed"] for r in runs if r["scenario"] == name
            ),
            "all_complete": all(r["complete"] for r in runs if r["scenario"] == name),
        }
        for name in names
    }
    doc = {
        "command": " ".join(["python", "benchmarks/throughput_e2e.py", *sys.argv[1:]]),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "scenarios": {n: SCENARIOS[n] | {"latency": LATENCY} for n in names},
        "images": a.images,
        "rounds": a.rounds,
        "summary": summary,
        "runs": runs,
    }
    RESULTS.mkdir(exist_ok=True)
    stem = f"throughput_e2e{a.tag}"
    (RESULTS / f"{stem}.json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = [f"# End-to-end throughput at a provider's limits\n\n`{doc['command']}` on "
             f"{doc['machine']['platform']}, {doc['machine']['cpus']} CPUs\n",
             "| scenario | limit use (median) | sent per needed (median) | all finished |",
             "|---|---|---|---|"]  # fmt: skip
    for n, s in summary.items():
        lines.append(f"| {n} | {s['limit_use_median']:.3f} | {s['sent_per_needed_median']:.3f} "
                     f"| {s['all_complete']} |")  # fmt: skip
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
