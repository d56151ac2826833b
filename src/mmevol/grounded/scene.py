"""The grounded generator's view of a call context.

``View`` parses the symbolic context (objects with normalised boxes and attributes, captions)
into ``Thing``s and answers the questions every template needs: counts, unique referring
phrases ("red circle", "leftmost person"), absent distractors for POPE-style existence
questions (random, popular or co-occurring). COCO crowd regions (attribute ``crowd: yes``) are
not instances: ``count``/``of``/``boxed`` leave them out, a category with one is ``crowded`` and
its count a lower bound (``how_many``: "at least 12 people ..., plus a crowd of people"), and no
referring phrase is built for it. ``varied`` is False on shape-world scenes, whose texts keep one
fixed wording. ``Draft`` (``grounded.draft``) and the English helpers (``grounded.words``) are
re-exported here.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from mmevol.geometry import Box, center, is_normalised
from mmevol.grounded.draft import Draft
from mmevol.grounded.words import amount, article, be, cap, join_words, plural
from mmevol.world.scenes import COLORS, SHAPES, SIZES

__all__ = ["Draft", "Thing", "View", "amount", "article", "be", "cap", "join_words", "plural"]

# COCO-like categories, most frequent first (used for "popular" distractors).
COMMON_CATEGORIES: tuple[str, ...] = (
    "person", "car", "chair", "cup", "bottle", "dining table", "book", "bowl", "truck",
    "bench", "handbag", "umbrella", "bird", "boat", "traffic light", "cell phone", "dog",
    "cat", "horse", "bicycle", "motorcycle", "bus", "train", "airplane", "couch", "bed",
    "tv", "laptop", "clock", "vase", "potted plant", "sink", "pizza", "cake", "banana",
    "apple", "knife", "fork", "spoon", "kite", "surfboard", "skateboard", "frisbee",
    "giraffe", "elephant", "zebra", "sheep", "cow", "teddy bear", "refrigerator",
)  # fmt: skip
CO_OCCURRING: dict[str, tuple[str, ...]] = {
    "person": ("handbag", "backpack", "umbrella", "cell phone", "bicycle"),
    "dining table": ("chair", "cup", "fork", "knife", "bowl", "bottle"),
    "car": ("truck", "traffic light", "bus", "motorcycle"),
    "dog": ("frisbee", "cat", "couch"),
    "cat": ("dog", "couch", "bed", "remote"),
    "horse": ("cow", "sheep", "truck"),
    "bus": ("car", "truck", "traffic light"),
    "surfboard": ("boat", "kite"),
    "laptop": ("cell phone", "book", "cup", "keyboard"),
    "pizza": ("dining table", "knife", "cup", "fork"),
    "couch": ("tv", "potted plant", "remote", "chair"),
    "giraffe": ("zebra", "elephant"),
    "elephant": ("giraffe", "zebra"),
    "zebra": ("giraffe", "elephant"),
    "kitchen": ("sink", "oven", "refrigerator"),
    "sink": ("toilet", "oven", "refrigerator"),
    "bed": ("book", "clock", "teddy bear"),
}
POSITION_MARGIN = 0.02
NEGATION = re.compile(r"\b(?:no|not|none|never|without|nobody|nothing)\b|n't", re.I)


@dataclass(frozen=True)
class Thing:
    """One annotated object of the context."""

    index: int
    category: str
    box: Box | None
    attrs: dict[str, str]

    @property
    def crowd(self) -> bool:
        """A crowd region (COCO ``iscrowd``): a group of this category, not one instance."""
        return self.attrs.get("crowd") == "yes"

    def full(self) -> str:
        """All known attributes with the category, e.g. ``large red circle``."""
        if self.crowd:
            return f"crowd of {plural(self.category)}"
        words = [self.attrs[k] for k in ("size", "color") if self.attrs.get(k)]
        return " ".join([*words, self.category])


class View:
    """The symbolic scene of one call: things, captions and derived facts."""

    def __init__(self, context: dict[str, Any]) -> None:
        self.things: list[Thing] = []
        for raw in context.get("objects") or []:
            if not isinstance(raw, dict) or not str(raw.get("category", "")).strip():
                continue
            box: Box | None = None
            bb = raw.get("bbox")
            if isinstance(bb, list) and len(bb) == 4:
                try:
                    cand = tuple(round(float(v), 3) for v in bb)
                    box = (cand[0], cand[1], cand[2], cand[3]) if is_normalised(cand) else None
                except (TypeError, ValueError):
                    box = None
            attrs = raw.get("attributes") if isinstance(raw.get("attributes"), dict) else {}
            attrs = {str(k): str(v) for k, v in (attrs or {}).items() if v}
            category = str(raw["category"]).strip().lower()
            self.things.append(Thing(len(self.things), category, box, attrs))
        self.captions = [str(c) for c in context.get("captions") or [] if str(c).strip()]
        cats = self.categories()
        self.world = bool(cats) and all(c in SHAPES for c in cats)
        # Shape-world texts keep one fixed wording (the closed loop reads them); others vary.
        self.varied = not self.world

    # -- basic facts ---------------------------------------------------------------------
    def categories(self) -> list[str]:
        return list(dict.fromkeys(t.category for t in self.things))

    def count(self, category: str) -> int:
        """Individually annotated instances (crowd regions are not instances)."""
        return len(self.of(category))

    def of(self, category: str) -> list[Thing]:
        """The individual instances of a category (crowd regions excluded)."""
        return [t for t in self.things if t.category == category and not t.crowd]

    def crowded(self, category: str) -> bool:
        """True when the category has a crowd region: its count is only a lower bound."""
        return any(t.crowd for t in self.things if t.category == category)

    def countable(self) -> list[str]:
        """Categories whose exact count is known (no crowd region), in order of appearance."""
        return [c for c in self.categories() if not self.crowded(c)]

    def crowds(self) -> list[Thing]:
        return [t for t in self.things if t.crowd and t.box is not None]

    def how_many(self, category: str) -> str:
        """``3 cups``, or for a category with a crowd ``at least 12 people and a crowd of
        people``."""
        n = self.count(category)
        if not self.crowded(category):
            return amount(n, category)
        group = f"a crowd of {plural(category)}" if category == "person" else f"a group of {plural(category)}"  # fmt: skip
        if n == 0:
            return group
        return f"at least {amount(n, category)} outlined one by one, plus {group}"

    def boxed(self) -> list[Thing]:
        """Boxed individual instances (crowd regions excluded)."""
        return [t for t in self.things if t.box is not None and not t.crowd]

    def all_boxed(self, category: str) -> bool:
        return all(t.box is not None for t in self.of(category))

    def has_attrs(self) -> bool:
        return any(t.attrs.get("color") for t in self.things)

    def texts(self) -> list[Thing]:
        return [t for t in self.things if t.attrs.get("text") and t.box is not None]

    # -- referring phrases ---------------------------------------------------------------
    def _match(self, t: Thing, category: str, size: str | None, color: str | None) -> bool:
        return (
            t.category == category
            and (size is None or t.attrs.get("size") == size)
            and (color is None or t.attrs.get("color") == color)
        )

    def ref(self, t: Thing, use_color: bool = True) -> str | None:
        """The shortest phrase naming ``t`` and nothing else, or None when there is none."""
        if t.box is None or t.crowd:
            return None
        size, color = t.attrs.get("size"), t.attrs.get("color") if use_color else None
        options: list[tuple[str | None, str | None]] = [(None, None)]
        if color:
            options.append((None, color))
        if size:
            options.append((size, None))
        if size and color:
            options.append((size, color))
        for sz, col in options:
            if sum(1 for o in self.things if self._match(o, t.category, sz, col)) == 1:
                return " ".join(w for w in (sz, col, t.category) if w)
        same = self.of(t.category)
        if len(same) < 2 or not self.all_boxed(t.category) or self.crowded(t.category):
            return None
        xs = sorted((center(o.box)[0], o.index) for o in same if o.box is not None)
        if xs[0][1] == t.index and xs[1][0] - xs[0][0] >= POSITION_MARGIN:
            return f"leftmost {t.category}"
        if xs[-1][1] == t.index and xs[-1][0] - xs[-2][0] >= POSITION_MARGIN:
            return f"rightmost {t.category}"
        return None

    def nameable(self, use_color: bool = True) -> list[tuple[Thing, str]]:
        """Boxed things that have a unique referring phrase, with that phrase."""
        out = []
        for t in self.things:
            r = self.ref(t, use_color)
            if r is not None:
                out.append((t, r))
        return out

    # -- absent distractors (POPE-style) -------------------------------------------------
    def absent(self, rng: random.Random) -> tuple[str, str] | None:
        """A phrase naming something not in the scene, and how it was chosen."""
        present = set(self.categories())
        modes = ["random", "popular", "co-occurring"]
        rng.shuffle(modes)
        vocab = SHAPES if self.world else COMMON_CATEGORIES
        for mode in modes:
            if mode == "random":
                cands = [c for c in vocab if c not in present]
                if cands:
                    return rng.choice(cands), mode
            elif mode == "popular":
                cands = [c for c in vocab if c not in present]
                if cands:
                    return cands[0], mode
            elif self.world and self.has_attrs():
                combos = [
                    f"{col} {c}"
                    for c in self.categories()
                    for col in COLORS
                    if not any(t.attrs.get("color") == col for t in self.of(c))
                ]
                if combos:
                    return rng.choice(combos), mode
            elif not self.world:
                cands = [
                    c
                    for p in self.categories()
                    for c in CO_OCCURRING.get(p, ())
                    if c not in present
                ]
                if cands:
                    return rng.choice(cands), mode
        return None

    def affirmative_captions(self) -> list[str]:
        """Captions without negation ("no", "not", "without", ...), safe to take facts from."""
        return [c for c in self.captions if not NEGATION.search(c)]

    def caption_categories(self) -> list[str]:
        """Known category words that affirmative captions mention (contexts without objects)."""
        text = " " + " ".join(self.affirmative_captions()).lower() + " "
        for ch in ".,;:!?\"'()":
            text = text.replace(ch, " ")
        found = []
        for c in (*COMMON_CATEGORIES, *SHAPES):
            if f" {c} " in text or f" {plural(c)} " in text:
                found.append(c)
        return found


SIZE_WORDS = tuple(SIZES)
