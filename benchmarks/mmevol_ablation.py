"""MMEvol ablation in miniature: seed only vs evolved without / with elimination, equal count.

Per seed: the loop's fixed splits (world with Zipf-like frequencies and co-occurring pairs);
a pool of fresh scenes becomes ``Seed`` records and goes through the evolution engine
(``loop.evolved``) with a generator that errs on purpose (``loop.perturb``: the grounded
generator with answers made false at ``--error-rate``: hallucinated objects, wrong colours,
counts and kinds; a ledger records each). Elimination is the grounded judge (rule checks, with
``grounded_facts``' fact checks). Three training sets, each the base set plus exactly N extra
questions (N = the smallest of the three arms, each arm subsampled to N):

- ``seed``: the pool's seed Q&A items (what evolution starts from);
- ``evolved_no_elim``: every evolved candidate of rounds 1..R, kept or not;
- ``evolved_elim``: only the candidates elimination kept.

Evolved items reach the tiny VLM through ``loop.evolved.to_questions`` (one-word answers
only). Reported on held-out only: mean accuracy over types and the hallucination split (POPE
absent-object existence questions: random, popular, co-occurring absent objects).

    python benchmarks/mmevol_ablation.py [--seeds 0 1 2] [--quick]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from mmevol.loop.evaluate import evaluate
from mmevol.loop.evolved import evolve_scenes, scenes_to_seeds, to_questions
from mmevol.loop.perturb import PerturbedBackend, ledger_key
from mmevol.loop.splits import ImageCache, WorldConfig, build_splits, draw_scenes
from mmevol.loop.train import TrainConfig, train_model
from mmevol.world.questions import ABSENT_VARIANTS

RESULTS = Path(__file__).parent / "results"
ARMS = ("seed", "evolved_no_elim", "evolved_elim")


def run_seed(seed: int, n_train: int, n_pool: int, n_heldout: int, rounds: int,
             error_rate: float, epochs: int) -> dict:  # fmt: skip
    """One seed: evolve the pool, build the three arms at equal count, train and score each."""
    world = WorldConfig()
    splits, _, used = build_splits(seed, n_train, 100, n_heldout, world=world)
    pool = draw_scenes("evo", seed, n_pool, used, world)
    backend = PerturbedBackend(error_rate, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        seeds, owner = scenes_to_seeds(pool, Path(tmp) / "images")
        samples = evolve_scenes(seeds, Path(tmp) / "run", backend, rounds=rounds, seed=seed)
    wrong = {s.id for s in samples if ledger_key(s.qa.question, s.qa.answer) in backend.ledger}
    evolved = [s for s in samples if s.round > 0]
    mapped = {
        "seed": to_questions([s for s in samples if s.round == 0], owner, kept_only=False),
        "evolved_no_elim": to_questions(evolved, owner, kept_only=False),
        "evolved_elim": to_questions(evolved, owner, kept_only=True),
    }
    n = min(len(m.questions) for m in mapped.values())
    cache = ImageCache(64)
    for split in splits.values():
        cache.add(split.scenes)
    cache.add(pool)
    cfg = TrainConfig(epochs=epochs)
    out: dict = {
        "seed": seed, "n_per_arm": n, "base_questions": len(splits["train"].questions),
        "evolved_candidates": len(evolved), "kept": sum(s.lineage.kept for s in evolved),
        "ledger_errors": len(backend.ledger), "generator_items": backend.items,
        "erroneous_candidates_kept": sum(s.lineage.kept for s in evolved if s.id in wrong),
        "arms": {},
    }  # fmt: skip
    for arm in ARMS:
        qs = random.Random(f"{arm}:{seed}").sample(mapped[arm].questions, n)
        bad = sum(q.meta.get("sample") in wrong for q in qs)
        trained = train_model(splits["train"].questions + qs, cache, cfg, seed)
        held = evaluate(trained, splits["heldout"].questions, cache)
        pope = [held.per_variant[v] for v in ABSENT_VARIANTS if v in held.per_variant]
        out["arms"][arm] = {
            "heldout_mean": held.macro, "pope_absent": round(statistics.mean(pope), 4),
            "existence_variants": held.per_variant, "per_type": held.per_type,
            "share_from_erroneous_samples": round(bad / max(n, 1), 4),
            "qtypes": {t: sum(q.qtype == t for q in qs) for t in sorted({q.qtype for q in qs})},
            "dropped_in_mapping": dict(mapped[arm].why_dropped),
        }  # fmt: skip
    return out


def _job(args: tuple[int, argparse.Namespace]) -> dict:
    seed, a = args
    torch.set_num_threads(1)
    return run_seed(seed, a.n_train, a.n_pool, a.n_heldout, a.rounds, a.error_rate, a.epochs)


def summarise(runs: list[dict]) -> dict:
    def agg(arm: str, key: str) -> dict[str, float]:
        xs = [100 * r["arms"][arm][key] for r in runs]
        sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
        return {"mean": round(statistics.mean(xs), 2), "sd": round(sd, 2)}

    return {arm: {k: agg(arm, k) for k in ("heldout_mean", "pope_absent")} for arm in ARMS}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--n-train", type=int, default=150, help="base training scenes")
    ap.add_argument("--n-pool", type=int, default=300, help="scenes evolved by the engine")
    ap.add_argument("--n-heldout", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--error-rate", type=float, default=0.5)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="tiny smoke-test setting")
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args()
    if a.quick:
        a.seeds, a.n_train, a.n_pool, a.n_heldout, a.epochs = a.seeds[:1], 30, 30, 40, 1
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=a.jobs, max_tasks_per_child=1) as ex:  # fresh each
        runs = list(ex.map(_job, [(s, a) for s in a.seeds]))
    result = {
        "command": "python " + " ".join(sys.argv),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "torch": torch.__version__, "parallel_runs": a.jobs},
        "settings": {k: v for k, v in vars(a).items() if k != "out"},
        "seconds": round(time.perf_counter() - t0, 1),
        "summary_percent": summarise(runs), "runs": runs,
    }  # fmt: skip
    stem = "mmevol_ablation.quick" if a.quick else "mmevol_ablation"
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    lines = [
        "# MMEvol ablation in miniature (offline world, tiny VLM, equal sample count)", "",
        f"Command: `{result['command']}`  ", f"Date: {result['date']}  ",
        f"Machine: {result['machine']['platform']}, {result['machine']['cpus']} CPUs, torch "
        f"{result['machine']['torch']}; total {result['seconds']} s.", "",
        f"Generator: grounded with answers made false at rate {a.error_rate} (ledger); "
        f"{a.rounds} evolution rounds over {a.n_pool} scenes; elimination = grounded judge. "
        "Held-out accuracy (%), mean ± sd over seeds " + ", ".join(map(str, a.seeds)) + ".", "",
        "| arm | mean over types | POPE absent objects | share of questions from erroneous samples |",
        "| --- | --- | --- | --- |",
    ]  # fmt: skip
    summ = result["summary_percent"]
    for arm in ARMS:
        m, p = summ[arm]["heldout_mean"], summ[arm]["pope_absent"]
        err = statistics.mean(r["arms"][arm]["share_from_erroneous_samples"] for r in runs)
        lines.append(f"| {arm} | {m['mean']:.1f} ± {m['sd']:.1f} | {p['mean']:.1f} ± {p['sd']:.1f} | {100 * err:.1f} % |")  # fmt: skip
    lines += ["", "| seed | N per arm | candidates | kept | ledger errors | erroneous kept |",
              "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for r in runs:
        lines.append(f"| {r['seed']} | {r['n_per_arm']} | {r['evolved_candidates']} | {r['kept']} | {r['ledger_errors']} | {r['erroneous_candidates_kept']} |")  # fmt: skip
    (a.out / f"{stem}.md").write_text("\n".join(lines) + "\n", "utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
