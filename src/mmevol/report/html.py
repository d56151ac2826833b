"""One self-contained HTML report (inline CSS and SVG, no scripts, opens offline).

``render_report(runs)`` takes the ``run_figures`` dicts of one run, or two for ``--compare``
(shown side by side, figure by figure). Every text that came from data is escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

from mmevol import __version__
from mmevol.evolve.stats import DROP_KEYS
from mmevol.report.directions import directions_html
from mmevol.report.plots import PLOTS
from mmevol.report.prompt_versions import prompt_versions_html
from mmevol.report.vocabulary import vocabulary_html

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;
background:#f6f7f9}
header{background:#1f2a44;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:22px} header p{margin:2px 0;opacity:.85;font-size:13px}
main{padding:12px 28px 40px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;
padding-bottom:4px}
.row{display:grid;gap:16px} .row.two{grid-template-columns:1fr 1fr}
.card{background:#fff;border:1px solid #e3e5ea;border-radius:8px;padding:12px;overflow-x:auto}
.card h3{margin:0 0 6px;font-size:13px;color:#555} svg{max-width:100%;height:auto}
table{border-collapse:collapse;font-size:12.5px} th,td{padding:4px 8px;text-align:right;
border-bottom:1px solid #eee} th{background:#fafafa} td.l,th.l{text-align:left}
.chain{display:flex;gap:8px;overflow-x:auto;padding-bottom:6px}
.step{min-width:230px;max-width:300px;background:#fff;border:1px solid #e3e5ea;border-radius:8px;
padding:8px;font-size:12px} .step.drop{border-color:#e8a0a0;background:#fff7f7}
.step .q{font-weight:600;margin:4px 0} .step .a{color:#444} .tag{display:inline-block;
font-size:11px;padding:1px 6px;border-radius:9px;background:#eef1f7;margin-right:4px}
.muted{color:#777;font-size:12px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:16px;
margin-top:16px} .grid h2{margin:0 0 8px;border:0;font-size:15px}
"""


def _summary(f: dict[str, Any]) -> str:
    stats = f["stats"]
    means = {r["round"]: r for r in f["per_round"]}
    head = (
        "<tr><th>round</th><th>candidates</th><th>kept</th><th>kept %</th><th>dropped: rules</th>"
        "<th>facts</th><th>degenerate</th><th>judge</th><th>near-dup</th><th>mean skills</th>"
        "<th>mean steps</th><th>mean words</th><th>distinct verb-noun / 100</th></tr>"
    )
    seed = means.get(0, {})
    rows = [
        f"<tr><td class=l>seeds</td><td>-</td><td>{stats['seed_items']}</td><td>-</td><td>-</td>"
        "<td>-</td><td>-</td><td>-</td><td>-</td>"
        f"<td>{seed.get('mean_skills')}</td><td>{seed.get('mean_steps')}</td>"
        f"<td>{seed.get('mean_question_words')}</td>"
        f"<td>{seed.get('verb_noun', {}).get('unique_per_100')}</td></tr>"
    ]
    for r in stats["rounds"]:
        m = means.get(r["round"], {})
        rows.append(
            f"<tr><td class=l>round {r['round']}</td><td>{r['candidates']}</td><td>{r['kept']}</td>"
            f"<td>{100 * r['kept_share']:.1f}</td>"
            + "".join(f"<td>{r.get(k, 0)}</td>" for k in DROP_KEYS)
            + f"<td>{m.get('mean_skills')}</td><td>{m.get('mean_steps')}</td>"
            f"<td>{m.get('mean_question_words')}</td>"
            f"<td>{m.get('verb_noun', {}).get('unique_per_100')}</td></tr>"
        )
    ds, calls = stats["dataset"], stats["calls"]
    foot = (
        f"<p class=muted>dataset: {ds['total']} samples = {ds['seed_items']} seed items + "
        f"{ds['evolved']} kept evolutions · {calls['total']} model calls · "
        f"{calls['input_tokens']} input / {calls['output_tokens']} output tokens · "
        f"${calls['cost_usd']:.4f} · open failures: {stats['failures']['open']}</p>"
    )
    return f"<div class=card><table>{head}{''.join(rows)}</table>{foot}</div>"


def _lineages(f: dict[str, Any]) -> str:
    out = []
    for chain in f["lineages"]:
        steps = []
        for node in chain:
            label = "seed" if node["round"] == 0 else f"round {node['round']}"
            tags = f"<span class=tag>{escape(label)}</span>"
            if node["direction"]:
                tags += f"<span class=tag>{escape(str(node['direction']))}</span>"
            if node["score"] is not None:
                tags += f"<span class=tag>score {node['score']}</span>"
            verdict = escape(str(node["reason"] or ""))
            if node["verdict"]:
                verdict += f" — {escape(str(node['verdict']))}"
            steps.append(
                f"<div class='step{'' if node['kept'] else ' drop'}'>{tags}"
                f"<div class=q>{escape(node['question'])}</div>"
                f"<div class=a>{escape(node['answer'][:400])}</div>"
                f"<div class=muted>{node['steps']} steps · {verdict}</div></div>"
            )
        out.append(f"<div class=chain>{'→'.join(steps)}</div>")
    return "".join(out) or "<p class=muted>no sample reached the last round</p>"


def _title(f: dict[str, Any]) -> str:
    return f"{escape(f['run_dir'])} · backend {escape(str(f['backend']))}"


def render_report(runs: list[dict[str, Any]], shared_seeds: int | None = None) -> str:
    """The whole HTML page for one run, or two runs side by side (``shared_seeds``: how many
    seeds the two have in common)."""
    two = len(runs) == 2
    row = "row two" if two else "row"
    names = " vs ".join(_title(f) for f in runs)
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>mmevol report — {names}</title><style>{CSS}</style></head><body>",
        f"<header><h1>mmevol report</h1><p>{names}</p>",
        f"<p>verb–noun pairs: {escape(runs[0]['verb_noun_extractor'])} · mmevol {__version__}"
        " · counts are those of <code>mmevol stats --json</code></p></header><main>",
        f"<h2>Rounds</h2><div class='{row}'>",
        *(_summary(f) for f in runs),
        "</div>",
        "<h2>Rounds by direction</h2>",
        directions_html(runs, shared_seeds),
        f"<h2>Vocabulary mapping</h2><div class='{row}'>",
        *(vocabulary_html(f) for f in runs),
        "</div>",
    ]
    if not two:
        parts.append("<div class=grid>")
    for _name, (heading, plot) in PLOTS.items():
        svgs = [plot(f) for f in runs]
        if not any(svgs):
            continue
        if not two:  # one run: a grid of figure cards
            parts.append(f"<section class=card><h2>{escape(heading)}</h2>{svgs[0]}</section>")
            continue
        parts.append(f"<h2>{escape(heading)}</h2><div class='{row}'>")
        for f, svg in zip(runs, svgs, strict=True):
            caption = f"<h3>{escape(f['run_dir'])}</h3>"
            empty = "<p class=muted>nothing to show</p>"
            parts.append(f"<div class=card>{caption}{svg or empty}</div>")
        parts.append("</div>")
    if not two:
        parts.append("</div>")
    parts.append(prompt_versions_html(runs))
    parts.append(f"<h2>Example lineages</h2><div class='{row}'>")
    for f in runs:
        parts.append(f"<div>{_lineages(f)}</div>")
    parts.append("</div></main></body></html>")
    return "\n".join(parts)
