"""Engine overhead and memory: time per sample outside the model, peak RSS, restart time.

Each size runs in a fresh child process: 3 rounds of ``evolve`` with the grounded backend over
seeds that hold ``--sizes`` seed samples in all (rendered scenes, replicated under new ids and
digests so no image is rendered twice). The child times every backend call, so

    overhead per sample = (wall time - time inside the backend) / samples processed

where samples processed = seed samples + every candidate of every round. Peak RSS is the
child's own ``ru_maxrss``. The restart row kills the largest run half-way (SIGKILL) and times a
re-run until its first new model call, and to the end. Writes
``benchmarks/results/engine_overhead.{json,md}``.

    .venv/bin/python benchmarks/engine_overhead.py [--sizes 10000 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from mmevol.grounded.backend import GroundedBackend
from mmevol.evolve.config import EvolveConfig
from mmevol.evolve.run import run_evolve

inside = [0.0, 0]
first = [None]
started = time.perf_counter()
original = GroundedBackend.complete

async def timed(self, call):
    t = time.perf_counter()
    if first[0] is None:
        first[0] = t - started
    try:
        return await original(self, call)
    finally:
        inside[0] += time.perf_counter() - t
        inside[1] += 1

GroundedBackend.complete = timed
seeds, out = sys.argv[1], sys.argv[2]
result = run_evolve(EvolveConfig(seeds=seeds, out=out, rounds=3, progress=False))
wall = time.perf_counter() - started
cands = sum(r["candidates"] for r in result.stats["rounds"])
print(json.dumps({"wall_s": wall, "backend_s": inside[0], "calls": inside[1],
                  "first_call_s": first[0], "seed_samples": result.stats["seed_items"],
                  "candidates": cands, "complete": result.complete,
                  "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""


def make_seeds(path: Path, samples: int, scenes_dir: Path) -> int:
    """A seeds file with at least ``samples`` seed items, from 200 rendered scenes."""
    from mmevol.world.scenes import write_demo_set

    base = write_demo_set(scenes_dir, n=200, seed=5)
    n, i = 0, 0
    with path.open("w") as fh:
        while n < samples:
            seed = base[i % len(base)]
            copy = seed.model_copy(deep=True)
            copy.id = f"{seed.id}-{i}"
            copy.image.digest = f"sha256:{i:064x}"
            fh.write(copy.model_dump_json(exclude_none=True) + "\n")
            n += len(copy.items)
            i += 1
    return n


def run_child(seeds: Path, out: Path, *, kill_after: float | None = None) -> dict[str, Any]:
    cmd = [sys.executable, "-c", CHILD, str(seeds), str(out)]
    if kill_after is not None:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        time.sleep(kill_after)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return {}
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    info: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for size in sorted(args.sizes):
            seeds = root / f"seeds-{size}.jsonl"
            make_seeds(seeds, size, root / "scenes")
            info = run_child(seeds, root / f"run-{size}")
            processed = info["seed_samples"] + info["candidates"]
            info["size"] = size
            info["overhead_ms_per_sample"] = round(
                1000 * (info["wall_s"] - info["backend_s"]) / processed, 3
            )
            rows.append(info)
            print(json.dumps(info))
        biggest = max(args.sizes)
        seeds = root / f"seeds-{biggest}.jsonl"
        full = next(r for r in rows if r["size"] == biggest)["wall_s"]
        run_child(seeds, root / "killed", kill_after=full / 2)
        resumed = run_child(seeds, root / "killed")
    restart = {
        "size": biggest,
        "killed_after_s": round(full / 2, 1),
        "first_new_call_s": round(resumed["first_call_s"] or 0.0, 2),
        "rerun_wall_s": round(resumed["wall_s"], 1),
        "uninterrupted_wall_s": round(full, 1),
    }
    report = {
        "command": "python benchmarks/engine_overhead.py " + " ".join(sys.argv[1:]),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "runs": rows,
        "restart": restart,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "engine_overhead.json").write_text(json.dumps(report, indent=2) + "\n")
    m = report["machine"]
    lines = [
        "# Engine overhead and memory (grounded backend, 3 rounds)",
        "",
        f"`{report['command']}` on {m['platform']}, {m['cpus']} CPUs, Python {m['python']}.",
        "",
        "| seed samples | processed | wall s | in backend s | overhead ms / sample | peak RSS MiB |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['seed_samples']} | {r['seed_samples'] + r['candidates']} | {r['wall_s']:.1f}"
            f" | {r['backend_s']:.1f} | {r['overhead_ms_per_sample']} | {r['peak_rss_mib']} |"
        )
    lines += [
        "",
        f"Restart: the {restart['size']}-sample run killed after {restart['killed_after_s']} s;"
        f" the re-run made its first new call after {restart['first_new_call_s']} s and finished"
        f" in {restart['rerun_wall_s']} s (uninterrupted: {restart['uninterrupted_wall_s']} s).",
    ]
    (RESULTS / "engine_overhead.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
