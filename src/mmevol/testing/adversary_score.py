"""Scoring a run's candidates against the adversary's ledger: what each stage removed, per kind.

Every candidate of ``rounds/round_K.jsonl`` is found in the ledger by (its image's annotations,
question, answer) and given a fate from its lineage: ``survived`` (kept), or dropped by
``rules`` ("rule: ..."), ``facts`` ("fact: ..."), ``judge`` ("judge: ...") or as a
``duplicate`` ("near-duplicate ..."); anything else is ``other``. The headline figures are the
share of false items that survive and the share of true items kept, with every true item that
was dropped listed under its reason.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any

from mmevol.testing.adversary import TRUE, ledger_key

FATES = ("rules", "facts", "judge", "duplicate", "other", "survived")
_MASK = re.compile(r"\[[^\]]*\]|\d+(?:\.\d+)?|'[^']*'|\"[^\"]*\"")


def fate(lineage: dict[str, Any]) -> str:
    """What happened to a candidate, from its lineage's kept flag and reason."""
    if lineage.get("kept"):
        return "survived"
    reason = str(lineage.get("reason", ""))
    for prefix, name in (("rule:", "rules"), ("fact:", "facts"), ("judge:", "judge")):
        if reason.startswith(prefix):
            return name
    return "duplicate" if "duplicate" in reason else "other"


def reason_group(reason: str) -> str:
    """A reason with its particulars (boxes, numbers, quoted text) masked, to group drops."""
    return _MASK.sub("…", reason)[:120]


def score(
    samples: list[dict[str, Any]], scenes: dict[str, str], entries: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Per-kind fates and the headline figures.

    ``samples``: candidate rows; ``scenes``: seed id -> scene key (``seed_scene_key``);
    ``entries``: the adversary's ledger entries by key.
    """
    per_kind: dict[str, Counter[str]] = defaultdict(Counter)
    dropped_true: dict[str, list[dict[str, Any]]] = defaultdict(list)
    unknown = 0
    for s in samples:
        qa = s["qa"]
        key = ledger_key(scenes.get(s["seed_id"], ""), qa["question"], qa["answer"])
        entry = entries.get(key)
        if entry is None:
            unknown += 1
            continue
        where = fate(s["lineage"])
        per_kind[entry["kind"]]["generated"] += 1
        per_kind[entry["kind"]][where] += 1
        if entry["kind"] == TRUE:
            per_kind[f"true:{entry['family']}"]["generated"] += 1
            per_kind[f"true:{entry['family']}"][where] += 1
            if where != "survived":
                dropped_true[reason_group(s["lineage"]["reason"])].append(
                    {
                        "id": s["id"],
                        "family": entry["family"],
                        "question": qa["question"],
                        "answer": qa["answer"],
                        "reason": s["lineage"]["reason"],
                    }
                )
    false_total = sum(c["generated"] for k, c in per_kind.items() if k != TRUE and ":" not in k)
    false_kept = sum(c["survived"] for k, c in per_kind.items() if k != TRUE and ":" not in k)
    true = per_kind.get(TRUE, Counter())
    judged_true = true["generated"] - true["duplicate"]
    return {
        "per_kind": {
            k: {f: c[f] for f in ("generated", *FATES)} for k, c in sorted(per_kind.items())
        },
        "unknown": unknown,
        "false_items": false_total,
        "false_survived": false_kept,
        "false_survival": false_kept / false_total if false_total else None,
        "true_items": true["generated"],
        "true_kept": true["survived"],
        "true_keep_rate": true["survived"] / true["generated"] if true["generated"] else None,
        "true_keep_rate_excluding_duplicates": (
            true["survived"] / judged_true if judged_true else None
        ),
        "true_dropped": dict(sorted(dropped_true.items(), key=lambda kv: -len(kv[1]))),
    }
