"""The grounded generator's view of a call context, and the draft that collects one new item.

``View`` parses the symbolic context (objects with normalised boxes and attributes, captions)
into ``Thing``s and answers the questions every template needs: counts, unique referring
phrases ("red circle", "leftmost person"), absent distractors for POPE-style existence
questions (random, popular or co-occurring), plurals and articles. ``Draft`` accumulates the
explicit manipulations (``grounding_1(red circle) -> bbx_1``, ``calculate(...) -> res_1``, ...)
with their skills and objects, and emits an item in the reply schema.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

from mmevol.backends.geometry import Box, center, format_box, is_normalised
from mmevol.loop.world import COLORS, SHAPES, SIZES

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
_IRREGULAR = {"person": "people", "mouse": "mice", "knife": "knives", "sheep": "sheep",
              "skis": "skis", "scissors": "scissors", "fish": "fish", "deer": "deer"}  # fmt: skip
POSITION_MARGIN = 0.02
NEGATION = re.compile(r"\b(?:no|not|none|never|without|nobody|nothing)\b|n't", re.I)


def plural(category: str) -> str:
    """The plural of a category name (multi-word names pluralise their last word)."""
    head, _, last = category.rpartition(" ")
    if last in _IRREGULAR:
        word = _IRREGULAR[last]
    elif last.endswith(("s", "x", "z", "ch", "sh")):
        word = last + "es"
    elif last.endswith("y") and last[-2:-1] not in "aeiou":
        word = last[:-1] + "ies"
    else:
        word = last + "s"
    return f"{head} {word}" if head else word


def article(phrase: str) -> str:
    """``a`` or ``an`` before a phrase."""
    return "an" if phrase[:1].lower() in "aeiou" else "a"


def join_words(parts: list[str], conj: str = "and") -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + f" {conj} " + parts[-1]


@dataclass(frozen=True)
class Thing:
    """One annotated object of the context."""

    index: int
    category: str
    box: Box | None
    attrs: dict[str, str]

    def full(self) -> str:
        """All known attributes with the category, e.g. ``large red circle``."""
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

    # -- basic facts ---------------------------------------------------------------------
    def categories(self) -> list[str]:
        return list(dict.fromkeys(t.category for t in self.things))

    def count(self, category: str) -> int:
        return sum(1 for t in self.things if t.category == category)

    def of(self, category: str) -> list[Thing]:
        return [t for t in self.things if t.category == category]

    def boxed(self) -> list[Thing]:
        return [t for t in self.things if t.box is not None]

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
        if t.box is None:
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
        if len(same) < 2 or not self.all_boxed(t.category):
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


@dataclass
class Draft:
    """A new item under construction: explicit steps, skills, objects and the format."""

    format: str = "open_ended"
    steps: list[dict[str, str]] = field(default_factory=list)
    skills: list[str] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)
    _n: dict[str, int] = field(default_factory=dict)

    def _next(self, kind: str) -> int:
        self._n[kind] = self._n.get(kind, 0) + 1
        return self._n[kind]

    def skill(self, *names: str) -> None:
        for n in names:
            if n not in self.skills:
                self.skills.append(n)

    def obj(self, *names: str) -> None:
        for n in names:
            if n not in self.objects:
                self.objects.append(n)

    def ground(self, phrase: str, box: Box) -> str:
        i = self._next("bbx")
        self.steps.append({"manipulation": f"grounding_{i}({phrase}) -> bbx_{i}",
                           "description": f"The {phrase} is located at {format_box(box)}."})  # fmt: skip
        self.skill("grounding")
        self.obj(phrase)
        return f"bbx_{i}"

    def refer(self, box: Box, what: str) -> str:
        i = self._next("tgt")
        self.steps.append({"manipulation": f"referring_{i}({format_box(box)}) -> tgt_{i}",
                           "description": f"The region {format_box(box)} contains {article(what)} {what}."})  # fmt: skip
        self.skill("referencing")
        return f"tgt_{i}"

    def calc(self, expr: str, description: str) -> str:
        i = self._next("res")
        self.steps.append({"manipulation": f"calculate({expr}) -> res_{i}", "description": description})  # fmt: skip
        self.skill("calculating")
        return f"res_{i}"

    def count(self, category: str, n: int) -> str:
        return self.calc(f"count of {category}", f"number of {plural(category)} = {n}")

    def ocr(self, phrase: str, text: str) -> str:
        i = self._next("txt")
        self.steps.append({"manipulation": f"ocr_{i}({phrase}) -> txt_{i}",
                           "description": f'The text on the {phrase} reads "{text}".'})  # fmt: skip
        self.skill("ocr")
        self.obj(phrase)
        return f"txt_{i}"

    def item(self, source: int, question: str, answer: str) -> dict[str, Any]:
        return {
            "source": source,
            "question": question,
            "answer": answer,
            "objects": list(self.objects),
            "skills": list(self.skills),
            "format": self.format,
            "steps": list(self.steps),
        }


def be(n: int) -> str:
    """``is`` for one thing, ``are`` for several."""
    return "is" if n == 1 else "are"


def amount(n: int, category: str) -> str:
    """``1 circle``, ``3 circles``, ``2 people``."""
    return f"{n} {category if n == 1 else plural(category)}"


def cap(text: str) -> str:
    """Upper-case the first letter only."""
    return text[:1].upper() + text[1:]
