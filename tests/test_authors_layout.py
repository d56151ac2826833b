"""Self-check of the authors' run-folder builder (tests/authors_layout.py) against its own files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from authors_layout import DIRECTIONS, QUIRK_NAMES, SUB_FOLDERS, write_authors_run


def _load(path: Path) -> Any:
    """Strict json.load, None for a missing or unreadable file (as their filter sees it)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _core(question: str) -> str:
    return question.split("?")[0].rstrip(" .")


@pytest.fixture(scope="module", params=[0, 1, 7])
def run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    base = tmp_path_factory.mktemp("authors")
    return base, write_authors_run(base / "run", image_root=base / "images", seed=request.param)


def test_counts_and_survivors_follow_the_files(run: tuple[Path, dict[str, Any]]) -> None:
    base, truth = run
    assert sorted(truth["rounds"]) == [1, 2, 3]
    for n, tally in truth["rounds"].items():
        rd = base / "run" / f"round{n}"
        assert all((rd / sub).is_dir() for sub in SUB_FOLDERS)
        cands = verdicts = improved = kept = 0
        for h in truth["images"]:
            items = _load(rd / "gen_qa_corrected" / f"{h}.json")
            scores = _load(rd / "score_gpt4_mini_corrected" / f"{h}.json")
            record = _load(rd / "filtered_qa" / f"{h}.json")
            cands += len(items or [])
            verdicts += len(scores or [])
            improved += sum(v["improved"] == "yes" for v in scores or [])
            kept += len(record[f"conversations_v{n}"])
            expected = []
            if items is not None and scores is not None and len(scores) >= len(items):
                expected = [
                    {**item, "score": v["score"]}
                    for item, v in zip(items, scores, strict=False)
                    if v["improved"] == "yes"
                ]
            assert record[f"conversations_v{n}"] == expected, (n, h)
            order = ["id", "image", *(f"conversations_v{k}" for k in range(n + 1))]
            assert list(record) == [*order, "topic_name", "caption", "det", "hash_id"]
            direction = _load(rd / "evo_path" / f"{h}.json")
            assert direction == tally["directions"].get(h)
            assert direction is None or direction in DIRECTIONS
        assert (cands, verdicts, improved, kept) == (
            tally["candidates"],
            tally["verdicts"],
            tally["improved"],
            tally["kept"],
        )
        assert sum(k[0] == n for k in truth["parents"]) == cands
    last = base / "run" / "round3" / "filtered_qa"
    assert {h: _load(last / f"{h}.json") for h in truth["images"]} == truth["records"]


def test_parents_are_the_evolved_list(run: tuple[Path, dict[str, Any]]) -> None:
    base, truth = run
    more_than_parents = 0
    for (n, h), source in truth["evolved_from"].items():
        prev = (
            truth["seeds"][h]
            if n == 1
            else _load(base / "run" / f"round{n - 1}" / "filtered_qa" / f"{h}.json")
        )
        later = [k for k in range(1, n) if prev[f"conversations_v{k}"]]
        assert source == (f"conversations_v{later[-1]}" if later else "conversations_v0")
        parents = prev[source]
        items = _load(base / "run" / f"round{n}" / "gen_qa_corrected" / f"{h}.json")
        if items is None:
            continue
        more_than_parents += n == 2 and len(items) > len(parents)
        for k, item in enumerate(items):
            p = truth["parents"][(n, h, k)]
            if p is None:  # in breadth: about an object no parent mentions
                used = {o for q in parents for o in q["objects"]}
                assert not used & set(item["objects"]) or item["objects"] == ["background"]
            else:
                assert item["question"].startswith(_core(parents[p]["question"]))
    assert more_than_parents >= 2


