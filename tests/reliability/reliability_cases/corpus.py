"""A corpus of bad (and awkward but valid) inputs, built on the fly, run through the CLI.

Each case builds its files in an empty folder and runs ``mmevol seeds build`` (LLaVA, COCO or
ShareGPT source) or ``mmevol evolve``. An ``error`` case must exit non-zero with one line on
stderr naming the file and the field, print no traceback and leave nothing new on disk. An
``ok`` case must succeed; ``ok`` covers what we accept on purpose (CMYK JPEG and 16-bit PNG
are decoded and converted to RGB; duplicated record ids are fine since seeds are keyed by
image content; odd and non-ASCII file names work).
"""

from __future__ import annotations

import json
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from reliability_cases.common import CategoryReport

Builder = Callable[[Path], list[str]]


@dataclass(frozen=True)
class Case:
    name: str
    build: Builder
    expect: str  # "error" or "ok"
    words: tuple[str, ...] = ()  # must appear in the error line


def png(path: Path, size: tuple[int, int] = (16, 12), color: str = "red") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path


def huge_png(path: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A tiny file whose header claims a gigantic image (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    data += chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    path.write_bytes(data)
    return path


def turns(q: str = "<image>\nWhat is shown?", a: str = "A red square.") -> list[dict[str, str]]:
    return [{"from": "human", "value": q}, {"from": "gpt", "value": a}]


def llava_rec(image: Any, rid: str = "1", convs: Any = None) -> dict[str, Any]:
    return {"id": rid, "image": image, "conversations": turns() if convs is None else convs}


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value, ensure_ascii=False), "utf-8")
    return path


def llava_case(records: Any, images: Callable[[Path], object] | None = None) -> Builder:
    def build(d: Path) -> list[str]:
        png(d / "images" / "ok.png")
        if images:
            images(d / "images")
        src = write_json(d / "in.json", records)
        return ["seeds", "build", "--llava", str(src), "--images", str(d / "images")]

    return build


def llava_raw(data: bytes) -> Builder:
    def build(d: Path) -> list[str]:
        png(d / "images" / "ok.png")
        (d / "in.json").write_bytes(data)
        return ["seeds", "build", "--llava", str(d / "in.json"), "--images", str(d / "images")]

    return build


def coco_case(
    annotations: list[dict[str, Any]],
    images: list[dict[str, Any]] | None = None,
    categories: list[dict[str, Any]] | None = None,
    top: Any = None,
) -> Builder:
    def build(d: Path) -> list[str]:
        png(d / "train2017" / "a.png", (100, 50))
        ims = images if images is not None else [
            {"id": 1, "file_name": "a.png", "width": 100, "height": 50}
        ]  # fmt: skip
        cats = categories if categories is not None else [{"id": 1, "name": "box"}]
        data = top if top is not None else {
            "images": ims, "annotations": annotations, "categories": cats
        }  # fmt: skip
        src = write_json(d / "instances_train2017.json", data)
        return ["seeds", "build", "--coco-instances", str(src), "--images", str(d / "train2017")]

    return build


def box(bbox: Any, **more: Any) -> dict[str, Any]:
    return {"id": 1, "image_id": 1, "category_id": 1, "bbox": bbox, **more}


def sharegpt_case(records: Any) -> Builder:
    def build(d: Path) -> list[str]:
        png(d / "images" / "ok.png")
        src = write_json(d / "in.json", records)
        return ["seeds", "build", "--sharegpt", str(src), "--images", str(d / "images")]

    return build


def sg(messages: Any, images: Any = ("ok.png",)) -> dict[str, Any]:
    return {"id": "s1", "messages": messages, "images": list(images) if images else images}


USER_ASSISTANT = [
    {"role": "user", "content": "<image>What?"},
    {"role": "assistant", "content": "A."},
]


def _seed_line(d: Path, **change: Any) -> dict[str, Any]:
    img = png(d / "img.png")
    seed: dict[str, Any] = {
        "id": "img-1",
        "image": {"path": str(img), "digest": "sha256:00", "width": 16, "height": 12},
        "items": [{"question": "What colour is the square?", "answer": "Red."}],
    }
    seed.update(change)
    return seed


def evolve_case(lines: Callable[[Path], bytes]) -> Builder:
    def build(d: Path) -> list[str]:
        src = d / "seeds.jsonl"
        src.write_bytes(lines(d))
        return ["evolve", str(src), "--out", str(d / "run"), "--rounds", "1"]

    return build


def _jsonl(*rows: Any) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def _link_out(folder: Path) -> None:
    outside = png(folder.parent / "outside.png")
    (folder / "link.png").symlink_to(outside)


def _cmyk(folder: Path) -> None:
    Image.new("CMYK", (20, 10), (0, 128, 255, 0)).save(folder / "cmyk.jpg")


