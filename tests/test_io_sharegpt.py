"""ShareGPT-style records -> seeds and back (mmevol.io.sharegpt)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from mmevol.errors import InputError
from mmevol.io.sharegpt import read_sharegpt, write_sharegpt


def _img(folder: Path, name: str, shade: int) -> None:
    Image.new("RGB", (16, 16), (shade, 0, 0)).save(folder / name, format="PNG")


def test_reads_both_spellings_and_parts(tmp_path: Path) -> None:
    _img(tmp_path, "a.png", 1)
    _img(tmp_path, "b.png", 2)
    records = [
        {
            "id": "r1",
            "images": ["a.png"],
            "messages": [
                {"role": "system", "content": "be nice"},
                {"role": "user", "content": "<image>How many cats?"},
                {"role": "assistant", "content": "Two."},
            ],
        },
        {
            "image": "b.png",
            "conversations": [
                {
                    "from": "human",
                    "value": [{"type": "image"}, {"type": "text", "text": "What is red?"}],
                },
                {"from": "gpt", "value": "The ball."},
            ],
        },
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]},
        {
            "images": ["a.png", "b.png"],
            "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
        },
    ]
    p = tmp_path / "sg.json"
    p.write_text(json.dumps(records))
    counts: Counter[str] = Counter()
    seeds = read_sharegpt(p, counts=counts)
    assert [s.items[0].question for s in seeds] == ["How many cats?", "What is red?"]
    assert seeds[0].items[0].image_position == "front"
    assert seeds[0].provenance[0].record_id == "r1"
    assert counts["sharegpt_no_image"] == 1 and counts["sharegpt_multi_image"] == 1


def test_as_captions(tmp_path: Path) -> None:
    _img(tmp_path, "a.png", 1)
    p = tmp_path / "caps.jsonl"
    p.write_text(
        json.dumps(
            {
                "images": ["a.png"],
                "messages": [
                    {"role": "user", "content": "<image>\nDescribe."},
                    {"role": "assistant", "content": "A red tile."},
                ],
            }
        )
        + "\n"
    )
    [seed] = read_sharegpt(p, as_captions=True)
    assert seed.captions == ["A red tile."] and seed.items == []


def test_round_trip(tmp_path: Path) -> None:
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for i in range(3):
        _img(imgs, f"{i}.png", i)
    src = tmp_path / "in.jsonl"
    src.write_text(
        "\n".join(
            json.dumps(
                {
                    "id": str(i),
                    "images": [f"{i}.png"],
                    "messages": [
                        {"role": "user", "content": f"Question {i}? <image>"},
                        {"role": "assistant", "content": f"Answer {i}."},
                        {"role": "user", "content": "And then?"},
                        {"role": "assistant", "content": "Done."},
                    ],
                }
            )
            for i in range(3)
        )
    )
    seeds = read_sharegpt(src, imgs)
    out = tmp_path / "out.jsonl"
    assert write_sharegpt(seeds, out, image_root=imgs) == 3
    first = json.loads(out.read_text().splitlines()[0])
    assert (
        first["images"] == ["0.png"] and first["messages"][0]["content"] == "Question 0?\n<image>"
    )
    again = read_sharegpt(out, imgs)
    assert [s.model_dump(exclude={"provenance"}) for s in again] == [
        s.model_dump(exclude={"provenance"}) for s in seeds
    ]


def test_bad_schema_messages(tmp_path: Path) -> None:
    p = tmp_path / "bad.json"
    p.write_text(json.dumps([{"images": ["a.png"], "messages": [{"content": "x"}]}]))
    with pytest.raises(
        InputError, match=r"bad\.json: \[0\]\.messages\[0\]: expected a list of \{role, content\}"
    ):
        read_sharegpt(p)
    p.write_text(json.dumps([{"images": "a.png", "messages": [{"role": "user", "content": 3}]}]))
    with pytest.raises(
        InputError, match=r"bad\.json: \[0\]\.messages\[0\]\.content: expected text"
    ):
        read_sharegpt(p)
    p.write_text(json.dumps([{"images": [1], "messages": []}]))
    with pytest.raises(
        InputError, match=r"bad\.json: \[0\]\.images: expected a list of image paths"
    ):
        read_sharegpt(p)


def test_missing_image(tmp_path: Path) -> None:
    p = tmp_path / "m.json"
    p.write_text(
        json.dumps(
            [
                {
                    "images": ["gone.png"],
                    "messages": [
                        {"role": "user", "content": "q"},
                        {"role": "assistant", "content": "a"},
                    ],
                }
            ]
        )
    )
    with pytest.raises(
        InputError, match=r"m\.json: \[0\]\.images\[0\]: .*gone\.png: image file not found"
    ):
        read_sharegpt(p)
    [seed] = read_sharegpt(p, allow_missing_images=True)
    assert seed.image.digest.startswith("path:")
