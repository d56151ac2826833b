"""Matplotlib figures of a run, rendered to inline SVG text (every one titled, axes labelled).

Each ``plot_*`` takes the dict of ``figures.run_figures`` and returns an SVG string, or None
when the run has nothing to show for it. ``PLOTS`` lists them in report order by name. Text
from the data is drawn literally (``text.parse_math`` and ``text.usetex`` off, and every text
object of a figure set so before it is saved), so a ``$`` in a name is just a dollar sign.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.text import Text

plt.rcParams.update(
    {
        "svg.fonttype": "none",
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "figure.dpi": 100,
        # every text drawn comes from data (categories, skills, formats, reasons): literal,
        # never TeX or mathtext ("$\\undefinedmacro{x$" would fail the whole report)
        "text.usetex": False,
        "text.parse_math": False,
    }
)
PALETTE = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3"]
Figures = dict[str, Any]


def literal_text(fig: Figure) -> None:
    """Make every text object of ``fig`` literal: no TeX, no mathtext (``$`` is a dollar)."""
    for text in fig.findobj(Text):
        text.set_usetex(False)
        text.set_parse_math(False)


def _svg(fig: Figure) -> str:
    literal_text(fig)
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)  # dates, licence URIs
    return text[text.index("<svg") :]


def _label(ax: Any, title: str, x: str, y: str) -> None:
    ax.set_title(title, fontsize=10, fontweight="bold")
    ax.set_xlabel(x)
    ax.set_ylabel(y)


def _grouped_hist(f: Figures, key: str, mean_key: str, title: str, xlabel: str) -> str | None:
    rounds = [r for r in f["per_round"] if r["samples"]]
    if not rounds:
        return None
    values = sorted({int(v) for r in rounds for v in r[key]})
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    width = 0.8 / len(rounds)
    for i, r in enumerate(rounds):
        share = [100 * r[key].get(str(v), 0) / r["samples"] for v in values]
        label = ("seeds" if r["round"] == 0 else f"round {r['round']}") + f" (mean {r[mean_key]})"
        ax.bar([v + i * width for v in values], share, width, label=label, color=PALETTE[i % 7])
    ax.set_xticks([v + width * (len(rounds) - 1) / 2 for v in values], [str(v) for v in values])
    _label(ax, title, xlabel, "% of the round's samples")
    ax.legend(fontsize=8)
    return _svg(fig)


def plot_skills(f: Figures) -> str | None:
    return _grouped_hist(
        f, "skills_per_sample", "mean_skills", "Atomic capabilities per sample", "skills per sample"
    )


def plot_steps(f: Figures) -> str | None:
    return _grouped_hist(
        f, "steps_per_sample", "mean_steps", "Reasoning steps per sample", "steps per sample"
    )


def plot_scores(f: Figures) -> str | None:
    scores = f["judge_scores"]
    if not scores:
        return None
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3.0))
    labels = list(scores)
    a.boxplot([scores[k] for k in labels], tick_labels=[f"round {k}" for k in labels])
    _label(a, "Judge score of evolutions by round", "round", "judge score (0-10)")
    every = [s for k in labels for s in scores[k]]
    b.hist(every, bins=[x / 2 for x in range(0, 22)], color=PALETTE[0])
    _label(b, "Judge score histogram (all rounds)", "judge score", "evolutions")
    return _svg(fig)


def plot_verb_noun(f: Figures) -> str | None:
    top = f["verb_noun_top"]
    if not top:
        return None
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(top) + 1.2))
    verbs = [t["verb"] for t in reversed(top)]
    for y, t in enumerate(reversed(top)):
        left = 0
        for j, (noun, n) in enumerate(t["nouns"]):
            ax.barh(y, n, left=left, color=PALETTE[j % 7], edgecolor="white")
            if n >= 0.06 * top[0]["count"]:
                ax.text(left + n / 2, y, noun, ha="center", va="center", fontsize=7, color="white")
            left += n
        rest = t["count"] - left
        if rest > 0:
            ax.barh(y, rest, left=left, color="#cccccc", edgecolor="white")
    ax.set_yticks(range(len(verbs)), verbs)
    _label(ax, "Top root verbs and their nouns (grey: other nouns)", "instructions", "root verb")
    return _svg(fig)


def plot_diversity(f: Figures) -> str | None:
    rounds = [r for r in f["per_round"] if r["samples"]]
    if not rounds:
        return None
    names = ["seeds" if r["round"] == 0 else f"round {r['round']}" for r in rounds]
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 2.8))
    a.bar(names, [r["verb_noun"]["unique_per_100"] for r in rounds], color=PALETTE[2])
    _label(a, "Distinct verb-noun pairs per 100 instructions", "round", "distinct pairs / 100")
    b.bar(names, [r["verb_noun"]["entropy_bits"] for r in rounds], color=PALETTE[4])
    _label(b, "Entropy of verb-noun pairs", "round", "entropy (bits)")
    return _svg(fig)


def plot_objects(f: Figures) -> str | None:
    tail = f["objects_long_tail"]
    if not tail:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.0))
    counts = [n for _, n in tail]
    ax.plot(range(1, len(counts) + 1), counts, marker=".", color=PALETTE[0])
    ax.set_yscale("log")
    # the head of the tail named in a box (labels at the points overlap when counts tie)
    head = "\n".join(f"{i}. {name} ({n})" for i, (name, n) in enumerate(tail[:6], start=1))
    ax.text(
        0.98, 0.95, head, transform=ax.transAxes, ha="right", va="top", fontsize=7, multialignment="left",
        bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "#bbbbbb"},
    )  # fmt: skip
    _label(ax, f"Object categories: long tail ({len(tail)} categories)", "rank", "mentions (log)")
    return _svg(fig)


def plot_formats(f: Figures) -> str | None:
    rounds = [r for r in f["per_round"] if r["samples"]]
    if not rounds:
        return None
    formats = sorted({k for r in rounds for k in r["formats"]})
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(rounds) + 1.6))
    names = ["seeds" if r["round"] == 0 else f"round {r['round']}" for r in rounds]
    left = [0.0] * len(rounds)
    cmap = plt.get_cmap("tab20")
    for j, fmt in enumerate(formats):
        share = [100 * r["formats"].get(fmt, 0) / r["samples"] for r in rounds]
        ax.barh(names, share, left=left, label=fmt, color=cmap(j % 20))
        left = [a + b for a, b in zip(left, share, strict=True)]
    ax.invert_yaxis()
    ax.legend(fontsize=7, ncol=3, bbox_to_anchor=(0, -0.25), loc="upper left")
    _label(ax, "Question formats by round", "% of the round's samples", "round")
    return _svg(fig)


def plot_survival(f: Figures) -> str | None:
    rounds = f["stats"]["rounds"]
    dirs = sorted({d for r in rounds for d in r["by_direction"]})
    if not dirs:
        return None
    fig, (a, b) = plt.subplots(1, 2, figsize=(8.5, 3.0))
    width = 0.8 / len(dirs)
    for i, d in enumerate(dirs):
        share = [100 * r["by_direction"].get(d, {}).get("kept_share", 0) for r in rounds]
        a.bar([r["round"] + i * width for r in rounds], share, width, label=d, color=PALETTE[i])
    a.set_xticks([r["round"] + width * (len(dirs) - 1) / 2 for r in rounds],
                 [f"round {r['round']}" for r in rounds])  # fmt: skip
    a.legend(fontsize=8)
    _label(a, "Kept share by direction", "round", "% of candidates kept")
    names = [f"round {r['round']}" for r in rounds]
    bottom = [0] * len(rounds)
    fates = [("kept", "kept"), ("dropped_rules", "rules"), ("dropped_facts", "fact check"),
             ("dropped_degenerate", "degenerate text"), ("dropped_judge", "judge"),
             ("dropped_duplicate", "near-duplicate")]  # fmt: skip
    for j, (key, label) in enumerate(fates):
        vals = [r.get(key, 0) for r in rounds]
        b.bar(names, vals, bottom=bottom, label=label, color=PALETTE[j])
        bottom = [x + y for x, y in zip(bottom, vals, strict=True)]
    b.legend(fontsize=8)
    _label(b, "Fate of candidates", "round", "candidates")
    return _svg(fig)


def plot_failures(f: Figures) -> str | None:
    stats = f["stats"]
    rungs, fails = stats["repairs"], stats["failures"]["by_class"]
    if not rungs and not fails:
        return None
    fig, (a, b) = plt.subplots(1, 2, figsize=(8.5, 2.8))
    a.barh(list(rungs), list(rungs.values()), color=PALETTE[0])
    _label(a, "Replies by parsing rung", "replies", "task_rung")
    b.barh(list(fails) or ["(none)"], list(fails.values()) or [0], color=PALETTE[3])
    _label(b, "Open failures by error class", "units", "error class")
    return _svg(fig)


def plot_cost(f: Figures) -> str | None:
    cost = f["cost_by_stage_round"]
    if not cost:
        return None
    names = list(cost)
    fig, (a, b) = plt.subplots(1, 2, figsize=(8.5, 2.8))
    tin = [cost[k]["input_tokens"] for k in names]
    tout = [cost[k]["output_tokens"] for k in names]
    a.bar(names, tin, label="input", color=PALETTE[0])
    a.bar(names, tout, bottom=tin, label="output", color=PALETTE[1])
    a.legend(fontsize=8)
    a.tick_params(axis="x", rotation=45)
    _label(a, "Tokens by stage and round", "stage and round", "tokens")
    b.bar(names, [cost[k]["cost_usd"] for k in names], color=PALETTE[2])
    b.tick_params(axis="x", rotation=45)
    _label(b, "Cost by stage and round", "stage and round", "USD")
    return _svg(fig)


PLOTS: dict[str, tuple[str, Callable[[Figures], str | None]]] = {
    "skills": ("Atomic capabilities per sample (paper Fig. 10a)", plot_skills),
    "steps": ("Reasoning steps per sample (paper Fig. 10b)", plot_steps),
    "scores": ("Judge score by round (paper Fig. 10c)", plot_scores),
    "verb_noun": ("Root verb-noun pairs", plot_verb_noun),
    "diversity": ("Instruction diversity by round", plot_diversity),
    "objects": ("Object categories", plot_objects),
    "formats": ("Formats", plot_formats),
    "survival": ("Survival and elimination", plot_survival),
    "failures": ("Parsing and failures", plot_failures),
    "cost": ("Tokens and cost", plot_cost),
}