def _png16(folder: Path) -> None:
    arr = (np.arange(20 * 10, dtype=np.uint16).reshape(10, 20) * 300).astype(np.uint16)
    Image.fromarray(arr).save(folder / "deep.png")  # uint16 -> a 16-bit greyscale PNG


def _huge(folder: Path) -> None:
    huge_png(folder / "huge.png")


def _odd_names(folder: Path) -> None:
    png(folder / "猫 photo (1).png", color="blue")
    png(folder / "a'b\"c;$x.png", color="green")


CASES: list[Case] = [
    # --- LLaVA: images ---
    Case("llava missing image", llava_case([llava_rec("ok.png"), llava_rec("gone.png")]),
         "error", ("in.json", "[1].image", "not found")),
    Case("llava corrupt image", llava_case([llava_rec("bad.png")], lambda f: (f / "bad.png")
         .write_bytes(b"\x89PNG\r\n\x1a\nnot really")), "error", ("in.json", "[0].image", "image")),
    Case("llava truncated JPEG", llava_case([llava_rec("cut.jpg")], lambda f: (f / "cut.jpg")
         .write_bytes(_jpeg_bytes()[:300])), "error", ("in.json", "[0].image", "truncated")),
    Case("llava zero-byte image", llava_case([llava_rec("zero.png")], lambda f: (f / "zero.png")
         .write_bytes(b"")), "error", ("in.json", "[0].image", "empty")),
    Case("llava huge-dimension image", llava_case([llava_rec("huge.png")], _huge), "error", ("in.json", "[0].image", "too large")),
    Case("llava image is a folder", llava_case([llava_rec("sub")], lambda f: (f / "sub").mkdir()),
         "error", ("in.json", "[0].image", "not a regular file")),
    Case("llava symlink out of the image root", llava_case([llava_rec("link.png")], _link_out),
         "error", ("in.json", "[0].image", "outside the image folder")),
    Case("llava ../ path out of the image root", llava_case([llava_rec("../in.json")]),
         "error", ("in.json", "[0].image", "outside the image folder")),
    Case("llava absolute image path", llava_case([llava_rec("/etc/hostname")]),
         "error", ("in.json", "[0].image", "outside the image folder")),
    Case("llava CMYK JPEG (accepted, converted)", llava_case([llava_rec("cmyk.jpg")], _cmyk), "ok"),
    Case("llava 16-bit PNG (accepted, converted)", llava_case([llava_rec("deep.png")], _png16),
         "ok"),
    Case("llava odd and non-ASCII file names", llava_case(
        [llava_rec("猫 photo (1).png"), llava_rec("a'b\"c;$x.png", "2")], _odd_names), "ok"),
    Case("llava duplicated ids (accepted: keyed by image)", llava_case(
        [llava_rec("ok.png", "7"), llava_rec("ok.png", "7", turns("<image>\nWhy?", "Because."))]),
        "ok"),
    # --- LLaVA: schema ---
    Case("llava conversations not a list", llava_case([llava_rec("ok.png", convs="hello")]),
         "error", ("in.json", "[0].conversations", "expected")),
    Case("llava empty conversations", llava_case([llava_rec("ok.png", convs=[])]),
         "error", ("in.json", "[0].conversations", "no turns")),
    Case("llava turn without value", llava_case([llava_rec("ok.png", convs=[{"from": "human"}])]),
         "error", ("in.json", "[0].conversations[0].value", "expected")),
    Case("llava odd number of turns", llava_case([llava_rec("ok.png", convs=turns()[:1])]),
         "error", ("in.json", "[0].conversations", "odd number")),
    Case("llava roles reversed", llava_case([llava_rec("ok.png", convs=turns()[::-1])]),
         "error", ("in.json", "[0].conversations[0].from", "human")),
    Case("llava image is a number", llava_case([llava_rec(42)]),
         "error", ("in.json", "[0].image", "expected")),
    Case("llava record is a list", llava_case([["ok.png"]]), "error", ("in.json", "[0]", "object")),
    Case("llava JSON is not a list", llava_case("just a string"),
         "error", ("in.json", "top level", "list")),
    Case("llava JSON object with two lists", llava_case({"a": [], "b": []}),
         "error", ("in.json", "top level", "list")),
    Case("llava empty file", llava_raw(b""), "error", ("in.json", "empty")),
    Case("llava truncated JSON", llava_raw(b'[{"id": "1", "image": "ok.p'),
         "error", ("in.json", "line 1", "invalid JSON")),
    Case("llava not UTF-8", llava_raw('[{"id": "caf\u00e9"}]'.encode("latin-1")),
         "error", ("in.json", "byte", "UTF-8")),
    # --- COCO ---
    Case("coco box out of range (clipped)", coco_case([box([90, 40, 50, 50])]), "ok"),
    Case("coco inverted box (dropped, counted)", coco_case([box([50, 20, -10, 5])]), "ok"),
    Case("coco box of strings (dropped, counted)", coco_case([box(["a", "b", "c", "d"])]), "ok"),
    Case("coco NaN and infinite box (dropped)", coco_case([box([float("nan"), 0, 1, 1]),
         {**box([0, 0, float("inf"), 5]), "id": 2}]), "ok"),
    Case("coco width not a number", coco_case([box([1, 1, 5, 5])], images=[
        {"id": 1, "file_name": "a.png", "width": "wide", "height": 50}]),
        "error", ("instances_train2017.json", "images[0].width", "number")),
    Case("coco width null", coco_case([box([1, 1, 5, 5])], images=[
        {"id": 1, "file_name": "a.png", "width": None, "height": 50}]),
        "error", ("instances_train2017.json", "images[0].width", "number")),
    Case("coco unknown image id", coco_case([{**box([1, 1, 5, 5]), "image_id": 9}]),
         "error", ("instances_train2017.json", "annotations[0].image_id", "unknown image")),
    Case("coco unknown category", coco_case([{**box([1, 1, 5, 5]), "category_id": 9}]),
         "error", ("instances_train2017.json", "annotations[0].category_id", "unknown category")),
    Case("coco annotations not a list", coco_case([], top={"images": [], "annotations": 3}),
         "error", ("instances_train2017.json", "annotations", "list")),
    Case("coco top level is a list", coco_case([], top=[1, 2]),
         "error", ("instances_train2017.json", "top level", "object")),
    Case("coco image without file_name", coco_case([], images=[{"id": 1}]),
         "error", ("instances_train2017.json", "images[0]", "file_name")),
    # --- ShareGPT ---
    Case("sharegpt content is a number", sharegpt_case([sg([{"role": "user", "content": 3}])]),
         "error", ("in.json", "[0].messages[0].content", "expected text")),
    Case("sharegpt images not a list", sharegpt_case([sg(USER_ASSISTANT, images=None) | {
         "images": 5}]), "error", ("in.json", "[0].images", "expected")),
    Case("sharegpt only a system turn", sharegpt_case([sg([{"role": "system", "content": "x"}])]),
         "error", ("in.json", "[0].messages", "no turns")),
    Case("sharegpt turn without role", sharegpt_case([sg([{"content": "hi"}])]),
         "error", ("in.json", "[0].messages[0]", "expected")),
    Case("sharegpt missing image", sharegpt_case([sg(USER_ASSISTANT, images=("gone.png",))]),
         "error", ("in.json", "[0].images[0]", "not found")),
    Case("sharegpt content parts (accepted)", sharegpt_case([sg([
        {"role": "user", "content": [{"type": "text", "text": "What?"}, {"type": "image"}]},
        {"role": "assistant", "content": "A."}])]), "ok"),
    # --- evolve ---
    Case("evolve seeds line not JSON", evolve_case(lambda d: b'{"id": "x",\n'),
         "error", ("seeds.jsonl:1", "invalid JSON")),
    Case("evolve seed box out of range", evolve_case(lambda d: _jsonl(_seed_line(
        d, objects=[{"category": "box", "bbox": [0.1, 0.1, 1.5, 0.5]}]))),
        "error", ("seeds.jsonl:1", "objects.0.bbox", "outside 0..1")),
    Case("evolve seed box inverted", evolve_case(lambda d: _jsonl(_seed_line(
        d, objects=[{"category": "box", "bbox": [0.5, 0.1, 0.2, 0.5]}]))),
        "error", ("seeds.jsonl:1", "objects.0.bbox", "inverted")),
    Case("evolve seed without image", evolve_case(lambda d: _jsonl({"id": "x", "items": []})),
         "error", ("seeds.jsonl:1", "image", "required")),
    Case("evolve seeds not UTF-8", evolve_case(lambda d: b'{"id": "caf\xe9"}\n'),
         "error", ("seeds.jsonl:1", "UTF-8")),
    Case("evolve seeds file empty", evolve_case(lambda d: b""), "error", ("seeds.jsonl", "empty")),
    Case("evolve seeds a JSON list", evolve_case(lambda d: b"[1, 2]\n"),
         "error", ("seeds.jsonl:1", "Seed")),
]  # fmt: skip


