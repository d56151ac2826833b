"""Seed building and curation (mmevol.seeds) and text similarity (mmevol.textsim)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from mmevol.errors import InputError
from mmevol.io.coco import read_coco
from mmevol.io.images import image_ref, missing_image_ref, seed_id_for
from mmevol.io.llava import read_llava
from mmevol.schema import QA, Obj, Provenance, Seed
from mmevol.seeds import SourceSpec, build_from_specs, build_seeds, read_seeds, write_seeds
from mmevol.textsim import near_duplicate, normalize_text, similarity
from synthetic_data import DataSet


def _seed(path: str, items: list[str], **kw: object) -> Seed:
    ref = missing_image_ref(path)
    return Seed(
        id=seed_id_for(ref.digest),
        image=ref,
        items=[QA(question=q, answer=f"ans {q}") for q in items],
        **kw,
    )


def test_normalize_and_near_duplicate() -> None:
    assert normalize_text("  What is THIS?\n<image> ") == "what is this"
    assert normalize_text("Ｗｈａｔ’s up_dog") == normalize_text("what s up dog")
    assert near_duplicate("What colour is the bus?", "what colour is the bus")
    assert near_duplicate(
        "What color is the bus parked here?", "What color is the bus parked there?", 0.75
    )
    assert not near_duplicate("What color is the bus?", "How many people are on the bus?", 0.9)
    assert not near_duplicate("abc def", "abc deg", 1.01)
    assert similarity("a b c", "a b c") == 1.0 and 0.0 <= similarity("xyz", "abc") < 0.1


def test_exact_near_cap_and_order() -> None:
    qs = [
        "What is on the table?",
        "what is on the table",
        "What is on the tables?",
        "How many cups?",
        "",
        "Which colour is the cloth?",
        "Is it daytime?",
        "Who sits there?",
    ]
    seed = _seed("b.jpg", qs)
    seed.items[4] = QA(question="", answer="x")
    other = _seed("a.jpg", ["Q?"])
    seeds, stats = build_seeds([[seed], [other]], max_items_per_image=3, near_dup_threshold=0.8)
    assert [s.id for s in seeds] == sorted([seed.id, other.id])
    kept = next(s for s in seeds if s.id == seed.id).items
    assert [q.question for q in kept] == [
        "What is on the table?",
        "How many cups?",
        "Which colour is the cloth?",
    ]
    assert (stats.exact_duplicates, stats.near_duplicates, stats.empty_items, stats.capped) == (
        1,
        1,
        1,
        2,
    )
    assert stats.items_in == 9 and stats.items_out == 4 and stats.images == 2
    assert (
        stats.items_in
        == stats.items_out
        + stats.exact_duplicates
        + stats.near_duplicates
        + stats.empty_items
        + stats.capped
    )


def test_merge_by_digest_unions_everything() -> None:
    a = _seed(
        "x.jpg",
        ["Q1?", "Q2?"],
        captions=["A dog.", "a dog"],
        objects=[Obj(category="dog", bbox=[0.1, 0.1, 0.2, 0.2])],
        provenance=[Provenance(source="llava", file="l.json", record_id="1")],
    )
    b = _seed(
        "x.jpg",
        ["Q2?", "Q3?"],
        captions=["A big dog."],
        topic="pets",
        objects=[Obj(category="dog", bbox=[0.1, 0.1, 0.2, 0.2]), Obj(category="cat")],
        provenance=[Provenance(source="coco", file="c.json", record_id="9")],
    )
    [m], stats = build_seeds([a, b])
    assert m.captions == ["A dog.", "A big dog."] and stats.duplicate_captions == 1
    assert [o.category for o in m.objects] == ["dog", "cat"] and stats.duplicate_objects == 1
    assert [q.question for q in m.items] == ["Q1?", "Q2?", "Q3?"]
    assert [p.source for p in m.provenance] == ["llava", "coco"] and m.topic == "pets"
    assert stats.merged_images == 1 and stats.seeds_in == 2 and stats.missing_images == 1


def test_merge_coco_and_llava_same_pixels_other_names(tmp_path: Path) -> None:
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    Image.new("RGB", (50, 40), (3, 4, 5)).save(imgs / "coco_name.png")
    (imgs / "llava_name.png").write_bytes((imgs / "coco_name.png").read_bytes())
    im = [{"id": 5, "file_name": "coco_name.png", "width": 50, "height": 40}]
    (tmp_path / "captions_x.json").write_text(
        json.dumps(
            {"images": im, "annotations": [{"id": 1, "image_id": 5, "caption": "A plain tile."}]}
        )
    )
    (tmp_path / "ll.json").write_text(
        json.dumps(
            [
                {
                    "id": "L",
                    "image": "llava_name.png",
                    "conversations": [
                        {"from": "human", "value": "<image>\nWhat is shown?"},
                        {"from": "gpt", "value": "A tile."},
                    ],
                }
            ]
        )
    )
    specs = SourceSpec.from_cli(
        coco_captions=[tmp_path / "captions_x.json"], llava=[tmp_path / "ll.json"], images=[imgs]
    )
    stats = build_from_specs(specs, tmp_path / "seeds.jsonl")
    [seed] = list(read_seeds(tmp_path / "seeds.jsonl"))
    assert stats.merged_images == 1 and stats.images == 1
    assert seed.id == seed_id_for(image_ref(imgs / "coco_name.png").digest)
    assert seed.captions == ["A plain tile."] and seed.items[0].question == "What is shown?"
    assert {p.source for p in seed.provenance} == {"coco", "llava"}


def test_llava_folder_chosen_among_several(tmp_path: Path) -> None:
    right, wrong = tmp_path / "right", tmp_path / "wrong"
    right.mkdir()
    wrong.mkdir()
    Image.new("RGB", (8, 8)).save(right / "p.png")
    (tmp_path / "ll.json").write_text(
        json.dumps(
            [
                {
                    "image": "p.png",
                    "conversations": [
                        {"from": "human", "value": "Q"},
                        {"from": "gpt", "value": "A"},
                    ],
                }
            ]
        )
    )
    [spec] = SourceSpec.from_cli(llava=[tmp_path / "ll.json"], images=[wrong, right])
    [seed] = spec.load()
    assert seed.image.path == str(right / "p.png")


def _coco_sources(tiny: Path, counts: Counter[str]) -> list[list[Seed]]:
    return [
        read_coco(
            tiny / "annotations" / f"captions_{s}.json",
            tiny / "annotations" / f"instances_{s}.json",
            tiny / s,
            counts=counts,
        )
        for s in ("train2017", "val2017")
    ]


def test_real_sources_counts(data_set: DataSet) -> None:
    """COCO and LLaVA-Instruct together, the LLaVA images not beside their JSON."""
    tiny, llava = data_set.coco, data_set.llava
    counts: Counter[str] = Counter()
    sources = _coco_sources(tiny, counts)
    sources.append(read_llava(llava, allow_missing_images=True, counts=counts))
    seeds, stats = build_seeds(sources, max_items_per_image=4, counts=counts)
    n_coco, n_llava = data_set.total_images, data_set.llava_records
    assert stats.images == n_coco + n_llava and stats.missing_images == n_llava
    assert stats.items_in == data_set.llava_items and stats.capped > 0
    assert all(len(s.items) <= 4 for s in seeds)
    # one COCO image repeats a caption (up to case and punctuation): it keeps four
    assert sum(len(s.captions) == 5 for s in seeds) == data_set.distinct_caption_images
    assert sum(len(s.captions) == 4 for s in seeds) == n_coco - data_set.distinct_caption_images
    assert stats.duplicate_captions == n_coco - data_set.distinct_caption_images
    assert stats.sources["coco_boxes_kept"] == data_set.total_boxes


def test_llava_records_merge_with_the_coco_seeds_of_their_images(synthetic_data: DataSet) -> None:
    """LLaVA-Instruct asks about COCO train2017 images: given that folder, each record lands on
    the seed of its image (same bytes, same digest), which then holds the COCO captions and
    boxes and the LLaVA questions. (The real 100-record sample is about other images than
    tiny COCO's, so only the synthetic copy, written so, shows this.)"""
    data = synthetic_data
    counts: Counter[str] = Counter()
    sources = _coco_sources(data.coco, counts)
    sources.append(read_llava(data.llava, data.coco / "train2017", counts=counts))
    seeds, stats = build_seeds(sources, max_items_per_image=8, counts=counts)
    assert stats.images == data.total_images and stats.missing_images == 0
    assert stats.merged_images == data.llava_records
    merged = [s for s in seeds if {p.source for p in s.provenance} >= {"coco", "llava"}]
    assert len(merged) == data.llava_records
    records = {r["image"]: r for r in json.loads(data.llava.read_text())}
    for seed in merged:
        rec = records[Path(seed.image.path).name]
        assert seed.captions and Path(seed.image.path).parent.name == "train2017"
        questions = [t["value"] for t in rec["conversations"][0::2]]
        first = questions[0].replace("<image>", "").strip()
        assert [q.question for q in seed.items] == [first, *questions[1:]]
    assert stats.caption_items == data.total_images - data.llava_records  # the others


def test_write_read_seeds_streams(tmp_path: Path) -> None:
    seeds, _ = build_seeds([_seed(f"{i}.jpg", [f"Q{i}?"]) for i in range(3)])
    p = tmp_path / "s.jsonl"
    assert write_seeds(seeds, p) == 3
    with p.open("a") as fh:
        fh.write('{"id": "x"}\n')
    it = read_seeds(p)
    assert [next(it) for _ in range(3)] == seeds  # rows before the bad line arrive first
    with pytest.raises(InputError, match=r"s\.jsonl:4: image: Field required"):
        next(it)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="max_items_per_image"):
        build_seeds([], max_items_per_image=0)
    with pytest.raises(InputError, match="no sources given"):
        build_from_specs([], Path("unused.jsonl"))
