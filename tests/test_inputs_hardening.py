"""Hostile inputs through the real CLI: each gives one line naming the file (and field), a
non-zero exit and nothing half-written; or, where skipping is the documented policy, a counted,
named reason. Inputs are built on the fly in the real tools' shapes (LLaVA JSON, COCO
annotation JSON, seeds.jsonl, the MMEvol authors' per-image files)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from typer.testing import CliRunner

import mmevol.evolve.dedup as dedup
import mmevol.grounded.backend as grounded
from mmevol.cli.app import app
from mmevol.errors import InputError
from mmevol.evolve.engine import MAX_ITEMS_PER_SEED
from mmevol.io.images import MAX_PIXELS, load_rgb
from mmevol.io.safeio import MAX_DEPTH
from mmevol.schema import QA, ImageRef, Lineage, Sample, Verdict
from mmevol.store import Store
from mmevol.textsim import near_duplicate, question_template, template_duplicate

runner = CliRunner()
TURNS = [
    {"from": "human", "value": "<image>\nWhat colour is it?"},
    {"from": "gpt", "value": "Red."},
]


def _cli(*args: str) -> Any:
    return runner.invoke(app, [str(a) for a in args])


def _one_line_error(res: Any, *needles: str) -> str:
    """The run failed with exit 2 and printed exactly one line: ``error: ...`` with ``needles``."""
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    err = res.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    assert "Traceback" not in res.output
    for n in needles:
        assert n in err, (n, err)
    return err


def _image(folder: Path, name: str = "a.png", size: tuple[int, int] = (64, 48)) -> Path:
    Image.new("RGB", size, (200, 10, 10)).save(folder / name, format="PNG")
    return folder / name


def _llava(
    tmp: Path, records: Any = None, name: str = "llava.json", raw: str | None = None
) -> Path:
    if not (tmp / "a.png").exists():
        _image(tmp)
    path = tmp / name
    recs = [{"id": "r1", "image": "a.png", "conversations": TURNS}] if records is None else records
    path.write_text(raw if raw is not None else json.dumps(recs), encoding="utf-8")
    return path


def _seeds(tmp: Path, n_items: int = 1, **extra: Any) -> Path:
    """A real seeds.jsonl from ``mmevol seeds build`` (one seed), then edited."""
    out = tmp / "built.jsonl"
    res = _cli("seeds", "build", "--llava", _llava(tmp), "--out", out)
    assert res.exit_code == 0, res.output
    seed = json.loads(out.read_text())
    seed["objects"] = [{"category": "cat", "bbox": [0.1, 0.1, 0.5, 0.5]}]
    seed["items"] = [
        {"question": f"Is there a cat near corner {i} of the table {i * 7 % 13}?",
         "answer": f"Yes, cat {i} is there.", "objects": ["cat"], "skills": [],
         "format": "open_ended", "steps": []}
        for i in range(n_items)
    ]  # fmt: skip
    seed |= extra
    path = tmp / "seeds.jsonl"
    path.write_text(json.dumps(seed) + "\n", encoding="utf-8")
    return path


def _deep(n: int) -> str:
    return "[" * n + "]" * n


# --- 1. JSON shape: nesting, huge numbers, NaN/Infinity ------------------------------------------


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 900, 100_000])
def test_deep_json_in_llava_json_and_jsonl(tmp_path: Path, depth: int) -> None:
    raw = json.dumps([{"id": "r1", "image": "a.png", "conversations": TURNS, "x": 0}])
    for name in ("deep.json", "deep.jsonl"):
        text = raw.replace("0}]", _deep(depth) + "}]")
        text = text[1:-1] + "\n" if name.endswith("jsonl") else text
        res = _cli("seeds", "build", "--llava", _llava(tmp_path, raw=text, name=name),
                   "--out", tmp_path / "s.jsonl")  # fmt: skip
        _one_line_error(res, name, "nested too deeply (more than 64 levels")
    assert not (tmp_path / "s.jsonl").exists()


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5000])
def test_deep_json_in_a_seeds_line_leaves_no_run(tmp_path: Path, depth: int) -> None:
    seeds = _seeds(tmp_path)
    line = seeds.read_text().rstrip()[:-1] + f', "x": {_deep(depth)}}}\n'
    seeds.write_text("\n" + line)
    _one_line_error(_cli("evolve", seeds, "--out", tmp_path / "run", "--rounds", "1"),
                    "seeds.jsonl:2", "nested too deeply")  # fmt: skip
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("9" * 5000, "thousands of digits"),
        ("9" * 1000, "integer of 1000 digits"),
        ("-" + "9" * 30, "integer of 30 digits"),
        ("NaN", "nan is not a finite number"),
        ("Infinity", "inf is not a finite number"),
        ("-Infinity", "-inf is not a finite number"),
        ("1e999", "inf is not a finite number"),
    ],
)
def test_numbers_json_does_not_allow(tmp_path: Path, value: str, needle: str) -> None:
    turns = json.dumps(TURNS)
    raw = f'[{{"id": "r1", "image": "a.png", "n": {value}, "conversations": {turns}}}]'
    res = _cli(
        "seeds", "build", "--llava", _llava(tmp_path, raw=raw), "--out", tmp_path / "s.jsonl"
    )
    err = _one_line_error(res, "llava.json", needle)
    assert "set_int_max_str_digits" not in err
    # the same numbers in a seeds line, where a number is expected (a box, a width)
    seeds = _seeds(tmp_path)
    text = seeds.read_text()
    assert '"width": 64' in text
    text = text.replace('"width": 64', f'"width": {value}')
    seeds.write_text(text)
    res = _cli("evolve", seeds, "--out", tmp_path / "run", "--rounds", "1")
    _one_line_error(res, "seeds.jsonl:1")
    assert not (tmp_path / "run").exists()


# --- 2. text: lone surrogates, NUL and control characters ----------------------------------------


@pytest.mark.parametrize("where", ["question", "answer", "image", "key"])
def test_lone_surrogate_in_llava_names_file_and_field(tmp_path: Path, where: str) -> None:
    rec: dict[str, Any] = {
        "id": "r1",
        "image": "a.png",
        "conversations": json.loads(json.dumps(TURNS)),
    }
    if where == "question":
        rec["conversations"][0]["value"] = "What \ud800 is it?"
    elif where == "answer":
        rec["conversations"][1]["value"] = "Red \udfff."
    elif where == "image":
        rec["image"] = "a\ud834.png"
    else:
        rec["x\udc00"] = 1
    res = _cli("seeds", "build", "--llava", _llava(tmp_path, [rec]), "--out", tmp_path / "s.jsonl")
    err = _one_line_error(res, "llava.json", "surrogate")
    assert "serializing" not in err and "[0]" in err


@pytest.mark.parametrize("name", ["/tmp/a\u0000.png", "/tmp/a\n.png", "a\u001b.png"])
def test_control_characters_in_a_seeds_image_path(tmp_path: Path, name: str) -> None:
    seeds = _seeds(tmp_path)
    seed = json.loads(seeds.read_text())
    seed["image"]["path"] = name
    seeds.write_text(json.dumps(seed) + "\n")
    res = _cli("evolve", seeds, "--out", tmp_path / "run", "--rounds", "1")
    _one_line_error(res, "seeds.jsonl:1", "image.path", "control character")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("field", ["question", "answer", "caption", "category"])
def test_lone_surrogate_in_seeds_leaves_no_run_folder(tmp_path: Path, field: str) -> None:
    seeds = _seeds(tmp_path, 2)
    seed = json.loads(seeds.read_text())
    if field in ("question", "answer"):
        seed["items"][1][field] = "Is \ud83d there?"
    elif field == "caption":
        seed["captions"] = ["A \ud800 cat."]
    else:
        seed["objects"][0]["category"] = "c\udbffat"
    seeds.write_text(json.dumps(seed) + "\n")
    res = _cli("evolve", seeds, "--out", tmp_path / "run", "--rounds", "1")
    _one_line_error(res, "seeds.jsonl:1", "surrogate")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("name", ["a\u0000.png", "a\n.png", "a\t.png", "a\x1b[2J.png", "a\u2028.png",
                                  "a\x7f.png", "a\x85.png"])  # fmt: skip
def test_control_characters_in_image_paths(tmp_path: Path, name: str) -> None:
    rec = {"id": "r1", "image": name, "conversations": TURNS}
    for missing in ([], ["--allow-missing-images"]):
        res = _cli("seeds", "build", "--llava", _llava(tmp_path, [rec]), "--out",
                   tmp_path / "s.jsonl", *missing)  # fmt: skip
        err = _one_line_error(res, "llava.json", "[0].image", "control character")
        assert "embedded null byte" not in err and "\x1b" not in err


def test_surrogate_and_nul_in_coco(tmp_path: Path) -> None:
    caps = _coco(tmp_path, captions=[{"id": 1, "image_id": 7, "caption": "A \ud800 cat."}])
    _one_line_error(
        _build_coco(tmp_path, caps), "captions_x.json", "annotations[0].caption", "surrogate"
    )
    caps = _coco(
        tmp_path, images=[{"id": 7, "file_name": "a\u0000.png", "width": 64, "height": 48}]
    )
    _one_line_error(_build_coco(tmp_path, caps), "captions_x.json", "control character")


# --- 3. files that are not regular files ---------------------------------------------------------


def _run_cli_subprocess(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The installed CLI in a child process (a hang is a test failure, not a stuck suite)."""
    code = "from mmevol.cli import app; app()"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_device_and_directory_inputs_are_refused_fast(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    cases = [
        (("seeds", "build", "--llava", fifo), "named pipe"),
        (("seeds", "build", "--sharegpt", fifo), "named pipe"),
        (("seeds", "build", "--coco-captions", fifo, "--allow-missing-images"), "named pipe"),
        (("seeds", "build", "--llava", "/dev/zero"), "character device"),
        (("seeds", "build", "--llava", tmp_path), "directory"),
    ]
    for args, needle in cases:
        proc = _run_cli_subprocess(*args, "--out", tmp_path / "s.jsonl")
        err = proc.stderr.strip()
        assert proc.returncode == 2 and err.startswith("error: ") and "\n" not in err, proc.stderr
        assert needle in err and "regular file" in err, err
    proc = _run_cli_subprocess("evolve", fifo, "--out", tmp_path / "run", "--rounds", "1")
    assert proc.returncode == 2 and "fifo.json" in proc.stderr and "\n" not in proc.stderr.strip()
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_as_image_and_inside_an_import_folder(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.png")
    rec = {"id": "r1", "image": "pipe.png", "conversations": TURNS}
    proc = _run_cli_subprocess("seeds", "build", "--llava", _llava(tmp_path, [rec]), "--out",
                               tmp_path / "s.jsonl")  # fmt: skip
    assert proc.returncode == 2 and "not a regular file" in proc.stderr, proc.stderr
    with pytest.raises(InputError, match="named pipe"):
        load_rgb(tmp_path / "pipe.png")
    folder = _official_folder(tmp_path)
    os.mkfifo(folder / "zz.json")
    proc = _run_cli_subprocess("import", folder, "--format", "mmevol", "--out", tmp_path / "imp")
    assert proc.returncode == 0, proc.stderr
    problems = json.loads((tmp_path / "imp" / "config.json").read_text())["file_problems"]
    assert problems.get("record_not_a_file") == 1
    proc = _run_cli_subprocess("import", folder, "--format", "mmevol", "--out",
                               tmp_path / "imp2", "--strict")  # fmt: skip
    assert proc.returncode == 2 and "zz.json" in proc.stderr and not (tmp_path / "imp2").exists()


# --- the authors' per-image files (mmevol import) ------------------------------------------------


def _official_folder(tmp: Path) -> Path:
    folder = tmp / "official"
    folder.mkdir(exist_ok=True)
    _image(folder)
    item = {"question": "Where is the cat?", "answer": "On the left.", "skills": ["grounding"],
            "format": "short_answer", "steps": [], "objects": ["cat"], "score": 8}  # fmt: skip
    rec = {"id": "1", "image": "a.png", "hash_id": "h1",
           "conversations_v0": TURNS, "conversations_v1": [item]}  # fmt: skip
    (folder / "h1.json").write_text(json.dumps(rec))
    return folder


@pytest.mark.parametrize(
    "bad",
    [
        '{"id": "2", "image": "a.png", "x": %s}' % _deep(5000),  # noqa: UP031
        '{"id": "2", "image": "a.png", "x": %s}' % _deep(MAX_DEPTH + 2),  # noqa: UP031
        '{"id": "2", "image": "a.png", "conversations_v1": [{"question": "Q \\ud800?", "answer": "A"}]}',
        '{"id": "2", "image": "a.png", "conversations_v1": "[{\\"question\\": \\"Q \\\\ud800?\\"}]"}',
        '{"id": %s, "image": "a.png"}' % ("9" * 5000),
        '{"id": "2", "image": "a.png", "score": NaN}',
    ],
)
def test_import_skips_or_refuses_hostile_records(tmp_path: Path, bad: str) -> None:
    folder = _official_folder(tmp_path)
    (folder / "h2.json").write_text(bad)
    res = _cli("import", folder, "--format", "mmevol", "--out", tmp_path / "imp")
    assert res.exit_code == 0, res.output
    data = (tmp_path / "imp" / "dataset.jsonl").read_text()
    assert "\\ud800" not in data and "Q " not in data  # the hostile item is not imported
    for line in data.splitlines():
        json.loads(line)
    strict = _cli("import", folder, "--format", "mmevol", "--out", tmp_path / "imp2", "--strict")
    if '"conversations_v1": "[' not in bad:  # a bad nested string is only a dropped round
        _one_line_error(strict, "h2.json")
        assert not (tmp_path / "imp2").exists()


# --- 4. COCO field types --------------------------------------------------------------------------


def _coco(tmp: Path, *, images: Any = None, captions: Any = None, categories: Any = None,
          boxes: Any = None, name: str = "captions_x.json") -> Path:  # fmt: skip
    folder = tmp / "x"
    folder.mkdir(exist_ok=True)
    _image(folder)
    data: dict[str, Any] = {
        "images": images or [{"id": 7, "file_name": "a.png", "width": 64, "height": 48}],
        "annotations": (captions or [{"id": 1, "image_id": 7, "caption": "A red square."}])
        + (boxes or []),
        "categories": categories or [{"id": 3, "name": "car"}],
    }
    path = tmp / name
    path.write_text(json.dumps(data))
    return path


def _build_coco(tmp: Path, path: Path, *extra: str) -> Any:
    return _cli("seeds", "build", "--coco-captions", path, "--images", tmp / "x", "--out",
                tmp / "s.jsonl", *extra)  # fmt: skip


BOX = {"id": 9, "image_id": 7, "category_id": 3, "bbox": [1, 2, 10, 10]}
RECORD_CASES = [
    ("caption", {"captions": [{"id": 1, "image_id": 7, "caption": None}]}, "None"),
    ("caption", {"captions": [{"id": 1, "image_id": 7, "caption": ["a", "b"]}]}, "['a', 'b']"),
    ("caption", {"captions": [{"id": 1, "image_id": 7, "caption": 5}]}, "5"),
    ("category_id", {"boxes": [BOX | {"category_id": True}]}, None),
    ("category_id", {"boxes": [BOX | {"category_id": "3"}]}, None),
    ("category_id", {"boxes": [BOX | {"category_id": 4}]}, None),
    ("iscrowd", {"boxes": [BOX | {"iscrowd": 2}]}, None),
    ("iscrowd", {"boxes": [BOX | {"iscrowd": "yes"}]}, None),
    ("image_id", {"captions": [{"id": 1, "image_id": "7", "caption": "x"}]}, None),
    ("image_id", {"captions": [{"id": 1, "image_id": True, "caption": "x"}]}, None),
]


@pytest.mark.parametrize(("field", "kw", "never"), RECORD_CASES)
def test_coco_bad_annotation_refused_or_skipped_and_counted(
    tmp_path: Path, field: str, kw: dict[str, Any], never: str | None
) -> None:
    good_caption = [{"id": 2, "image_id": 7, "caption": "A red square."}]
    if "captions" in kw:
        kw = kw | {"captions": kw["captions"] + good_caption}
    where = f"annotations[{0 if 'captions' in kw else 1}].{field}"  # boxes follow the caption
    path = _coco(tmp_path, **kw)
    _one_line_error(_build_coco(tmp_path, path), "captions_x.json", where)
    assert not (tmp_path / "s.jsonl").exists()
    res = _build_coco(tmp_path, path, "--skip-bad")
    assert res.exit_code == 0, res.output
    stats = json.loads(res.stdout[: res.stdout.rindex("}") + 1])
    assert stats["sources"][f"coco_bad_{field}"] == 1 and stats["rejected_records"] == 1
    rejected = [json.loads(x) for x in (tmp_path / "s.rejected.jsonl").read_text().splitlines()]
    assert [r["field"] for r in rejected] == [where]
    [seed] = [json.loads(x) for x in (tmp_path / "s.jsonl").read_text().splitlines()]
    if never is not None:
        assert never not in seed["captions"] and seed["captions"] == ["A red square."]
    assert seed["objects"] == []


@pytest.mark.parametrize(
    ("field", "image"),
    [
        ("id", {"id": "7", "file_name": "a.png"}),
        ("id", {"id": True, "file_name": "a.png"}),
        ("file_name", {"id": 7, "file_name": None}),
        ("file_name", {"id": 7, "file_name": ""}),
        ("width", {"id": 7, "file_name": "a.png", "width": True, "height": 48}),
        ("height", {"id": 7, "file_name": "a.png", "width": 64, "height": -3}),
    ],
)
def test_coco_bad_image_entry(tmp_path: Path, field: str, image: dict[str, Any]) -> None:
    path = _coco(tmp_path, images=[image], captions=[{"id": 1, "image_id": 8, "caption": "x"}])
    _one_line_error(_build_coco(tmp_path, path), f"images[0].{field}")
    res = _build_coco(tmp_path, path, "--skip-bad")
    assert "coco_bad_images" in res.stdout


@pytest.mark.parametrize(
    ("categories", "field"),
    [
        ([{"id": "3", "name": "car"}], "categories[0].id"),
        ([{"id": 3, "name": None}], "categories[0].name"),
        ([{"id": 3, "name": "car"}, {"id": 3, "name": "bus"}], "categories[1].id"),
        ("cars", "categories"),
    ],
)
def test_coco_malformed_category_table_refuses_the_file(
    tmp_path: Path, categories: Any, field: str
) -> None:
    path = _coco(tmp_path, categories=categories, boxes=[BOX])
    for extra in ([], ["--skip-bad"]):  # a malformed file is refused even with --skip-bad
        _one_line_error(_build_coco(tmp_path, path, *extra), "captions_x.json", field)
        assert not (tmp_path / "s.jsonl").exists()


@pytest.mark.parametrize(
    "bbox",
    [[True, False, True, True], [1, 2, 3], [1, 2, -3, 4], "1,2,3,4", [1, 2, "3", 4], None,
     "NaN", "Infinity"],
)  # fmt: skip
def test_coco_bad_boxes_are_dropped_and_counted_not_turned_into_numbers(
    tmp_path: Path, bbox: Any
) -> None:
    """A box that is not four finite numbers costs its image that object only (as in real
    annotation files): dropped and counted, never read as numbers (booleans included)."""
    path = _coco(tmp_path, boxes=[BOX, BOX | {"id": 10, "bbox": [0, 0, 5, 5]}])
    text = path.read_text()
    if bbox in ("NaN", "Infinity"):  # JSON literals Python's reader accepts
        text = text.replace("[1, 2, 10, 10]", f"[{bbox}, 2, 10, 10]")
    else:
        text = text.replace("[1, 2, 10, 10]", json.dumps(bbox))
    path.write_text(text)
    res = _build_coco(tmp_path, path)
    assert res.exit_code == 0, res.output
    assert '"coco_boxes_dropped": 1' in res.stdout and '"coco_boxes_kept": 1' in res.stdout
    [seed] = [json.loads(x) for x in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert len(seed["objects"]) == 1


def test_coco_good_file_still_reads(tmp_path: Path) -> None:
    path = _coco(tmp_path, boxes=[BOX, BOX | {"bbox": [0, 0, 0, 5], "iscrowd": 1}])
    res = _build_coco(tmp_path, path)
    assert res.exit_code == 0, res.output
    [seed] = [json.loads(x) for x in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert seed["captions"] == ["A red square."] and len(seed["objects"]) == 1
    assert '"coco_boxes_dropped": 1' in res.stdout  # well-formed but empty: dropped, counted


# --- 5. literal text in figures -------------------------------------------------------------------

MATHTEXT = ["$\\undefinedmacro{x$", "$x^$", "a$b$c", "$\\frac{1}{", "50$ and $", "\\$x$",
            "$$", "_{^}", "$\\mathbf{\\alpha$"]  # fmt: skip


def _sample(sid: str, round_: int, label: str, *, direction: str = "perception") -> Sample:
    qa = QA(question=f"Where is the {label} {sid}?", answer=f"The {label} is left.",
            objects=[label], skills=["grounding", f"other:{label}"],
            format=f"other:{label}", raw_format=label)  # fmt: skip
    lineage = Lineage() if round_ == 0 else Lineage(
        parent_id=sid.split("@")[0], round=round_, direction=direction,  # type: ignore[arg-type]
        kept=False, reason=f"rule: {label}", verdict=Verdict(improved=False, score=3.0, reason=label),
    )  # fmt: skip
    return Sample(id=sid, seed_id="s", image=ImageRef(path="a.png", digest="sha256:aa"),
                  round=round_, qa=qa, lineage=lineage)  # fmt: skip


def test_report_draws_mathtext_strings_literally(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"config": {"rounds": 1, "backend": "grounded"}}))
    store = Store(run / "run.sqlite")
    store.add_seed_samples([_sample(f"s#{i}", 0, lab) for i, lab in enumerate(MATHTEXT)])
    for i, lab in enumerate(MATHTEXT):
        store.commit_unit(f"s{i}@r1", "s", 1, lab, [_sample(f"s#{i}@r1", 1, lab)],
                          {"dropped_rules": 1, f"evolve_rung_{lab}": 1})  # fmt: skip
    store.close()
    out = tmp_path / "r.html"
    res = _cli("report", run, "--out", out)
    assert res.exit_code == 0, res.output
    html = out.read_text()
    assert "$\\undefinedmacro{x$" in html and "a$b$c" in html  # drawn as written


def test_report_on_an_evolved_run_with_mathtext_categories(tmp_path: Path) -> None:
    seeds = _seeds(tmp_path, 3, objects=[{"category": c, "bbox": [0.1, 0.1, 0.5, 0.5]}
                                         for c in MATHTEXT[:4]])  # fmt: skip
    assert _cli("evolve", seeds, "--out", tmp_path / "run", "--rounds", "1").exit_code == 0
    res = _cli("report", tmp_path / "run")
    assert res.exit_code == 0, res.output
    assert "$x^$" in (tmp_path / "run" / "report.html").read_text()


def test_report_on_a_run_with_a_hostile_config(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    Store(run / "run.sqlite").close()
    for text, needle in ((_deep(5000), "nested too deeply"), ("[1]", "config object"),
                         ('{"config": {"rounds": NaN}}', "finite")):  # fmt: skip
        (run / "config.json").write_text(text)
        _one_line_error(_cli("report", run), "config.json", needle)


# --- 6. many items per seed: capped, and the work per item does not grow --------------------------


def test_evolve_caps_items_per_seed_with_a_warning(tmp_path: Path) -> None:
    n = MAX_ITEMS_PER_SEED + 88
    seeds = _seeds(tmp_path, n)
    seed_id = json.loads(seeds.read_text())["id"]
    res = _cli("evolve", seeds, "--out", tmp_path / "run", "--rounds", "1")
    assert res.exit_code == 0, res.output
    warnings = [x for x in res.stderr.splitlines() if x.startswith("warning:")]
    assert warnings == [f"warning: seed {seed_id}: 88 of {n} items left out (evolve takes the "
                        f"first {MAX_ITEMS_PER_SEED} items of a seed)"]  # fmt: skip
    rows = [json.loads(x) for x in (tmp_path / "run" / "dataset.jsonl").read_text().splitlines()]
    assert sum(r["round"] == 0 for r in rows) == MAX_ITEMS_PER_SEED


def _count_work(monkeypatch: pytest.MonkeyPatch, tmp: Path, seeds: Path | int) -> int:
    """Operations of ``evolve --rounds 1`` on ``seeds`` (or one seed of that many items): exact
    duplicate comparisons plus the questions each grounded step is shown (the steps that are
    quadratic in the items of a seed)."""
    work = [0]

    def counted(fn: Any, size: Any) -> Any:
        def wrapper(*a: Any) -> Any:
            work[0] += size(a)
            return fn(*a)

        return wrapper

    monkeypatch.setattr(dedup, "near_duplicate", counted(near_duplicate, lambda a: 1))
    monkeypatch.setattr(dedup, "template_duplicate", counted(template_duplicate, lambda a: 1))
    for key, step in list(grounded.DIRECTIONS.items()):
        monkeypatch.setitem(grounded.DIRECTIONS, key, counted(step, lambda a: 1 + len(a[3])))
    if isinstance(seeds, int):
        (tmp / str(seeds)).mkdir()
        seeds = _seeds(tmp / str(seeds), seeds)
    res = _cli("evolve", seeds, "--out", seeds.parent / "run", "--rounds", "1")
    assert res.exit_code == 0, res.output
    monkeypatch.undo()
    return work[0]


def test_evolve_work_per_item_is_bounded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # doubling past the cap does no more work; below it, the work grows at most linearly
    # (plus the bounded quadratic part that the cap allows, checked by the absolute bound)
    big = _count_work(monkeypatch, tmp_path, 2 * MAX_ITEMS_PER_SEED)
    bigger = _count_work(monkeypatch, tmp_path, 4 * MAX_ITEMS_PER_SEED)
    assert bigger == big
    assert big <= MAX_ITEMS_PER_SEED * (MAX_ITEMS_PER_SEED + 1) // 2 + 2 * MAX_ITEMS_PER_SEED


def _questions(n: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    nouns = [f"{a}{b}" for a in ("bri", "cla", "dro", "fen", "glo", "mur", "pax", "quo", "vet",
                                 "zin") for b in ("ck", "mp", "rn", "sk", "tt", "ve")]  # fmt: skip
    verbs = ["near", "above", "behind", "left of", "under", "beside"]
    return [f"Is the {rng.choice(nouns)} {rng.choice(verbs)} the {rng.choice(nouns)} "
            f"{rng.choice(nouns)} at {i}?" for i in range(n)]  # fmt: skip


def test_dedup_compares_less_than_a_full_scan() -> None:
    d = dedup.SeedDeduper([], 0.9, ["cat"])
    scan = 0
    for q in _questions(500):
        before = d.comparisons
        scan += len(d.kept)
        d.admit(q)
        assert d.comparisons - before <= len(d.kept)  # never more than a scan of the kept
    assert d.comparisons * 3 < scan, (d.comparisons, scan)


def test_evolve_work_doubles_with_the_items(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Twice the items (on twice the seeds, each within the cap) is twice the work."""

    def work(n_seeds: int) -> int:
        folder = tmp_path / f"seeds{n_seeds}"
        folder.mkdir()
        one = json.loads(_seeds(folder, 200).read_text())
        lines = []
        for k in range(n_seeds):  # the same items on different images
            lines.append(json.dumps(one | {"id": f"img-{k:016x}", "image": one["image"] | {
                "digest": "sha256:" + f"{k:064x}"}}))  # fmt: skip
        (folder / "many.jsonl").write_text("\n".join(lines) + "\n")
        return _count_work(monkeypatch, folder, folder / "many.jsonl")

    two, four = work(2), work(4)
    assert two > 0 and 1.8 <= four / two <= 2.2, (two, four)  # seeds differ in direction


@pytest.mark.parametrize("threshold", [0.0, 0.5, 0.8, 0.9, 1.0, 1.5])
def test_indexed_dedup_agrees_with_a_full_scan(threshold: float) -> None:
    questions = _questions(150, seed=2)
    rng = random.Random(threshold)
    for q in list(questions[:60]):  # near copies: a word swapped, a light word, a letter
        words = q.split()
        words[rng.randrange(len(words))] = rng.choice(["picture", "image", "in", "the", "x"])
        questions.append(" ".join(words))
        questions.append(q.replace("Is", "is", 1) + " ")
        questions.append(q[:-2] + "?")
    rng.shuffle(questions)
    d = dedup.SeedDeduper(questions[:5], threshold, ["brick"])
    kept = list(questions[:5])
    for q in questions[5:]:
        skeleton = question_template(q, d.categories)
        expect = next((k for k in kept if near_duplicate(q, k, threshold)), None)
        expect = expect or next(
            (k for k in kept if question_template(k, d.categories) == skeleton), None
        )
        expect = expect or next((k for k in kept if template_duplicate(q, k, d.categories)), None)
        assert d.duplicate_of(q) == expect, q
        if expect is None:
            kept.append(q)
        assert d.admit(q) == (expect is None)


# --- 7. decompression bombs -----------------------------------------------------------------------


def test_pixel_bomb_refused_from_the_header(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    Image.new("1", (12000, 12000)).save(bomb)
    assert bomb.stat().st_size < 200_000
    rec = {"id": "b", "image": "bomb.png", "conversations": TURNS}
    res = _cli("seeds", "build", "--llava", _llava(tmp_path, [rec]), "--out", tmp_path / "s.jsonl")
    _one_line_error(res, "llava.json", "[0].image", "bomb.png", "12000x12000", "64 megapixels")
    res = _cli("seeds", "build", "--llava", tmp_path / "llava.json", "--out", tmp_path / "s.jsonl",
               "--skip-bad")  # fmt: skip
    assert res.exit_code == 0 and "skipped 1 bad record" in res.stderr
    assert "megapixels" in (tmp_path / "s.rejected.jsonl").read_text()
    proc = _run_cli_subprocess("seeds", "build", "--llava", tmp_path / "llava.json", "--out",
                               tmp_path / "s2.jsonl")  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr  # no Pillow warning
    assert proc.stderr.startswith("error: ") and "megapixels" in proc.stderr
    with pytest.raises(InputError, match="megapixels"):
        load_rgb(bomb, 512)
    coco = _coco(tmp_path, images=[{"id": 7, "file_name": "bomb.png", "width": 12000,
                                    "height": 12000}])  # fmt: skip
    bomb.rename(tmp_path / "x" / "bomb.png")
    _one_line_error(_build_coco(tmp_path, coco), "megapixels")


def test_pixel_bomb_over_pillows_own_limit(tmp_path: Path) -> None:
    Image.new("1", (20000, 20000)).save(tmp_path / "huge.png")  # > 2x Pillow's limit: it raises
    rec = {"id": "h", "image": "huge.png", "conversations": TURNS}
    res = _cli("seeds", "build", "--llava", _llava(tmp_path, [rec]), "--out", tmp_path / "s.jsonl")
    _one_line_error(res, "llava.json", "huge.png", "64 megapixels")
    with pytest.raises(InputError, match="megapixels"):
        load_rgb(tmp_path / "huge.png")


def test_pixel_limit_boundary(tmp_path: Path) -> None:
    side = int(MAX_PIXELS**0.5)
    assert side * side == MAX_PIXELS
    Image.new("1", (side, side)).save(tmp_path / "edge.png")
    Image.new("1", (side + 1, side)).save(tmp_path / "over.png")
    recs = [{"id": n, "image": f"{n}.png", "conversations": TURNS} for n in ("edge", "over")]
    res = _cli("seeds", "build", "--llava", _llava(tmp_path, recs), "--out", tmp_path / "s.jsonl",
               "--skip-bad")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "over.png" in (tmp_path / "s.rejected.jsonl").read_text()
    assert "edge.png" in (tmp_path / "s.jsonl").read_text()
