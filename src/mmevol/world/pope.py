"""POPE-style absent objects for existence questions: corpus statistics and the three ways of
picking an object that is certainly not in a scene (random, popular, co-occurring).

``PopeStats`` counts object names (``colour kind``) and their co-occurrences over a scene
corpus (the loop uses its training scenes only); ``absent_name`` picks an absent name the
``random`` way (any), the ``popular`` way (among the 8 most frequent absent names) or the
``cooccur`` way (among the 3 absent names with the highest smoothed lift of co-occurrence
with this scene's objects: what co-occurs beyond what popularity predicts).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from mmevol.world.scenes import COLORS, SHAPES, Scene


@dataclass
class PopeStats:
    """Name frequencies and co-occurrences of a scene corpus (object name = ``colour kind``)."""

    freq: Counter[str] = field(default_factory=Counter)
    co: dict[str, Counter[str]] = field(default_factory=dict)
    n_scenes: int = 0

    @classmethod
    def from_scenes(cls, scenes: Iterable[Scene]) -> PopeStats:
        stats = cls()
        for scene in scenes:
            stats.n_scenes += 1
            names = sorted({s.name for s in scene.shapes})
            stats.freq.update(names)
            for a in names:
                stats.co.setdefault(a, Counter()).update(b for b in names if b != a)
        return stats


ALL_NAMES: tuple[str, ...] = tuple(f"{c} {k}" for c in COLORS for k in SHAPES)


def absent_name(scene: Scene, variant: str, rng: random.Random, stats: PopeStats) -> str | None:
    """An object name certainly absent from ``scene``, picked the POPE ``variant`` way."""
    present = {s.name for s in scene.shapes}
    absent = [n for n in ALL_NAMES if n not in present]
    if not absent:
        return None
    if variant == "random":
        return rng.choice(absent)
    if variant == "popular":
        ranked = sorted(absent, key=lambda n: (-stats.freq[n], n))
    elif variant == "cooccur":  # lift: co-occurrence beyond what popularity predicts
        score: dict[str, float] = {}
        for n in absent:
            co = sum(stats.co.get(p, Counter())[n] / (stats.freq[p] + 5) for p in present)
            score[n] = co / ((stats.freq[n] + 5) / max(stats.n_scenes, 1))
        ranked = sorted(absent, key=lambda n: (-score[n], -stats.freq[n], n))
    else:
        raise ValueError(f"unknown absent-object variant {variant!r}")
    return rng.choice(ranked[: 3 if variant == "cooccur" else 8])
