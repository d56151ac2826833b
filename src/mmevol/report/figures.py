"""The numbers behind every figure of ``mmevol report``, computed from a run directory.

``run_figures(run_dir)`` returns one JSON-able dict (what ``mmevol report --json`` prints). The
counts that ``mmevol stats`` also shows are taken from ``compute_stats`` itself, so the report
and ``stats --json`` cannot disagree. Per-round distributions describe the *dataset* of each
round: round 0 is the seed items, round K the evolutions kept in round K. The long tail of
objects counts annotated object classes, not the items' referring phrases (``objects``).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from statistics import mean
from typing import Any

from mmevol.errors import InputError, MmevolError
from mmevol.evolve.stats import compute_stats
from mmevol.io.tabular import load_json
from mmevol.report.objects import ClassIndex, class_counts
from mmevol.report.prompt_versions import version_quality
from mmevol.report.verbnoun import diversity, extractor, pair_counts, top_nested
from mmevol.store import Store

EXAMPLE_LINEAGES = 3


def _hist(values: list[int]) -> dict[str, int]:
    return {str(k): v for k, v in sorted(Counter(values).items())}


def _round_of_unit(unit: str) -> int:
    tail = unit.rsplit("@r", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def open_run(run_dir: Path) -> tuple[Store, dict[str, Any]]:
    db, cfg = run_dir / "run.sqlite", run_dir / "config.json"
    if not db.is_file() or not cfg.is_file():
        raise MmevolError(f"{run_dir}: not a run directory (no run.sqlite/config.json)")
    config = load_json(cfg)  # a regular file of bounded JSON, or a one-line InputError
    if not isinstance(config, dict):
        raise InputError(cfg, "(top level)", "expected the run's config object")
    return Store(db), config


def run_figures(run_dir: Path) -> dict[str, Any]:
    """Every figure's data for one run."""
    store, config = open_run(run_dir)
    try:
        rounds = int(config["config"]["rounds"])
        stats = compute_stats(store, rounds)
        rows = store.sample_rows()
        calls = store.call_rows()
    finally:
        store.close()
    samples = [(r, bool(k), reason or "", json.loads(js)) for r, k, reason, js in rows]
    dataset = [(r, s) for r, kept, _, s in samples if r == 0 or kept]
    name, extract = extractor()
    per_round: list[dict[str, Any]] = []
    for k in range(rounds + 1):
        qas = [s["qa"] for r, s in dataset if r == k]
        skills = [len(q.get("skills") or []) for q in qas]
        steps = [len(q.get("steps") or []) for q in qas]
        pairs = pair_counts((q["question"] for q in qas), extract)
        per_round.append(
            {
                "round": k,
                "samples": len(qas),
                "skills_per_sample": _hist(skills),
                "mean_skills": round(mean(skills), 3) if skills else None,
                "steps_per_sample": _hist(steps),
                "mean_steps": round(mean(steps), 3) if steps else None,
                "mean_question_words": round(mean(len(q["question"].split()) for q in qas), 2)
                if qas
                else None,
                "formats": dict(Counter(q.get("format") or "?" for q in qas).most_common()),
                "verb_noun": diversity(pairs),
            }
        )
    all_pairs = pair_counts((s["qa"]["question"] for _, s in dataset), extract)
    scores_by_round: dict[str, list[float]] = defaultdict(list)
    for r, _, _, s in samples:
        score = ((s["lineage"] or {}).get("verdict") or {}).get("score")
        if r > 0 and score is not None:
            scores_by_round[str(r)].append(float(score))
    objects = class_counts(
        ((s["seed_id"], s["qa"].get("objects") or []) for _, s in dataset),
        ClassIndex.of_run(run_dir),
    )
    cost: dict[str, dict[str, float]] = {}
    for unit, task, tin, tout, usd, _lat in calls:
        key = f"{task} r{_round_of_unit(unit)}"
        c = cost.setdefault(key, {"calls": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0})
        c["calls"] += 1
        c["input_tokens"] += tin or 0
        c["output_tokens"] += tout or 0
        c["cost_usd"] = round(c["cost_usd"] + (usd or 0.0), 6)
    drops = Counter(
        reason.split(" (", 1)[0] if reason.startswith("judge") else reason.split(":", 1)[0]
        for r, kept, reason, _ in samples
        if r > 0 and not kept
    )
    return {
        "run_dir": str(run_dir),
        "imported_from": config.get("imported_from"),
        "backend": (config.get("backend") or {}).get("name") or config["config"].get("backend"),
        "verb_noun_extractor": name,
        "stats": stats,
        "per_round": per_round,
        "verb_noun_top": top_nested(all_pairs),
        "judge_scores": {k: sorted(v) for k, v in sorted(scores_by_round.items())},
        # items of the dataset per object class (what was counted: "objects_counted")
        "objects_long_tail": objects["classes"],
        "objects_counted": objects["counted"],
        "objects_annotated_classes": objects["annotated_classes"],
        "objects_unmapped": objects["unmapped"],
        "drop_reasons": dict(drops.most_common()),
        "cost_by_stage_round": dict(sorted(cost.items())),
        "lineages": example_lineages(samples, rounds),
        "prompt_versions": version_quality(run_dir, samples),
    }


def example_lineages(
    samples: list[tuple[int, bool, str, dict[str, Any]]], rounds: int
) -> list[list[dict[str, Any]]]:
    """A few chains seed -> round 1 -> ... that reach the last round (kept or not), in id order."""
    by_id = {s["id"]: s for _, _, _, s in samples}
    chains: list[list[dict[str, Any]]] = []
    for r, _, _, s in samples:
        if r != rounds:
            continue
        chain: list[dict[str, Any]] = []
        cur: dict[str, Any] | None = s
        while cur is not None:
            lin = cur.get("lineage") or {}
            verdict = lin.get("verdict") or {}
            chain.append(
                {
                    "id": cur["id"],
                    "round": cur["round"],
                    "direction": lin.get("direction"),
                    "question": cur["qa"]["question"],
                    "answer": cur["qa"]["answer"],
                    "steps": len(cur["qa"].get("steps") or []),
                    "kept": lin.get("kept", True),
                    "reason": lin.get("reason", "seed"),
                    "score": verdict.get("score"),
                    "verdict": verdict.get("reason"),
                }
            )
            cur = by_id.get(lin.get("parent_id") or "")
        chains.append(list(reversed(chain)))
        if len(chains) >= EXAMPLE_LINEAGES:
            break
    return chains
