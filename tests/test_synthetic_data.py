"""The test data itself: the synthetic COCO / LLaVA-Instruct copy has the shapes of the real files.

Every check here runs on each ``data_set``: the synthetic copy always, and ``../shared/data`` where
it is present, so the schema pinned below (taken from the real files) is held against both.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from synthetic_data import CATEGORIES, COLOURS, DataSet, crowd_id, plural, rle_counts

SPLITS = ("train2017", "val2017")
# key -> type of each record, as in the COCO 2017 annotation files and LLaVA-Instruct-150K
INFO = {"description": str, "url": str, "version": str, "year": int, "contributor": str,
        "date_created": str}  # fmt: skip
LICENSE = {"url": str, "id": int, "name": str}
IMAGE = {"license": int, "file_name": str, "coco_url": str, "height": int, "width": int,
         "date_captured": str, "flickr_url": str, "id": int}  # fmt: skip
CAPTION = {"image_id": int, "id": int, "caption": str}
OBJECT = {"segmentation": (list, dict), "area": (int, float), "iscrowd": int, "image_id": int,
          "bbox": list, "category_id": int, "id": int}  # fmt: skip
CATEGORY = {"supercategory": str, "id": int, "name": str}
RECORD = {"id": str, "image": str, "conversations": list}
TURN = {"from": str, "value": str}


def shape(record: dict[str, Any], schema: dict[str, Any], where: str) -> None:
    assert set(record) == set(schema), (where, sorted(record))
    for key, kind in schema.items():
        value = record[key]
        assert isinstance(value, kind) and not isinstance(value, bool), (where, key, value)


def load(data: DataSet, kind: str, split: str) -> dict[str, Any]:
    return json.loads((data.coco / "annotations" / f"{kind}_{split}.json").read_text())


def decode(counts: list[int], height: int, width: int) -> np.ndarray:
    """An uncompressed COCO RLE back to a boolean mask (column-major runs, 0s first)."""
    flat = np.zeros(height * width, dtype=bool)
    pos = 0
    for k, run in enumerate(counts):
        if k % 2:
            flat[pos : pos + run] = True
        pos += run
    assert pos == height * width
    return flat.reshape((width, height)).T


def polygon_area(p: list[float]) -> float:
    xs, ys = p[0::2], p[1::2]
    n = len(xs)
    return abs(sum(xs[i] * ys[(i + 1) % n] - xs[(i + 1) % n] * ys[i] for i in range(n))) / 2


@pytest.mark.parametrize("split", SPLITS)
def test_coco_files_have_the_2017_schema(data_set: DataSet, split: str) -> None:
    captions, instances = load(data_set, "captions", split), load(data_set, "instances", split)
    for data in (captions, instances):
        # the real tiny files also carry "type" and an empty "categories" in their captions
        assert {"info", "licenses", "images", "annotations"} <= set(data)
        shape(data["info"], INFO, "info")
        for lic in data["licenses"]:
            shape(lic, LICENSE, "licenses")
        for im in data["images"]:
            shape(im, IMAGE, "images")
            assert im["file_name"] == f"{im['id']:012d}.jpg"
            assert im["coco_url"].endswith(f"/{split}/{im['file_name']}")
    assert captions["images"] == instances["images"]
    assert len(captions["images"]) == data_set.images[split]
    for cap in captions["annotations"]:
        shape(cap, CAPTION, "captions")
    per_image = {im["id"]: 0 for im in captions["images"]}
    for cap in captions["annotations"]:
        per_image[cap["image_id"]] += 1
    assert set(per_image.values()) == {5}
    # COCO's 80 thing classes under their released ids, in the real files and in ours
    for cat in instances["categories"]:
        shape(cat, CATEGORY, "categories")
    table = [(c["id"], c["name"], c["supercategory"]) for c in instances["categories"]]
    assert table == list(CATEGORIES) and len(table) == 80 and table[-1][0] == 90
    ids = [a["id"] for a in captions["annotations"] + instances["annotations"]]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("split", SPLITS)
def test_coco_objects_agree_with_their_masks(data_set: DataSet, split: str) -> None:
    """Polygons: the box is their bounds and the area theirs. Crowd regions: an RLE over the
    whole image whose mask the box bounds. As in the real files."""
    instances = load(data_set, "instances", split)
    images = {im["id"]: im for im in instances["images"]}
    known = {cid for cid, _, _ in CATEGORIES}
    objects = instances["annotations"]
    assert len(objects) == data_set.boxes[split]
    assert sum(a["iscrowd"] for a in objects) == data_set.crowd[split] > 0
    for a in objects:
        shape(a, OBJECT, "annotations")
        im = images[a["image_id"]]
        assert a["category_id"] in known and a["iscrowd"] in (0, 1)
        x, y, w, h = a["bbox"]
        assert x >= 0 and y >= 0 and w > 0 and h > 0
        assert x + w <= im["width"] + 0.5 and y + h <= im["height"] + 0.5
        if a["iscrowd"]:
            seg = a["segmentation"]
            assert set(seg) == {"counts", "size"} and seg["size"] == [im["height"], im["width"]]
            mask = decode(seg["counts"], *seg["size"])
            ys, xs = np.nonzero(mask)
            bounds = [xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min()]
            assert max(abs(u - v) for u, v in zip(bounds, a["bbox"], strict=True)) <= 1
            assert a["area"] >= mask.sum() > 0
            assert a["id"] == crowd_id(a["category_id"], a["image_id"])
        else:
            polys = a["segmentation"]
            assert polys and all(len(p) >= 6 and len(p) % 2 == 0 for p in polys)
            xs, ys = [v for p in polys for v in p[0::2]], [v for p in polys for v in p[1::2]]
            bounds = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
            assert max(abs(u - v) for u, v in zip(bounds, a["bbox"], strict=True)) <= 0.011
            assert math.isclose(sum(map(polygon_area, polys)), a["area"], rel_tol=1e-6)


def test_a_few_images_have_captions_but_no_objects(data_set: DataSet) -> None:
    unboxed = 0
    for split in SPLITS:
        instances = load(data_set, "instances", split)
        unboxed += len(instances["images"]) - len({a["image_id"] for a in instances["annotations"]})
    assert unboxed == data_set.no_box_images > 0


@pytest.mark.parametrize("split", SPLITS)
def test_coco_images_are_the_jpegs_the_json_describes(data_set: DataSet, split: str) -> None:
    images = load(data_set, "captions", split)["images"]
    assert sorted(p.name for p in (data_set.coco / split).iterdir()) == sorted(
        im["file_name"] for im in images
    )
    for im in images:
        with Image.open(data_set.coco / split / im["file_name"]) as img:
            assert img.format == "JPEG" and img.mode == "RGB"
            assert img.size == (im["width"], im["height"])


def test_llava_records_have_the_llava_instruct_shape(data_set: DataSet) -> None:
    records = json.loads(data_set.llava.read_text())
    assert isinstance(records, list) and len(records) == data_set.llava_records
    assert records[0]["image"] == data_set.llava_first_image
    items = 0
    for rec in records:
        shape(rec, RECORD, "record")
        assert rec["image"] == f"{rec['id']}.jpg" and len(rec["id"]) == 12
        turns = rec["conversations"]
        assert turns and len(turns) % 2 == 0
        for i, turn in enumerate(turns):
            shape(turn, TURN, "turn")
            assert turn["from"] == ("human" if i % 2 == 0 else "gpt")
            assert ("<image>" in turn["value"]) == (i == 0)
        first = turns[0]["value"]
        assert first.startswith("<image>\n") or first.endswith("\n<image>")
        items += len(turns) // 2
    assert items == data_set.llava_items


def test_synthetic_llava_answers_are_true_of_the_drawn_images(synthetic_data: DataSet) -> None:
    """Its records are about the synthetic train2017 images: each is there, every count it
    states is the number of boxes of that kind, and every colour it names is the colour of
    the object's pixels."""
    data = synthetic_data
    train = load(data, "instances", "train2017")
    names = {cid: name for cid, name, _ in CATEGORIES}
    singular = {plural(name): name for name in names.values()}
    words = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    by_file = {im["file_name"]: im for im in train["images"]}
    counted = coloured = 0
    for rec in json.loads(data.llava.read_text()):
        im = by_file[rec["image"]]
        objects = [
            a for a in train["annotations"] if a["image_id"] == im["id"] and not a["iscrowd"]
        ]
        turns = rec["conversations"]
        for q, a in zip(turns[0::2], turns[1::2], strict=True):
            question = q["value"].replace("<image>", "").strip()
            if q_kind := re.fullmatch(r"How many (.+) can be seen in the image\?", question):
                n = sum(names[o["category_id"]] == singular[q_kind[1]] for o in objects)
                said = a["value"].split()[2]  # "There are two cups ...", "There is one cup ..."
                assert said == (words[n] if n <= 10 else str(n)), (question, a["value"])
                counted += 1
            elif c_kind := re.fullmatch(r"What colou?r is the (.+)\?", question):
                kind = "person" if c_kind[1] == "person wearing" else c_kind[1]
                colour = a["value"].rstrip(".").split()[-1]
                [obj] = [o for o in objects if names[o["category_id"]] == kind]
                x, y, w, h = obj["bbox"]
                if w < 12 or h < 12 or _covered_centre(obj, train["annotations"]):
                    continue  # too small for JPEG's colours, or something drawn over it
                with Image.open(data.coco / "train2017" / rec["image"]) as img:
                    pixel = img.convert("RGB").getpixel((int(x + w / 2), int(y + h / 2)))
                assert isinstance(pixel, tuple)
                assert max(abs(p - c) for p, c in zip(pixel, COLOURS[colour], strict=True)) <= 40
                coloured += 1
    assert counted >= 10 and coloured >= 5


