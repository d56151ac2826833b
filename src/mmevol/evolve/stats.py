"""Run statistics from the journal: per-round counts, survival by direction, repairs, failures, cost.

``compute_stats`` is the single source of the numbers that ``mmevol stats`` prints, that
``stats.json`` holds and that reports quote, so they always agree.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

from mmevol.evolve.diagnose import failure_details
from mmevol.evolve.import_official import SURVIVOR_JUDGE
from mmevol.store import Store
from mmevol.vocab import OTHER

NORMALIZATION_KEYS = (
    "skills_total",
    "skill_mapped",
    "skill_unknown",
    "formats_total",
    "format_mapped",
    "format_unknown",
    "manipulation_mapped",
    "manipulation_unknown",
)
LEGACY_KEYS = ("skill_dropped",)  # runs made before unknown skills were kept as other:
DROP_KEYS = ("dropped_rules", "dropped_facts", "dropped_degenerate", "dropped_judge",
             "dropped_duplicate")  # fmt: skip


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _mapping(total: int, mapped: int, unknown: int) -> dict[str, Any]:
    """Exact / mapped / unknown counts and shares of one vocabulary's strings. ``total`` is 0
    for runs made before totals were counted: then exact is unknown (None)."""
    exact = total - mapped - unknown if total else None
    whole = total or mapped + unknown
    return {
        "total": total,
        "exact": exact,
        "mapped": mapped,
        "unknown": unknown,
        "exact_share": _share(exact, whole) if exact is not None else None,
        "mapped_share": _share(mapped, whole),
        "unknown_share": _share(unknown, whole),
    }


def _unknown_strings(store: Store, path: str) -> dict[str, int]:
    """Every ``other:`` label of the journal (all rounds, kept or not) -> samples carrying it,
    most frequent first, keyed by the string as its producer gave it."""
    return {v[len(OTHER) :]: n for v, n in store.label_counts(path, OTHER)}


def vocabulary_stats(store: Store, units: Counter[str]) -> dict[str, Any]:
    """How the run's skill and format strings met the vocabulary, and the strings none fit."""
    skills = _mapping(units["skills_total"], units["skill_mapped"],
                      units["skill_unknown"] + units["skill_dropped"])  # fmt: skip
    formats = _mapping(units["formats_total"], units["format_mapped"], units["format_unknown"])
    return {
        "skills": skills,
        "formats": formats,
        "unknown_skills": _unknown_strings(store, "$.qa.skills"),
        "unknown_formats": _unknown_strings(store, "$.qa.format"),
    }


def _by_direction(store: Store, round_: int, unattached: dict[str, Counter[str]]
                  ) -> tuple[dict[str, dict[str, Any]], Counter[int]]:  # fmt: skip
    """Per direction of one round: candidates, kept, judged, improved (verdicts saying so, and
    ``unattached``: verdicts a unit's score file has beyond its candidates), the shares and the
    mean judge score; and the round's judge scores counted by whole point. A score carried by an
    imported survivor counts as a score, not as a verdict (nothing said it improved)."""
    out: dict[str, dict[str, Any]] = {}
    hist: Counter[int] = Counter()

    def row(direction: str | None) -> dict[str, Any]:
        return out.setdefault(direction or "unknown", {"candidates": 0, "kept": 0, "judged": 0,
                                                       "improved": 0, "_sum": 0.0, "_n": 0})  # fmt: skip

    for direction, kept, improved, score, judge, n in store.verdict_groups(round_):
        d = row(direction)
        d["candidates"] += n
        d["kept"] += n if kept else 0
        verdict = improved is not None and judge != SURVIVOR_JUDGE
        d["judged"] += n if verdict else 0
        d["improved"] += n if verdict and improved else 0
        if score is not None:
            hist[int(float(score))] += n
            d["_sum"] += float(score) * n
            d["_n"] += n
    for direction, c in unattached.items():
        d = row(direction)
        d["judged"] += c["verdicts_unattached"]
        d["improved"] += c["verdicts_unattached_improved"]
    for d in out.values():
        d["kept_share"] = _share(d["kept"], d["candidates"])
        d["improved_share"] = _share(d["improved"], d["judged"])
        total, n = d.pop("_sum"), d.pop("_n")
        d["mean_judge_score"] = round(total / n, 3) if n else None
        d["scored"] = n
    return dict(sorted(out.items())), hist