def _jpeg_bytes() -> bytes:
    import io

    buf = io.BytesIO()
    Image.effect_noise((64, 64), 50).convert("RGB").save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _snapshot(d: Path) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*")}


def run_case(case: Case, d: Path) -> tuple[bool, str]:
    """Run one case in the empty folder ``d``; (passed, what happened)."""
    from mmevol.cli.app import app

    d.mkdir(parents=True, exist_ok=True)
    argv = case.build(d)
    if argv[0] == "seeds":
        argv += ["--out", str(d / "seeds.jsonl")]
    before = _snapshot(d)
    result = CliRunner().invoke(app, argv)
    stderr = result.stderr.strip()
    after = _snapshot(d)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return False, f"crashed: {type(result.exception).__name__}: {result.exception}"
    if case.expect == "ok":
        if result.exit_code != 0:
            return False, f"expected success, got exit {result.exit_code}: {stderr}"
        if argv[0] == "seeds":
            return _evolve_built(d)
        return True, "accepted"
    lines = stderr.splitlines()
    if result.exit_code == 0:
        return False, "expected an error, got exit 0"
    if len(lines) != 1:
        return False, f"expected one line on stderr, got {len(lines)}: {stderr[:300]}"
    missing = [w for w in case.words if w not in lines[0]]
    if missing:
        return False, f"error line lacks {missing}: {lines[0]}"
    if after != before:
        return False, f"left files behind: {sorted(after - before)}"
    return True, lines[0]


