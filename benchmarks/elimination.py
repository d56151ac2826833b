"""Elimination against an adversarial model: how many false evolutions survive, how many true
ones are kept.

Builds seeds from tiny COCO, serves the adversarial model (``backends.adversary``: fluent,
well-formed evolutions of many false kinds plus true ones as a control, with a ledger) over
HTTP, and runs ``evolve --backend openai`` against it for a few rounds, once with a judge that
approves everything (``lenient``) and once with a ``noisy`` judge. Every candidate is scored
against the ledger: per kind, how many were generated and dropped by rules, by the fact checker,
by the judge or as near-duplicates, and how many survived; the headline figures are the share
of false items that survive and the share of true items kept, with every dropped true item
listed under its reason. Optionally times ``mmevol demo``. Writes
``benchmarks/results/elimination.{json,md}``.

    .venv/bin/python benchmarks/elimination.py [--coco ../shared/data/tiny_coco] [--rounds 3]
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

from mmevol.evolve.config import EvolveConfig
from mmevol.evolve.run import run_evolve
from mmevol.seeds import SourceSpec, build_from_specs, read_seeds
from mmevol.testing.adversary import AdversaryConfig, seed_scene_key
from mmevol.testing.adversary_score import FATES, score
from mmevol.testing.server import FakeServerConfig, running_server

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
DEFAULT_COCO = REPO.parent / "shared" / "data" / "tiny_coco"
GOAL_FALSE, GOAL_TRUE = 0.10, 0.97


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


def build_coco_seeds(coco: Path, out: Path) -> Path:
    ann = coco / "annotations"
    splits = sorted(p.stem.split("_", 1)[1] for p in ann.glob("instances_*.json"))
    specs = SourceSpec.from_cli(
        coco_captions=[ann / f"captions_{s}.json" for s in splits],
        coco_instances=[ann / f"instances_{s}.json" for s in splits],
        images=[coco / s for s in splits if (coco / s).is_dir()],
    )
    build_from_specs(specs, out)
    return out


def one_run(
    seeds: Path, out: Path, judge: str, seed: int, args: argparse.Namespace
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]], bool]:
    """One evolve run against a fresh adversary server: its candidates, ledger, completeness.
    ``judge`` is ``lenient`` or ``noisy``, with ``:nofacts`` for a run without the fact checker."""
    judge, _, flag = judge.partition(":")
    adversary = AdversaryConfig(
        seed=seed, true_rate=args.true_rate, judge=judge, judge_reject_false=0.7,
        judge_reject_true=0.03,
    )  # fmt: skip
    os.environ["MMEVOL_BENCH_KEY"] = "sk-bench"
    with running_server(FakeServerConfig(port=0, adversary=adversary, seed=seed)) as url:
        result = run_evolve(
            EvolveConfig(
                seeds=str(seeds), out=str(out), backend="openai", model="adversary",
                base_url=url, api_key_env="MMEVOL_BENCH_KEY", rounds=args.rounds,
                seed=seed, progress=False, fact_check=flag != "nofacts",
            )
        )  # fmt: skip
        stats = httpx.get(url.rsplit("/v1", 1)[0] + "/_fake/stats").json()
    samples = [
        json.loads(line)
        for k in range(1, args.rounds + 1)
        if (out / "rounds" / f"round_{k}.jsonl").exists()
        for line in (out / "rounds" / f"round_{k}.jsonl").read_text().splitlines()
    ]
    return samples, {e["key"]: e for e in stats["adversary"]["entries"]}, result.complete


def judge_runs(seeds: Path, root: Path, judge: str, args: argparse.Namespace) -> dict[str, Any]:
    """``--repeats`` runs (adversary and run seeds seed..seed+repeats-1) scored together."""
    samples: list[dict[str, Any]] = []
    entries: dict[str, dict[str, Any]] = {}
    complete = True
    started = time.perf_counter()
    for seed in range(args.seed, args.seed + args.repeats):
        got, ledger, done = one_run(
            seeds, root / f"run-{judge.replace(':', '-')}-{seed}", judge, seed, args
        )
        samples += got
        entries.update(ledger)
        complete = complete and done
    scenes = {s.id: seed_scene_key(s) for s in read_seeds(seeds)}
    return {
        "judge": judge,
        "complete": complete,
        "seconds": round(time.perf_counter() - started, 2),
        "candidates": len(samples),
        **score(samples, scenes, entries),
    }


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def markdown(report: dict[str, Any]) -> list[str]:
    m = report["machine"]
    lines = [
        "# Elimination against an adversarial model",
        "",
        f"`{report['command']}` on {m['platform']}, {m['cpus']} CPUs, Python {m['python']}.",
        f"{report['seeds']} tiny-COCO seeds, {report['rounds']} rounds, {report['repeats']} runs"
        f" per judge (seeds differ), adversary true rate "
        f"{report['true_rate']}. Goal: <= {GOAL_FALSE:.0%} of false items survive and >= "
        f"{GOAL_TRUE:.0%} of true items are kept.",
        "",
        "Fates: dropped by `rules` (rule and degenerate-text checks), `facts` (the fact checker),"
        " `judge`, `duplicate` (near-duplicate removal), `other`; or `survived`. The noisy judge"
        " rejects 70 % of false and 3 % of true items by design; 'keep rate w/o duplicates'"
        " leaves near-duplicate drops out of the true items.",
        "",
        "| judge | false items | false survived | share surviving | true items | true kept |"
        " keep rate | keep rate w/o duplicates | seconds |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in report["runs"]:
        lines.append(
            f"| {r['judge']} | {r['false_items']} | {r['false_survived']} |"
            f" {pct(r['false_survival'])} | {r['true_items']} | {r['true_kept']} |"
            f" {pct(r['true_keep_rate'])} | {pct(r['true_keep_rate_excluding_duplicates'])} |"
            f" {r['seconds']} |"
        )
    for r in report["runs"]:
        lines += ["", f"## {r['judge']} judge: fates per kind", ""]
        lines.append("| kind | generated | " + " | ".join(FATES) + " |")
        lines.append("| --- | ---: | " + " | ".join("---:" for _ in FATES) + " |")
        for kind, c in r["per_kind"].items():
            cells = " | ".join(str(c[f]) for f in FATES)
            lines.append(f"| {kind} | {c['generated']} | {cells} |")
        lines += ["", f"True items dropped ({sum(len(v) for v in r['true_dropped'].values())}):"]
        for reason, items in r["true_dropped"].items():
            lines.append(f"- {len(items)} x `{reason}`")
            for it in items:
                lines.append(f"  - [{it['family']}] {it['question']} -> {it['answer']}")
    if report.get("demo_seconds") is not None:
        lines += ["", f"`mmevol demo` (24 scenes) took {report['demo_seconds']} s."]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coco", type=Path, default=DEFAULT_COCO, help="tiny COCO folder")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--true-rate", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="runs per judge (seeds differ)")
    parser.add_argument(
        "--judges",
        default="lenient,noisy,lenient:nofacts",
        help="judges to run; ':nofacts' runs without the fact checker (the baseline)",
    )
    parser.add_argument("--demo", action="store_true", help="also time `mmevol demo`")
    args = parser.parse_args()
    if not (args.coco / "annotations").is_dir():
        sys.exit(f"no COCO annotations under {args.coco}; pass --coco")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        seeds = build_coco_seeds(args.coco, root / "seeds.jsonl")
        n_seeds = sum(1 for _ in read_seeds(seeds))
        judges = [j.strip() for j in args.judges.split(",") if j.strip()]
        runs = [judge_runs(seeds, root, j, args) for j in judges]
        demo_s = None
        if args.demo:
            from mmevol.demo import run_demo

            started = time.perf_counter()
            run_demo(root / "demo", scenes=24)
            demo_s = round(time.perf_counter() - started, 2)
    report = {
        "command": "python benchmarks/elimination.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "seeds": n_seeds,
        "rounds": args.rounds,
        "repeats": args.repeats,
        "true_rate": args.true_rate,
        "goal": {"false_survival_at_most": GOAL_FALSE, "true_kept_at_least": GOAL_TRUE},
        "demo_seconds": demo_s,
        "runs": runs,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "elimination.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = markdown(report)
    (RESULTS / "elimination.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:12]))


if __name__ == "__main__":
    main()
