"""The ``mmevol`` command as a user meets it: real inputs, bad inputs, outputs and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from mmevol.cli.app import app
from mmevol.io.llava import read_llava
from mmevol.seeds import read_seeds
from synthetic_data import DataSet

runner = CliRunner()


def mmevol(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def coco_args(root: Path, images: dict[str, Path] | None = None) -> list[str | Path]:
    args: list[str | Path] = []
    for split in ("train2017", "val2017"):
        ann = root / "annotations"
        args += ["--coco-captions", ann / f"captions_{split}.json"]
        args += ["--coco-instances", ann / f"instances_{split}.json"]
        args += ["--images", (images or {}).get(split, root / split)]
    return args


def test_seeds_build_tiny_coco(data_set: DataSet, tmp_path: Path) -> None:
    out = tmp_path / "seeds.jsonl"
    code, stdout, stderr = mmevol("seeds", "build", *coco_args(data_set.coco), "--out", out)
    assert code == 0, stderr
    seeds = list(read_seeds(out))
    assert len(seeds) == data_set.total_images
    assert all(s.captions for s in seeds)
    boxes = [o.bbox for s in seeds for o in s.objects if o.bbox]
    assert len(boxes) == data_set.total_boxes
    assert all(0 <= b[0] < b[2] <= 1 and 0 <= b[1] < b[3] <= 1 for b in boxes)
    # images with captions only get one caption item to evolve from
    assert all(len(s.items) == 1 and s.items[0].answer == s.captions[0].strip() for s in seeds)
    stats = json.loads(stdout[: stdout.rindex("}") + 1])
    assert stats["caption_items"] == data_set.total_images


def test_seeds_build_llava_needs_a_choice_about_missing_pixels(
    data_set: DataSet, tmp_path: Path
) -> None:
    src, out = data_set.llava, tmp_path / "seeds.jsonl"
    code, _, stderr = mmevol("seeds", "build", "--llava", src, "--images", tmp_path, "--out", out)
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1
    assert src.name in stderr and "image" in stderr and data_set.llava_first_image in stderr
    assert "--allow-missing-images" in stderr
    assert not out.exists()
    code, _, stderr = mmevol(
        "seeds", "build", "--llava", src, "--images", tmp_path, "--allow-missing-images",
        "--max-items-per-image", "20", "--out", out,
    )  # fmt: skip
    assert code == 0, stderr
    seeds = list(read_seeds(out))
    assert len(seeds) == data_set.llava_records
    assert all(s.image.digest.startswith("path:") for s in seeds)
    raw = read_llava(src, tmp_path, allow_missing_images=True)
    assert sum(len(s.items) for s in seeds) <= sum(len(s.items) for s in raw)
    assert sum(len(s.items) for s in seeds) >= 0.9 * sum(len(s.items) for s in raw)


def _llava(path: Path, records: object) -> Path:
    path.write_text(json.dumps(records))
    return path


def _conv(image: str) -> dict[str, object]:
    turns = [
        {"from": "human", "value": "<image>\nWhat is shown?"},
        {"from": "gpt", "value": "A cat."},
    ]
    return {"id": "1", "image": image, "conversations": turns}


@pytest.mark.parametrize(
    ("case", "expect"),
    [
        ("missing_image", ["in.json", "image", "not found"]),
        ("corrupt_image", ["in.json", "image", "not a readable image"]),
        ("wrong_schema", ["in.json", "conversations", "expected"]),
        ("empty_file", ["in.json", "empty"]),
        ("not_json", ["in.json"]),
    ],
)
def test_bad_seed_inputs_one_line_no_output(case: str, expect: list[str], tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (8, 8), "red").save(images / "ok.png")
    src = tmp_path / "in.json"
    if case == "missing_image":
        _llava(src, [_conv("ok.png"), _conv("gone.png")])
    elif case == "corrupt_image":
        (images / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
        _llava(src, [_conv("ok.png"), _conv("bad.png")])
    elif case == "wrong_schema":
        _llava(src, [_conv("ok.png"), {**_conv("ok.png"), "conversations": "hello"}])
    elif case == "empty_file":
        src.write_text("")
    else:
        src.write_text("[{'id': 1,")
    out = tmp_path / "seeds.jsonl"
    code, stdout, stderr = mmevol(
        "seeds", "build", "--llava", src, "--images", images, "--out", out
    )
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert all(word in lines[0] for word in expect), lines[0]
    assert "Traceback" not in stderr + stdout
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images", "in.json"]


def test_coco_images_folder_given_is_the_one_used(data_set: DataSet, tmp_path: Path) -> None:
    empty = tmp_path / "val2017"  # named like the split, so it is the folder of that split
    empty.mkdir()
    out = tmp_path / "seeds.jsonl"
    code, _, stderr = mmevol(
        "seeds", "build", *coco_args(data_set.coco, {"val2017": empty}), "--out", out
    )
    assert code == 2
    assert "instances_val2017.json" in stderr or "captions_val2017.json" in stderr
    assert "not found" in stderr and not out.exists()


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["--backend", "openai"], "--model"),
        (["--backend", "nope"], "unknown backend"),
        (["--weights", "1,-1,0"], "--weights"),
        (["--weights", "1,2"], "--weights"),
    ],
)
def test_bad_evolve_settings(
    args: list[str], expect: str, world_seeds: tuple[Path, list[object]], tmp_path: Path
) -> None:
    seeds, _ = world_seeds
    code, _, stderr = mmevol("evolve", seeds, "--out", tmp_path / "run", *args)
    assert code == 2 and expect in stderr and len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_bad_seeds_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code, _, stderr = mmevol("evolve", empty, "--out", tmp_path / "run")
    assert code == 2 and "empty.jsonl" in stderr and "empty" in stderr
    code, _, stderr = mmevol("evolve", tmp_path / "absent.jsonl", "--out", tmp_path / "run")
    assert code == 2 and "absent.jsonl" in stderr
    assert not (tmp_path / "run").exists()


def test_evolve_stats_export_and_estimate(
    world_seeds: tuple[Path, list[object]], tmp_path: Path
) -> None:
    seeds, _ = world_seeds
    run = tmp_path / "run"
    code, _, stderr = mmevol("evolve", seeds, "--out", run, "--estimate")
    assert code == 0, stderr
    assert not run.exists(), "--estimate calls nothing and writes nothing"
    code, stdout, stderr = mmevol("evolve", seeds, "--out", run)
    assert code == 0, stderr
    assert "dataset:" in stdout
    code, stdout, _ = mmevol("stats", run, "--json")
    stats = json.loads(stdout)
    assert stats["complete"] is True and len(stats["rounds"]) == 3
    assert stats["dataset"]["total"] == len((run / "dataset.jsonl").read_text().splitlines())
    code, stdout, _ = mmevol("stats", run)
    assert code == 0 and "kept" in stdout
    target = tmp_path / "llava.json"
    code, _, stderr = mmevol("export", run, "--format", "llava", "--out", target)
    assert code == 0, stderr
    records = json.loads(target.read_text())
    assert sum(len(r["conversations"]) for r in records) == 2 * stats["dataset"]["total"]
    code, _, stderr = mmevol("export", run, "--format", "xml", "--out", tmp_path / "x")
    assert code == 2 and "xml" in stderr and not (tmp_path / "x").exists()
    code, _, stderr = mmevol("stats", tmp_path)
    assert code == 2 and "not a run directory" in stderr


def test_demo_prints_where_things_are(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    code, stdout, stderr = mmevol("demo", "--out", out)
    assert code == 0, stderr
    dataset = out / "run" / "dataset.jsonl"
    assert dataset.is_file() and (out / "export" / "llava.json").is_file()
    flat = " ".join(stdout.split())
    assert "dataset.jsonl" in flat and "llava.json" in flat and "mmevol stats" in flat
    rows = [json.loads(line) for line in dataset.read_text().splitlines()]
    assert any(r["lineage"] and r["lineage"]["round"] == 3 for r in rows)
