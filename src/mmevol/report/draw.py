"""How the report draws: matplotlib set-up, one ``Chart`` per plot, SVG output, shared layout.

A ``Chart`` is one titled plot: a matplotlib figure with a single axes, or, when there is
nothing to draw, a short sentence shown in its place (never empty axes). Legends go outside
the axes (``legend_outside``; the saved figure grows to hold them), ticks are plain numbers
(no mathtext), and every text object is literal when saved: labels come from data, so ``$``
is a dollar sign (``text.parse_math`` and ``text.usetex`` off). ``charts_html`` lays out the
charts of one figure side by side.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from html import escape
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, LogFormatter, MaxNLocator, NullFormatter

plt.rcParams.update(
    {
        "svg.fonttype": "none",
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "axes.axisbelow": True,
        "grid.alpha": 0.3,
        "figure.dpi": 100,
        "axes.formatter.use_mathtext": False,
        # every text drawn comes from data (categories, skills, formats, reasons): literal,
        # never TeX or mathtext ("$\\undefinedmacro{x$" would fail the whole report)
        "text.usetex": False,
        "text.parse_math": False,
    }
)


@dataclass
class Chart:
    """One plot of a figure: ``fig`` (one axes), or None with ``none`` said in its place."""

    title: str
    fig: Figure | None = None
    none: str = ""
    note: str = ""  # a sentence under the plot (what was counted, what was left out)


def figure(width: float, height: float) -> tuple[Figure, Axes]:
    """A figure of one axes, outside pyplot's registry (nothing to close, nothing kept)."""
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig, fig.subplots()


def empty(title: str, sentence: str) -> Chart:
    """The chart of a plot with no data: its title and ``sentence`` instead of axes."""
    return Chart(title, None, sentence)


def label(ax: Axes, title: str, x: str, y: str) -> None:
    ax.set_title(title, fontsize=10, fontweight="bold")
    ax.set_xlabel(x)
    ax.set_ylabel(y)


def legend_outside(
    ax: Axes,
    *,
    title: str | None = None,
    rows: int = 14,
    handles: list[Any] | None = None,
    below: bool = False,
) -> None:
    """The axes' legend outside the plot area, never over the bars or lines (the saved figure
    grows to hold it): right of the axes, more than ``rows`` entries in several columns, or
    ``below`` the axes' tick labels and x label, in three columns."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    else:
        labels = [h.get_label() for h in handles]
    if not handles:
        return
    where: dict[str, Any] = {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0)}
    ncol = -(-len(handles) // rows)
    if below:
        renderer = ax.figure.canvas.get_renderer()  # type: ignore[attr-defined]
        box = ax.get_tightbbox(renderer)  # the axes with its tick labels and x label
        y = ax.transAxes.inverted().transform((0, box.y0))[1] if box is not None else -0.3
        where, ncol = {"loc": "upper left", "bbox_to_anchor": (0.0, y - 0.02)}, 3
    ax.legend(handles, labels, **where, borderaxespad=0, fontsize=8, frameon=False, ncol=ncol,
              title=title, title_fontsize=8, alignment="left")  # fmt: skip


def grouped_bars(
    ax: Axes, groups: list[str], series: list[tuple[str, list[float | None], str]]
) -> None:
    """Bars of several series (``(label, values, colour)``) side by side in each group; a value
    None (nothing to measure) is marked "n/a" where its bar would stand, not drawn as 0."""
    width = 0.8 / max(1, len(series))
    for i, (name, values, colour) in enumerate(series):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        ax.bar(xs, [v or 0 for v in values], width, label=name, color=colour)
        for x, v in zip(xs, values, strict=True):
            if v is None:
                ax.text(x, 0, "n/a", ha="center", va="bottom", fontsize=7, color="#555555",
                        rotation=90)  # fmt: skip
    ax.set_xticks(range(len(groups)), groups)


def counts(axis: Any) -> None:
    """An axis of counts: whole-number ticks, 1.2k for thousands (never 0.2, 0.4 ... of one)."""
    axis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    axis.set_major_formatter(FuncFormatter(human))


def human(v: float, _pos: Any = None) -> str:
    """A tick number for people: 1200 -> 1.2k, 3400000 -> 3.4M, 0.5 -> 0.5."""
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.3g}{suffix}"
    return f"{v:.3g}"


def plain_ticks(ax: Axes) -> None:
    """Plain-text tick labels: log axes get numbers ("100", not mathtext's 10^2, which reads
    as "$\\mathdefault{10^{2}}$" with mathtext off) and minor log ticks no labels."""
    for axis in (ax.xaxis, ax.yaxis):
        if isinstance(axis.get_major_formatter(), LogFormatter):
            axis.set_major_formatter(FuncFormatter(human))
            axis.set_minor_formatter(NullFormatter())


def literal_text(fig: Figure) -> None:
    """Make every text object of ``fig`` literal: no TeX, no mathtext (``$`` is a dollar)."""
    for text in fig.findobj(Text):
        text.set_usetex(False)
        text.set_parse_math(False)


def to_svg(fig: Figure) -> str:
    for ax in fig.axes:
        plain_ticks(ax)
    literal_text(fig)
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", pad_inches=0.05)
    text = buf.getvalue()
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)  # dates, licence URIs
    return text[text.index("<svg") :]


def is_wide(charts: list[Chart], inches: float = 6.5) -> bool:
    """Whether a chart is too wide to share a row with another figure (long-tail bars)."""
    return any(c.fig is not None and c.fig.get_figwidth() > inches for c in charts)


def charts_html(charts: list[Chart]) -> str:
    """The charts of one figure side by side (wrapping); a chart without data is its title and
    "none: <sentence>" in place of the plot."""
    out = []
    for c in charts:
        if c.fig is None:
            body = f"<div class=none><b>{escape(c.title)}</b><p>none: {escape(c.none)}</p></div>"
        else:
            body = to_svg(c.fig)
        note = f"<p class=muted>{escape(c.note)}</p>" if c.note else ""
        out.append(f"<div class=panel>{body}{note}</div>")
    return f"<div class=panels>{''.join(out)}</div>"
