"""COCO annotations: ``captions_*.json`` + ``instances_*.json`` to seeds, and seeds back to COCO.

COCO boxes are pixel ``[x, y, w, h]``; seeds hold normalised ``[x1, y1, x2, y2]`` (clipped to
0..1, three decimals) computed with the width/height stated in the JSON. Boxes that are empty
after that are dropped and counted. COCO has no Q&A, so COCO seeds carry captions and objects.
"""

from __future__ import annotations

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


def _check_size(im: dict[str, Any], path: Path, where: str) -> None:
    """A stated width/height must be a number of pixels (absent means unknown: boxes dropped)."""
    for key in ("width", "height"):
        value = im.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(path, f"{where}.{key}", f"expected a number of pixels, got {value!r}")


def normalise_box(box: Any, width: float, height: float) -> list[float] | None:
    """Pixel ``[x, y, w, h]`` -> normalised ``[x1, y1, x2, y2]`` (clipped, 3 decimals), or None
    when the box is malformed or empty after rounding."""
    if not isinstance(box, list | tuple) or len(box) != 4 or width <= 0 or height <= 0:
        return None
    try:
        x, y, w, h = (float(v) for v in box)
    except (TypeError, ValueError):
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
        data = load_json(path)
        for i, im in enumerate(_section(data, path, "images")):
            try:
                if not isinstance(im.get("id"), int) or not isinstance(im.get("file_name"), str):
                    raise InputError(path, f"images[{i}]", "expected an 'id' and a 'file_name'")
                _check_size(im, path, f"images[{i}]")
            except InputError as exc:
                skip_or_raise(exc, rejects)
                continue
            images.setdefault(im["id"], im)
        categories = {
            c.get("id"): str(c.get("name", "")) for c in _section(data, path, "categories")
        }
        for i, ann in enumerate(_section(data, path, "annotations")):
            image_id = ann.get("image_id")
            if image_id not in images:
                where = f"annotations[{i}].image_id"
                skip_or_raise(InputError(path, where, f"unknown image {image_id!r}"), rejects)
                continue
            if "caption" in ann:
                caps.setdefault(image_id, []).append(str(ann["caption"]).strip())
                counts["coco_captions"] += 1
            if "bbox" in ann:
                counts["coco_boxes_in"] += 1
                name = categories.get(ann.get("category_id"), "")
                if not name:
                    problem = f"unknown category {ann.get('category_id')!r}"
                    where = f"annotations[{i}].category_id"
                    skip_or_raise(InputError(path, where, problem), rejects)
                    continue
                im = images[image_id]
                box = normalise_box(
                    ann["bbox"], float(im.get("width", 0)), float(im.get("height", 0))
                )
                if box is None:
                    counts["coco_boxes_dropped"] += 1
                    continue
                attrs = {CROWD: "yes"} if ann.get("iscrowd") else {}
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
