"""Bad inputs, round two: hostile JSON (nesting, huge numbers, NaN, lone surrogates), control
characters in paths, files that are not regular files (FIFOs, folders), and COCO fields of the
wrong type. Same contract as ``corpus``: one line naming the file and field, nothing left."""

from __future__ import annotations

import json
import os
from pathlib import Path

from reliability_cases.corpus import (
    CASES,
    Builder,
    Case,
    _seed_line,
    box,
    coco_case,
    evolve_case,
    llava_case,
    llava_raw,
    llava_rec,
    png,
    turns,
)

OK_RECORD = json.dumps([llava_rec("ok.png")])


def _fifo_llava(d: Path) -> list[str]:
    png(d / "images" / "ok.png")
    os.mkfifo(d / "in.json")
    return ["seeds", "build", "--llava", str(d / "in.json"), "--images", str(d / "images")]


def _folder_llava(d: Path) -> list[str]:
    png(d / "images" / "ok.png")
    (d / "in.json").mkdir()
    return ["seeds", "build", "--llava", str(d / "in.json"), "--images", str(d / "images")]


def _fifo_seeds(d: Path) -> list[str]:
    os.mkfifo(d / "seeds.jsonl")
    return ["evolve", str(d / "seeds.jsonl"), "--out", str(d / "run"), "--rounds", "1"]


def _seed_text(d: Path, text: str) -> bytes:
    return (json.dumps(_seed_line(d))[:-1] + ", " + text + "}\n").encode()


def _caption(value: object) -> Builder:
    return coco_case([{"id": 5, "image_id": 1, "caption": value}, box([1, 1, 5, 5])])


MORE_CASES: list[Case] = [
    Case("llava JSON nested 100k deep", llava_raw(b"[" * 100_000),
         "error", ("in.json", "nested too deeply")),
    Case("llava 5000-digit number", llava_raw(b'[{"id": ' + b"9" * 5000 + b"}]"),
         "error", ("in.json", "digits")),
    Case("llava NaN in a record", llava_raw(OK_RECORD[:-2].encode() + b', "n": NaN}]'),
         "error", ("in.json", "[0].n", "finite")),
    Case("llava lone surrogate in a question", llava_raw(json.dumps(
        [llava_rec("ok.png", convs=turns("<image>\\nWhat\\ud800?"))]).replace("\\\\", "\\")
        .encode()), "error", ("in.json", "[0].conversations[0].value", "surrogate")),
    Case("llava NUL in the image path", llava_case([llava_rec("ok\u0000.png")]),
         "error", ("in.json", "[0].image", "control character")),
    Case("llava newline in the image path", llava_case([llava_rec("ok\n.png")]),
         "error", ("in.json", "[0].image", "control character")),
    Case("llava input is a FIFO (no hang)", _fifo_llava, "error", ("in.json", "FIFO")),
    Case("llava input is a folder", _folder_llava, "error", ("in.json", "directory")),
    Case("llava NUL in an answer", llava_case([llava_rec("ok.png", convs=turns(
        a="Red\u0000."))]), "error", ("in.json", "[0].conversations[1].value", "U+0000")),
    Case("llava terminal escape in a question", llava_case([llava_rec("ok.png", convs=turns(
        "<image>\nWhat\u001b[2J?"))]), "error", ("in.json", "[0].conversations[0].value",
        "U+001B")),
    Case("coco caption with a control code", _caption("a red\u0007dog"),
         "error", ("instances_train2017.json", "annotations[0].caption", "U+0007")),
    Case("evolve seed image is a device", evolve_case(lambda d: (json.dumps(_seed_line(
        d, image={"path": "/dev/zero", "digest": "sha256:00", "width": 16, "height": 12}))
        + "\n").encode()), "error", ("seeds.jsonl:1", "image.path", "regular file")),
    Case("coco caption null", _caption(None),
         "error", ("instances_train2017.json", "annotations[0].caption", "string")),
    Case("coco caption a list", _caption(["a", "b"]),
         "error", ("instances_train2017.json", "annotations[0].caption", "string")),
    Case("coco caption a number", _caption(7),
         "error", ("instances_train2017.json", "annotations[0].caption", "string")),
    Case("coco box of booleans (dropped, counted)", coco_case([box([True, True, True, True])]),
         "ok"),
    Case("coco image id a boolean", coco_case([], images=[
        {"id": True, "file_name": "a.png", "width": 100, "height": 50}]),
        "error", ("instances_train2017.json", "images[0].id", "integer")),
    Case("coco category id a string", coco_case([{**box([1, 1, 5, 5]), "category_id": "1"}]),
         "error", ("instances_train2017.json", "annotations[0].category_id", "unknown category")),
    Case("coco iscrowd 7", coco_case([box([1, 1, 5, 5], iscrowd=7)]),
         "error", ("instances_train2017.json", "annotations[0].iscrowd", "0 or 1")),
    Case("evolve seeds line nested 100k deep", evolve_case(lambda d: b"[" * 100_000 + b"\n"),
         "error", ("seeds.jsonl:1", "nested too deeply")),
    Case("evolve seeds lone surrogate", evolve_case(lambda d: _seed_text(d, '"note": "\\ud800"')),
         "error", ("seeds.jsonl:1", "surrogate")),
    Case("evolve seeds file is a FIFO (no hang)", _fifo_seeds, "error", ("seeds.jsonl", "FIFO")),
    Case("evolve seed image path with NUL", evolve_case(lambda d: (json.dumps(_seed_line(
        d, image={"path": str(d / "img\u0000.png"), "digest": "sha256:00", "width": 16,
                  "height": 12})) + "\n").encode()),
        "error", ("seeds.jsonl:1", "control character")),
]  # fmt: skip

ALL_CASES = CASES + MORE_CASES
# every record-level error of ``seeds build`` has a --skip-bad twin
ALL_SKIPPABLE = [c for c in ALL_CASES if c.expect == "error" and c.build.__qualname__.startswith(
    ("llava_case", "coco_case", "sharegpt_case", "_caption"))]  # fmt: skip
