"""Question types of the closed loop's world, each with an exact answer from the scene graph.

This module owns the question *types* (``QTYPES``), the closed answer vocabulary (``ANSWERS``,
so a tiny classifier can answer every question) split into answer kinds (``FAMILIES``: a
question form always asks for one kind, e.g. a colour, so the model scores only those), the
``Question`` record and one generator per type. A generator reads only the ``Scene`` (and, for
POPE-style absent objects, corpus statistics in ``pope.PopeStats``) and returns up to ``n``
distinct questions; a type that cannot be asked about a scene (no printed word for OCR, no
unique object to refer to) returns fewer.

Existence questions come in POPE's variants: ``present`` (answer yes) and three ways of picking
an absent object (answer no), ``random``, ``popular`` and ``cooccur`` (see ``world.pope``).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from mmevol.world.pope import ALL_NAMES, PopeStats, absent_name
from mmevol.world.scenes import COLORS, SHAPES, SIZES, WORDS, Scene, Shape, plural

__all__ = ["ALL_NAMES", "PopeStats", "absent_name"]  # re-exported: older imports keep working

QTYPES: tuple[str, ...] = (
    "existence", "counting", "attribute", "grounding", "referring",
    "spatial", "comparison", "ocr", "reasoning",
)  # fmt: skip
LETTERS: tuple[str, ...] = ("A", "B", "C", "D")
RELATIONS: tuple[str, ...] = ("left", "right", "above", "below")
MAX_COUNT = 6
ANSWERS: tuple[str, ...] = (
    "yes", "no", *(str(i) for i in range(MAX_COUNT + 1)), *COLORS, *SIZES,
    *LETTERS, *SHAPES, *RELATIONS, *WORDS,
)  # fmt: skip
ABSENT_VARIANTS: tuple[str, ...] = ("random", "popular", "cooccur")
FAMILIES: dict[str, tuple[str, ...]] = {  # the answer kinds; every question form asks for one
    "yes_no": ("yes", "no"),
    "number": tuple(str(i) for i in range(MAX_COUNT + 1)),
    "color": tuple(COLORS),
    "size": tuple(SIZES),
    "letter": LETTERS,
    "shape": SHAPES,
    "relation": RELATIONS,
    "word": WORDS,
}
FAMILY_OF: dict[str, str] = {a: f for f, answers in FAMILIES.items() for a in answers}
SIZE_RANK = {s: i for i, s in enumerate(SIZES)}


class Question(BaseModel):
    """One question about one scene; ``answer`` is always a member of ``ANSWERS``."""

    model_config = ConfigDict(extra="forbid")

    id: str
    scene_id: str
    qtype: str
    text: str
    answer: str
    variant: str = ""
    family: str = Field(default="", description="the answer kind the question form asks for")
    meta: dict[str, object] = Field(default_factory=dict)

    def answer_family(self) -> str:
        """``family``, or for old records the family of the gold answer (the same thing: each
        question form of every generator always asks for one kind of answer)."""
        return self.family or FAMILY_OF[self.answer]


def _unique(scene: Scene) -> list[Shape]:
    """Shapes whose ``colour kind`` name occurs once (so a phrase refers to exactly one)."""
    names = Counter(s.name for s in scene.shapes)
    return [s for s in scene.shapes if names[s.name] == 1]


def _center(s: Shape) -> tuple[float, float]:
    return ((s.bbox[0] + s.bbox[2]) / 2, (s.bbox[1] + s.bbox[3]) / 2)


def box_text(box: list[float]) -> str:
    return "[" + ", ".join(f"{v:.2f}" for v in box) + "]"


def relation(a: Shape, b: Shape) -> str | None:
    """Where ``a`` is relative to ``b`` when one axis clearly dominates, else None."""
    (ax, ay), (bx, by) = _center(a), _center(b)
    dx, dy = ax - bx, ay - by
    if max(abs(dx), abs(dy)) < 0.15 or min(abs(dx), abs(dy)) * 2 > max(abs(dx), abs(dy)):
        return None
    if abs(dx) > abs(dy):
        return "left" if dx < 0 else "right"
    return "above" if dy < 0 else "below"


Cand = tuple[str, str, str, dict[str, object]]  # text, answer, variant, meta


def _existence(scene: Scene, rng: random.Random, stats: PopeStats) -> list[Cand]:
    out: list[Cand] = []
    for s in rng.sample(scene.shapes, len(scene.shapes)):
        out.append((f"Is there a {s.name} in the image?", "yes", "present", {}))
    absents: list[Cand] = []
    for variant in ABSENT_VARIANTS:
        name = absent_name(scene, variant, rng, stats)
        if name is not None:
            absents.append((f"Is there a {name} in the image?", "no", variant, {"object": name}))
    rng.shuffle(absents)
    mixed: list[Cand] = []  # alternate yes / no so any prefix is balanced
    for c_yes, c_no in zip(out, absents, strict=False):
        mixed.extend((c_yes, c_no) if rng.random() < 0.5 else (c_no, c_yes))
    return mixed


def _counting(scene: Scene, rng: random.Random, stats: PopeStats) -> list[Cand]:
    out: list[Cand] = [(f"How many {plural(k)} are there?", str(scene.count(shape=k)), "kind", {}) for k in SHAPES]  # fmt: skip
    out += [(f"How many {c} shapes are there?", str(scene.count(color=c)), "color", {}) for c in COLORS]  # fmt: skip
    out.append(("How many shapes are there in total?", str(len(scene.shapes)), "total", {}))
    rng.shuffle(out)
    nonzero = [c for c in out if c[1] != "0"]
    zero = [c for c in out if c[1] == "0"]
    return nonzero + zero[:2]  # mostly things that are there, a few zeros


def _attribute(scene: Scene, rng: random.Random, stats: PopeStats) -> list[Cand]:
    kinds = Counter(s.shape for s in scene.shapes)
    out: list[Cand] = [(f"What color is the {s.shape}?", s.color, "color", {}) for s in scene.shapes if kinds[s.shape] == 1]  # fmt: skip
    out += [(f"What size is the {s.name}?", s.size, "size", {}) for s in _unique(scene)]
    rng.shuffle(out)
    return out


def _grounding(scene: Scene, rng: random.Random, stats: PopeStats) -> list[Cand]:
    out: list[Cand] = []
    for target in _unique(scene):
        others = [s.bbox for s in scene.shapes if s is not target]
        rng.shuffle(others)
        boxes = [target.bbox, *others[:3]]
        side = target.bbox[2] - target.bbox[0]
        for _ in range(500):  # pad with empty regions far from every chosen box
            if len(boxes) == 4:
                break
            x, y = rng.uniform(0, 1 - side), rng.uniform(0, 1 - side)
            cand = [round(x, 3), round(y, 3), round(x + side, 3), round(y + side, 3)]
            cx, cy = x + side / 2, y + side / 2
            if all(abs(cx - (b[0] + b[2]) / 2) + abs(cy - (b[1] + b[3]) / 2) > 0.3 for b in boxes):
                boxes.append(cand)
        if len(boxes) < 4:
            continue
        order = rng.sample(range(4), 4)
        shown = [boxes[i] for i in order]
        letter = LETTERS[order.index(0)]
        opts = " ".join(f"{LETTERS[i]} {box_text(b)}" for i, b in enumerate(shown))
        out.append((f"Which box holds the {target.name}? {opts}", letter, "", {"boxes": shown}))
    rng.shuffle(out)
    return out


def _referring(scene: Scene, rng: random.Random, stats: PopeStats) -> list[Cand]:
    out: list[Cand] = []
    for s in scene.shapes:
        if rng.random() < 0.5:
            out.append((f"What shape is in the box {box_text(s.bbox)}?", s.shape, "shape", {}))
        else:
            out.append((f"What color is the shape in the box {box_text(s.bbox)}?", s.color, "color", {}))  # fmt: skip
    rng.shuffle(out)
    return out


def _spatial(scene: Scene, rng: random.Random, stats: PopeStats) -> list[Cand]:
    uniq = _unique(scene)
    out: list[Cand] = []
    for a in uniq:
        for b in uniq:
            rel = relation(a, b) if a is not b else None
            if rel is not None:
                out.append((f"Where is the {a.name} relative to the {b.name}?", rel, "", {}))
    rng.shuffle(out)
    return out


def _comparison(scene: Scene, rng: random.Random, stats: PopeStats) -> list[Cand]:
    uniq = _unique(scene)
    out: list[Cand] = []
    for a in uniq:
        for b in uniq:
            if a is not b and a.size != b.size:
                ans = "yes" if SIZE_RANK[a.size] > SIZE_RANK[b.size] else "no"
                out.append((f"Is the {a.name} bigger than the {b.name}?", ans, "size", {}))
    kinds = scene.kinds()
    for x in kinds:
        for y in SHAPES:
            nx, ny = scene.count(shape=x), scene.count(shape=y)
            if x != y and nx != ny:
                for first, second, more in ((x, y, nx > ny), (y, x, ny > nx)):
                    text = f"Are there more {plural(first)} than {plural(second)}?"
                    out.append((text, "yes" if more else "no", "count", {}))
    rng.shuffle(out)
    yes = [c for c in out if c[1] == "yes"]
    no = [c for c in out if c[1] == "no"]
    mixed: list[Cand] = []
    for c_yes, c_no in zip(yes, no, strict=False):
        mixed.extend((c_yes, c_no) if rng.random() < 0.5 else (c_no, c_yes))
    return mixed


def _ocr(scene: Scene, rng: random.Random, stats: PopeStats) -> list[Cand]:
    out: list[Cand] = [(f"What word is written on the {s.name}?", s.text, "", {}) for s in _unique(scene) if s.text]  # fmt: skip
    rng.shuffle(out)
    return out


EXTREMES = {
    "left": lambda s: _center(s)[0],
    "right": lambda s: -_center(s)[0],
    "top": lambda s: _center(s)[1],
    "bottom": lambda s: -_center(s)[1],
}


def _reasoning(scene: Scene, rng: random.Random, stats: PopeStats) -> list[Cand]:
    """Chains of two or three manipulations (locate, compare, read an attribute, count)."""
    out: list[Cand] = []
    for side, key in EXTREMES.items():
        ranked = sorted(scene.shapes, key=key)
        if len(ranked) >= 2 and key(ranked[1]) - key(ranked[0]) >= 0.08:  # a clear extreme
            first = ranked[0]
            steps = ["ground every shape", f"pick the one furthest to the {side}", "read its color"]
            where = "at the very top" if side == "top" else "at the very bottom" if side == "bottom" else f"furthest to the {side}"  # fmt: skip
            out.append((f"What color is the shape {where}?", first.color, "extreme", {"steps": steps}))  # fmt: skip
    for s in _unique(scene):
        n = sum(1 for o in scene.shapes if o is not s and o.color == s.color)
        steps = [f"ground the {s.name}", "read its color", "count the other shapes of that color"]
        text = f"How many other shapes have the same color as the {s.name}?"
        out.append((text, str(n), "same_color", {"steps": steps}))
    big = max(SIZE_RANK[s.size] for s in scene.shapes)
    largest = [s for s in scene.shapes if SIZE_RANK[s.size] == big]
    if len(largest) == 1:
        steps = ["ground every shape", "compare their sizes", "name the largest one's kind"]
        out.append(("What kind of shape is the largest one?", largest[0].shape, "largest", {"steps": steps}))  # fmt: skip
    rng.shuffle(out)
    return out


GENERATORS: dict[str, Callable[[Scene, random.Random, PopeStats], list[Cand]]] = {
    "existence": _existence,
    "counting": _counting,
    "attribute": _attribute,
    "grounding": _grounding,
    "referring": _referring,
    "spatial": _spatial,
    "comparison": _comparison,
    "ocr": _ocr,
    "reasoning": _reasoning,
}


def make_questions(
    scene: Scene,
    scene_id: str,
    qtype: str,
    n: int,
    rng: random.Random,
    stats: PopeStats,
    start: int = 0,
) -> list[Question]:
    """Up to ``n`` distinct questions of ``qtype`` about ``scene`` (ids numbered from ``start``)."""
    seen: set[str] = set()
    out: list[Question] = []
    for text, answer, variant, meta in GENERATORS[qtype](scene, rng, stats):
        if len(out) >= n:
            break
        if text in seen:
            continue
        seen.add(text)
        assert answer in ANSWERS, (qtype, answer)
        out.append(
            Question(
                id=f"{scene_id}:{qtype}:{start + len(out)}",
                scene_id=scene_id,
                qtype=qtype,
                text=text,
                answer=answer,
                variant=variant,
                family=FAMILY_OF[answer],
                meta=meta,
            )
        )
    return out


def questions_for_scene(
    scene: Scene,
    scene_id: str,
    rng: random.Random,
    stats: PopeStats,
    per_type: int = 1,
    types: tuple[str, ...] | list[str] = QTYPES,
) -> list[Question]:
    """The standard question set of one scene: ``per_type`` of every type in ``types`` (2 for
    existence, one yes and one no, to keep it balanced), in ``QTYPES`` order."""
    out: list[Question] = []
    for qtype in (t for t in QTYPES if t in types):
        k = 2 * per_type if qtype == "existence" else per_type
        out += make_questions(scene, scene_id, qtype, k, rng, stats)
    return out