def _covered_centre(obj: dict, objects: list[dict]) -> bool:
    """Another object's box (crowds included) comes within 2 px of ``obj``'s box centre."""
    x, y, w, h = obj["bbox"]
    cx, cy = x + w / 2, y + h / 2
    return any(
        o["bbox"][0] - 2 <= cx <= o["bbox"][0] + o["bbox"][2] + 2
        and o["bbox"][1] - 2 <= cy <= o["bbox"][1] + o["bbox"][3] + 2
        for o in objects
        if o is not obj and o["image_id"] == obj["image_id"]
    )


def test_rle_counts_round_trip() -> None:
    mask = np.zeros((4, 5), dtype=bool)
    mask[1:3, 2:4] = True
    counts = rle_counts(mask)
    assert counts == [9, 2, 2, 2, 5] and sum(counts) == 20
    assert (decode(counts, 4, 5) == mask).all()
    full = np.ones((2, 2), dtype=bool)
    assert rle_counts(full) == [0, 4]


def test_generation_is_deterministic(tmp_path: Path) -> None:
    from synthetic_data import write_synthetic_data

    a = write_synthetic_data(tmp_path / "a", per_split=6, seed=5)
    b = write_synthetic_data(tmp_path / "b", per_split=6, seed=5)
    for rel in ("annotations/instances_val2017.json", "annotations/captions_train2017.json"):
        assert (a.coco / rel).read_bytes() == (b.coco / rel).read_bytes()
    assert a.llava.read_bytes() == b.llava.read_bytes()
    assert a.images == {"train2017": 6, "val2017": 6}
