"""The report's colours: one colour per thing (round, direction, fate, format, stage) per report.

``Colours(runs)`` is built once from every run the report shows, so with ``--compare`` the
same format, round or direction has the same colour in both runs' figures, and in every figure
it appears in. Rounds are shades of one hue (seeds grey, later rounds darker); directions,
candidate fates and model-call stages have fixed colours of their own; formats take distinct
colours in the order of their total count over the runs (the commonest get the most distinct).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

import matplotlib as mpl

SEEDS = "#9a9a9a"
DIRECTIONS = {"perception": "#4c72b0", "reasoning": "#8172b3", "interactive": "#dd8452"}
FATES = {
    "kept": "#3a923a",
    "dropped_rules": "#c44e52",
    "dropped_facts": "#e377c2",
    "dropped_degenerate": "#8c564b",
    "dropped_judge": "#d6a400",
    "dropped_duplicate": "#6f6f6f",
}
STAGES = {"evolve": "#1b9e77", "judge": "#d95f02", "revise": "#7570b3"}
SINGLE = "#4c72b0"  # a series that is the only one in its figure
# rank of a noun under its verb (1st .. 4th, then the rest), dark to light, in one hue
NOUN_RANKS = ["#08519c", "#3182bd", "#6baed6", "#9ecae1"]
OTHER_NOUNS = "#d9d9d9"


def _categorical() -> list[str]:
    """Distinct colours: tab10, then tab20's light partners, then tab20b's darker ones."""
    tab10 = [mpl.colors.to_hex(c) for c in mpl.colormaps["tab10"].colors]  # type: ignore[attr-defined]
    tab20 = [mpl.colors.to_hex(c) for c in mpl.colormaps["tab20"].colors]  # type: ignore[attr-defined]
    tab20b = [mpl.colors.to_hex(c) for c in mpl.colormaps["tab20b"].colors]  # type: ignore[attr-defined]
    return tab10 + tab20[1::2] + tab20b[0::4] + tab20b[2::4]


CATEGORICAL = _categorical()


def text_colour(background: str) -> str:
    """Black or white, whichever reads better on ``background``."""
    r, g, b = mpl.colors.to_rgb(background)
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"


class Colours:
    """The colour of each thing shown, the same in every figure of one report."""

    def __init__(self, runs: list[dict[str, Any]]):
        formats: Counter[str] = Counter()
        for f in runs:
            for r in f["per_round"]:
                formats.update(r["formats"])
        order = sorted(formats, key=lambda k: (-formats[k], k))
        self.formats = {k: CATEGORICAL[i % len(CATEGORICAL)] for i, k in enumerate(order)}
        self.last_round = max((r["round"] for f in runs for r in f["per_round"]), default=1)
        stages = sorted({k.split(" r", 1)[0] for f in runs for k in f["cost_by_stage_round"]})
        extra = [c for c in CATEGORICAL if c not in STAGES.values()]
        self.stages = dict(STAGES)
        for s in stages:
            if s not in self.stages:
                self.stages[s] = extra[(len(self.stages) - len(STAGES)) % len(extra)]

    def round(self, k: int) -> str:
        """Seeds grey; rounds 1..last in shades of blue, light to dark."""
        if k == 0:
            return SEEDS
        step = (k - 1) / max(1, self.last_round - 1)
        return mpl.colors.to_hex(mpl.colormaps["Blues"](0.45 + 0.5 * min(1.0, step)))

    def format(self, name: str) -> str:
        return self.formats.get(name, "#cccccc")

    def direction(self, name: str) -> str:
        """Built-in directions have fixed colours; a custom one gets a palette colour picked by
        its name, so it is the same in every figure and every report."""
        if name in DIRECTIONS:
            return DIRECTIONS[name]
        free = [c for c in CATEGORICAL if c not in DIRECTIONS.values()]
        return free[int(hashlib.sha256(name.encode()).hexdigest(), 16) % len(free)]

    def fate(self, key: str) -> str:
        return FATES[key]

    def stage(self, name: str) -> str:
        return self.stages.get(name, "#937860")