def test_quirks_are_in_the_files(run: tuple[Path, dict[str, Any]]) -> None:
    base, truth = run
    q = truth["quirks"]
    assert set(q) == set(QUIRK_NAMES)

    def at(name: str, sub: str) -> Path:
        n, h = q[name]
        return base / "run" / f"round{n}" / sub / f"{h}.json"

    def survivors(name: str) -> list[Any]:
        n, _ = q[name]
        return _load(at(name, "filtered_qa"))[f"conversations_v{n}"]

    raw = at("invalid_gen_qa", "gen_qa").read_text(encoding="utf-8")
    assert "```json" in raw and "//" in raw and "\u201c" in raw
    assert _load(at("invalid_gen_qa", "gen_qa_corrected")) is None
    assert at("invalid_gen_qa", "gen_qa_corrected").read_text(encoding="utf-8").startswith("[")
    assert not at("invalid_gen_qa", "score_gpt4_mini").exists()  # their judge skipped it
    assert survivors("invalid_gen_qa") == []
    fixed = at("repaired_gen_qa", "gen_qa_corrected").read_text(encoding="utf-8")
    assert fixed == json.dumps(json.loads(fixed), indent=4)
    assert _load(at("repaired_gen_qa", "gen_qa")) is None
    short = _load(at("short_scores", "score_gpt4_mini_corrected"))
    assert len(short) == len(_load(at("short_scores", "gen_qa_corrected"))) - 1
    assert short and survivors("short_scores") == []
    n, h = q["evolves_from_v1"]
    assert truth["evolved_from"][(n, h)] == "conversations_v1"
    assert truth["records"][h]["conversations_v1"] and not truth["records"][h]["conversations_v2"]
    assert at("missing_score", "gen_qa_corrected").exists()
    assert not at("missing_score", "score_gpt4_mini_corrected").exists()
    assert survivors("missing_score") == []
    assert not at("missing_evo_path", "evo_path").exists()
    assert at("missing_evo_path", "gen_qa").exists()
    assert len(_load(at("bare_object", "gen_qa_corrected"))) == 1
    assert isinstance(
        json.loads(at("bare_object", "gen_qa").read_text().split("```json")[1].split("```")[0]),
        dict,
    )
    yes = [v["improved"] for v in _load(at("capital_yes", "score_gpt4_mini_corrected"))]
    assert "Yes" in yes and len(survivors("capital_yes")) == yes.count("yes")
    rec = truth["records"]
    assert isinstance(rec[q["int_id"][1]]["id"], int)
    assert rec[q["no_caption_det"][1]]["caption"] == [] == rec[q["no_caption_det"][1]]["det"]
    assert isinstance(rec[q["topic_string"][1]]["topic_name"], str)
    assert rec[q["topic_absent"][1]]["topic_name"] == []
    assert "topic_name" not in truth["seeds"][q["topic_absent"][1]]


def test_records_images_and_verdict_share(run: tuple[Path, dict[str, Any]]) -> None:
    base, truth = run
    colours = set()
    for h, record in truth["records"].items():
        assert h == record["hash_id"] == f"{h.split('_')[0]}_{record['image'].replace('/', '_')}"
        with Image.open(base / "images" / record["image"]) as img:
            assert (img.format, img.size) == ("PNG", (32, 24))
            colours.add(img.getpixel((0, 0)))
        for det in record["det"]:
            assert all(0.0 <= c <= 1.0 for c in det["bbox"]) and det["label"]
        if record["caption"]:
            assert [t["from"] for t in record["caption"]] == ["human", "gpt"]
            assert record["caption"][0]["value"].startswith("<image>\n")
    assert len(colours) == len(truth["records"])
    yes = sum(t["improved"] for t in truth["rounds"].values())
    assert 0.5 <= yes / sum(t["verdicts"] for t in truth["rounds"].values()) <= 0.95


def test_deterministic_and_clean_without_quirks(tmp_path: Path) -> None:
    a = write_authors_run(tmp_path / "a", image_root=tmp_path / "ia", seed=4, quirks=False)
    b = write_authors_run(tmp_path / "b", image_root=tmp_path / "ib", seed=4, quirks=False)
    c = write_authors_run(tmp_path / "c", image_root=tmp_path / "ic", seed=5, quirks=False)
    assert a == b and a["records"] != c["records"] and a["quirks"] == {}
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.json"))
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*.json"))
    assert all(
        (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files
    )
    assert len(files) == 3 * 6 * len(SUB_FOLDERS)
    raw = ("gen_qa", "score_gpt4_mini")  # the model's own text, fenced
    assert all(_load(tmp_path / "a" / f) is not None for f in files if f.parts[1] not in raw)
    assert all(_load(tmp_path / "a" / f) is None for f in files if f.parts[1] in raw)
    for n, tally in a["rounds"].items():
        assert len(tally["directions"]) == 6, n
    with pytest.raises(ValueError):
        write_authors_run(tmp_path / "d", image_root=tmp_path / "id", n_images=3)
