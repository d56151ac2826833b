"""ABS vs uniform generation at equal data budget in the offline world, over several seeds.

For each seed both strategies run the same loop (same splits, same base data, same budget per
round, same training settings); only how the budget is spread over question types and which
images are queried differ. Reported on the held-out split only: the mean accuracy over types
after the last round, and the accuracy on the weakest type, where "weakest" is chosen on the
dev split after round 0 (identical for both strategies, since round 0 trains on the base data
only). Nothing is tuned on the held-out split.

Arms: ``uniform``; ``abs`` (the paper's ABS, weights linear in the dev error rate); ``abs_gain``
(ours: weights proportional to what half of the training data did for each type on dev, see
``loop.abs``; it costs one extra probe training per round).

    python benchmarks/abs_vs_uniform.py [--seeds 0 1 2] [--rounds 3] [--budget 600] [--quick]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from mmevol.loop.run import LoopConfig, run_loop
from mmevol.world.questions import QTYPES

RESULTS = Path(__file__).parent / "results"
ARMS: dict[str, tuple[str, str]] = {  # arm -> (strategy, weighting)
    "uniform": ("uniform", "linear"),
    "abs": ("abs", "linear"),
    "abs_gain": ("abs", "gain"),
}


def _final(history: list[dict], split: str) -> dict:
    return history[-1][split]


def one_run(job: tuple[int, str, argparse.Namespace]) -> dict:
    """One loop run; the weakest type is read from round 0's dev accuracies."""
    seed, arm, args = job
    strategy, weighting = ARMS[arm]
    cfg = LoopConfig.model_validate(
        {"rounds": args.rounds, "strategy": strategy, "budget": args.budget, "seed": seed,
         "weighting": weighting, "n_train": args.n_train, "train": {"epochs": args.epochs}}
    )  # fmt: skip
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        hist = run_loop(cfg, Path(tmp) / f"{arm}-{seed}")
    dev0 = hist[0]["dev"]["per_type"]
    weakest = min(QTYPES, key=lambda q: (dev0[q], QTYPES.index(q)))
    held = _final(hist, "heldout")
    return {
        "seed": seed, "strategy": arm, "weakest_on_dev": weakest,
        "heldout_mean": held["macro"], "heldout_weakest": held["per_type"][weakest],
        "heldout_round0_mean": hist[0]["heldout"]["macro"],
        "heldout_round0_weakest": hist[0]["heldout"]["per_type"][weakest],
        "heldout_per_round_mean": [h["heldout"]["macro"] for h in hist],
        "heldout_final_per_type": held["per_type"],
        "heldout_final_existence_variants": held["existence_variants"],
        "quotas": [h.get("quotas") for h in hist],
        "seconds": round(time.perf_counter() - t, 1),
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--budget", type=int, default=600)
    ap.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--n-train", type=int, default=300, help="base training scenes")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=2, help="runs in parallel (1 thread each)")
    ap.add_argument("--quick", action="store_true", help="tiny smoke-test setting")
    args = ap.parse_args()
    if args.quick:
        args.seeds, args.rounds, args.budget, args.n_train, args.epochs = [0], 1, 40, 20, 1
    stem = "abs_vs_uniform.quick" if args.quick else "abs_vs_uniform"
    jobs = [(seed, arm, args) for seed in args.seeds for arm in args.arms]
    t0 = time.perf_counter()
    # each job: 1 torch thread, in a fresh process, so that its numbers are exactly those of
    # `mmevol loop` with the same settings (a reused worker drifted in the last digits)
    with ProcessPoolExecutor(max_workers=args.jobs, max_tasks_per_child=1) as pool:
        runs = list(pool.map(one_run, jobs))
    for r in runs:
        print(json.dumps({k: v for k, v in r.items() if k != "quotas"}), flush=True)

    def agg(strategy: str, key: str) -> dict[str, float]:
        xs = [100 * r[key] for r in runs if r["strategy"] == strategy]
        return {"mean": round(statistics.mean(xs), 2),
                "sd": round(statistics.stdev(xs), 2) if len(xs) > 1 else 0.0}  # fmt: skip

    summary = {s: {k: agg(s, k) for k in ("heldout_mean", "heldout_weakest")} for s in args.arms}  # fmt: skip
    base = {r["seed"]: r for r in runs if r["strategy"] == "uniform"}
    diffs = {
        arm: {
            k: [round(100 * (r[k] - base[r["seed"]][k]), 2) for r in runs if r["strategy"] == arm]
            for k in ("heldout_mean", "heldout_weakest")
        }
        for arm in args.arms
        if arm != "uniform" and base
    }
    result = {
        "command": "python " + " ".join(sys.argv),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
            "torch_threads_per_run": 1,
            "parallel_runs": args.jobs,
        },
        "config": LoopConfig.model_validate(
            {
                "rounds": args.rounds,
                "budget": args.budget,
                "n_train": args.n_train,
                "train": {"epochs": args.epochs},
            }
        ).model_dump(),
        "seconds": round(time.perf_counter() - t0, 1),
        "summary_percent": summary,
        "arms": {
            arm: dict(zip(("strategy", "weighting"), ARMS[arm], strict=True)) for arm in args.arms
        },
        "minus_uniform_per_seed_points": diffs,
        "runs": runs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    lines = [
        "# ABS vs uniform at equal data budget (offline world, tiny VLM)",
        "",
        f"Command: `{result['command']}`  ",
        f"Date: {result['date']}  ",
        f"Machine: {result['machine']['platform']}, {result['machine']['cpus']} CPUs, torch "
        f"{result['machine']['torch']} (1 thread per run, {args.jobs} runs in parallel); total {result['seconds']} s.",
        "",
        f"{args.rounds} rounds of {args.budget} generated questions; held-out accuracy (%) after the "
        "last round, mean ± sd over seeds "
        + ", ".join(map(str, args.seeds))
        + ". The weakest type "
        "is chosen on the dev split after round 0.",
        "",
        "| arm | mean over types | weakest type |",
        "| --- | --- | --- |",
    ]
    for s in args.arms:
        m, w = summary[s]["heldout_mean"], summary[s]["heldout_weakest"]
        lines.append(f"| {s} | {m['mean']:.1f} ± {m['sd']:.1f} | {w['mean']:.1f} ± {w['sd']:.1f} |")
    lines.append("")
    for arm, d in diffs.items():
        lines.append(
            f"{arm} − uniform per seed (points): mean over types {d['heldout_mean']}, "
            f"weakest type {d['heldout_weakest']}.  "
        )
    lines += [
        "",
        "| seed | arm | weakest (dev) | round 0 mean | final mean | round 0 weakest | final weakest |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in runs:
        lines.append(
            f"| {r['seed']} | {r['strategy']} | {r['weakest_on_dev']} | "
            f"{100 * r['heldout_round0_mean']:.1f} | {100 * r['heldout_mean']:.1f} | "
            f"{100 * r['heldout_round0_weakest']:.1f} | {100 * r['heldout_weakest']:.1f} |"
        )
    (args.out / f"{stem}.md").write_text("\n".join(lines) + "\n", "utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
