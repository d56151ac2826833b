"""What the sample page shows, computed in Python so the templates stay plain.

This module owns the box overlay (annotated objects of the seed in one colour, boxes written in
the answer and the steps in another, each found box checked against the annotations) and the
lineage tree (the ancestors from the seed item down to the sample, then its descendants), each
node with its verdict, kept/dropped reason and current review.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mmevol.geometry import best_match, is_normalised, parse_boxes
from mmevol.reviews import Review
from mmevol.schema import Sample, Seed

MATCH_IOU = 0.5
FALLBACK_SIZE = 1000


@dataclass(frozen=True)
class Rect:
    """One box to draw, in image pixels of the SVG view box."""

    kind: str  # "object" (annotated in the seed) or "found" (written in the answer/steps)
    label: str  # objects: category; found: where it was written ("A" answer, "S2" step 2)
    box: tuple[float, float, float, float]  # normalised
    x: float
    y: float
    w: float
    h: float
    matched: bool = True
    anchor: str = "start"  # label anchor: boxes near the right edge are labelled from x2

    @property
    def label_x(self) -> float:
        return round(self.x + self.w - 3 if self.anchor == "end" else self.x + 3, 2)


@dataclass
class Overlay:
    width: int
    height: int
    rects: list[Rect] = field(default_factory=list)
    font: float = 12.0

    @property
    def objects(self) -> list[Rect]:
        return [r for r in self.rects if r.kind == "object"]

    @property
    def found(self) -> list[Rect]:
        return [r for r in self.rects if r.kind == "found"]


def _label(category: str, attributes: dict[str, str]) -> str:
    extra = " ".join(v for k, v in sorted(attributes.items()) if k in ("size", "color"))
    return f"{extra} {category}".strip()


def overlay(sample: Sample, seed: Seed | None) -> Overlay:
    """The boxes to draw over the sample's image."""
    width = sample.image.width or FALLBACK_SIZE
    height = sample.image.height or FALLBACK_SIZE
    ov = Overlay(width, height, font=max(8.0, round(max(width, height) * 0.03, 1)))

    def rect(kind: str, label: str, box: tuple[float, ...], matched: bool = True) -> Rect:
        x1, y1, x2, y2 = box
        return Rect(
            kind,
            label,
            (x1, y1, x2, y2),
            round(x1 * width, 2),
            round(y1 * height, 2),
            round((x2 - x1) * width, 2),
            round((y2 - y1) * height, 2),
            matched,
            "end" if x1 > 0.55 else "start",
        )

    annotated: list[tuple[float, ...]] = []
    for obj in seed.objects if seed else []:
        if obj.bbox:
            annotated.append(tuple(obj.bbox))
            ov.rects.append(rect("object", _label(obj.category, obj.attributes), tuple(obj.bbox)))
    seen: set[tuple[float, ...]] = set()
    sources = [("A", sample.qa.answer)]
    sources += [(f"S{i}", s.description) for i, s in enumerate(sample.qa.steps, 1)]
    sources += [(f"S{i}", s.manipulation) for i, s in enumerate(sample.qa.steps, 1)]
    for where, text in sources:
        for box in parse_boxes(text):
            key = tuple(round(v, 3) for v in box)
            if key in seen or not is_normalised(box):
                continue
            seen.add(key)
            matched = bool(annotated) and best_match(box, annotated)[1] >= MATCH_IOU
            ov.rects.append(rect("found", where, key, matched))
    return ov


@dataclass
class Node:
    """One sample in the lineage tree."""

    sample: Sample
    depth: int
    relation: str  # "ancestor", "self" or "descendant"
    review: Review | None = None

    @property
    def id(self) -> str:
        return self.sample.id


def lineage_tree(
    sample: Sample,
    ancestors: list[Sample],
    descendants: list[tuple[int, Sample]],
    reviews: dict[str, Review],
) -> list[Node]:
    """Ancestors (seed item first), the sample, then its descendants, each with its depth."""
    nodes = [Node(a, i, "ancestor", reviews.get(a.id)) for i, a in enumerate(ancestors)]
    base = len(ancestors)
    nodes.append(Node(sample, base, "self", reviews.get(sample.id)))
    nodes += [Node(d, base + lvl, "descendant", reviews.get(d.id)) for lvl, d in descendants]
    return nodes
