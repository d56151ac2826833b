"""The report's figures of the dataset by round (skills, steps, judge scores, verb-noun pairs,
diversity, object classes, formats) and ``PLOTS``, every figure in report order.

Each ``plot_*`` takes the dict of ``figures.run_figures`` and the report's ``Colours`` and
returns its ``draw.Chart``s: one titled axes each (axes labelled, units named), or the sentence
said in place of a plot with no data. The figures of the run itself (survival, failures,
tokens and cost) are in ``plots_run``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from matplotlib.axes import Axes
from matplotlib.patches import Patch

from mmevol.report.colours import NOUN_RANKS, OTHER_NOUNS, SINGLE, Colours, text_colour
from mmevol.report.draw import (
    Chart,
    counts,
    empty,
    figure,
    grouped_bars,
    label,
    legend_outside,
)
from mmevol.report.objects import CLASSES
from mmevol.report.plots_run import plot_cost, plot_failures, plot_survival

Figures = dict[str, Any]
Plot = Callable[[Figures, Colours], list[Chart]]
ORDINALS = ["1st", "2nd", "3rd"] + [f"{i}th" for i in range(4, 21)]
OBJECT_BARS = 80  # classes drawn one bar each; the rest share one grey bar


def _round_name(k: int) -> str:
    return "seeds" if k == 0 else f"round {k}"


def _grouped_hist(f: Figures, c: Colours, key: str, mean_key: str, title: str, x: str) -> Chart:
    rounds = [r for r in f["per_round"] if r["samples"]]
    if not rounds:
        return empty(title, "the run has no samples")
    values = sorted({int(v) for r in rounds for v in r[key]})
    fig, ax = figure(min(5.0, max(3.4, 0.1 * len(values) * len(rounds) + 1.4)), 2.8)
    series = [
        (
            f"{_round_name(r['round'])} (mean {r[mean_key]})",
            [100 * r[key].get(str(v), 0) / r["samples"] for v in values],
            c.round(r["round"]),
        )
        for r in rounds
    ]
    grouped_bars(ax, [str(v) for v in values], series)
    label(ax, title, x, "% of the round's samples")
    legend_outside(ax)
    return Chart(title, fig)


def plot_skills(f: Figures, c: Colours) -> list[Chart]:
    return [
        _grouped_hist(
            f,
            c,
            "skills_per_sample",
            "mean_skills",
            "Atomic capabilities per sample",
            "skills per sample",
        )
    ]


def plot_steps(f: Figures, c: Colours) -> list[Chart]:
    return [
        _grouped_hist(
            f, c, "steps_per_sample", "mean_steps", "Reasoning steps per sample", "steps per sample"
        )
    ]


def plot_scores(f: Figures, c: Colours) -> list[Chart]:
    scores = f["judge_scores"]
    t1, t2 = "Judge score of evolutions by round", "Judge score histogram (all rounds)"
    if not scores:
        why = "no evolution has a judge score"
        return [empty(t1, why), empty(t2, why)]
    rounds = list(scores)
    fig, ax = figure(0.8 * len(rounds) + 1.6, 2.8)
    box = ax.boxplot([scores[k] for k in rounds], tick_labels=[f"round {k}" for k in rounds],
                     patch_artist=True, medianprops={"color": "black"})  # fmt: skip
    for patch, k in zip(box["boxes"], rounds, strict=True):
        patch.set_facecolor(c.round(int(k)))
    label(ax, t1, "round", "judge score (0-10)")
    fig2, ax2 = figure(3.8, 2.8)
    ax2.hist([scores[k] for k in rounds], bins=[x / 2 - 0.25 for x in range(0, 22)], stacked=True,
             color=[c.round(int(k)) for k in rounds], label=[f"round {k}" for k in rounds])  # fmt: skip
    counts(ax2.yaxis)
    label(ax2, t2, "judge score (0-10)", "evolutions")
    legend_outside(ax2)
    return [Chart(t1, fig), Chart(t2, fig2)]


def plot_verb_noun(f: Figures, c: Colours) -> list[Chart]:
    top, title = f["verb_noun_top"], "Top root verbs and their nouns"
    if not top:
        return [empty(title, "no verb-noun pair was found in the questions")]
    fig, ax = figure(5.2, 0.32 * len(top) + 1.3)
    rows = list(reversed(top))
    for y, t in enumerate(rows):
        left = 0
        for j, (_noun, n) in enumerate(t["nouns"]):
            ax.barh(y, n, left=left, color=NOUN_RANKS[j % len(NOUN_RANKS)], edgecolor="white",
                    linewidth=0.5)  # fmt: skip
            left += n
        if t["count"] > left:
            ax.barh(y, t["count"] - left, left=left, color=OTHER_NOUNS, edgecolor="white",
                    linewidth=0.5)  # fmt: skip
    ax.set_ylim(-0.6, len(rows) - 0.4)
    _noun_labels(ax, rows, max(t["count"] for t in top))
    ranks = max(len(t["nouns"]) for t in top)
    handles = [Patch(color=NOUN_RANKS[j % len(NOUN_RANKS)], label=f"{ORDINALS[j]} noun")
               for j in range(ranks)] + [Patch(color=OTHER_NOUNS, label="other nouns")]  # fmt: skip
    ax.set_yticks(range(len(rows)), [t["verb"] for t in rows])
    ax.grid(axis="y", visible=False)
    counts(ax.xaxis)
    label(ax, title, "questions (root verb with this noun)", "root verb")
    legend_outside(ax, title="the verb's nouns", handles=handles)
    return [Chart(title, fig)]


def _noun_labels(ax: Axes, rows: list[dict[str, Any]], most: int) -> None:
    """Each noun in its bar where it fits, else listed after the bar; the x range grows until
    those lists end inside the axes (so the legend beside the axes covers none of them)."""
    renderer = ax.figure.canvas.get_renderer()  # type: ignore[attr-defined]
    right = most * 1.02
    for _ in range(6):
        for old in list(ax.texts):
            old.remove()
        ax.set_xlim(0, right)
        need = right
        for y, t in enumerate(rows):
            left, outside = 0, []
            for j, (noun, n) in enumerate(t["nouns"]):
                colour = NOUN_RANKS[j % len(NOUN_RANKS)]
                text = ax.text(left + n / 2, y, noun, ha="center", va="center", fontsize=7,
                               color=text_colour(colour))  # fmt: skip
                span = ax.transData.transform([(left, 0), (left + n, 0)])
                if text.get_window_extent(renderer).width > (span[1][0] - span[0][0]) - 4:
                    text.remove()  # does not fit in its bar: named after the bar instead
                    outside.append(noun)
                left += n
            if outside:
                after = ax.text(t["count"] + most * 0.015, y, ", ".join(outside), va="center",
                                fontsize=7, color="#555555")  # fmt: skip
                end = after.get_window_extent(renderer).x1
                need = max(need, ax.transData.inverted().transform((end, 0))[0] * 1.02)
        if need <= right:
            return
        right = need


def plot_diversity(f: Figures, c: Colours) -> list[Chart]:
    rounds = [r for r in f["per_round"] if r["samples"]]
    t1, t2 = "Distinct verb-noun pairs per 100 questions", "Entropy of verb-noun pairs"
    if not any(r["verb_noun"]["pairs"] for r in rounds):
        why = "no verb-noun pair was found in the questions"
        return [empty(t1, why), empty(t2, why)]
    names = [_round_name(r["round"]) for r in rounds]
    charts = []
    for title, key, unit in ((t1, "unique_per_100", "distinct pairs / 100 questions"),
                             (t2, "entropy_bits", "entropy (bits)")):  # fmt: skip
        fig, ax = figure(0.7 * len(rounds) + 1.6, 2.6)
        values = [r["verb_noun"][key] + 0.0 for r in rounds]  # + 0.0: no "-0"
        bars = ax.bar(names, values, color=[c.round(r["round"]) for r in rounds])
        # each bar's value written on it (an entropy of 0 bits is a value, not a missing bar)
        ax.bar_label(bars, [f"{v:g}" if r["verb_noun"]["pairs"] else "no pairs\nfound"
                            for v, r in zip(values, rounds, strict=True)], fontsize=7, padding=2)  # fmt: skip
        ax.set_ylim(0, 1.2 * max(values) or 1.0)
        label(ax, title, "round", unit)
        charts.append(Chart(title, fig))
    return charts


def plot_objects(f: Figures, c: Colours) -> list[Chart]:
    tail, counted = f["objects_long_tail"], f.get("objects_counted", CLASSES)
    noun, nouns = ("object class", "object classes") if counted == CLASSES else ("name", "names")
    title = (
        f"Object {nouns.split()[-1]}: long tail ({len(tail)} {noun if len(tail) == 1 else nouns})"
    )
    unmapped = f.get("objects_unmapped") or {}
    note = "Counted: items of the dataset (seed items and kept evolutions) mentioning each " + (
        "object class annotated in the run's seeds, once per item; referring phrases "
        "(\u201cleftmost person\u201d) count as the class they name."
        if counted == CLASSES
        else "object name as the items write it (the seeds annotate no object classes)."
    )
    if unmapped:
        names = ", ".join(f"{k} ({n})" for k, n in list(unmapped.items())[:8])
        more = f" and {len(unmapped) - 8} more" if len(unmapped) > 8 else ""
        note += f" Not counted, {len(unmapped)} names of no annotated class: {names}{more}."
    if not tail:
        return [Chart(title, None, "no item names an object", note)]
    bars = tail[:OBJECT_BARS]
    if len(tail) > OBJECT_BARS:
        rest = tail[OBJECT_BARS - 1 :]
        bars = [*tail[: OBJECT_BARS - 1], [f"{len(rest)} more {nouns}", sum(n for _, n in rest)]]
    fig, ax = figure(max(3.0, 0.13 * len(bars) + 1.0), 3.2)
    colours = [SINGLE] * len(bars)
    if len(tail) > OBJECT_BARS:
        colours[-1] = "#bbbbbb"
    ax.bar(range(len(bars)), [n for _, n in bars], 0.8, color=colours)
    ax.set_xticks(range(len(bars)), [name for name, _ in bars], rotation=90, fontsize=7)
    ax.set_xlim(-0.7, len(bars) - 0.3)
    heights = [n for _, n in bars]
    if max(heights) >= 30 * min(heights):
        ax.set_yscale("log")
        ax.set_ylim(0.7, max(heights) * 1.5)
    else:
        counts(ax.yaxis)
    ax.grid(axis="x", visible=False)
    label(ax, title, f"{noun} (by count)", "items mentioning it")
    return [Chart(title, fig, note=note)]


def plot_formats(f: Figures, c: Colours) -> list[Chart]:
    rounds, title = [r for r in f["per_round"] if r["samples"]], "Question formats by round"
    if not rounds:
        return [empty(title, "the run has no samples")]
    formats = sorted(
        {k for r in rounds for k in r["formats"]}, key=lambda k: list(c.formats).index(k)
    )
    fig, ax = figure(4.8, 0.42 * len(rounds) + 1.0)
    names = [_round_name(r["round"]) for r in rounds]
    left = [0.0] * len(rounds)
    for fmt in formats:
        share = [100 * r["formats"].get(fmt, 0) / r["samples"] for r in rounds]
        ax.barh(names, share, left=left, label=fmt, color=c.format(fmt), edgecolor="white",
                linewidth=0.4)  # fmt: skip
        left = [a + b for a, b in zip(left, share, strict=True)]
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.grid(axis="y", visible=False)
    label(ax, title, "% of the round's samples", "round")
    legend_outside(ax, title="format", below=True)
    return [Chart(title, fig)]


PLOTS: dict[str, tuple[str, Plot]] = {
    "skills": ("Atomic capabilities per sample (paper Fig. 10a)", plot_skills),
    "steps": ("Reasoning steps per sample (paper Fig. 10b)", plot_steps),
    "scores": ("Judge score by round (paper Fig. 10c)", plot_scores),
    "verb_noun": ("Root verb-noun pairs", plot_verb_noun),
    "diversity": ("Instruction diversity by round", plot_diversity),
    "objects": ("Object classes", plot_objects),
    "formats": ("Formats", plot_formats),
    "survival": ("Survival and elimination", plot_survival),
    "failures": ("Parsing and failures", plot_failures),
    "cost": ("Model calls, tokens and cost", plot_cost),
}
