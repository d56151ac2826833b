"""ABS in a data-starved world: learning curve per type, then ABS vs uniform at equal budget.

The ``starved`` world (``mmevol loop --world starved``, ``loop.splits.WORLDS``) asks only the
question types the tiny VLM learns from data, and its base training set is skewed: two types
are carried by 10 % of the base scenes only. Two parts:

``curve``: dev accuracy per type vs the number of training questions of that type, with every
type at full share (``n`` scenes give about ``n`` questions of each type, ``2n`` existence), one
seed; a type whose accuracy rises with data is learnable. Only the dev split is scored.

``compare``: for each seed, the same loop (same splits, base data, budget, training settings)
with four arms: ``uniform``; ``abs_linear`` and ``abs_sqrt`` (the paper's ABS, weights linear
in / square root of the dev error rate); ``abs_gain`` (ours, weights from what half the data did
for each type on dev). Held-out accuracy after the last round: the mean over types, the mean
over the starved types, per-type accuracy, and per seed the difference to uniform with a paired
t-test and a two-sided sign test over seeds (computed here, no scipy).

    python benchmarks/starved_world.py curve [--sizes 50 200 800] [--quick]
    python benchmarks/starved_world.py compare [--seeds 0 1 2 3 4] [--rounds 2] [--budget 300]
        [--n-train 300] [--epochs 8] [--jobs 2] [--quick]
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from mmevol.loop.evaluate import evaluate
from mmevol.loop.run import LoopConfig, run_loop
from mmevol.loop.splits import ImageCache, build_splits, world_named
from mmevol.loop.train import TrainConfig, train_model

RESULTS = Path(__file__).parent / "results"
ARMS: dict[str, tuple[str, str]] = {  # arm -> (strategy, weighting)
    "uniform": ("uniform", "linear"),
    "abs_linear": ("abs", "linear"),
    "abs_sqrt": ("abs", "sqrt"),
    "abs_gain": ("abs", "gain"),
}


def machine(jobs: int) -> dict[str, object]:
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "torch": torch.__version__, "torch_threads_per_run": 1,
            "parallel_runs": jobs}  # fmt: skip


def stamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


# ---------------------------------------------------------------- learning curve


def curve(sizes: list[int], seed: int, epochs: int, n_dev: int) -> list[dict]:
    """Dev accuracy per type of the starved world's types, every type at full share."""
    world = world_named("starved").model_copy(update={"base_share": {}})
    rows = []
    for n in sizes:
        splits, _, _ = build_splits(seed, n, n_dev, 1, world=world)
        cache = ImageCache(64)
        for split in splits.values():
            cache.add(split.scenes)
        qs = splits["train"].questions
        trained = train_model(qs, cache, TrainConfig(epochs=epochs), seed)
        dev = evaluate(trained, splits["dev"].questions, cache)
        rows.append({"scenes": n, "questions_per_type": {t: sum(q.qtype == t for q in qs) for t in world.types},
                     "dev_per_type": dev.per_type, "dev_mean": dev.macro,
                     "seconds": trained.log["seconds"]})  # fmt: skip
    return rows


