"""The report's direction table: each round and evolution direction, what it proposed and kept.

Rows are (round, direction), with a row for the whole round; columns are, per run, the
candidates, the kept share, the improved share of the judged candidates and the mean judge
score (from ``stats["rounds"][k]["by_direction"]``, so they equal ``mmevol stats``). With
``--compare`` both runs share one table, aligned row by row, so an imported run of the authors
and an mmevol run on the same seeds can be read direction by direction; a line above the table
says how many seeds the two runs share. Every string from data is escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

ALL = "all directions"


def _rows(f: dict[str, Any]) -> dict[tuple[int, str], dict[str, Any]]:
    out: dict[tuple[int, str], dict[str, Any]] = {}
    for r in f["stats"]["rounds"]:
        for direction, d in r["by_direction"].items():
            out[(r["round"], direction)] = d
        out[(r["round"], ALL)] = {
            "candidates": r["candidates"],
            "kept_share": r["kept_share"],
            "judged": r.get("judged", 0),
            "improved_share": r.get("improved_share", 0.0),
            "mean_judge_score": r.get("mean_judge_score"),
        }
    return out


def _cells(d: dict[str, Any] | None) -> str:
    if d is None:
        return "<td>-</td>" * 4
    judged = d.get("judged", 0)
    improved = f"{100 * d.get('improved_share', 0.0):.1f}" if judged else "-"
    score = d.get("mean_judge_score")
    return (
        f"<td>{d['candidates']}</td><td>{100 * d['kept_share']:.1f}</td><td>{improved}</td>"
        f"<td>{'-' if score is None else score}</td>"
    )


def directions_html(runs: list[dict[str, Any]], shared_seeds: int | None = None) -> str:
    """One table of every (round, direction) of one run, or of two runs side by side."""
    tables = [_rows(f) for f in runs]
    keys = sorted({k for t in tables for k in t}, key=lambda k: (k[0], k[1] == ALL, k[1]))
    if not keys:
        return "<div class=card><p class=muted>none: the run has no evolution rounds</p></div>"
    group = (
        "<th>candidates</th><th>kept %</th><th>improved % of judged</th>"
        "<th>mean judge score (of 10)</th>"
    )
    head = "<tr><th class=l>round</th><th class=l>direction</th>" + group * len(runs) + "</tr>"
    if len(runs) == 2:
        names = "".join(
            f"<th colspan=4 style='text-align:center'>{escape(f['run_dir'])}</th>" for f in runs
        )
        head = f"<tr><th colspan=2></th>{names}</tr>{head}"
    body = "".join(
        f"<tr><td class='l nw'>{k[0]}</td><td class='l nw'>{escape(k[1])}</td>"
        + "".join(_cells(t.get(k)) for t in tables)
        + "</tr>"
        for k in keys
    )
    note = ""
    if shared_seeds is not None:
        counts = " and ".join(str(f["stats"]["seeds"]) for f in runs)
        note = f"<p class=muted>seeds: {counts}; {shared_seeds} in both runs (same image)</p>"
    return f"<div class=card>{note}<table>{head}{body}</table></div>"
