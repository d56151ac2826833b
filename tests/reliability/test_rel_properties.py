"""Property-based tests of the readers, box normalisation and the JSON repair ladder."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmevol.calls import ParseFailed
from mmevol.errors import InputError
from mmevol.io.coco import normalise_box, read_coco
from mmevol.io.llava import read_llava
from mmevol.io.safeio import CONTROL, _bad_text
from mmevol.io.sharegpt import read_sharegpt
from mmevol.parse import parse_reply
from mmevol.schema import EvolveOutput, JudgeOutput, Seed

SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
roles = st.sampled_from(["human", "gpt", "user", "assistant", "system", "bot", "", "HUMAN"])
turn = st.fixed_dictionaries(
    {}, optional={"from": roles | json_values, "value": st.text(max_size=30) | json_values,
                  "role": roles | json_values, "content": st.text(max_size=30) | json_values},
)  # fmt: skip
record = st.fixed_dictionaries(
    {}, optional={"id": json_values, "image": st.text(max_size=12) | json_values,
                  "images": st.lists(st.text(max_size=12), max_size=2) | json_values,
                  "conversations": st.lists(turn, max_size=4) | json_values,
                  "messages": st.lists(turn, max_size=4) | json_values},
)  # fmt: skip
files = st.lists(record | json_values, max_size=4) | json_values


def _read(reader: Any, value: Any, suffix: str = ".json") -> list[Seed] | None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"in{suffix}"
        path.write_text(json.dumps(value), "utf-8")
        try:
            return list(reader(path, Path(tmp) / "images", allow_missing_images=True))
        except InputError as exc:
            assert str(path) in str(exc)
            return None


@SETTINGS
@given(files)
def test_llava_reader_gives_seeds_or_input_error(value: Any) -> None:
    seeds = _read(read_llava, value)
    assert seeds is None or all(isinstance(s, Seed) for s in seeds)


@SETTINGS
@given(files)
def test_sharegpt_reader_gives_seeds_or_input_error(value: Any) -> None:
    seeds = _read(read_sharegpt, value)
    assert seeds is None or all(isinstance(s, Seed) for s in seeds)


number = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**6), 10**6)
box_values = st.lists(number | st.text(max_size=3) | st.none(), min_size=0, max_size=5)


@SETTINGS
@given(box_values, number, number)
def test_box_normalisation_is_valid_or_dropped(box: list[Any], w: Any, h: Any) -> None:
    try:
        width, height = float(w), float(h)
    except (TypeError, ValueError):
        return
    out = normalise_box(box, width, height)
    if out is not None:
        x1, y1, x2, y2 = out
        assert all(0.0 <= v <= 1.0 for v in out)
        assert x1 < x2 and y1 < y2


@SETTINGS
@given(st.lists(box_values, max_size=6), st.integers(1, 4000), st.integers(1, 4000))
def test_coco_boxes_are_kept_or_dropped_with_a_count(
    boxes: list[list[Any]], width: int, height: int
) -> None:
    data = {
        "images": [{"id": 1, "file_name": "a.png", "width": width, "height": height}],
        "categories": [{"id": 1, "name": "thing"}],
        "annotations": [
            {"id": i, "image_id": 1, "category_id": 1, "bbox": b} for i, b in enumerate(boxes)
        ],
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "instances_x.json"
        path.write_text(json.dumps(data), "utf-8")
        counts: Counter[str] = Counter()
        texts = [v for b in boxes for v in b if isinstance(v, str)]
        if any(CONTROL.search(v) or _bad_text(v) for v in texts):
            # text no step could handle refuses the whole file, naming the field
            with pytest.raises(InputError, match=r"annotations\[\d+\]\.bbox\[\d+\]"):
                read_coco(None, path, Path(tmp), allow_missing_images=True, counts=counts)
            return
        seeds = read_coco(None, path, Path(tmp), allow_missing_images=True, counts=counts)
    kept = [o.bbox for s in seeds for o in s.objects]
    assert counts["coco_boxes_in"] == len(boxes)
    assert counts["coco_boxes_kept"] + counts["coco_boxes_dropped"] == len(boxes)
    assert len(kept) == counts["coco_boxes_kept"]
    for b in kept:
        assert b is not None and 0 <= b[0] < b[2] <= 1 and 0 <= b[1] < b[3] <= 1


jsonish = st.one_of(
    st.text(max_size=200),
    json_values.map(json.dumps),
    st.builds(lambda v, cut, pre: pre + json.dumps(v)[: cut], json_values,
              st.integers(0, 80), st.sampled_from(["", "```json\n", "Sure! ", "{", "["])),
    st.builds(lambda items: json.dumps({"items": items}), st.lists(record | json_values, max_size=3)),
    st.builds(lambda v: json.dumps({"verdicts": v}), st.lists(json_values, max_size=3)),
)  # fmt: skip


@SETTINGS
@given(jsonish)
def test_repair_ladder_gives_a_value_or_parse_failed(text: str) -> None:
    for model in (EvolveOutput, JudgeOutput):
        try:
            parsed = parse_reply(text, model)
        except ParseFailed:
            continue
        assert isinstance(parsed.value, model)
