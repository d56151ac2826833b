"""Quality per prompt version: the report section that shows whether a revision helped (IPO).

Samples are grouped by ``lineage.prompt_version`` (a bundled template ``perception@<hash>`` or
a stored version ``perception/v2@<hash>``). Per version: evolutions made, kept by elimination
(acceptance rate), mean judge score, and the reviewers' current decisions from
``reviews.sqlite`` (accept / reject / edit). Versions recorded in ``RUN/prompts`` also show
their author and reason. The backends that made each version's samples are listed: the
offline grounded generator is programmatic and records the template without reading it. With
``--compare`` the two runs' tables stand one under the other.
"""

from __future__ import annotations

from collections import defaultdict
from html import escape
from pathlib import Path
from statistics import mean
from typing import Any


def _store_info(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Author, parent and reason of every stored version, by lineage tag."""
    from mmevol.prompts.versions import PromptStore

    store = PromptStore.of_run(run_dir)
    out: dict[str, dict[str, Any]] = {}
    if not store.root.is_dir():
        return out
    for name in store.names():
        for v in store.versions(name):
            out[v.tag] = {"author": v.author, "parent": v.parent, "reason": v.reason}
    return out


def _reviews(run_dir: Path) -> dict[str, str]:
    if not (run_dir / "reviews.sqlite").is_file():
        return {}
    from mmevol.reviews import ReviewStore

    store = ReviewStore(run_dir, create=False)
    try:
        return {sid: r.action for sid, r in store.all_latest().items()}
    finally:
        store.close()


def version_quality(
    run_dir: Path, samples: list[tuple[int, bool, str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """One row per prompt version that made evolutions (ordered by name, then first round)."""
    reviews = _reviews(run_dir)
    info = _store_info(run_dir)
    groups: dict[str, list[tuple[int, bool, dict[str, Any]]]] = defaultdict(list)
    for r, kept, _, s in samples:
        tag = (s.get("lineage") or {}).get("prompt_version")
        if r > 0 and tag:
            groups[str(tag)].append((r, kept, s))
    rows = []
    for tag, items in groups.items():
        scores = [
            float(s["lineage"]["verdict"]["score"])
            for _, _, s in items
            if (s["lineage"].get("verdict") or {}).get("score") is not None
        ]
        decided = [reviews[s["id"]] for _, _, s in items if s["id"] in reviews]
        n_kept = sum(k for _, k, _ in items)
        meta = info.get(tag, {"author": "bundled" if "/" not in tag else "?"})
        rows.append(
            {
                "prompt_version": tag,
                "name": tag.split("@", 1)[0].split("/", 1)[0],
                "rounds": sorted({r for r, _, _ in items}),
                "candidates": len(items),
                "kept": n_kept,
                "acceptance": round(n_kept / len(items), 4),
                "mean_judge_score": round(mean(scores), 3) if scores else None,
                "reviews": {a: decided.count(a) for a in ("accept", "reject", "edit")},
                "review_accept_rate": round(decided.count("accept") / len(decided), 4)
                if decided
                else None,
                # the grounded generator records the template but never reads it
                "backends": sorted({str(s["lineage"].get("backend")) for _, _, s in items}),
                "author": meta.get("author"),
                "reason": meta.get("reason", ""),
            }
        )
    rows.sort(key=lambda x: (x["name"], x["rounds"][0], x["prompt_version"]))
    return rows


def _cell(v: Any, pct: bool = False) -> str:
    if v is None:
        return "-"
    return f"{100 * v:.1f}" if pct else escape(str(v))


def prompt_versions_html(runs: list[dict[str, Any]]) -> str:
    """The section (heading + one table per run); empty when no run records versions."""
    if not any(f.get("prompt_versions") for f in runs):
        return ""
    head = (
        "<tr><th class=l>prompt version</th><th class=l>author</th><th class=l>made by</th>"
        "<th>rounds</th>"
        "<th>evolutions</th><th>kept</th><th>acceptance %</th><th>mean judge score (of 10)</th>"
        "<th>reviews accept / reject / edit</th><th>review accept %</th>"
        "<th class=l>reason</th></tr>"
    )
    cards = []
    for f in runs:
        rows = []
        for r in f.get("prompt_versions") or []:
            rv = r["reviews"]
            rows.append(
                f"<tr><td class=l><code>{escape(r['prompt_version'])}</code></td>"
                f"<td class=l>{_cell(r['author'])}</td>"
                f"<td class=l>{_cell(', '.join(r['backends']))}</td>"
                f"<td>{escape(','.join(str(x) for x in r['rounds']))}</td>"
                f"<td>{r['candidates']}</td><td>{r['kept']}</td>"
                f"<td>{_cell(r['acceptance'], True)}</td><td>{_cell(r['mean_judge_score'])}</td>"
                f"<td>{rv['accept']} / {rv['reject']} / {rv['edit']}</td>"
                f"<td>{_cell(r['review_accept_rate'], True)}</td>"
                f"<td class='l pre'>{_cell(r['reason'])}</td></tr>"
            )
        body = "".join(rows) or "<tr><td class=l colspan=11>no prompt versions recorded</td></tr>"
        caption = f"<h3>{escape(f['run_dir'])}</h3>" if len(runs) == 2 else ""
        cards.append(f"<div class=card>{caption}<table>{head}{body}</table></div>")
    # one run under the other: eleven columns do not fit half a page
    return f"<h2>Quality per prompt version</h2>{''.join(cards)}"
