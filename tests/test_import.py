"""``mmevol import --format mmevol``: the authors' per-image files become a working run directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from typer.testing import CliRunner

from mmevol.cli.app import app

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
        "conversations_v2": [_item("Locate the dog, then compare its size to the frame.",
                                   score=[9, 3])],
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
    assert r2["lineage"]["parent_match"] == "content"  # it keeps "locate" and "dog"
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


# --- four versions and the irregularities of released dumps ----------------------------------

BALL, CHAIRS, SIGN = (
    "Is there a red ball on the table?",
    "How many chairs are around the table?",
    "What is written on the sign above the door?",
)
CAPTION = [{"from": "human", "value": "<image>\nDescribe."}, {"from": "gpt", "value": "A room."}]


def _v(q: str, **kw: Any) -> dict[str, Any]:
    return _item(q, answer=f"answer: {q}") | kw


def write_four_rounds(root: Path) -> tuple[Path, Path, dict[str, dict[str, Any]]]:
    """v0..v3 with score lists too long and too short, a round that lost its first item (so
    positions shift), invented vocabulary, an out-of-range score, empty and missing context,
    a non-ASCII name, the same image twice and three unreadable files."""
    files, images = root / "files", root / "images"
    files.mkdir(parents=True)
    images.mkdir()
    for name, color in (("p.jpg", "red"), ("q.jpg", "blue"), ("straße.png", "green")):
        Image.new("RGB", (40, 30), color).save(images / name)
    p = {
        "id": "000123", "image": "p.jpg", "hash_id": "p", "caption": CAPTION, "topic_name": "room",
        "det": [{"label": "ball", "bbox": [0.1, 0.2, 0.3, 0.4]},
                {"label": "tree", "bbox": "[Coordinates for tree 1]"}],
        "conversations_v0": [_v(BALL, image_position="front"), _v(CHAIRS), _v(SIGN)],
        "conversations_v1": [
            _v(f"{BALL} Draw a box around it.", score=9),
            _v(f"{CHAIRS} Draw a box around each.", skills=["Counting"]),
            _v(f"{SIGN} Draw a box around it.", skills=["OCR", "Visual Reasoning"]),
        ],
        "score_v1": [7, "8", [6, 2], 5],  # one more than the items; item 0 keeps its own 9
        "conversations_v2": [  # the ball item did not survive: positions shifted by one
            _v("How many chairs are around the table, and are there more chairs than stools?"),
            _v("What is written on the sign above the door, and what language is it in?"),
        ],
        "scores_v2": [8],  # one fewer than the items
        "conversations_v3": [
            _v("List the chairs and stools with their boxes.", format="journey_mapping",
               score="85"),
            _v("Translate the sign and say where it hangs.", score="7/10"),
        ],
    }  # fmt: skip
    q = {"id": "q", "image": "q.jpg", "caption": [], "det": [],  # the authors' own labels
         "conversations_v0": [_v("Is the wall blue?", skills=["Existence Ability"], format="Norm")],
         "conversations_v1": [_v("Is the wall blue, and is anything on it?",
                                 skills=["Grounding Ability"], format="Norm")]}  # fmt: skip
    c = {"id": "ü", "image": "straße.png",
         "conversations_v0": [_v("Is it green?")],
         "conversations_v1": [_v("Which shade of green is it?", format="Multiple Choice")]}  # fmt: skip
    records = {"p": p, "q": q, "café-ü": c}
    for stem, rec in [*records.items(), ("q~dup", q)]:
        (files / f"{stem}.json").write_text(json.dumps(rec, ensure_ascii=False), encoding="utf-8")
    (files / "zz-broken.json").write_text('{"id": "x", "conversations_v0": [')
    (files / "list.json").write_text("[1, 2]")
    (files / "latin1.json").write_bytes('{"id": "é"}'.encode("latin-1"))
    return files, images, records


def test_four_rounds_stats_by_hand(tmp_path: Path) -> None:
    files, images, _ = write_four_rounds(tmp_path / "src")
    run = tmp_path / "run"
    res = runner.invoke(app, ["import", str(files), "--format", "mmevol", "--out", str(run),
                              "--images", str(images)])  # fmt: skip
    assert res.exit_code == 0, res.output
    said = " ".join(res.stdout.split())
    assert "imported 3 images, 14 samples over 3 rounds" in said
    assert "format_unknown 1" in said
    assert "skipped 4 file(s)" in res.stderr
    stats = json.loads(runner.invoke(app, ["stats", str(run), "--json"]).stdout)
    assert (stats["seeds"], stats["seed_items"], stats["complete"]) == (3, 5, True)
    rounds = [(r["round"], r["units"], r["candidates"], r["kept"], r["mean_judge_score_kept"])
              for r in stats["rounds"]]  # fmt: skip
    # round 1: p 3 (scores 9 own, 8 and 6 from the list), q 1, café 1 (no scores)
    assert rounds == [(1, 3, 5, 5, round(23 / 3, 3)), (2, 3, 2, 2, 8.0), (3, 3, 2, 2, 7.0)]
    # survivors' own scores are scores, not verdicts: nothing in the files says "improved"
    assert stats["rounds"][0]["by_direction"] == {
        "unknown": {"candidates": 5, "kept": 5, "judged": 0, "improved": 0, "kept_share": 1.0,
                    "improved_share": 0.0, "mean_judge_score": round(23 / 3, 3), "scored": 3}
    }  # fmt: skip
    assert stats["dataset"] == {"total": 14, "seed_items": 5, "evolved": 9}
    # Counting, OCR, Grounding Ability -> mapped; "Visual Reasoning" kept as other:;
    # journey_mapping kept as other:; "Multiple Choice" and "Norm" mapped
    norm = stats["normalization"]
    assert (norm["skills_total"], norm["skill_mapped"], norm["skill_unknown"]) == (10, 3, 1)
    assert (norm["formats_total"], norm["format_unknown"], norm["format_mapped"]) == (9, 1, 2)
    assert "skill_dropped" not in norm
    vocab = stats["vocabulary"]
    assert (vocab["skills"]["exact"], vocab["skills"]["unknown_share"]) == (6, 0.1)
    assert (vocab["formats"]["exact"], vocab["formats"]["mapped_share"]) == (6, round(2 / 9, 4))
    assert vocab["unknown_skills"] == {"Visual Reasoning": 1}
    assert vocab["unknown_formats"] == {"journey_mapping": 1}

    config = json.loads((run / "config.json").read_text())
    assert config["config"]["rounds"] == 3 and config["format"] == "mmevol"
    assert config["imported_from"] == str(files) and config["mmevol_version"]
    counts = config["counts"]
    assert counts["import_scores_extra"] == 1 and counts["import_scores_missing"] == 1
    assert counts["import_scores_out_of_range"] == 1 and counts["import_duplicate_images"] == 1
    assert counts["official_boxes_dropped"] == 1 and counts["import_files_skipped"] == 4
    # the seed items' labels are mapped on reading (q and its duplicate file: one each)
    assert counts["official_seed_skill_mapped"] == 2 and counts["official_seed_format_mapped"] == 2
    skipped = " ".join(config["skipped"])
    for name in ("zz-broken.json", "list.json", "latin1.json", "q~dup.json"):
        assert name in skipped
    assert "line 1 column" in skipped and "not UTF-8" in skipped
    for name in ("seeds.jsonl", "run.sqlite", "dataset.jsonl", "stats.json", "failures.jsonl"):
        assert (run / name).is_file()
    assert [len((run / "rounds" / f"round_{k}.jsonl").read_text().splitlines()) for k in (1, 2, 3)] == [5, 2, 2]  # fmt: skip

    rows = {r["id"]: r for r in map(json.loads, (run / "dataset.jsonl").read_text().splitlines())}
    pid = next(i.split("#")[0] for i, r in rows.items() if r["qa"]["question"] == BALL)
    shifted = rows[f"{pid}#0@r2"]["lineage"]  # the ball item did not survive round 2 ...
    assert shifted["parent_id"] == f"{pid}#1@r1"  # ... the chairs question is still found
    assert (shifted["parent_match"], rows[f"{pid}#1@r2"]["lineage"]["parent_id"]) == (
        "content",
        f"{pid}#2@r1",
    )
    assert "verdict" not in rows[f"{pid}#1@r2"]["lineage"]  # the score list ran out
    assert "verdict" not in rows[f"{pid}#0@r3"]["lineage"]  # 85 is not a 0..10 score
    assert rows[f"{pid}#0@r3"]["qa"]["format"] == "other:journey_mapping"
    assert rows[f"{pid}#0@r3"]["qa"]["raw_format"] == "journey_mapping"
    sign = rows[f"{pid}#2@r1"]["qa"]
    assert sign["skills"] == ["ocr", "other:Visual Reasoning"]
    assert sign["raw_skills"] == ["OCR", "Visual Reasoning"]
    assert "raw_skills" not in rows[f"{pid}#0@r1"]["qa"]  # unchanged rows carry no raw fields
    assert all(r["lineage"]["kept"] for r in rows.values())
    seeds = [json.loads(x) for x in (run / "seeds.jsonl").read_text().splitlines()]
    p_seed = next(s for s in seeds if s["id"] == pid)
    assert p_seed["captions"] == ["A room."] and p_seed["topic"] == "room"
    assert [(o["category"], o["bbox"]) for o in p_seed["objects"]] == [
        ("ball", [0.1, 0.2, 0.3, 0.4])
    ]
    assert sorted(Path(s["image"]["path"]).name for s in seeds) == ["p.jpg", "q.jpg", "straße.png"]

    llava = tmp_path / "out.json"
    res = runner.invoke(app, ["export", str(run), "--format", "llava", "--out", str(llava)])
    assert res.exit_code == 0, res.output
    assert sum(len(r["conversations"]) for r in json.loads(llava.read_text())) == 2 * 14


def test_round_trip_through_export_mmevol(tmp_path: Path) -> None:
    files, images, records = write_four_rounds(tmp_path / "src")
    run, back = tmp_path / "run", tmp_path / "back"
    args = ["import", str(files), "--format", "mmevol", "--out", str(run), "--images", str(images)]
    assert runner.invoke(app, args).exit_code == 0
    res = runner.invoke(app, ["export", str(run), "--format", "mmevol", "--out", str(back)])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in back.iterdir()) == ["café-ü.json", "p.json", "q.json"]
    keys = ("question", "answer", "objects", "skills", "format", "steps", "image_position")
    for stem, original in records.items():
        exported = json.loads((back / f"{stem}.json").read_text(encoding="utf-8"))
        assert exported["id"] == original["id"]
        assert Path(exported["image"]).name == original["image"]
        for field in ("caption", "topic_name", "det", "hash_id"):  # as they were, even absent
            assert exported.get(field) == original.get(field)
        for k in range(4):
            mine, theirs = exported.get(f"conversations_v{k}"), original.get(f"conversations_v{k}")
            assert (mine is None) == (theirs is None) or (k > 1 and mine == [])
            for a, b in zip(mine or [], theirs or [], strict=True):
                assert {x: a.get(x) for x in keys} == {x: b.get(x) for x in keys}
    p = json.loads((back / "p.json").read_text())
    assert p["det"][1]["bbox"] == "[Coordinates for tree 1]"  # written back as it came
    assert [x.get("score") for x in p["conversations_v1"]] == [9, 8, 6]  # item, then the list
    assert [x.get("score") for x in p["conversations_v2"]] == [8, None]
    assert [x.get("score") for x in p["conversations_v3"]] == ["85", "7/10"]  # as written
    # the authors' strings go back as they were, mapped or not
    assert [x["format"] for x in p["conversations_v3"]] == ["journey_mapping", "short_answer"]
    assert p["conversations_v1"][1]["skills"] == ["Counting"]
    q = json.loads((back / "q.json").read_text())
    assert [(x["skills"], x["format"]) for k in (0, 1) for x in q[f"conversations_v{k}"]] == [
        (["Existence Ability"], "Norm"),
        (["Grounding Ability"], "Norm"),
    ]
    # and the exported folder imports again to the same numbers
    again = tmp_path / "again"
    args = ["import", str(back), "--format", "mmevol", "--out", str(again), "--images", str(images)]
    assert runner.invoke(app, args).exit_code == 0
    s1, s2 = (json.loads((d / "stats.json").read_text()) for d in (run, again))
    assert s1["dataset"] == s2["dataset"] and s1["rounds"] == s2["rounds"]
    assert s1["normalization"] == s2["normalization"] and s1["vocabulary"] == s2["vocabulary"]


def test_import_api_into_empty_dir_and_strict_duplicates(tmp_path: Path) -> None:
    from mmevol.errors import InputError
    from mmevol.evolve.importer import IMPORTERS, import_run

    assert "mmevol" in IMPORTERS
    files, images, _ = write_four_rounds(tmp_path / "src")
    for bad in ("zz-broken.json", "list.json", "latin1.json"):
        (files / bad).unlink()
    (tmp_path / "empty").mkdir()
    result = import_run(files, "mmevol", tmp_path / "empty", images=images)
    assert (result.seeds, result.samples, result.rounds) == (3, 14, 3)
    assert len(result.skipped) == 1 and "same image and id as" in result.skipped[0]
    with pytest.raises(InputError, match=r"q~dup\.json: image: same image and id as"):
        import_run(files, "mmevol", tmp_path / "strict", images=images, strict=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "src"]