def run_curve(a: argparse.Namespace) -> None:
    if a.quick:
        a.sizes, a.epochs, a.n_dev = [10, 20], 1, 20
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    rows = curve(a.sizes, a.seed, a.epochs, a.n_dev)
    types = world_named("starved").types
    res = {"command": "python " + " ".join(sys.argv), "date": stamp(), "machine": machine(1),
           "epochs": a.epochs, "n_dev": a.n_dev, "seconds": round(time.perf_counter() - t0, 1),
           "rows": rows}  # fmt: skip
    head = ["training scenes", *(f"{t} (n)" for t in types), "mean"]
    lines = ["# Learning curve in the starved world's types (dev accuracy %, one seed)", "",
             f"Command: `{res['command']}`  ", f"Date: {res['date']}  ",
             f"Machine: {res['machine']['platform']}, {res['machine']['cpus']} CPUs, torch "
             f"{torch.__version__}, 1 thread; {a.epochs} epochs; total {res['seconds']} s.", "",
             "Every type at full share; cell: accuracy (training questions of that type).", "",
             "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]  # fmt: skip
    for r in rows:
        cells = [f"{100 * r['dev_per_type'].get(t, 0):.1f} ({r['questions_per_type'][t]})" for t in types]  # fmt: skip
        lines.append(f"| {r['scenes']} | " + " | ".join(cells) + f" | {100 * r['dev_mean']:.1f} |")
    write(a.out, "starved_curve" + (".quick" if a.quick else ""), res, lines)


# ---------------------------------------------------------------- ABS vs uniform


def one_run(job: tuple[int, str, argparse.Namespace]) -> dict:
    """One loop run in the starved world; held-out numbers after the last round."""
    seed, arm, args = job
    strategy, weighting = ARMS[arm]
    cfg = config(args, seed, strategy, weighting)
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        hist = run_loop(cfg, Path(tmp) / f"{arm}-{seed}")
    starved = cfg.world.starved()
    held, held0 = hist[-1]["heldout"]["per_type"], hist[0]["heldout"]["per_type"]
    return {"seed": seed, "arm": arm,
            "heldout_mean": hist[-1]["heldout"]["macro"],
            "heldout_starved": statistics.mean(held[t] for t in starved),
            "heldout_round0_mean": hist[0]["heldout"]["macro"],
            "heldout_round0_starved": statistics.mean(held0[t] for t in starved),
            "heldout_final_per_type": held, "heldout_round0_per_type": held0,
            "quotas": [h.get("quotas") for h in hist[:-1]],
            "seconds": round(time.perf_counter() - t, 1)}  # fmt: skip


def config(args: argparse.Namespace, seed: int, strategy: str, weighting: str) -> LoopConfig:
    return LoopConfig.model_validate(
        {"rounds": args.rounds, "strategy": strategy, "weighting": weighting,
         "budget": args.budget, "seed": seed, "n_train": args.n_train,
         "train": {"epochs": args.epochs}, "world": world_named("starved").model_dump()}
    )  # fmt: skip


def paired(diffs: list[float]) -> dict[str, float | int]:
    """Paired t-test (two-sided, t distribution by numerical integration) and exact two-sided
    sign test of per-seed differences."""
    n = len(diffs)
    mean = statistics.mean(diffs)
    sd = statistics.stdev(diffs) if n > 1 else 0.0
    t = mean / (sd / math.sqrt(n)) if sd > 0 else math.copysign(math.inf, mean) if mean else 0.0
    pos, neg = sum(d > 0 for d in diffs), sum(d < 0 for d in diffs)
    k, m = min(pos, neg), pos + neg
    sign_p = min(1.0, 2 * sum(math.comb(m, i) for i in range(k + 1)) / 2**m) if m else 1.0
    return {"n": n, "mean": round(mean, 2), "sd": round(sd, 2), "t": round(t, 3),
            "t_p_two_sided": round(t_sf2(t, n - 1), 4) if n > 1 else 1.0,
            "wins": pos, "losses": neg, "sign_p_two_sided": round(sign_p, 4)}  # fmt: skip


def t_sf2(t: float, df: int) -> float:
    """Two-sided p of Student's t: 1 - regularised incomplete beta, via Simpson's rule on the
    density (enough for a report)."""
    if math.isinf(t):
        return 0.0
    c = math.gamma((df + 1) / 2) / (math.sqrt(df * math.pi) * math.gamma(df / 2))
    x, steps = abs(t), 4000
    h = x / steps
    f = [c * (1 + (i * h) ** 2 / df) ** (-(df + 1) / 2) for i in range(steps + 1)]
    area = h / 3 * (f[0] + f[-1] + 4 * sum(f[1:-1:2]) + 2 * sum(f[2:-1:2]))
    return max(0.0, 1 - 2 * area)


def run_compare(a: argparse.Namespace) -> None:
    if a.quick:
        a.seeds, a.rounds, a.budget, a.n_train, a.epochs = [0, 1], 1, 40, 30, 1
    jobs = [(seed, arm, a) for seed in a.seeds for arm in a.arms]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=a.jobs, max_tasks_per_child=1) as pool:
        runs = list(pool.map(one_run, jobs))
    world = world_named("starved")
    ms = lambda xs: {"mean": round(statistics.mean(xs), 2), "sd": round(statistics.stdev(xs), 2) if len(xs) > 1 else 0.0}  # noqa: E731  # fmt: skip
    by = {(r["arm"], r["seed"]): r for r in runs}
    summary = {arm: {k: ms([100 * by[arm, s][k] for s in a.seeds])
                     for k in ("heldout_mean", "heldout_starved", "heldout_round0_mean", "heldout_round0_starved")}
               for arm in a.arms}  # fmt: skip
    per_type = {arm: {t: ms([100 * by[arm, s]["heldout_final_per_type"][t] for s in a.seeds]) for t in world.types} for arm in a.arms}  # fmt: skip
    tests = {}
    for arm in (x for x in a.arms if x != "uniform" and "uniform" in a.arms):
        d = {k: [round(100 * (by[arm, s][k] - by["uniform", s][k]), 2) for s in a.seeds]
             for k in ("heldout_mean", "heldout_starved")}  # fmt: skip
        gains = {t: round(statistics.mean(100 * (by[arm, s]["heldout_final_per_type"][t] - by["uniform", s]["heldout_final_per_type"][t]) for s in a.seeds), 2) for t in world.types}  # fmt: skip
        tests[arm] = {"per_seed_points": d, "overall": paired(d["heldout_mean"]),
                      "starved": paired(d["heldout_starved"]), "per_type_mean_gain_points": gains}  # fmt: skip
    cfg = config(a, 0, "abs", "linear").model_dump()
    res = {"command": "python " + " ".join(sys.argv), "date": stamp(), "machine": machine(a.jobs),
           "config": cfg, "seeds": a.seeds, "starved_types": world.starved(),
           "seconds": round(time.perf_counter() - t0, 1), "summary_percent": summary,
           "per_type_percent": per_type, "minus_uniform": tests, "runs": runs}  # fmt: skip
    write(a.out, "starved_world" + (".quick" if a.quick else ""), res, compare_lines(res, a))


