"""The report's figures of the run itself: survival of candidates, parsing rungs and failures,
model calls, tokens and cost.

Same contract as ``plots``: each ``plot_*`` takes the figures dict and the report's
``Colours`` and returns ``draw.Chart``s, one axes each, or a sentence in place of a plot with
no data (a grounded run reports calls but no tokens and no cost: those say so).
"""

from __future__ import annotations

from typing import Any

from matplotlib.patches import Patch

from mmevol.report.colours import SINGLE, Colours
from mmevol.report.draw import Chart, counts, empty, figure, grouped_bars, label, legend_outside

Figures = dict[str, Any]
FATES = [("kept", "kept"), ("dropped_rules", "rules"), ("dropped_facts", "fact check"),
         ("dropped_degenerate", "degenerate text"), ("dropped_judge", "judge"),
         ("dropped_duplicate", "near-duplicate")]  # fmt: skip


def _kept(d: dict[str, Any] | None) -> float | None:
    """The kept share in %, None where the direction made no candidates that round."""
    return 100 * d.get("kept_share", 0) if d and d.get("candidates") else None


def plot_survival(f: Figures, c: Colours) -> list[Chart]:
    rounds = f["stats"]["rounds"]
    t1, t2 = "Kept share by direction", "Fate of candidates"
    dirs = sorted({d for r in rounds for d in r["by_direction"]})
    if not rounds or not any(r["candidates"] for r in rounds):
        why = "the run has no evolved candidates"
        return [empty(t1, why), empty(t2, why)]
    names = [f"round {r['round']}" for r in rounds]
    fig, ax = figure(0.5 * len(rounds) * max(1, len(dirs)) ** 0.5 + 1.8, 2.8)
    series: list[tuple[str, list[float | None], str]] = [
        (d, [_kept(r["by_direction"].get(d)) for r in rounds], c.direction(d)) for d in dirs
    ]
    grouped_bars(ax, names, series)
    ax.set_ylim(0, 100)
    label(ax, t1, "round", "% of candidates kept")
    legend_outside(ax, title="direction")
    fig2, ax2 = figure(0.55 * len(rounds) + 1.6, 2.8)
    bottom = [0] * len(rounds)
    for key, name in FATES:
        vals = [r.get(key, 0) for r in rounds]
        if any(vals):
            ax2.bar(names, vals, bottom=bottom, label=name, color=c.fate(key))
            bottom = [x + y for x, y in zip(bottom, vals, strict=True)]
    counts(ax2.yaxis)
    label(ax2, t2, "round", "candidates")
    legend_outside(ax2, title="fate")
    none = any(v is None for _, values, _ in series for v in values)
    note = "n/a: the direction made no candidates that round." if none else ""
    return [Chart(t1, fig, note=note), Chart(t2, fig2)]


def plot_failures(f: Figures, c: Colours) -> list[Chart]:
    stats = f["stats"]
    rungs, fails = stats["repairs"], stats["failures"]["by_class"]
    t1, t2 = "Replies by parsing rung", "Open failures by error class"
    charts = []
    if rungs:
        fig, ax = figure(4.2, 0.3 * len(rungs) + 1.0)
        ax.barh(list(rungs), list(rungs.values()), color=SINGLE)
        ax.invert_yaxis()
        counts(ax.xaxis)
        label(ax, t1, "replies", "task and parsing rung")
        charts.append(Chart(t1, fig))
    else:
        charts.append(empty(t1, "no parsed replies recorded"))
    if fails:
        fig, ax = figure(4.2, 0.3 * len(fails) + 1.0)
        ax.barh(list(fails), list(fails.values()), color="#c44e52")
        ax.invert_yaxis()
        counts(ax.xaxis)
        label(ax, t2, "units failed", "error class")
        charts.append(Chart(t2, fig))
    else:
        charts.append(empty(t2, "no unit has an open failure"))
    return charts


def _by_round(cost: dict[str, dict[str, float]], field: str) -> tuple[list[str], list[str], dict[tuple[str, str], float]]:  # fmt: skip
    """Rounds, stages and each (stage, round)'s value of ``field`` from "stage rK" keys."""
    values: dict[tuple[str, str], float] = {}
    for key, row in cost.items():
        stage, _, rnd = key.rpartition(" r")
        values[(stage, rnd)] = row[field]
    rounds = sorted({r for _, r in values}, key=lambda r: int(r) if r.isdigit() else 0)
    stages = sorted({s for s, _ in values})
    return rounds, stages, values


def plot_cost(f: Figures, c: Colours) -> list[Chart]:
    cost = f["cost_by_stage_round"]
    t1, t2, t3 = "Model calls by round", "Tokens by round", "Cost by round"
    if not cost:
        why = "the run recorded no model calls"
        return [empty(t1, why), empty(t2, why), empty(t3, why)]
    rounds, stages, calls = _by_round(cost, "calls")
    groups = [f"round {r}" for r in rounds]
    width = 0.45 * len(rounds) * len(stages) ** 0.5 + 1.6
    fig, ax = figure(width, 2.8)
    grouped_bars(ax, groups, [(s, [calls.get((s, r), 0.0) for r in rounds], c.stage(s))
                              for s in stages])  # fmt: skip
    counts(ax.yaxis)
    label(ax, t1, "round", "model calls")
    legend_outside(ax, title="stage")
    charts = [Chart(t1, fig)]
    _, _, tin = _by_round(cost, "input_tokens")
    _, _, tout = _by_round(cost, "output_tokens")
    if any(tin.values()) or any(tout.values()):
        fig, ax = figure(width, 2.8)
        n, w = len(stages), 0.8 / max(1, len(stages))
        for i, s in enumerate(stages):
            xs = [g + (i - (n - 1) / 2) * w for g in range(len(rounds))]
            ins = [tin.get((s, r), 0) for r in rounds]
            ax.bar(xs, ins, w, color=c.stage(s))
            ax.bar(xs, [tout.get((s, r), 0) for r in rounds], w, bottom=ins, color=c.stage(s),
                   alpha=0.45, hatch="///", edgecolor="white")  # fmt: skip
        ax.set_xticks(range(len(groups)), groups)
        counts(ax.yaxis)
        label(ax, t2, "round", "tokens")
        handles = [Patch(color=c.stage(s), label=s) for s in stages] + [
            Patch(facecolor="#999999", label="input tokens"),
            Patch(facecolor="#999999", alpha=0.45, hatch="///", edgecolor="white",
                  label="output tokens (hatched)"),
        ]  # fmt: skip
        legend_outside(ax, title="stage", handles=handles)
        charts.append(Chart(t2, fig))
    else:
        charts.append(empty(t2, "the backend reported no token counts"))
    _, _, usd = _by_round(cost, "cost_usd")
    if any(usd.values()):
        fig, ax = figure(width, 2.8)
        grouped_bars(ax, groups, [(s, [usd.get((s, r), 0.0) for r in rounds], c.stage(s))
                                  for s in stages])  # fmt: skip
        label(ax, t3, "round", "cost (USD)")
        legend_outside(ax, title="stage")
        charts.append(Chart(t3, fig))
    else:
        charts.append(empty(t3, "the backend reported no cost (0 USD)"))
    return charts