def run_case_skipping(case: Case, d: Path) -> tuple[bool, str]:
    """An ``error`` case of ``seeds build`` run again with ``--skip-bad``: a bad *record* is
    left out and listed (file, field) in ``seeds.rejected.jsonl`` while the build succeeds; a
    file that cannot be read at all still fails with the same one-line error."""
    from mmevol.cli.app import app

    d.mkdir(parents=True, exist_ok=True)
    argv = [*case.build(d), "--out", str(d / "seeds.jsonl"), "--skip-bad"]
    before = _snapshot(d)
    result = CliRunner().invoke(app, argv)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return False, f"crashed: {type(result.exception).__name__}: {result.exception}"
    listing = d / "seeds.rejected.jsonl"
    if result.exit_code != 0:  # the whole file is unusable: same contract as without the flag
        lines = result.stderr.strip().splitlines()
        if len(lines) != 1 or [w for w in case.words if w not in lines[0]]:
            return False, f"skip-bad: bad error: {result.stderr[:300]}"
        if _snapshot(d) != before:
            return False, f"skip-bad: left files behind: {sorted(_snapshot(d) - before)}"
        return True, "file-level: still stops"
    if not listing.is_file():
        return False, "skip-bad: exit 0 but no seeds.rejected.jsonl"
    rows = [json.loads(line) for line in listing.read_text("utf-8").splitlines()]
    said = " ".join(f"{r['file']}: {r['field']}: {r['problem']}" for r in rows)
    missing = [w for w in case.words if w not in said]
    if not rows or missing:
        return False, f"skip-bad: listing lacks {missing}: {said[:300]}"
    if "skipped" not in result.stderr:
        return False, f"skip-bad: nothing said about skipped records: {result.stderr[:200]}"
    return True, f"skipped {len(rows)}, listed"


def _evolve_built(d: Path) -> tuple[bool, str]:
    """An accepted seed set must also evolve (grounded backend, one round) without trouble."""
    from mmevol.cli.app import app

    result = CliRunner().invoke(
        app, ["evolve", str(d / "seeds.jsonl"), "--out", str(d / "run"), "--rounds", "1"]
    )
    if result.exit_code != 0:
        return False, f"seeds built but evolve failed (exit {result.exit_code}): {result.stderr}"
    return True, "accepted and evolved"


def corpus_category(root: Path) -> CategoryReport:
    t0 = time.monotonic()
    report = CategoryReport("bad inputs")
    from reliability_cases.corpus_more import ALL_CASES, ALL_SKIPPABLE

    results = []
    for i, case in enumerate(ALL_CASES):
        ok, what = run_case(case, root / f"case-{i:02d}")
        report.case(ok, f"{case.name}: {what}")
        results.append({"case": case.name, "expect": case.expect, "ok": ok, "result": what})
    for i, case in enumerate(ALL_SKIPPABLE):
        ok, what = run_case_skipping(case, root / f"skip-{i:02d}")
        report.case(ok, f"{case.name} (--skip-bad): {what}")
        results.append(
            {"case": f"{case.name} (--skip-bad)", "expect": "skip", "ok": ok, "result": what}
        )
    report.notes = {
        "errors_expected": sum(c.expect == "error" for c in ALL_CASES),
        "accepted_expected": sum(c.expect == "ok" for c in ALL_CASES),
        "cases": results,
    }
    report.seconds = round(time.monotonic() - t0, 1)
    return report


# every record-level error of ``seeds build`` has a --skip-bad twin
SKIPPABLE = [c for c in CASES if c.expect == "error" and c.build.__qualname__.startswith(
    ("llava_case", "coco_case", "sharegpt_case"))]  # fmt: skip
