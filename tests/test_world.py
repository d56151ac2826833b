"""The rendered world: determinism, boxes that agree with the pixels, captions and seed Q&A."""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from pathlib import Path

from mmevol.schema import check_box
from mmevol.vocab import FORMATS, SKILLS
from mmevol.world.scenes import (
    BACKGROUND,
    COLORS,
    SHAPES,
    SIZES,
    make_scene,
    render,
    scene_to_seed,
    write_demo_set,
)


def _without_paths(seed_dump: dict) -> dict:
    seed_dump = dict(seed_dump)
    seed_dump["image"] = {k: v for k, v in seed_dump["image"].items() if k != "path"}
    seed_dump.pop("provenance")
    return seed_dump


def test_demo_set_is_deterministic(tmp_path: Path) -> None:
    a = write_demo_set(tmp_path / "a", n=6, seed=3)
    b = write_demo_set(tmp_path / "b", n=6, seed=3)
    assert len(a) == 6
    for sa, sb in zip(a, b, strict=True):
        assert Path(sa.image.path).read_bytes() == Path(sb.image.path).read_bytes()
        assert _without_paths(sa.model_dump()) == _without_paths(sb.model_dump())
    again = write_demo_set(tmp_path / "a", n=6, seed=3)
    assert [s.model_dump() for s in again] == [s.model_dump() for s in a]
    other = write_demo_set(tmp_path / "c", n=6, seed=4)
    assert [s.image.digest for s in other] != [s.image.digest for s in a]
    assert len({s.id for s in a}) == 6


def test_seed_identity_matches_file(tmp_path: Path) -> None:
    for seed in write_demo_set(tmp_path, n=4):
        data = Path(seed.image.path).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        assert seed.image.digest == "sha256:" + digest
        assert seed.id == "img-" + digest[:16]
        assert (seed.image.width, seed.image.height) == (256, 256)
        assert seed.provenance[0].source == "world"


def test_boxes_are_normalised_and_match_the_pixels() -> None:
    for i in range(25):
        scene = make_scene(random.Random(i))
        assert 2 <= len(scene.shapes) <= 6
        img = render(scene)
        px = img.load()
        for s in scene.shapes:
            assert check_box(s.bbox) == s.bbox
            x1, y1, x2, y2 = s.box
            assert s.bbox == [round(x1 / 256, 3), round(y1 / 256, 3), round(x2 / 256, 3), round(y2 / 256, 3)]  # fmt: skip
            assert s.shape in SHAPES and s.color in COLORS and s.size in SIZES
            counts = Counter(px[x, y] for x in range(x1, x2) for y in range(y1, y2))
            counts.pop(BACKGROUND, None)
            assert counts.most_common(1)[0][0] == COLORS[s.color], (i, s)
            own = [
                (x, y) for x in range(x1, x2) for y in range(y1, y2) if px[x, y] == COLORS[s.color]
            ]
            xs, ys = [p[0] for p in own], [p[1] for p in own]
            # the shape's own pixels span its box (tight to one pixel)
            assert abs(min(xs) - x1) <= 1 and abs(max(xs) - (x2 - 1)) <= 1
            assert abs(min(ys) - y1) <= 1 and abs(max(ys) - (y2 - 1)) <= 1
        for a in scene.shapes:
            for b in scene.shapes:
                if a.id < b.id:
                    apart = a.box[2] <= b.box[0] or b.box[2] <= a.box[0]
                    assert apart or a.box[3] <= b.box[1] or b.box[3] <= a.box[1]


def test_size_classes_order_box_areas() -> None:
    rank = {"small": 0, "medium": 1, "large": 2}
    for i in range(25):
        shapes = make_scene(random.Random(100 + i)).shapes
        for a in shapes:
            for b in shapes:
                if rank[a.size] < rank[b.size]:
                    assert (a.box[2] - a.box[0]) < (b.box[2] - b.box[0])


def test_captions_mention_every_category_and_differ(tmp_path: Path) -> None:
    for seed in write_demo_set(tmp_path, n=12, seed=1):
        assert 2 <= len(seed.captions) <= 3
        assert len(set(seed.captions)) == len(seed.captions)
        text = " ".join(seed.captions).lower()
        for obj in seed.objects:
            assert obj.category in text
            assert obj.attributes["color"] in text
            if "text" in obj.attributes:
                assert f'"{obj.attributes["text"]}"'.lower() in text


def test_seed_items_are_true(tmp_path: Path) -> None:
    seen_formats: set[str] = set()
    for seed in write_demo_set(tmp_path, n=16, seed=2):
        assert 2 <= len(seed.items) <= 4
        objs = seed.objects
        for qa in seed.items:
            assert set(qa.skills) <= set(SKILLS) and qa.format in FORMATS
            seen_formats.add(qa.format)
            q, a = qa.question, qa.answer
            if m := re.fullmatch(r"What color is the (\w+)\?", q):
                (o,) = [o for o in objs if o.category == m[1]]
                assert a.lower().rstrip(".") == o.attributes["color"]
            elif m := re.fullmatch(r"How many (\w+)s are there in the image\?", q):
                assert a == f"{sum(o.category == m[1] for o in objs)}."
            elif m := re.fullmatch(r"Is there an? (\w+) in the picture\?", q):
                present = any(o.category == m[1] for o in objs)
                assert a == ("Yes." if present else "No.")
            elif m := re.fullmatch(r"What word is written on the (\w+) (\w+)\?", q):
                (o,) = [o for o in objs if (o.attributes["color"], o.category) == (m[1], m[2])]
                assert a == o.attributes["text"]
            else:
                raise AssertionError(f"unexpected seed question {q!r}")
    assert {"short_answer", "yes_no"} <= seen_formats


def test_scene_to_seed_objects(tmp_path: Path) -> None:
    scene = make_scene(random.Random(7), width=320, height=240)
    path = tmp_path / "x.png"
    render(scene).save(path)
    seed = scene_to_seed(scene, path)
    assert (seed.image.width, seed.image.height) == (320, 240)
    assert [o.category for o in seed.objects] == [s.shape for s in scene.shapes]
    for o, s in zip(seed.objects, scene.shapes, strict=True):
        assert o.bbox == s.bbox
        assert o.attributes["size"] == s.size
        assert o.attributes.get("text") == s.text
