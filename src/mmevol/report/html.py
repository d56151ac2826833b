"""One self-contained HTML report (inline CSS and SVG, no scripts, opens offline).

``render_report(runs)`` takes the ``run_figures`` dicts of one run, or two for ``--compare``
(figures side by side, figure by figure, in the same colours; wide tables and lineages one run
under the other). Every text that came from data is escaped, and questions and answers keep
their line breaks (``white-space: pre-wrap``). The page never grows wider than the window: a
table too wide for its card scrolls inside it.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

from mmevol import __version__
from mmevol.evolve.stats import DROP_KEYS
from mmevol.report.colours import Colours
from mmevol.report.directions import directions_html
from mmevol.report.draw import charts_html, is_wide
from mmevol.report.plots import PLOTS
from mmevol.report.prompt_versions import prompt_versions_html
from mmevol.report.vocabulary import vocabulary_html

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;
background:#f6f7f9}
header{background:#1f2a44;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:22px} header p{margin:2px 0;opacity:.85;font-size:13px;
overflow-wrap:anywhere}
main{padding:12px 28px 40px;max-width:1800px} h2{font-size:17px;margin:28px 0 8px;
border-bottom:1px solid #ddd;padding-bottom:4px}
.row{display:grid;gap:16px} .row.two{grid-template-columns:repeat(2,minmax(0,1fr))}
.row>*,.grid>*{min-width:0}
.card{background:#fff;border:1px solid #e3e5ea;border-radius:8px;padding:12px;overflow-x:auto}
.card+.card{margin-top:12px} .row>.card+.card{margin-top:0}
.card h3{margin:0 0 6px;font-size:13px;color:#555;overflow-wrap:anywhere}
svg{max-width:100%;height:auto}
.panels{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:flex-start}
.panel{min-width:0;max-width:100%} .panel>.muted{max-width:640px}
.none{min-width:220px;padding:8px 0} .none b{font-size:13px} .none p{color:#777;margin:6px 0}
table{border-collapse:collapse;font-size:12.5px} th,td{padding:4px 8px;text-align:right;
border-bottom:1px solid #eee;vertical-align:top} th{background:#fafafa} td.l,th.l{text-align:left}
.nw{white-space:nowrap} .pre{white-space:pre-wrap;overflow-wrap:break-word}
.chain{display:flex;gap:8px;overflow-x:auto;padding-bottom:6px;margin-bottom:8px}
.step{flex:0 0 250px;background:#fff;border:1px solid #e3e5ea;border-radius:8px;
padding:8px;font-size:12px} .step.drop{border-color:#e8a0a0;background:#fff7f7}
.arrow{align-self:center;color:#999}
.step .q{font-weight:600;margin:4px 0} .step .a{color:#444}
.step .q,.step .a,.step .v{white-space:pre-wrap;overflow-wrap:break-word}
.tag{display:inline-block;font-size:11px;padding:1px 6px;border-radius:9px;background:#eef1f7;
margin-right:4px}
.muted{color:#777;font-size:12px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,560px),1fr));gap:16px;
margin-top:16px} .grid h2{margin:0 0 8px;border:0;font-size:15px}
"""
ANSWER_CHARS = 600


def _summary(f: dict[str, Any]) -> str:
    stats = f["stats"]
    means = {r["round"]: r for r in f["per_round"]}
    head = (
        "<tr><th rowspan=2 class=l>round</th><th rowspan=2>candidates</th><th rowspan=2>kept</th>"
        "<th rowspan=2>kept %</th><th colspan=5>dropped by</th>"
        "<th rowspan=2>mean skills per sample</th><th rowspan=2>mean steps per sample</th>"
        "<th rowspan=2>mean question length (words)</th>"
        "<th rowspan=2>distinct verb-noun pairs per 100 questions</th></tr>"
        "<tr><th>rules</th><th>facts</th><th>degenerate</th><th>judge</th><th>near-dup</th></tr>"
    )

    def means_of(m: dict[str, Any]) -> str:
        vn = (m.get("verb_noun") or {}).get("unique_per_100") if m.get("samples") else None
        return "".join(
            f"<td>{'-' if v is None else v}</td>"
            for v in (m.get("mean_skills"), m.get("mean_steps"), m.get("mean_question_words"), vn)
        )

    rows = [
        f"<tr><td class='l nw'>seeds</td><td>-</td><td>{stats['seed_items']}</td>"
        + "<td>-</td>" * 6
        + means_of(means.get(0, {}))
        + "</tr>"
    ]
    for r in stats["rounds"]:
        rows.append(
            f"<tr><td class='l nw'>round {r['round']}</td><td>{r['candidates']}</td>"
            f"<td>{r['kept']}</td><td>{100 * r['kept_share']:.1f}</td>"
            + "".join(f"<td>{r.get(k, 0)}</td>" for k in DROP_KEYS)
            + means_of(means.get(r["round"], {}))
            + "</tr>"
        )
    ds, calls = stats["dataset"], stats["calls"]
    foot = (
        f"<p class=muted>dataset: {ds['total']} samples = {ds['seed_items']} seed items + "
        f"{ds['evolved']} kept evolutions · {calls['total']} model calls · "
        f"{calls['input_tokens']} input / {calls['output_tokens']} output tokens · "
        f"cost {calls['cost_usd']:.4f} USD · open failures: {stats['failures']['open']}</p>"
    )
    return f"<table>{head}{''.join(rows)}</table>{foot}"


