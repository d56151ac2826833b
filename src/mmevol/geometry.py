"""Box geometry for normalised ``[x1, y1, x2, y2]`` boxes, and finding boxes inside free text.

This module owns the small, dependency-free helpers that the grounded backend and the rule
checks share: area, IoU, centres, centre distance, the spatial relation of two boxes (left /
right / above / below), area comparison, writing a box the way the project writes it (three
decimals) and reading boxes back out of questions, answers and step descriptions, including
spotting placeholder "boxes" such as ``[Coordinates for tree 1]`` that a model wrote instead of
numbers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Literal

Box = tuple[float, float, float, float]

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
BOX_RE = re.compile(
    rf"\[\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*\]",
)
_BRACKET_RE = re.compile(r"\[([^\[\]\n]{1,120})\]")
_ANGLE_RE = re.compile(r"<\s*(?:bbox|box|coords?|coordinates?|region)\b[^<>\n]{0,60}>", re.I)
_PLACEHOLDER_WORDS = re.compile(
    r"\b(?:coord(?:inate)?s?|bbox(?:es)?|bounding[ -]?box(?:es)?|box(?:es)?\s+(?:of|for)|"
    r"placeholder|insert\s+\w+)\b",
    re.I,
)
_COORD_FIELD = re.compile(
    r"^(?:[xy]\s*_?\s*(?:\d|min|max)?|w|h|width|height|left|top|right|bottom|\.\.\.|…)$",
    re.I,
)
_NUM_FIELD = re.compile(rf"^{_NUM}$")


def as_box(values: Sequence[float]) -> Box:
    """A box tuple from any 4-number sequence (raises ``ValueError`` on another length)."""
    if len(values) != 4:
        raise ValueError(f"a box needs 4 numbers [x1, y1, x2, y2], got {len(values)}")
    x1, y1, x2, y2 = (float(v) for v in values)
    return (x1, y1, x2, y2)


def area(box: Sequence[float]) -> float:
    """The area of a box (0 for an empty or inverted one)."""
    x1, y1, x2, y2 = as_box(box)
    return max(0.0, x2 - x1) * max(0.0, y2 - y1)


def intersection(a: Sequence[float], b: Sequence[float]) -> float:
    """The area shared by two boxes."""
    ax1, ay1, ax2, ay2 = as_box(a)
    bx1, by1, bx2, by2 = as_box(b)
    return max(0.0, min(ax2, bx2) - max(ax1, bx1)) * max(0.0, min(ay2, by2) - max(ay1, by1))


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two boxes, in 0..1 (0 when both are empty)."""
    inter = intersection(a, b)
    union = area(a) + area(b) - inter
    return 0.0 if union <= 0 else min(1.0, inter / union)


def center(box: Sequence[float]) -> tuple[float, float]:
    """The centre ``(x, y)`` of a box."""
    x1, y1, x2, y2 = as_box(box)
    return ((x1 + x2) / 2.0, (y1 + y2) / 2.0)


def distance(a: Sequence[float], b: Sequence[float]) -> float:
    """Euclidean distance between the centres of two boxes."""
    (ax, ay), (bx, by) = center(a), center(b)
    return math.hypot(ax - bx, ay - by)


def horizontal_relation(
    a: Sequence[float], b: Sequence[float], margin: float = 0.0
) -> Literal["left", "right"] | None:
    """Whether ``a``'s centre lies left or right of ``b``'s; None if they differ by <= margin."""
    dx = center(a)[0] - center(b)[0]
    if abs(dx) <= margin:
        return None
    return "left" if dx < 0 else "right"


def vertical_relation(
    a: Sequence[float], b: Sequence[float], margin: float = 0.0
) -> Literal["above", "below"] | None:
    """Whether ``a``'s centre lies above or below ``b``'s (y grows downwards); None if close."""
    dy = center(a)[1] - center(b)[1]
    if abs(dy) <= margin:
        return None
    return "above" if dy < 0 else "below"


def relation(
    a: Sequence[float], b: Sequence[float], margin: float = 0.0
) -> Literal["left", "right", "above", "below"] | None:
    """The relation of ``a`` to ``b`` along the axis where their centres differ most."""
    (ax, ay), (bx, by) = center(a), center(b)
    if abs(ax - bx) >= abs(ay - by):
        return horizontal_relation(a, b, margin)
    return vertical_relation(a, b, margin)


def compare_area(
    a: Sequence[float], b: Sequence[float], tolerance: float = 0.1
) -> Literal["larger", "smaller", "similar"]:
    """``a`` compared with ``b`` by area; "similar" when they differ by <= tolerance (relative)."""
    sa, sb = area(a), area(b)
    if abs(sa - sb) <= tolerance * max(sa, sb):
        return "similar"
    return "larger" if sa > sb else "smaller"


def format_box(box: Sequence[float]) -> str:
    """A box written the project's way: ``[x1, y1, x2, y2]`` with three decimals."""
    return "[" + ", ".join(f"{v:.3f}" for v in as_box(box)) + "]"


def is_normalised(box: Sequence[float]) -> bool:
    """True for a non-empty box with every coordinate in 0..1."""
    x1, y1, x2, y2 = as_box(box)
    return all(0.0 <= v <= 1.0 for v in (x1, y1, x2, y2)) and x1 < x2 and y1 < y2


def parse_boxes(text: str) -> list[Box]:
    """Every ``[n, n, n, n]`` group in a text, in order (normalised or not: see ``is_normalised``)."""
    return [as_box([float(g) for g in m.groups()]) for m in BOX_RE.finditer(text)]


def placeholder_boxes(text: str) -> list[str]:
    """Bracketed stand-ins for boxes: ``[Coordinates for tree 1]``, ``[x1, y1, x2, y2]``, ``<bbox>``.

    A bracket counts when it is not four numbers and either names coordinates / a bounding box
    or is a list of coordinate names (``x1``, ``ymin``, ``width``, ...), possibly mixed with
    numbers. Ordinary brackets (``[A]``, ``[red circle]``, ``[left, right]``) are not flagged.
    """
    found: list[str] = []
    for m in _BRACKET_RE.finditer(text):
        content = m.group(1).strip()
        if BOX_RE.fullmatch(m.group(0)):
            continue
        fields = [f.strip() for f in content.split(",")]
        coord_fields = sum(1 for f in fields if _COORD_FIELD.match(f))
        all_numbers = all(_NUM_FIELD.match(f) for f in fields)
        looks_like_names = len(fields) == 4 and coord_fields >= 2 and not all_numbers
        if _PLACEHOLDER_WORDS.search(content) or looks_like_names:
            found.append(m.group(0))
    found.extend(m.group(0) for m in _ANGLE_RE.finditer(text))
    return found


def has_placeholder_box(text: str) -> bool:
    """True when ``placeholder_boxes`` finds anything in the text."""
    return bool(placeholder_boxes(text))


def best_match(box: Sequence[float], candidates: Iterable[Sequence[float]]) -> tuple[int, float]:
    """Index and IoU of the candidate overlapping ``box`` most; ``(-1, 0.0)`` when none."""
    best_i, best_v = -1, 0.0
    for i, cand in enumerate(candidates):
        v = iou(box, cand)
        if v > best_v:
            best_i, best_v = i, v
    return best_i, best_v


def matches_any(
    box: Sequence[float], candidates: Iterable[Sequence[float]], threshold: float = 0.5
) -> bool:
    """True when some candidate box has IoU >= threshold with ``box``."""
    return best_match(box, candidates)[1] >= threshold
