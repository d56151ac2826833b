"""``mmevol import`` of an MMEvol authors' run folder, whole, and ``export`` back to it.

The runs are written by ``authors_layout.write_authors_run``, which follows the authors' own
writer code (RainBowLuoCS/MMEvol at 4ba46699, cited there) and returns a ground truth it
computed while writing, never by reading the files back.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from authors_layout import _survivors, write_authors_run
from mmevol.cli.app import app
from mmevol.io.official_run import DIRECTION_NAMES

runner = CliRunner()
N_IMAGES = 9


def _build(tmp_path: Path, seed: int = 0) -> tuple[Path, Path, dict[str, Any]]:
    root, images = tmp_path / "theirs", tmp_path / "images"
    truth = write_authors_run(root, image_root=images, n_images=N_IMAGES, rounds=3, seed=seed)
    return root, images, truth


def _import(src: Path, out: Path, images: Path, *extra: str) -> None:
    res = runner.invoke(app, ["import", str(src), "--format", "mmevol", "--out", str(out),
                              "--images", str(images), *extra])  # fmt: skip
    assert res.exit_code == 0, res.output


def _stats(run: Path) -> dict[str, Any]:
    return json.loads((run / "stats.json").read_text())


def _rows(run: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(run / "run.sqlite") as db:
        return db.execute(sql).fetchall()


def _stems(run: Path) -> dict[str, str]:
    seeds = [json.loads(x) for x in (run / "seeds.jsonl").read_text().splitlines()]
    return {s["id"]: Path(s["provenance"][0]["file"]).stem for s in seeds}


@pytest.mark.parametrize("seed", [0, 1])
def test_run_root_imports_every_round_as_the_files_say(tmp_path: Path, seed: int) -> None:
    root, images, truth = _build(tmp_path, seed)
    run = tmp_path / "run"
    _import(root, run, images)
    stats = _stats(run)
    assert [r["round"] for r in stats["rounds"]] == [1, 2, 3]
    for r in stats["rounds"]:
        t = truth["rounds"][r["round"]]
        assert (r["judged"], r["improved"], r["kept"]) == (t["verdicts"], t["improved"], t["kept"])
        assert r["improved_share"] == round(t["improved"] / t["verdicts"], 4)
        assert r["units"] == N_IMAGES and r["candidates"] >= t["candidates"]
        assert "unknown" not in r["by_direction"] or r["round"] == 2  # one evo_path is missing
    stems = _stems(run)
    drawn = {
        (stems[s], k): d for s, k, d in _rows(run, "SELECT seed_id, round, direction FROM units")
    }
    for k, t in truth["rounds"].items():
        for stem in truth["images"]:
            want = t["directions"].get(stem)
            assert drawn[(stem, k)] == (DIRECTION_NAMES[want] if want else None)
    # the candidate file their repair could not fix is read after repair, and counted
    config = json.loads((run / "config.json").read_text())
    assert config["file_problems"]["candidates_repaired"] >= 1
    assert any("not valid JSON" in p for p in config["file_problems_listed"])


def test_each_round_folder_imports_the_run_up_to_it(tmp_path: Path) -> None:
    root, images, _ = _build(tmp_path)
    whole = tmp_path / "whole"
    _import(root, whole, images)
    full = _stats(whole)["rounds"]
    for k in (1, 2, 3):
        for src in (root / f"round{k}", root / f"round{k}" / "filtered_qa",
                    root / f"round{k}" / "gen_qa_corrected"):  # fmt: skip
            out = tmp_path / f"r{k}-{src.name}"
            _import(src, out, images)
            assert _stats(out)["rounds"] == full[:k], src


def test_parents_are_found_by_content(tmp_path: Path) -> None:
    agree = by_position = total = 0
    for seed in (0, 1, 2):
        root, images, truth = _build(tmp_path / str(seed), seed)
        run = tmp_path / f"run{seed}"
        _import(root, run, images)
        stems = _stems(run)
        rows = _rows(run, "SELECT id, seed_id, round, parent_id, kept FROM samples")
        kept = {(s, k): sorted((i for i, s2, k2, _, kp in rows if s2 == s and k2 == k and kp),
                               key=lambda i: int(i.split("#")[1].split("@")[0]))
                for _, s, k, _, _ in rows}  # fmt: skip
        for sid, seed_id, k, parent, _ in rows:
            key = (k, stems[seed_id], int(sid.split("#")[1].split("@")[0]))
            if k == 0 or key not in truth["parents"]:
                continue
            given = truth["evolved_from"][(k, stems[seed_id])]
            if parent is None:
                got = None
            else:  # a parent is always an item of the round the authors' generator was given
                assert parent.endswith(f"@r{given[len('conversations_v') :]}") or given.endswith(
                    "v0"
                )
                up = int(given[len("conversations_v") :])
                got = kept[(seed_id, up)].index(parent) if up else int(parent.split("#")[1])
            want = truth["parents"][key]
            n_given = len(truth["records"][stems[seed_id]][given])
            agree += got == want
            by_position += (key[2] if key[2] < n_given else None) == want
            total += 1
    assert total > 100
    assert agree / total >= 0.85 and agree - by_position > total // 3


def test_export_gives_back_the_authors_records_and_imports_again(tmp_path: Path) -> None:
    root, images, truth = _build(tmp_path)
    run, back, again, back2 = (tmp_path / n for n in ("run", "back", "again", "back2"))
    _import(root, run, images)
    res = runner.invoke(app, ["export", str(run), "--format", "mmevol", "--out", str(back)])
    assert res.exit_code == 0, res.output
    assert sorted(p.stem for p in back.iterdir()) == sorted(truth["images"])
    for stem in truth["images"]:  # field by field, key order too
        mine = json.loads((back / f"{stem}.json").read_text())
        theirs = json.loads((root / "round3" / "filtered_qa" / f"{stem}.json").read_text())
        assert list(mine.items()) == list(theirs.items()) == list(truth["records"][stem].items())
    _import(back, again, images)
    res = runner.invoke(app, ["export", str(again), "--format", "mmevol", "--out", str(back2)])
    assert res.exit_code == 0, res.output
    for p in back.iterdir():
        assert p.read_bytes() == (back2 / p.name).read_bytes()
    kept = "SELECT seed_id, round, kept, json_extract(json, '$.qa.question') FROM samples"
    assert sorted(r for r in _rows(run, kept) if r[2]) == sorted(
        r for r in _rows(again, kept) if r[2]
    )
    # an image root rewrites the paths (relative to it); without one they stay as they came
    moved = tmp_path / "moved"
    res = runner.invoke(app, ["export", str(run), "--format", "mmevol", "--out", str(moved),
                              "--image-root", str(images.parent)])  # fmt: skip
    assert res.exit_code == 0, res.output
    some = json.loads(next(moved.iterdir()).read_text())
    assert some["image"] == f"{images.name}/{truth['records'][some['hash_id']]['image']}"


def test_rounds_export_is_the_whole_run_and_imports_to_the_same_journal(tmp_path: Path) -> None:
    root, images, _ = _build(tmp_path)
    run, rounds, again = tmp_path / "run", tmp_path / "rounds", tmp_path / "again"
    _import(root, run, images)
    res = runner.invoke(
        app, ["export", str(run), "--format", "mmevol-rounds", "--out", str(rounds)]
    )
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in rounds.iterdir()) == ["round1", "round2", "round3"]
    for k in (1, 2, 3):  # their filter, run on what we wrote, gives what we wrote as survivors
        for rec in (rounds / f"round{k}" / "filtered_qa").iterdir():
            cands, scores = (rounds / f"round{k}" / sub / rec.name
                             for sub in ("gen_qa_corrected", "score_gpt4_mini_corrected"))  # fmt: skip
            got = json.loads(rec.read_text())[f"conversations_v{k}"]
            if cands.is_file():
                verdicts = scores.read_text() if scores.is_file() else None
                assert _survivors(cands.read_text(), verdicts) == got
            else:
                assert got == []
    _import(rounds, again, images)
    journal = ("SELECT id, seed_id, round, parent_id, direction, kept, reason,"
               " json_extract(json, '$.lineage.verdict'), json_extract(json, '$.qa.question'),"
               " json_extract(json, '$.qa.answer') FROM samples ORDER BY id")  # fmt: skip
    assert _rows(run, journal) == _rows(again, journal)
    assert _stats(run)["rounds"] == _stats(again)["rounds"]
    units = "SELECT id, direction FROM units ORDER BY id"
    assert _rows(run, units) == _rows(again, units)


def test_bad_files_are_listed_and_strict_stops(tmp_path: Path) -> None:
    root, images, truth = _build(tmp_path)
    h = truth["images"]
    (root / "round3" / "filtered_qa" / f"{h[0]}.json").write_text('{"id": 1, "image": ')
    (root / "round2" / "evo_path" / f"{h[1]}.json").write_text('"df_sideways"')
    (root / "round1" / "score_gpt4_mini_corrected" / f"{h[2]}.json").write_bytes(b"\xff\xfe{[")
    (root / "round2" / "gen_qa_corrected" / f"{h[3]}.json").write_text('{"unrelated": true}')
    run = tmp_path / "run"
    res = runner.invoke(app, ["import", str(root), "--format", "mmevol", "--out", str(run),
                              "--images", str(images)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert f"imported {N_IMAGES - 1} images" in " ".join(res.stdout.split())
    assert "skipped 1 file" in res.stderr and "read with problems" in res.stderr
    config = json.loads((run / "config.json").read_text())
    problems = config["file_problems"]
    assert problems["direction_unknown"] == 1 and problems["candidate_unreadable"] >= 1
    assert problems["verdicts_unreadable"] == 1
    assert any("df_sideways" in p for p in config["file_problems_listed"])
    strict = tmp_path / "strict"
    res = runner.invoke(app, ["import", str(root), "--format", "mmevol", "--out", str(strict),
                              "--images", str(images), "--strict"])  # fmt: skip
    assert res.exit_code == 2 and h[0] in res.stderr and not strict.exists()
    assert len(res.stderr.strip().splitlines()) == 1


def test_report_compares_their_run_with_ours_direction_by_direction(tmp_path: Path) -> None:
    root, images, _ = _build(tmp_path)
    theirs, ours = tmp_path / "theirs-run", tmp_path / "ours"
    _import(root, theirs, images)
    res = runner.invoke(app, ["evolve", str(theirs / "seeds.jsonl"), "--out", str(ours),
                              "--rounds", "2"])  # fmt: skip
    assert res.exit_code == 0, res.output
    out = tmp_path / "cmp.html"
    res = runner.invoke(app, ["report", str(theirs), "--compare", str(ours), "--out", str(out)])
    assert res.exit_code == 0, res.output
    page = out.read_text()
    table = page[page.index("Rounds by direction") : page.index("Vocabulary mapping")]
    assert f"{N_IMAGES} in both runs" in table
    assert str(theirs) in table and str(ours) in table
    for direction in ("perception", "reasoning", "interactive", "all directions"):
        assert direction in table
    ours_stats = _stats(ours)["rounds"][0]
    assert f"<td>{ours_stats['candidates']}</td>" in table


def test_an_imported_run_continues_with_the_engine(tmp_path: Path) -> None:
    root, images, _ = _build(tmp_path)
    run = tmp_path / "run"
    _import(root, run, images)
    seeds = str(run / "seeds.jsonl")
    res = runner.invoke(app, ["evolve", seeds, "--out", str(run), "--rounds", "3"])
    assert res.exit_code == 2 and "continue it with --rounds 4" in res.stderr
    before = _stats(run)["rounds"]
    res = runner.invoke(app, ["evolve", seeds, "--out", str(run), "--rounds", "4"])
    assert res.exit_code == 0, res.output
    stats = _stats(run)
    assert stats["rounds"][:3] == before and stats["rounds"][3]["units"] == N_IMAGES
    assert stats["rounds"][3]["kept"] > 0 and stats["complete"]
    round4 = _rows(run, "SELECT parent_id FROM samples WHERE round=4")
    assert round4 and all(p.endswith("@r3") for (p,) in round4)  # the authors' survivors
    config = json.loads((run / "config.json").read_text())
    assert config["imported_from"] == str(root) and config["import"]["format"] == "mmevol"
    calls = stats["calls"]["total"]
    res = runner.invoke(app, ["evolve", seeds, "--out", str(run), "--rounds", "4"])
    assert res.exit_code == 0 and _stats(run)["calls"]["total"] == calls  # resumed, nothing redone
