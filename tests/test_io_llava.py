"""LLaVA conversation JSON -> seeds and back (mmevol.io.llava)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from mmevol.errors import InputError
from mmevol.io.llava import read_llava, strip_image_token, with_image_token, write_llava
from mmevol.seeds import build_seeds
from synthetic_data import DataSet


def _records(data: DataSet) -> list[dict]:
    return json.loads(data.llava.read_text())


def _write(tmp_path: Path, records: object, name: str = "llava.json") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(records))
    return p


def _img(folder: Path, name: str, shade: int) -> None:
    # PNG bytes under any name: lossless, so every shade gives a distinct digest
    Image.new("RGB", (32, 24), (shade % 256, shade // 256, 7)).save(folder / name, format="PNG")


@pytest.mark.parametrize(
    ("text", "clean", "pos"),
    [
        ("<image>\nWhat is it?", "What is it?", "front"),
        ("<image>What is it?", "What is it?", "front"),
        ("What is it?\n<image>", "What is it?", "end"),
        ("What is it? <image>", "What is it?", "end"),
        ("What is it?", "What is it?", None),
    ],
)
def test_strip_image_token(text: str, clean: str, pos: str | None) -> None:
    assert strip_image_token(text) == (clean, pos)


def test_with_image_token() -> None:
    assert with_image_token("Q?", "end") == "Q?\n<image>"
    assert with_image_token("Q?", None) == "<image>\nQ?"


def test_llava_sample_allow_missing(data_set: DataSet) -> None:
    records = _records(data_set)
    n, items = data_set.llava_records, data_set.llava_items
    counts: Counter[str] = Counter()
    seeds = read_llava(data_set.llava, allow_missing_images=True, counts=counts)
    assert len(seeds) == n
    assert counts["llava_items"] == sum(len(r["conversations"]) // 2 for r in records) == items
    for seed, rec in zip(seeds, records, strict=True):
        assert seed.image.digest.startswith("path:")
        assert seed.image.path.endswith(rec["image"])
        assert seed.provenance[0].record_id == rec["id"]
        assert [qa.answer for qa in seed.items] == [t["value"] for t in rec["conversations"][1::2]]
        assert all("<image>" not in qa.question for qa in seed.items)
        first = rec["conversations"][0]["value"]
        assert seed.items[0].image_position == ("front" if first.startswith("<image>") else "end")
    built, stats = build_seeds([seeds])
    assert len(built) == n
    assert (
        stats.images == n
        and stats.items_out + stats.exact_duplicates + stats.near_duplicates + stats.capped == items
    )


def test_llava_sample_missing_images_is_an_error(data_set: DataSet) -> None:
    llava = data_set.llava
    with pytest.raises(InputError) as e:
        read_llava(llava)  # the images are not beside the JSON
    msg = str(e.value)
    assert msg.startswith(f"{llava}: [0].image: ")
    assert f"{data_set.llava_first_image}: image file not found" in msg
    assert "\n" not in msg


def test_llava_sample_with_stand_in_images(data_set: DataSet, tmp_path: Path) -> None:
    records = _records(data_set)
    for i, rec in enumerate(records):
        _img(tmp_path, rec["image"], i)
    seeds = read_llava(data_set.llava, tmp_path)
    assert len(seeds) == data_set.llava_records
    assert all(s.image.digest.startswith("sha256:") and s.image.width == 32 for s in seeds)
    assert len({s.id for s in seeds}) == data_set.llava_records


def test_llava_sample_round_trip(data_set: DataSet, tmp_path: Path) -> None:
    records, llava = _records(data_set), data_set.llava
    seeds = read_llava(llava, allow_missing_images=True)
    out = tmp_path / "out.json"
    assert write_llava(seeds, out, image_root=llava.parent) == data_set.llava_records
    written = json.loads(out.read_text())
    assert [r["image"] for r in written] == [r["image"] for r in records]
    again = read_llava(out, llava.parent, allow_missing_images=True)
    assert [s.id for s in again] == [s.id for s in seeds]
    for a, b in zip(seeds, again, strict=True):
        assert [(q.question, q.answer, q.image_position) for q in a.items] == [
            (q.question, q.answer, q.image_position) for q in b.items
        ]


def test_same_image_in_two_records_merges(tmp_path: Path) -> None:
    _img(tmp_path, "a.jpg", 1)
    _img(tmp_path, "b.jpg", 1)  # same pixels, other name -> same digest
    p = _write(
        tmp_path,
        [
            {
                "id": "1",
                "image": "a.jpg",
                "conversations": [
                    {"from": "human", "value": "<image>\nWhat colour is it?"},
                    {"from": "gpt", "value": "Red."},
                ],
            },
            {
                "id": "2",
                "image": "b.jpg",
                "conversations": [
                    {"from": "human", "value": "What colour is it?<image>"},
                    {"from": "gpt", "value": "Red!"},
                    {"from": "human", "value": "How big is it?"},
                    {"from": "gpt", "value": "Small."},
                ],
            },
        ],
    )
    seeds, stats = build_seeds([read_llava(p)])
    assert len(seeds) == 1 and stats.merged_images == 1 and stats.exact_duplicates == 1
    assert [q.question for q in seeds[0].items] == ["What colour is it?", "How big is it?"]
    assert [pr.record_id for pr in seeds[0].provenance] == ["1", "2"]


BAD = [
    (
        {"id": "x", "image": "a.jpg", "conversations": "hi"},
        r"\[0\]\.conversations: expected a list of \{from, value\} turns",
    ),
    (
        {"id": "x", "image": "a.jpg", "conversations": [{"from": "human"}]},
        r"\[0\]\.conversations\[0\]\.value: expected a string",
    ),
    (
        {"id": "x", "image": "a.jpg", "conversations": [{"from": "human", "value": "q"}]},
        r"\[0\]\.conversations: odd number of turns \(1\)",
    ),
    (
        {
            "id": "x",
            "image": "a.jpg",
            "conversations": [{"from": "gpt", "value": "a"}, {"from": "human", "value": "q"}],
        },
        r"\[0\]\.conversations\[0\]\.from: expected a human turn, got 'gpt'",
    ),
    ({"id": "x", "image": 5, "conversations": []}, r"\[0\]\.image: expected one image path"),
]


@pytest.mark.parametrize(("record", "message"), BAD)
def test_wrong_schema(tmp_path: Path, record: dict, message: str) -> None:
    _img(tmp_path, "a.jpg", 0)
    p = _write(tmp_path, [record])
    with pytest.raises(InputError, match=rf"^{str(p).replace('.', chr(92) + '.')}: {message}"):
        read_llava(p)


def test_bad_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("  \n")
    with pytest.raises(InputError, match=r"empty\.json: file is empty"):
        read_llava(empty)
    latin = tmp_path / "latin.json"
    latin.write_bytes('[{"id": "caf\xe9"}]'.encode("latin-1"))
    with pytest.raises(InputError, match=r"latin\.json: byte 12: not UTF-8 text"):
        read_llava(latin)
    broken = tmp_path / "broken.json"
    broken.write_text('[{"id": 1,\n  "image": }]')
    with pytest.raises(InputError, match=r"broken\.json: line 2 column 12: invalid JSON"):
        read_llava(broken)
    obj = _write(tmp_path, {"a": 1, "b": 2}, "obj.json")
    with pytest.raises(
        InputError, match=r"obj\.json: \(top level\): expected a JSON list of records"
    ):
        read_llava(obj)


def test_text_only_records_skipped(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        [
            {
                "id": "t",
                "conversations": [
                    {"from": "human", "value": "hi"},
                    {"from": "gpt", "value": "hello"},
                ],
            }
        ],
    )
    counts: Counter[str] = Counter()
    assert read_llava(p, counts=counts) == []
    assert counts["llava_no_image"] == 1


def test_jsonl_input(tmp_path: Path) -> None:
    _img(tmp_path, "a.jpg", 3)
    rec = {
        "id": "j",
        "image": "a.jpg",
        "conversations": [{"from": "human", "value": "<image>\nQ"}, {"from": "gpt", "value": "A"}],
    }
    p = tmp_path / "x.jsonl"
    p.write_text(json.dumps(rec) + "\n\n" + json.dumps(rec | {"conversations": 1}) + "\n")
    with pytest.raises(InputError, match=r"x\.jsonl: line 3\.conversations: expected a list"):
        read_llava(p)