def compare_lines(res: dict, a: argparse.Namespace) -> list[str]:
    st, types = res["starved_types"], world_named("starved").types
    lines = ["# ABS vs uniform in the data-starved world (tiny VLM, equal budget)", "",
             f"Command: `{res['command']}`  ", f"Date: {res['date']}  ",
             f"Machine: {res['machine']['platform']}, {res['machine']['cpus']} CPUs, torch "
             f"{res['machine']['torch']} (1 thread per run, {a.jobs} runs in parallel); total {res['seconds']} s.", "",
             f"World `starved`: types {', '.join(types)}; starved (10 % of {a.n_train} base scenes): "
             f"{', '.join(st)}. {a.rounds} rounds of {a.budget} generated questions, {a.epochs} epochs. "
             f"Held-out accuracy (%) after the last round, mean ± sd over seeds {', '.join(map(str, a.seeds))}.", "",
             "| arm | mean over types | starved types | round 0 mean | round 0 starved |",
             "| --- | --- | --- | --- | --- |"]  # fmt: skip
    f = lambda d: f"{d['mean']:.1f} ± {d['sd']:.1f}"  # noqa: E731
    for arm, s in res["summary_percent"].items():
        lines.append(f"| {arm} | {f(s['heldout_mean'])} | {f(s['heldout_starved'])} | "
                     f"{f(s['heldout_round0_mean'])} | {f(s['heldout_round0_starved'])} |")  # fmt: skip
    lines += ["", "Per type (held-out %, mean ± sd):", "", "| arm | " + " | ".join(types) + " |",
              "|" + " --- |" * (len(types) + 1)]  # fmt: skip
    for arm, per in res["per_type_percent"].items():
        lines.append(f"| {arm} | " + " | ".join(f(per[t]) for t in types) + " |")
    lines += ["", "Minus uniform, paired over seeds (points; t-test and sign test two-sided):", "",
              "| arm | overall per seed | overall mean (t p, sign p) | starved per seed | starved mean (t p, sign p) | wins/losses starved |",
              "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for arm, t in res["minus_uniform"].items():
        o, s = t["overall"], t["starved"]
        lines.append(f"| {arm} | {t['per_seed_points']['heldout_mean']} | {o['mean']:+.2f} ({o['t_p_two_sided']}, {o['sign_p_two_sided']}) | "
                     f"{t['per_seed_points']['heldout_starved']} | {s['mean']:+.2f} ({s['t_p_two_sided']}, {s['sign_p_two_sided']}) | {s['wins']}/{s['losses']} |")  # fmt: skip
    lines += ["", "Per-type mean gain over uniform (points):", "",
              "| arm | " + " | ".join(types) + " |", "|" + " --- |" * (len(types) + 1)]  # fmt: skip
    for arm, t in res["minus_uniform"].items():
        lines.append(f"| {arm} | " + " | ".join(f"{t['per_type_mean_gain_points'][x]:+.1f}" for x in types) + " |")  # fmt: skip
    return lines


def write(out: Path, stem: str, res: dict, lines: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(res, indent=2) + "\n", "utf-8")
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n", "utf-8")
    print("\n".join(lines), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="part", required=True)
    c = sub.add_parser("curve")
    c.add_argument("--sizes", type=int, nargs="+", default=[30, 100, 300, 900])
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--epochs", type=int, default=8)
    c.add_argument("--n-dev", type=int, default=150)
    m = sub.add_parser("compare")
    m.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    m.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    m.add_argument("--rounds", type=int, default=2)
    m.add_argument("--budget", type=int, default=300)
    m.add_argument("--n-train", type=int, default=300, help="base training scenes")
    m.add_argument("--epochs", type=int, default=8)
    m.add_argument("--jobs", type=int, default=2, help="runs in parallel (1 thread each)")
    for p in (c, m):
        p.add_argument("--quick", action="store_true", help="tiny smoke-test setting")
        p.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args()
    (run_curve if a.part == "curve" else run_compare)(a)


if __name__ == "__main__":
    main()
