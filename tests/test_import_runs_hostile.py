"""``mmevol import --format mmevol`` on an authors' run folder that someone tampered with.

Every file in such a folder is attacker-controlled input: nesting, numbers, links, sizes, names
and missing answers are bounded or refused, each problem listed, and ``--strict`` stops on a
file that could not be read at all. The run is written by ``authors_layout`` (the authors'
writer, RainBowLuoCS/MMEvol at 4ba46699); each test then damages it in one way.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from authors_layout import write_authors_run
from mmevol.cli.app import app

runner = CliRunner()
N_IMAGES = 6


def _build(tmp_path: Path) -> tuple[Path, Path, dict[str, Any]]:
    root, images = tmp_path / "theirs", tmp_path / "images"
    truth = write_authors_run(root, image_root=images, n_images=N_IMAGES, rounds=2, seed=3)
    return root, images, truth


def _run(src: Path, out: Path, images: Path, *extra: str) -> Any:
    return runner.invoke(app, ["import", str(src), "--format", "mmevol", "--out", str(out),
                               "--images", str(images), *extra])  # fmt: skip


def _config(run: Path) -> dict[str, Any]:
    return json.loads((run / "config.json").read_text())


def _side(root: Path, k: int, sub: str, stem: str) -> Path:
    return root / f"round{k}" / sub / f"{stem}.json"


def test_deep_nesting_and_huge_numbers_are_listed_not_fatal(tmp_path: Path) -> None:
    root, images, truth = _build(tmp_path)
    h = truth["images"]
    _side(root, 2, "filtered_qa", h[0]).write_text("[" * 100_000 + "]" * 100_000)
    _side(root, 1, "gen_qa_corrected", h[1]).write_text("[" * 50_000)
    big = json.loads(_side(root, 1, "score_gpt4_mini_corrected", h[2]).read_text())
    raw = json.dumps(big).replace('"score": ', '"score": ' + "9" * 5000 + ', "was": ', 1)
    _side(root, 1, "score_gpt4_mini_corrected", h[2]).write_text(raw)
    run = tmp_path / "run"
    res = _run(root, run, images)
    assert res.exit_code == 0, res.output
    assert "skipped 1 file" in res.stderr and "nested too deeply" in res.stderr
    problems = _config(run)["file_problems"]
    assert problems["candidates_unreadable"] == 1
    assert problems.get("verdicts_unreadable", 0) + problems.get("verdicts_repaired", 0) >= 1


def test_links_out_of_the_folder_and_non_files_are_not_read(tmp_path: Path) -> None:
    root, images, truth = _build(tmp_path)
    h = truth["images"]
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps(["df_cot"]))
    record = _side(root, 2, "filtered_qa", h[0])
    record.unlink()
    record.symlink_to(secret)
    evo = _side(root, 2, "evo_path", h[1])
    evo.unlink()
    evo.symlink_to(secret)
    cands = _side(root, 1, "gen_qa_corrected", h[2])
    cands.unlink()
    cands.mkdir()
    run = tmp_path / "run"
    res = _run(root, run, images)
    assert res.exit_code == 0, res.output
    problems = _config(run)["file_problems"]
    assert problems["record_outside"] == 1 and problems["side_file_outside"] == 1
    assert problems["side_file_not_a_file"] == 1
    listed = " ".join(_config(run)["file_problems_listed"])
    assert "outside the folder given" in listed
    for extra in ([], ["--allow-missing-images"]):
        strict = tmp_path / f"strict{len(extra)}"
        res = _run(root, strict, images, "--strict", *extra)
        assert res.exit_code == 2 and not strict.exists()
        assert len(res.stderr.strip().splitlines()) == 1 and "outside" in res.stderr


def test_items_without_answers_stay_out_of_the_dataset(tmp_path: Path) -> None:
    root, images, truth = _build(tmp_path)
    h = truth["images"]
    path = _side(root, 2, "filtered_qa", h[0])
    rec = json.loads(path.read_text())
    rec["conversations_v0"][0]["answer"] = ""
    survivors = next(k for k in (2, 1) if rec[f"conversations_v{k}"])
    rec[f"conversations_v{survivors}"][0]["answer"] = None
    path.write_text(json.dumps(rec, indent=4))
    run = tmp_path / "run"
    res = _run(root, run, images)
    assert res.exit_code == 0, res.output
    problems = _config(run)["file_problems"]
    assert problems["seed_item_without_answer"] == 1
    assert problems["survivor_without_answer"] == 1
    rows = [json.loads(x) for x in (run / "dataset.jsonl").read_text().splitlines()]
    assert rows and all(r["qa"]["answer"].strip() for r in rows)
    with sqlite3.connect(run / "run.sqlite") as db:
        (reason,) = db.execute(
            "SELECT reason FROM samples WHERE kept=0 AND reason LIKE '%without an answer%'"
        ).fetchone()
    assert "left out" in reason
    back = tmp_path / "back"  # the record keeps its seed items as they were
    res = runner.invoke(app, ["export", str(run), "--format", "mmevol", "--out", str(back)])
    assert res.exit_code == 0, res.output
    again = json.loads((back / path.name).read_text())
    assert again["conversations_v0"] == rec["conversations_v0"]


def test_round_folder_names_and_gaps_are_listed(tmp_path: Path) -> None:
    root, images, _ = _build(tmp_path)
    (root / "round0").mkdir()
    (root / "round01").mkdir()
    (root / "round2").rename(root / "round3")
    run = tmp_path / "run"
    res = _run(root, run, images)
    assert res.exit_code == 0, res.output
    config = _config(run)
    assert config["file_problems"]["round_folder_name"] == 2
    assert config["file_problems"]["round_folders_missing"] == 1
    assert any("round(s) 2" in p for p in config["file_problems_listed"])
    wrong = tmp_path / "wrong"
    (root / "round3").rename(root / "final")
    res = _run(root / "final", wrong, images)
    assert res.exit_code == 2 and "named round1, round2" in res.stderr and not wrong.exists()


def test_verdicts_go_back_verbatim_and_extras_count_by_direction(tmp_path: Path) -> None:
    root, images, truth = _build(tmp_path)
    h = truth["images"]
    scores = _side(root, 1, "score_gpt4_mini_corrected", h[4])
    verdicts = json.loads(scores.read_text())
    verdicts[0] |= {"score": "8/10", "note": {"by": "a person"}}
    verdicts.append({"improved": "yes", "score": 7, "reason": "one too many"})
    scores.write_text(json.dumps(verdicts))
    _side(root, 1, "gen_qa", "orphan_image").write_text("[]")
    run, out = tmp_path / "run", tmp_path / "rounds"
    res = _run(root, run, images)
    assert res.exit_code == 0, res.output
    config = _config(run)
    assert config["file_problems"]["side_files_without_record"] == 1
    stats = json.loads((run / "stats.json").read_text())
    for r in stats["rounds"]:
        for key in ("judged", "improved", "candidates", "kept"):
            assert r[key] == sum(d[key] for d in r["by_direction"].values()), key
    res = runner.invoke(app, ["export", str(run), "--format", "mmevol-rounds", "--out", str(out)])
    assert res.exit_code == 0, res.output
    written = json.loads(_side(out, 1, "score_gpt4_mini_corrected", h[4]).read_text())
    assert written[0] == verdicts[0]


def test_out_inside_the_source_and_a_wrong_image_root_are_refused(tmp_path: Path) -> None:
    root, images, _ = _build(tmp_path)
    res = _run(root, root / "run", images)
    assert res.exit_code == 2 and "inside the folder imported" in res.stderr
    assert not (root / "run").exists()
    run, out = tmp_path / "run", tmp_path / "out.jsonl"
    assert _run(root, run, images).exit_code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    res = runner.invoke(app, ["export", str(run), "--format", "llava", "--out", str(out),
                              "--image-root", str(elsewhere)])  # fmt: skip
    assert res.exit_code == 2 and "--image-root" in res.stderr and not out.exists()
    assert len(res.stderr.strip().splitlines()) == 1


def test_symlink_loops_are_listed_not_a_traceback(tmp_path: Path) -> None:
    from mmevol.seeds import write_seeds
    from mmevol.world.scenes import write_demo_set

    seeds = tmp_path / "seeds.jsonl"
    write_seeds(write_demo_set(tmp_path / "scenes", n=3, seed=2), seeds)
    cli = CliRunner()
    assert cli.invoke(app, ["evolve", str(seeds), "--out", str(tmp_path / "r"), "--rounds", "1"]
                      ).exit_code == 0  # fmt: skip
    theirs = tmp_path / "theirs"  # the authors' layout, as our export writes it
    res = cli.invoke(app, ["export", str(tmp_path / "r"), "--format", "mmevol-rounds", "--out",
                           str(theirs)])  # fmt: skip
    assert res.exit_code == 0, res.output
    folder = theirs / "round1" / "filtered_qa"
    (folder / "la.json").symlink_to("lb.json")
    (folder / "lb.json").symlink_to("la.json")
    run = tmp_path / "run"
    res = _run(theirs, run, tmp_path / "scenes")
    assert res.exit_code == 0, res.output
    problems = _config(run)["file_problems"]
    assert problems.get("record_unreadable") == 2, problems  # la.json and lb.json
