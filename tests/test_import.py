"""``mmevol import --format mmevol``: the authors' per-image files become a working run directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from typer.testing import CliRunner

from mmevol.cli import app

runner = CliRunner()


def _item(q: str, **kw: Any) -> dict[str, Any]:
    base = {"objects": ["dog"], "skills": ["grounding"], "format": "short_answer", "question": q,
            "steps": [{"manipulation": "grounding_1(dog)->bbx_1", "description": "find it"}],
            "answer": "Yes."}  # fmt: skip
    return base | kw


def write_fixture(root: Path) -> Path:
    """Three readable files (one non-ASCII name, one with empty caption/det) and one broken."""
    files, images = root / "files", root / "images"
    files.mkdir(parents=True)
    images.mkdir()
    for name, color in (("a.jpg", "red"), ("b.jpg", "blue"), ("ñandú.jpg", "green")):
        Image.new("RGB", (64, 48), color).save(images / name)
    caption = [{"from": "human", "value": "<image>\nDescribe."}, {"from": "gpt", "value": "A dog."}]
    a = {
        "id": "a", "image": "a.jpg", "hash_id": "a", "caption": caption,
        "det": [{"label": "dog", "bbox": [0.1, 0.2, 0.5, 0.9]}], "topic_name": "pets",
        "conversations_v0": [_item("Is there a dog?"), _item("What color is the dog?")],
        "conversations_v1": [
            _item("Locate the dog and say where it is.", score=8),
            _item("Describe the dog's colour and pose.", score="7", format="journey_mapping"),
        ],
        "conversations_v2": [_item("Compare the dog's size to the frame.", score=[9, 3])],
    }  # fmt: skip
    b = {"id": "b", "image": "b.jpg", "caption": [], "det": [],
         "conversations_v0": [_item("Is there a cat?")],
         "conversations_v1": [_item("How many cats are there?", skills=["Counting"])]}  # fmt: skip
    c = {"id": "c", "image": "ñandú.jpg", "conversations_v0": [_item("Is it green?")]}
    for name, rec in (("a.json", a), ("b.json", b), ("ñandú.json", c)):
        (files / name).write_text(json.dumps(rec, ensure_ascii=False), encoding="utf-8")
    (files / "zz-broken.json").write_text('{"id": "x", "conversations_v0": [')
    return root


@pytest.fixture()
def fixture_dir(tmp_path: Path) -> Path:
    return write_fixture(tmp_path / "src")


def test_import_then_stats_export_report(fixture_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = ["import", str(fixture_dir / "files"), "--format", "mmevol", "--out", str(run),
            "--images", str(fixture_dir / "images")]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "imported 3 images, 8 samples over 2 rounds" in " ".join(res.stdout.split())
    assert "skipped 1 file" in res.stderr and "zz-broken.json" in res.stderr
    stats = json.loads(runner.invoke(app, ["stats", str(run), "--json"]).stdout)
    assert stats["seed_items"] == 4 and stats["complete"] is True
    assert [(r["round"], r["candidates"], r["kept"]) for r in stats["rounds"]] == [
        (1, 3, 3),
        (2, 1, 1),
    ]
    assert stats["dataset"] == {"total": 8, "seed_items": 4, "evolved": 4}
    assert stats["normalization"]["format_unknown"] == 1  # journey_mapping
    rows = [json.loads(x) for x in (run / "dataset.jsonl").read_text().splitlines()]
    r2 = next(r for r in rows if r["round"] == 2)
    assert r2["lineage"]["parent_id"].endswith("#0@r1") and r2["lineage"]["verdict"]["score"] == 9
    out = tmp_path / "llava.json"
    assert (
        runner.invoke(app, ["export", str(run), "--format", "llava", "--out", str(out)]).exit_code
        == 0
    )
    records = json.loads(out.read_text())
    assert sum(len(r["conversations"]) for r in records) == 2 * 8
    assert runner.invoke(app, ["report", str(run)]).exit_code == 0
    assert "imported" in (run / "report.html").read_text()


def test_strict_stops_and_leaves_nothing(fixture_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    res = runner.invoke(app, ["import", str(fixture_dir / "files"), "--format", "mmevol",
                              "--out", str(run), "--images", str(fixture_dir / "images"),
                              "--strict"])  # fmt: skip
    assert res.exit_code == 2 and "zz-broken.json" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not run.exists() and list(tmp_path.iterdir()) == [fixture_dir]


def test_refuses_non_empty_out_and_unknown_format(fixture_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep me")
    res = runner.invoke(app, ["import", str(fixture_dir / "files"), "--format", "mmevol",
                              "--out", str(tmp_path / "full")])  # fmt: skip
    assert res.exit_code == 2 and "not empty" in res.stderr
    assert (tmp_path / "full" / "x").read_text() == "keep me"
    res = runner.invoke(
        app, ["import", str(fixture_dir), "--format", "xml", "--out", str(tmp_path / "n")]
    )
    assert res.exit_code == 2 and "unknown format" in res.stderr


def test_missing_images_need_the_option(fixture_dir: Path, tmp_path: Path) -> None:
    src = fixture_dir / "files"
    res = runner.invoke(
        app, ["import", str(src), "--format", "mmevol", "--out", str(tmp_path / "r")]
    )
    assert res.exit_code == 2 and "no file could be imported" in res.stderr  # images not beside
    res = runner.invoke(app, ["import", str(src), "--format", "mmevol", "--out", str(tmp_path / "r"),
                              "--allow-missing-images"])  # fmt: skip
    assert res.exit_code == 0, res.output