def _weighted_mean(by_dir: dict[str, dict[str, Any]]) -> float | None:
    n = sum(d["scored"] for d in by_dir.values())
    total = sum(d["mean_judge_score"] * d["scored"] for d in by_dir.values() if d["scored"])
    return round(total / n, 3) if n else None


def compute_stats(store: Store, rounds: int) -> dict[str, Any]:
    seeds, seed_items = store.seed_counts()
    per_round: list[dict[str, Any]] = []
    unit_counts: dict[int, Counter[str]] = defaultdict(Counter)
    units_per_round: Counter[int] = Counter()
    unattached: dict[int, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for round_, direction, st in store.unit_stats():
        unit_counts[round_].update(st)
        units_per_round[round_] += 1
        if st.get("verdicts_unattached"):
            unattached[round_][direction or "unknown"].update(
                {k: st.get(k, 0) for k in ("verdicts_unattached", "verdicts_unattached_improved")}
            )
    for k in range(1, rounds + 1):
        uc = unit_counts[k]
        by_dir, hist = _by_direction(store, k, unattached[k])
        cand = sum(d["candidates"] for d in by_dir.values())
        kept = sum(d["kept"] for d in by_dir.values())
        judged = sum(d["judged"] for d in by_dir.values())
        improved = sum(d["improved"] for d in by_dir.values())
        score, steps, skills = store.kept_means(k)
        per_round.append(
            {
                "round": k,
                "units": units_per_round[k],
                "candidates": cand,
                "kept": kept,
                "kept_share": _share(kept, cand),
                "judged": judged,
                "improved": improved,
                "improved_share": _share(improved, judged),
                "unjudged": uc["unjudged"],
                "parent_unmatched": uc["parent_unmatched"],
                "judge_scores": {str(s): n for s, n in sorted(hist.items())},
                "mean_judge_score": _weighted_mean(by_dir),
                **{key: uc[key] for key in DROP_KEYS},
                "missing_items": uc["missing_items"],
                "mean_judge_score_kept": round(score, 3) if score is not None else None,
                "mean_steps_kept": round(steps, 3) if steps is not None else None,
                "mean_skills_kept": round(skills, 3) if skills is not None else None,
                "by_direction": by_dir,
            }
        )
    all_units: Counter[str] = Counter()
    for c in unit_counts.values():
        all_units.update(c)
    repairs = {k: v for k, v in sorted(all_units.items()) if "_rung_" in k}
    normalization = {k: all_units[k] for k in NORMALIZATION_KEYS}
    normalization |= {k: all_units[k] for k in LEGACY_KEYS if all_units[k]}
    failures: dict[str, Any] = {"open": 0, "resolved": 0, "by_class": Counter()}
    for f in store.failures():
        failures["resolved" if f["resolved"] else "open"] += 1
        if not f["resolved"]:
            failures["by_class"][f["error_class"]] += 1
    failures["by_class"] = dict(failures["by_class"])
    by_task: dict[str, dict[str, Any]] = {}
    for task, n, tin, tout, cost in store.calls_by_task():
        by_task[task] = {
            "calls": n,
            "input_tokens": tin or 0,
            "output_tokens": tout or 0,
            "cost_usd": round(cost or 0.0, 6),
        }
    evolved = store.evolved_kept()
    return {
        "seeds": seeds,
        "seed_items": seed_items,
        "rounds": per_round,
        "dataset": {"total": seed_items + evolved, "seed_items": seed_items, "evolved": evolved},
        "repairs": repairs,
        "normalization": normalization,
        "vocabulary": vocabulary_stats(store, all_units),
        "failures": failures,
        "failure_causes": failure_details(store),
        "backend": json.loads(store.get_meta("backend_runtime") or "{}"),
        "calls": {
            "by_task": by_task,
            "total": sum(t["calls"] for t in by_task.values()),
            "input_tokens": sum(t["input_tokens"] for t in by_task.values()),
            "output_tokens": sum(t["output_tokens"] for t in by_task.values()),
            "cost_usd": round(sum(t["cost_usd"] for t in by_task.values()), 6),
        },
        "complete": store.get_meta("complete") == "1",
    }
