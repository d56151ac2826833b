"""Box geometry: IoU, relations, area comparison, box parsing and placeholder detection."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmevol.geometry import (
    area,
    best_match,
    center,
    compare_area,
    distance,
    format_box,
    has_placeholder_box,
    horizontal_relation,
    iou,
    is_normalised,
    matches_any,
    parse_boxes,
    placeholder_boxes,
    relation,
    vertical_relation,
)

coord = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@st.composite
def boxes(draw: st.DrawFn) -> tuple[float, float, float, float]:
    x1, x2 = sorted((draw(coord), draw(coord)))
    y1, y2 = sorted((draw(coord), draw(coord)))
    if x2 - x1 < 1e-3 or y2 - y1 < 1e-3:
        x1, y1, x2, y2 = 0.1, 0.2, 0.5, 0.6
    return (x1, y1, x2, y2)


def test_iou_known_values() -> None:
    a = (0.0, 0.0, 0.5, 0.5)
    assert iou(a, a) == pytest.approx(1.0)
    assert iou(a, (0.5, 0.5, 1.0, 1.0)) == 0.0
    assert iou(a, (0.25, 0.0, 0.75, 0.5)) == pytest.approx(1 / 3)
    assert iou((0.2, 0.2, 0.2, 0.4), (0.2, 0.2, 0.2, 0.4)) == 0.0  # empty boxes


@given(boxes(), boxes())
def test_iou_is_symmetric_and_bounded(a: tuple[float, ...], b: tuple[float, ...]) -> None:
    v = iou(a, b)
    assert 0.0 <= v <= 1.0
    assert v == pytest.approx(iou(b, a))
    assert iou(a, a) == pytest.approx(1.0)


@given(boxes(), boxes())
def test_relations_are_antisymmetric(a: tuple[float, ...], b: tuple[float, ...]) -> None:
    flip = {"left": "right", "right": "left", "above": "below", "below": "above", None: None}
    assert horizontal_relation(b, a) == flip[horizontal_relation(a, b)]
    assert vertical_relation(b, a) == flip[vertical_relation(a, b)]
    cmp = {"larger": "smaller", "smaller": "larger", "similar": "similar"}
    assert compare_area(b, a) == cmp[compare_area(a, b)]
    assert distance(a, b) == pytest.approx(distance(b, a))


def test_relations_known_values() -> None:
    left, right = (0.0, 0.4, 0.2, 0.6), (0.7, 0.45, 0.9, 0.65)
    assert horizontal_relation(left, right) == "left"
    assert relation(right, left) == "right"
    top, bottom = (0.4, 0.0, 0.6, 0.1), (0.41, 0.8, 0.61, 0.9)
    assert relation(top, bottom) == "above"
    assert vertical_relation(bottom, top) == "below"
    assert horizontal_relation(top, bottom, margin=0.05) is None
    assert center((0.0, 0.0, 0.5, 1.0)) == (0.25, 0.5)
    assert distance((0, 0, 0.2, 0.2), (0.3, 0.4, 0.5, 0.6)) == pytest.approx(0.5)
    assert compare_area((0, 0, 0.5, 0.5), (0, 0, 0.1, 0.1)) == "larger"
    assert compare_area((0, 0, 0.5, 0.5), (0, 0, 0.5, 0.52)) == "similar"
    assert area((0.1, 0.1, 0.3, 0.6)) == pytest.approx(0.1)


@given(boxes())
def test_format_then_parse_roundtrips(b: tuple[float, ...]) -> None:
    text = f"The dog is at {format_box(b)} in the picture."
    (parsed,) = parse_boxes(text)
    assert all(math.isclose(p, round(v, 3), abs_tol=1e-9) for p, v in zip(parsed, b, strict=True))
    assert not has_placeholder_box(text)


def test_parse_boxes_variants() -> None:
    text = "A [0.1,0.2,0.3,0.4] and B [ .5 , 0.5, 1, 1.0 ] but not [1, 2, 3] or [A]."
    assert parse_boxes(text) == [(0.1, 0.2, 0.3, 0.4), (0.5, 0.5, 1.0, 1.0)]
    pixel = parse_boxes("box [10, 20, 200, 120]")[0]
    assert not is_normalised(pixel)
    assert is_normalised((0.1, 0.2, 0.3, 0.4))
    assert not is_normalised((0.3, 0.2, 0.1, 0.4))


@pytest.mark.parametrize(
    "text",
    [
        "The tree is at [Coordinates for tree 1].",
        "grounding_1(dog) -> [x1, y1, x2, y2]",
        "The cup is located at [0.12, 0.30, x2, y2].",
        "box: [bbox of the red car]",
        "The sign is at <bbox>.",
        "[xmin, ymin, xmax, ymax]",
    ],
)
def test_placeholders_are_found(text: str) -> None:
    assert placeholder_boxes(text), text
    assert has_placeholder_box(text)


@pytest.mark.parametrize(
    "text",
    [
        "A. red\nB. blue",
        "Pick [A] or [B].",
        "Fill in [left, right] as needed.",
        "The word [red circle] is quoted.",
        "The cat is at [0.100, 0.200, 0.300, 0.400].",
    ],
)
def test_ordinary_brackets_are_not_placeholders(text: str) -> None:
    assert placeholder_boxes(text) == []


def test_best_match_and_matches_any() -> None:
    cands = [(0.0, 0.0, 0.2, 0.2), (0.5, 0.5, 0.9, 0.9)]
    i, v = best_match((0.52, 0.5, 0.9, 0.92), cands)
    assert i == 1 and v > 0.8
    assert best_match((0.3, 0.3, 0.4, 0.4), cands) == (-1, 0.0)
    assert matches_any((0.0, 0.0, 0.19, 0.2), cands)
    assert not matches_any((0.0, 0.0, 0.05, 0.05), cands)
