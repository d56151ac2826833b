"""COCO annotations: ``captions_*.json`` + ``instances_*.json`` to seeds, and seeds back to COCO.

COCO boxes are pixel ``[x, y, w, h]``; seeds hold normalised ``[x1, y1, x2, y2]`` (clipped to
0..1, three decimals) computed with the width/height stated in the JSON. Boxes that are empty
after that are dropped and counted. COCO has no Q&A, so COCO seeds carry captions and objects.

Checks, in two kinds:
* A malformed *file* is refused whole (one line naming the file and field), with or without
  ``--skip-bad``: not a JSON object, ``images``/``annotations``/``categories`` not lists of
  objects, or a category table entry whose ``id`` is not an integer, whose ``name`` is not a
  non-empty string, or an id named twice differently (every box depends on that table).
* A malformed *record* is an error naming ``images[i].field`` or ``annotations[i].field``;
  with ``--skip-bad`` it is left out, listed in ``SEEDS.rejected.jsonl`` and counted as
  ``coco_bad_<field>`` (an image entry: ``coco_bad_images``). An image needs an integer ``id``
  (one ``file_name`` per id), a non-empty ``file_name`` and, when stated, finite non-negative
  ``width``/``height``. An annotation needs a known integer ``image_id``; a ``caption`` must
  be a string (null or a list is refused, never turned into text); a box annotation needs a
  known integer ``category_id`` and an ``iscrowd`` of 0 or 1.
* A *box* that is not four finite numbers (booleans, strings, NaN and Infinity are not), is
  inverted or empty, or lies outside the image, is dropped and counted as
  ``coco_boxes_dropped`` (boxes are clipped to the image): real annotation files hold a few
  such boxes, and one should not cost an image its other objects.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

from mmevol.errors import InputError, skip_or_raise
from mmevol.fsutil import write_json
from mmevol.io.images import resolve_image, seed_id_for
from mmevol.io.tabular import load_json
from mmevol.schema import Obj, Provenance, Seed

CROWD = "crowd"
COCO_INSTANCES = "coco_instances"


def _section(data: Any, path: Path, key: str) -> list[dict[str, Any]]:
    if not isinstance(data, dict):
        raise InputError(path, "(top level)", "expected a COCO JSON object")
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InputError(path, key, "expected a list of objects")
    return value


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _check_size(im: dict[str, Any], path: Path, where: str) -> None:
    """A stated width/height must be a number of pixels (absent means unknown: boxes dropped)."""
    for key in ("width", "height"):
        value = im.get(key, 0)
        if not _is_number(value) or value < 0:
            raise InputError(path, f"{where}.{key}", f"expected a number of pixels, got {value!r}")


def _categories(data: Any, path: Path) -> dict[int, str]:
    """The category table: ids are integers, names non-empty strings (else the file is
    refused: every box of the file depends on it)."""
    out: dict[int, str] = {}
    for i, c in enumerate(_section(data, path, "categories")):
        cid, name = c.get("id"), c.get("name")
        if isinstance(cid, bool) or not isinstance(cid, int):
            raise InputError(path, f"categories[{i}].id", f"expected an integer, got {cid!r}")
        if not isinstance(name, str) or not name.strip():
            raise InputError(path, f"categories[{i}].name", f"expected a name, got {name!r}")
        if out.setdefault(cid, name.strip()) != name.strip():
            raise InputError(path, f"categories[{i}].id", f"id {cid} names both "
                             f"{out[cid]!r} and {name.strip()!r}")  # fmt: skip
    return out


def _image_problem(im: dict[str, Any], seen: dict[int, dict[str, Any]]) -> tuple[str, str] | None:
    """(field, problem) of a bad ``images`` entry, or None."""
    image_id, name = im.get("id"), im.get("file_name")
    if not _is_int(image_id):
        return "id", f"expected an integer image id, got {image_id!r}"
    if not isinstance(name, str) or not name.strip():
        return "file_name", f"expected a file name, got {name!r}"
    if image_id in seen and seen[image_id]["file_name"] != name:
        return "id", f"image id {image_id} already names {seen[image_id]['file_name']!r}"
    return None


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _annotation_problem(
    ann: dict[str, Any], images: dict[int, Any], categories: dict[int, str]
) -> tuple[str, str] | None:
    """(field, problem) of a bad annotation, or None. A caption must be a string; a box
    annotation needs a known integer ``category_id``, a valid ``bbox`` and ``iscrowd`` 0/1."""
    image_id = ann.get("image_id")
    if not _is_int(image_id) or image_id not in images:
        return "image_id", f"unknown image {_short(image_id)}"
    if "caption" in ann and not isinstance(ann["caption"], str):
        return "caption", f"expected a string, got {_short(ann['caption'])}"
    if "bbox" in ann:
        cid = ann.get("category_id")
        if not _is_int(cid) or cid not in categories:
            return "category_id", f"unknown category {_short(cid)}"
        if not _is_int(crowd := ann.get("iscrowd", 0)) or crowd not in (0, 1):
            return "iscrowd", f"expected 0 or 1, got {_short(crowd)}"
    return None


def normalise_box(box: Any, width: float, height: float) -> list[float] | None:
    """Pixel ``[x, y, w, h]`` -> normalised ``[x1, y1, x2, y2]`` (clipped, 3 decimals), or None
    when the box is malformed or empty after rounding."""
    if not isinstance(box, list | tuple) or len(box) != 4 or width <= 0 or height <= 0:
        return None
    if not all(_is_number(v) for v in box):  # booleans, strings, NaN, infinities
        return None
    x, y, w, h = (float(v) for v in box)
    if w <= 0 or h <= 0:  # inverted or empty
        return None
    out = [x / width, y / height, (x + w) / width, (y + h) / height]
    x1, y1, x2, y2 = (round(min(1.0, max(0.0, v)), 3) for v in out)
    return [x1, y1, x2, y2] if x1 < x2 and y1 < y2 else None


def pixel_box(box: list[float], width: int, height: int) -> list[float]:
    """Normalised ``[x1, y1, x2, y2]`` -> COCO pixel ``[x, y, w, h]`` (2 decimals)."""
    x1, y1, x2, y2 = box
    return [
        round(x1 * width, 2),
        round(y1 * height, 2),
        round((x2 - x1) * width, 2),
        round((y2 - y1) * height, 2),
    ]


def guess_images_dir(annotation: Path) -> Path:
    """COCO layout: ``annotations/captions_train2017.json`` -> ``../train2017``."""
    split = annotation.stem.split("_", 1)[-1]
    return annotation.resolve().parent.parent / split


def read_coco(
    captions: Path | None,
    instances: Path | None,
    images_dir: Path | None = None,
    *,
    allow_missing_images: bool = False,
    counts: Counter[str] | None = None,
    rejects: list[InputError] | None = None,
) -> list[Seed]:
    """Seeds of one COCO split from its captions and/or instances file.

    ``images_dir`` defaults to the split folder beside ``annotations/``. ``counts`` (if given)
    receives ``coco_images``, ``coco_captions``, ``coco_boxes_in``, ``coco_boxes_kept`` and
    ``coco_boxes_dropped``. Seeds come in the order of the ``images`` sections. A bad image
    entry or annotation raises, or, when ``rejects`` is a list, is skipped and its error
    appended there (an image's annotations go with it).
    """
    counts = counts if counts is not None else Counter()
    files = [p for p in (captions, instances) if p is not None]
    if not files:
        raise InputError("coco", None, "give a captions and/or an instances file")
    folder = images_dir if images_dir is not None else guess_images_dir(files[0])
    images: dict[int, dict[str, Any]] = {}
    caps: dict[int, list[str]] = {}
    objs: dict[int, list[Obj]] = {}
    for path in files:
        data = load_json(path, finite=False)  # a NaN box is dropped and counted, as a bad box
        categories = _categories(data, path)
        for i, im in enumerate(_section(data, path, "images")):
            try:
                if (bad := _image_problem(im, images)) is not None:
                    raise InputError(path, f"images[{i}].{bad[0]}", bad[1])
                _check_size(im, path, f"images[{i}]")
            except InputError as exc:
                counts["coco_bad_images"] += 1
                skip_or_raise(exc, rejects)
                continue
            images.setdefault(im["id"], im)
        for i, ann in enumerate(_section(data, path, "annotations")):
            if (bad := _annotation_problem(ann, images, categories)) is not None:
                counts[f"coco_bad_{bad[0]}"] += 1
                skip_or_raise(InputError(path, f"annotations[{i}].{bad[0]}", bad[1]), rejects)
                continue
            image_id = ann["image_id"]
            if "caption" in ann:
                caps.setdefault(image_id, []).append(ann["caption"].strip())
                counts["coco_captions"] += 1
            if "bbox" in ann:
                counts["coco_boxes_in"] += 1
                im = images[image_id]
                box = normalise_box(
                    ann["bbox"], float(im.get("width", 0)), float(im.get("height", 0))
                )
                if box is None:
                    counts["coco_boxes_dropped"] += 1
                    continue
                attrs = {CROWD: "yes"} if ann.get("iscrowd") else {}
                name = categories[ann["category_id"]]
                objs.setdefault(image_id, []).append(Obj(category=name, bbox=box, attributes=attrs))
                counts["coco_boxes_kept"] += 1
    seeds: list[Seed] = []
    for image_id, im in images.items():
        try:
            ref = resolve_image(
                im["file_name"],
                folder,
                allow_missing=allow_missing_images,
                where=str(files[0]),
                field=f"images[id={image_id}].file_name",
            )
        except InputError as exc:
            skip_or_raise(exc, rejects)
            continue
        if ref.width is None:
            ref = ref.model_copy(update={"width": im.get("width"), "height": im.get("height")})
        seeds.append(
            Seed(
                id=seed_id_for(ref.digest),
                image=ref,
                captions=[c for c in caps.get(image_id, []) if c],
                objects=objs.get(image_id, []),
                provenance=[
                    Provenance(source="coco", file=str(files[0]), record_id=str(image_id)),
                    # the boxes are COCO's exhaustive instance annotations: a category that is
                    # not among them is not in the image (the fact checker relies on this)
                    *(
                        [
                            Provenance(
                                source=COCO_INSTANCES, file=str(instances), record_id=str(image_id)
                            )
                        ]
                        if instances is not None
                        else []
                    ),
                ],
            )
        )
        counts["coco_images"] += 1
    return seeds


def _coco_id(seed: Seed, taken: set[int]) -> int:
    for p in seed.provenance:
        if p.source == "coco" and p.record_id.isdigit() and int(p.record_id) not in taken:
            return int(p.record_id)
    return max(taken, default=0) + 1


def write_coco(
    seeds: list[Seed],
    captions_path: Path,
    instances_path: Path,
    *,
    image_root: Path | None = None,
) -> None:
    """Write seeds as COCO captions + instances JSON (atomically). Image ids come from COCO
    provenance when present; ``file_name`` is the image path relative to ``image_root`` (or
    its base name); boxes go back to pixels with the image's width/height."""
    images: list[dict[str, Any]] = []
    cap_anns: list[dict[str, Any]] = []
    box_anns: list[dict[str, Any]] = []
    names = sorted({o.category for s in seeds for o in s.objects if o.bbox is not None})
    cat_ids = {n: i + 1 for i, n in enumerate(names)}
    taken: set[int] = set()
    for seed in seeds:
        w, h = seed.image.width, seed.image.height
        if not w or not h:
            raise InputError(seed.image.path, "image", "width/height unknown; COCO needs them")
        image_id = _coco_id(seed, taken)
        taken.add(image_id)
        path = Path(seed.image.path)
        if image_root is not None and path.is_relative_to(image_root):
            file_name = path.relative_to(image_root).as_posix()
        else:
            file_name = path.name
        images.append({"id": image_id, "file_name": file_name, "width": w, "height": h})
        for cap in seed.captions:
            cap_anns.append({"id": len(cap_anns) + 1, "image_id": image_id, "caption": cap})
        for obj in seed.objects:
            if obj.bbox is None:
                continue
            px = pixel_box(obj.bbox, w, h)
            box_anns.append(
                {
                    "id": len(box_anns) + 1,
                    "image_id": image_id,
                    "category_id": cat_ids[obj.category],
                    "bbox": px,
                    "area": round(px[2] * px[3], 2),
                    "iscrowd": 1 if obj.attributes.get(CROWD) == "yes" else 0,
                }
            )
    categories = [{"id": i, "name": n, "supercategory": ""} for n, i in cat_ids.items()]
    write_json(Path(captions_path), {"images": images, "annotations": cap_anns})
    write_json(
        Path(instances_path), {"images": images, "annotations": box_anns, "categories": categories}
    )
