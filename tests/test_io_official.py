"""The MMEvol authors' per-image files: tolerant reading and writing (mmevol.io.official)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from mmevol.errors import InputError
from mmevol.evolve.import_official import read_official_samples
from mmevol.io.official import (
    coerce_item,
    iter_official,
    read_official,
    write_official,
)
from mmevol.schema import QA, Lineage, Sample, Step, evolved_id


def _img(folder: Path, name: str, shade: int) -> None:
    (folder / name).parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (20, 10), (shade, 9, 9)).save(folder / name, format="PNG")


def _item(q: str, **kw: object) -> dict[str, object]:
    return {
        "objects": ["dog"],
        "skills": ["grounding"],
        "format": "open_ended",
        "question": q,
        "steps": [{"manipulation": "grounding_1(dog)->bbx_1", "description": "find it"}],
        "answer": f"answer to {q}",
    } | kw


def _realistic(folder: Path) -> Path:
    """Files as irregular as the released ones: every quirk the reader must survive."""
    _img(folder, "coco/a.jpg", 1)
    _img(folder, "coco/b.jpg", 2)
    files = {
        "hash-ä1": {
            "id": "000001",
            "image": "coco/a.jpg",
            "hash_id": "hash-ä1",
            "caption": [
                {"from": "human", "value": "<image>\nDescribe"},
                {"from": "gpt", "value": "A brown dog on grass."},
            ],
            "det": [
                {"label": "dog", "bbox": [0.1, 0.2, 0.5, 0.9]},
                {"label": "tree", "bbox": "[Coordinates for tree 1]"},
                {"label": "cat", "bbox": [0.5, 0.5, 0.2, 0.2]},
            ],
            "topic_name": "animals",
            "conversations_v0": [_item("What animal is this?", image_position="front")],
            "conversations_v1": [
                _item(
                    "Where is the dog?",
                    score=[8, "good"],
                    steps=["grounding_1(dog)->bbx_1: locate the dog", "then compare"],
                ),
                {"question": "", "answer": ""},
                "not an item",
            ],
            "conversations_v2": [_item("Count dogs?", score="7/10", skills="calculating")],
        },
        "hash2": {
            "id": 2,
            "image": "coco/b.jpg",
            "caption": [],
            "det": [],
            "conversations_v0": [
                {"from": "human", "value": "What is it?\n<image>"},
                {"from": "gpt", "value": "A red tile."},
            ],
        },
    }
    for name, doc in files.items():
        (folder / "files").mkdir(exist_ok=True)
        (folder / "files" / f"{name}.json").write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    return folder / "files"


def test_tolerant_read(tmp_path: Path) -> None:
    folder = _realistic(tmp_path)
    counts: Counter[str] = Counter()
    records = list(iter_official(folder, image_root=tmp_path, counts=counts))
    by_id = {r.seed.provenance[0].record_id: r for r in records}
    a, b = by_id["000001"], by_id["2"]
    assert a.seed.captions == ["A brown dog on grass."]
    assert [(o.category, o.bbox) for o in a.seed.objects] == [("dog", [0.1, 0.2, 0.5, 0.9])]
    assert counts["official_boxes_dropped"] == 2 and counts["official_items_dropped"] == 2
    assert a.seed.topic == "animals" and a.seed.items[0].image_position == "front"
    assert sorted(a.rounds) == [0, 1, 2]
    [r1] = a.rounds[1]
    assert r1.score == 8.0
    assert [s.manipulation for s in r1.steps] == ["grounding_1(dog)->bbx_1", ""]
    assert r1.steps[0].description == "locate the dog"
    assert a.rounds[2][0].score == 7.0 and a.rounds[2][0].skills == ["calculating"]
    assert b.seed.items[0].question == "What is it?" and b.seed.items[0].image_position == "end"
    assert b.seed.captions == [] and b.seed.objects == [] and b.seed.topic is None


def test_coerce_item_variants() -> None:
    assert coerce_item({"question": "q"}) == QA(question="q", answer="", original={"question": "q"})
    assert coerce_item({"question": "q", "answer": ["x", "y"], "score": None}).answer == "x\ny"
    assert coerce_item('{"question": "q", "answer": "a", "score": 4}').score == 4.0
    assert coerce_item(3) is None and coerce_item({"score": 1}) is None


def test_read_write_read_round_trip(tmp_path: Path) -> None:
    folder = _realistic(tmp_path)
    seeds, samples = read_official_samples(folder, image_root=tmp_path)
    assert sorted((s.round, s.qa.question) for s in samples if s.round > 0) == [
        (1, "Where is the dog?"),
        (2, "Count dogs?"),
    ]
    r2 = next(s for s in samples if s.round == 2)
    assert r2.lineage.parent_id == evolved_id(r2.seed_id, 0, 1)
    out = tmp_path / "out"
    paths = write_official(seeds, samples, out, image_root=tmp_path)
    assert sorted(p.name for p in paths) == ["hash-ä1.json", "hash2.json"]
    doc = json.loads((out / "hash-ä1.json").read_text("utf-8"))
    assert doc["hash_id"] == "hash-ä1" and doc["id"] == "000001" and doc["image"] == "coco/a.jpg"
    assert doc["conversations_v1"][0]["score"] == [8, "good"]  # written back as it was read
    seeds2, samples2 = read_official_samples(out, image_root=tmp_path)
    assert [s.model_dump(exclude={"provenance", "source_record"}) for s in seeds2] == [
        s.model_dump(exclude={"provenance", "source_record"}) for s in seeds
    ]  # (the written records have every round, empty ones too)
    assert [(s.id, s.round, s.qa) for s in samples2] == [(s.id, s.round, s.qa) for s in samples]


def test_samples_to_files_round_trip(tmp_path: Path) -> None:
    _img(tmp_path, "x.png", 5)
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "h.json").write_text(
        json.dumps(
            {
                "id": "h",
                "image": "x.png",
                "hash_id": "h",
                "conversations_v0": [_item("Q0"), _item("Q1")],
            }
        )
    )
    [seed] = read_official(folder, image_root=tmp_path)
    evolved = [
        Sample(
            id=evolved_id(seed.id, i, r),
            seed_id=seed.id,
            image=seed.image,
            round=r,
            qa=QA(
                question=f"Q{i} r{r}",
                answer="a",
                steps=[Step(manipulation="ocr", description="read")],
            ),
            lineage=Lineage(round=r, kept=kept),
        )
        for r in (1, 2, 3)
        for i in (0, 1)
        for kept in ([True] if (r, i) != (2, 1) else [False])
    ]
    out = tmp_path / "out"
    [path] = write_official([seed], evolved[::-1], out)
    doc = json.loads(path.read_text())
    assert [k for k in doc if k.startswith("conversations_v")] == [
        f"conversations_v{k}" for k in range(4)
    ]
    assert [q["question"] for q in doc["conversations_v2"]] == ["Q0 r2"]  # not-kept item left out
    assert [q["question"] for q in doc["conversations_v3"]] == ["Q0 r3", "Q1 r3"]
    _, samples = read_official_samples(out, image_root=tmp_path)
    kept = sorted((s.round, s.qa.question) for s in evolved if s.lineage.kept)
    assert sorted((s.round, s.qa.question) for s in samples if s.round > 0) == kept


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a folder"):
        list(iter_official(tmp_path / "nope"))
    (tmp_path / "a.json").write_text(json.dumps({"id": "a", "conversations_v0": []}))
    with pytest.raises(InputError, match=r"a\.json: image: missing"):
        read_official(tmp_path)
    (tmp_path / "a.json").write_text(json.dumps({"id": "a", "image": "gone.jpg"}))
    with pytest.raises(InputError, match=r"a\.json: image: .*gone\.jpg: image file not found"):
        read_official(tmp_path)
    [seed] = read_official(tmp_path, allow_missing_images=True)
    assert seed.image.digest.startswith("path:")
    (tmp_path / "a.json").write_bytes(b'{"id": "\xe9"}')
    with pytest.raises(InputError, match=r"a\.json: byte 8: not UTF-8"):
        read_official(tmp_path)
    (tmp_path / "a.json").write_text("[]")
    with pytest.raises(InputError, match=r"a\.json: \(top level\): expected a JSON object"):
        read_official(tmp_path)


def test_authors_labels_map_on_reading_and_go_back_as_written(tmp_path: Path) -> None:
    _img(tmp_path, "x.png", 7)
    folder = tmp_path / "src"
    folder.mkdir()
    seed_item = _item("Is there a dog?", skills=["Existence Ability", "Vibe Check"], format="Norm")
    later = _item("Where is the dog?", skills=["Grounding Ability"], format="Multi-Choice")
    doc = {"id": "h", "image": "x.png", "hash_id": "h", "conversations_v0": [seed_item],
           "conversations_v1": [later]}  # fmt: skip
    (folder / "h.json").write_text(json.dumps(doc))
    counts: Counter[str] = Counter()
    [rec] = iter_official(folder, image_root=tmp_path, counts=counts)
    [qa] = rec.seed.items
    assert (qa.skills, qa.format) == (["existence", "other:Vibe Check"], "open_ended")
    assert (qa.raw_skills, qa.raw_format) == (["Existence Ability", "Vibe Check"], "Norm")
    assert counts["official_seed_skill_mapped"] == 1 and counts["official_seed_skill_unknown"] == 1
    [r1] = rec.rounds[1]  # later rounds keep the strings for the importer to map and count
    assert (r1.skills, r1.format, r1.raw_skills) == (["Grounding Ability"], "Multi-Choice", None)
    seeds, samples = read_official_samples(folder, image_root=tmp_path)
    [path] = write_official(seeds, samples, tmp_path / "out")
    back = json.loads(path.read_text())
    assert back["conversations_v0"][0]["skills"] == ["Existence Ability", "Vibe Check"]
    assert back["conversations_v0"][0]["format"] == "Norm"
    assert (back["conversations_v1"][0]["skills"], back["conversations_v1"][0]["format"]) == (
        ["Grounding Ability"],
        "Multi-Choice",
    )