def _clip(text: str, n: int) -> str:
    """``text`` up to about ``n`` characters, cut between words and marked "…" when cut."""
    text = text.strip()
    if len(text) <= n:
        return text
    cut = text[:n]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    return (cut[:space] if space > 0.8 * n else cut).rstrip() + " …"


def _lineages(f: dict[str, Any]) -> str:
    """Each chain seed -> round 1 -> ..., its questions and answers with their line breaks."""
    out = []
    for chain in f["lineages"]:
        steps = []
        for node in chain:
            name = "seed" if node["round"] == 0 else f"round {node['round']}"
            tags = f"<span class=tag>{escape(name)}</span>"
            if node["direction"]:
                tags += f"<span class=tag>{escape(str(node['direction']))}</span>"
            if node["score"] is not None:
                tags += f"<span class=tag>judge score {node['score']}/10</span>"
            verdict = escape(str(node["reason"] or ""))
            if node["verdict"]:
                verdict += f" — {escape(str(node['verdict']))}"
            steps.append(
                f"<div class='step{'' if node['kept'] else ' drop'}'>{tags}"
                f"<div class=q>{escape(str(node['question']).strip())}</div>"
                f"<div class=a>{escape(_clip(str(node['answer']), ANSWER_CHARS))}</div>"
                f"<div class='muted v'>{node['steps']} step{'' if node['steps'] == 1 else 's'}"
                f" · {verdict}</div></div>"
            )
        out.append(f"<div class=chain>{'<span class=arrow>→</span>'.join(steps)}</div>")
    return "".join(out) or "<p class=muted>none: no sample reached the last round</p>"


def _title(f: dict[str, Any]) -> str:
    return f"{escape(f['run_dir'])} · backend {escape(str(f['backend']))}"


def _cards(runs: list[dict[str, Any]], body: Callable[[dict[str, Any]], str]) -> str:
    """One full-width card per run (wide tables and lineages are not squeezed side by side)."""
    if len(runs) == 1:
        return f"<div class=card>{body(runs[0])}</div>"
    return "".join(f"<div class=card><h3>{escape(f['run_dir'])}</h3>{body(f)}</div>" for f in runs)


def _figures(runs: list[dict[str, Any]]) -> list[str]:
    colours = Colours(runs)  # one colour per round, direction, format, stage in both runs
    two = len(runs) == 2
    parts = [] if two else ["<div class=grid>"]
    for heading, plot in PLOTS.values():
        charts = [plot(f, colours) for f in runs]
        wide = any(is_wide(c) for c in charts)  # a long tail of bars: the whole width
        if not two:  # one run: a grid of figure cards
            span = " style='grid-column:1/-1'" if wide else ""
            parts.append(
                f"<section class=card{span}><h2>{escape(heading)}</h2>"
                f"{charts_html(charts[0])}</section>"
            )
            continue
        parts.append(f"<h2>{escape(heading)}</h2><div class='{'row' if wide else 'row two'}'>")
        for f, run_charts in zip(runs, charts, strict=True):
            caption = f"<h3>{escape(f['run_dir'])}</h3>"
            parts.append(f"<div class=card>{caption}{charts_html(run_charts)}</div>")
        parts.append("</div>")
    if not two:
        parts.append("</div>")
    return parts


def render_report(runs: list[dict[str, Any]], shared_seeds: int | None = None) -> str:
    """The whole HTML page for one run, or two runs side by side (``shared_seeds``: how many
    seeds the two have in common)."""
    row = "row two" if len(runs) == 2 else "row"
    names = " vs ".join(_title(f) for f in runs)
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<meta name=viewport content='width=device-width,initial-scale=1'>",
        f"<title>mmevol report — {names}</title><style>{CSS}</style></head><body>",
        f"<header><h1>mmevol report</h1><p>{names}</p>",
        f"<p>verb–noun pairs: {escape(runs[0]['verb_noun_extractor'])} · mmevol {__version__}"
        " · counts are those of <code>mmevol stats --json</code></p></header><main>",
        "<h2>Rounds</h2>",
        _cards(runs, _summary),
        "<h2>Rounds by direction</h2>",
        directions_html(runs, shared_seeds),
        f"<h2>Vocabulary mapping</h2><div class='{row}'>",
        *(vocabulary_html(f) for f in runs),
        "</div>",
        *_figures(runs),
        prompt_versions_html(runs),
        "<h2>Example lineages</h2>",
        _cards(runs, _lineages),
        "</main></body></html>",
    ]
    return "\n".join(parts)
