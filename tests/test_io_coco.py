"""COCO captions + instances -> seeds, and back (mmevol.io.coco)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from mmevol.errors import InputError
from mmevol.io.coco import normalise_box, pixel_box, read_coco, write_coco
from mmevol.seeds import SourceSpec, build_from_specs, build_seeds, read_seeds
from synthetic_data import DataSet


def _read_split(data: DataSet, split: str, counts: Counter[str]) -> list:
    tiny, ann = data.coco, data.coco / "annotations"
    return read_coco(
        ann / f"captions_{split}.json", ann / f"instances_{split}.json", tiny / split, counts=counts
    )


def test_normalise_box() -> None:
    assert normalise_box([10, 20, 30, 40], 100, 200) == [0.1, 0.1, 0.4, 0.3]
    assert normalise_box([-5, 0, 20, 10], 100, 100) == [0.0, 0.0, 0.15, 0.1]  # clipped
    assert normalise_box([50, 50, 0.01, 10], 100, 100) is None  # empty after rounding
    assert normalise_box([1, 2, 3], 100, 100) is None
    assert pixel_box([0.1, 0.1, 0.4, 0.3], 100, 200) == [10.0, 20.0, 30.0, 40.0]


def test_tiny_coco_both_splits(data_set: DataSet) -> None:
    counts: Counter[str] = Counter()
    seeds = _read_split(data_set, "train2017", counts) + _read_split(data_set, "val2017", counts)
    n, boxes = data_set.total_images, data_set.total_boxes
    assert len(seeds) == n
    assert all(len(s.captions) == 5 for s in seeds)
    assert counts["coco_boxes_in"] == boxes
    assert counts["coco_boxes_kept"] + counts["coco_boxes_dropped"] == boxes
    assert counts["coco_boxes_kept"] == boxes  # no degenerate boxes in either copy
    assert sum(len(s.objects) for s in seeds) == counts["coco_boxes_kept"]
    crowd = [o for s in seeds for o in s.objects if o.attributes == {"crowd": "yes"}]
    assert len(crowd) == sum(data_set.crowd.values()) > 0
    assert sum(not s.objects for s in seeds) == data_set.no_box_images
    for s in seeds:
        assert s.id == "img-" + s.image.digest.removeprefix("sha256:")[:16]
        assert s.provenance[0].source == "coco" and s.items == []
        assert s.image.width and s.image.height
        for o in s.objects:
            assert o.bbox is not None and all(0.0 <= v <= 1.0 for v in o.bbox)
            assert all(round(v, 3) == v for v in o.bbox)
    built, stats = build_seeds([seeds])
    assert stats.images == n and len(built) == n
    assert [s.id for s in built] == sorted(s.id for s in built)


def test_tiny_coco_round_trip(data_set: DataSet, tmp_path: Path) -> None:
    tiny = data_set.coco
    counts: Counter[str] = Counter()
    seeds = _read_split(data_set, "val2017", counts)
    caps, inst = tmp_path / "captions_val2017.json", tmp_path / "instances_val2017.json"
    write_coco(seeds, caps, inst, image_root=tiny / "val2017")
    again = read_coco(caps, inst, tiny / "val2017")
    assert [s.id for s in again] == [s.id for s in seeds]
    for a, b in zip(seeds, again, strict=True):
        assert a.captions == b.captions
        assert [o.category for o in a.objects] == [o.category for o in b.objects]
        for oa, ob in zip(a.objects, b.objects, strict=True):
            assert oa.bbox is not None and ob.bbox is not None
            assert max(abs(x - y) for x, y in zip(oa.bbox, ob.bbox, strict=True)) <= 0.0011
    # pixel boxes agree with the source within 1 px
    src = json.loads((tiny / "annotations" / "instances_val2017.json").read_text())
    out = json.loads(inst.read_text())

    def by_image(anns: list[dict]) -> dict[int, list[list[float]]]:
        out: dict[int, list[list[float]]] = {}
        for a in anns:
            out.setdefault(a["image_id"], []).append(a["bbox"])
        return out

    src_boxes, out_boxes = by_image(src["annotations"]), by_image(out["annotations"])
    assert sorted(src_boxes) == sorted(out_boxes)
    n = 0
    for image_id, boxes in src_boxes.items():
        for ba, bb in zip(boxes, out_boxes[image_id], strict=True):
            assert max(abs(x - y) for x, y in zip(ba, bb, strict=True)) <= 1.0
            n += 1
    assert n == data_set.boxes["val2017"]


def _mini(tmp_path: Path, boxes: list[list[float]]) -> tuple[Path, Path, Path]:
    imgs = tmp_path / "train"
    imgs.mkdir()
    Image.new("RGB", (100, 50), (1, 2, 3)).save(imgs / "a.jpg")
    images = [{"id": 7, "file_name": "a.jpg", "width": 100, "height": 50}]
    caps = tmp_path / "captions_train.json"
    caps.write_text(
        json.dumps(
            {
                "images": images,
                "annotations": [
                    {"id": 1, "image_id": 7, "caption": "A red square. "},
                ],
            }
        )
    )
    inst = tmp_path / "instances_train.json"
    inst.write_text(
        json.dumps(
            {
                "images": images,
                "categories": [{"id": 3, "name": "car"}],
                "annotations": [
                    {"id": i, "image_id": 7, "category_id": 3, "bbox": b, "iscrowd": i % 2}
                    for i, b in enumerate(boxes)
                ],
            }
        )
    )
    return caps, inst, imgs


def test_degenerate_boxes_dropped_and_counted(tmp_path: Path) -> None:
    caps, inst, imgs = _mini(tmp_path, [[10, 10, 20, 20], [0, 0, 0, 5], [99.99, 0, 5, 5]])
    counts: Counter[str] = Counter()
    [seed] = read_coco(caps, inst, imgs, counts=counts)
    assert counts["coco_boxes_dropped"] == 2 and counts["coco_boxes_kept"] == 1
    assert seed.objects[0].bbox == [0.1, 0.2, 0.3, 0.6]
    assert seed.captions == ["A red square."]


def test_crowd_flag_round_trips(tmp_path: Path) -> None:
    caps, inst, imgs = _mini(tmp_path, [[10, 10, 20, 20], [30, 10, 20, 20]])
    seeds = read_coco(caps, inst, imgs)
    assert [o.attributes for o in seeds[0].objects] == [{}, {"crowd": "yes"}]
    write_coco(seeds, tmp_path / "c2.json", tmp_path / "i2.json")
    anns = json.loads((tmp_path / "i2.json").read_text())["annotations"]
    assert [a["iscrowd"] for a in anns] == [0, 1]


def test_missing_image_and_bad_schema(tmp_path: Path) -> None:
    caps, inst, imgs = _mini(tmp_path, [[10, 10, 20, 20]])
    (imgs / "a.jpg").unlink()
    with pytest.raises(InputError) as e:
        read_coco(caps, inst, imgs)
    assert str(e.value).startswith(f"{caps}: images[id=7].file_name: ")
    assert "image file not found" in str(e.value)
    [seed] = read_coco(caps, inst, imgs, allow_missing_images=True)
    assert seed.image.digest.startswith("path:") and seed.image.width == 100
    bad = tmp_path / "captions_bad.json"
    bad.write_text(
        json.dumps(
            {
                "images": [{"id": 1, "file_name": "a.jpg"}],
                "annotations": [{"image_id": 2, "caption": "x"}],
            }
        )
    )
    with pytest.raises(
        InputError, match=r"captions_bad\.json: annotations\[0\]\.image_id: unknown image 2"
    ):
        read_coco(bad, None, imgs, allow_missing_images=True)


def test_cli_specs_pair_splits(data_set: DataSet, tmp_path: Path) -> None:
    tiny, ann = data_set.coco, data_set.coco / "annotations"
    specs = SourceSpec.from_cli(
        coco_captions=[ann / "captions_train2017.json", ann / "captions_val2017.json"],
        coco_instances=[ann / "instances_train2017.json", ann / "instances_val2017.json"],
        images=[tiny / "val2017", tiny / "train2017"],
    )
    assert [s.image_dirs[0].name for s in specs] == ["train2017", "val2017"]
    stats = build_from_specs(specs, tmp_path / "seeds.jsonl")
    assert stats.images == data_set.total_images
    assert stats.sources["coco_boxes_kept"] == data_set.total_boxes
    assert len(list(read_seeds(tmp_path / "seeds.jsonl"))) == data_set.total_images
