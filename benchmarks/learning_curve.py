"""Learning curve of the tiny VLM: dev accuracy per question type vs training questions per type.

Trains a fresh model on the base questions of ``n`` training scenes (about ``n`` questions of
each type, two for existence) for each ``n`` and scores the dev split (never the held-out one).
A type whose accuracy does not rise with data is one this model cannot learn.

    python benchmarks/learning_curve.py [--sizes 75 300 1200] [--seed 0] [--quick]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

from mmevol.loop.evaluate import evaluate
from mmevol.loop.splits import ImageCache, build_splits
from mmevol.loop.train import TrainConfig, train_model
from mmevol.world.questions import QTYPES

RESULTS = Path(__file__).parent / "results"


def curve(sizes: list[int], seed: int, epochs: int, n_dev: int = 150) -> list[dict]:
    """Dev accuracy per type for each training size (same dev split for every size)."""
    out = []
    for n in sizes:
        splits, _, _ = build_splits(seed, n, n_dev, 1)
        cache = ImageCache(64)
        for split in splits.values():
            cache.add(split.scenes)
        qs = splits["train"].questions
        trained = train_model(qs, cache, TrainConfig(epochs=epochs), seed)
        dev = evaluate(trained, splits["dev"].questions, cache)
        per_type_n = {t: sum(q.qtype == t for q in qs) for t in QTYPES}
        out.append({"scenes": n, "questions_per_type": per_type_n, "dev_per_type": dev.per_type,
                    "dev_mean": dev.macro, "seconds": trained.log["seconds"]})  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[75, 300, 1200])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args()
    if a.quick:
        a.sizes, a.epochs = [10, 20], 1
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    rows = curve(a.sizes, a.seed, a.epochs)
    stem = "learning_curve.quick" if a.quick else "learning_curve"
    result = {"command": "python " + " ".join(sys.argv),
              "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                          "torch": torch.__version__},
              "seconds": round(time.perf_counter() - t0, 1), "rows": rows}  # fmt: skip
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    head = ["training scenes", *QTYPES, "mean"]
    lines = ["# Learning curve of the tiny VLM (dev accuracy %, one seed)", "",
             f"Command: `{result['command']}`  ", f"Date: {result['date']}  ",
             f"Machine: {result['machine']['platform']}, {result['machine']['cpus']} CPUs; "
             f"total {result['seconds']} s.", "",
             "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]  # fmt: skip
    for r in rows:
        cells = [f"{100 * r['dev_per_type'].get(t, 0):.1f}" for t in QTYPES]
        lines.append(f"| {r['scenes']} | " + " | ".join(cells) + f" | {100 * r['dev_mean']:.1f} |")
    (a.out / f"{stem}.md").write_text("\n".join(lines) + "\n", "utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
