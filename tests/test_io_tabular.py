"""JSONL and Parquet of seeds and samples (mmevol.io.tabular, mmevol.seeds read/write)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mmevol.errors import InputError
from mmevol.io.tabular import read_parquet, read_samples, write_parquet, write_samples
from mmevol.schema import QA, ImageRef, Lineage, Obj, Sample, Seed, Step, Verdict
from mmevol.seeds import read_seeds, write_seeds


def _seed(i: int) -> Seed:
    return Seed(
        id=f"img-{i:016x}",
        image=ImageRef(path=f"imgs/{i}.jpg", digest=f"sha256:{i:064x}", width=64, height=48),
        captions=[f"caption {i}", "ünïcode ✓"],
        objects=[Obj(category="dog", bbox=[0.1, 0.2, 0.3, 0.4], attributes={"colour": "brown"})],
        items=[QA(question=f"q{i}?", answer="a", skills=["grounding"], image_position="end")],
    )


def _samples() -> list[Sample]:
    seed = _seed(1)
    evolved = QA(
        question="Where is the dog?",
        answer="[0.100, 0.200, 0.300, 0.400]",
        objects=["dog"],
        skills=["grounding", "existence"],
        format="region_selection",
        steps=[Step(manipulation="grounding_1(dog)->bbx_1", description="find the dog")],
        score=7.5,
    )
    lin = Lineage(
        parent_id=f"{seed.id}#0",
        round=1,
        direction="perception",
        verdict=Verdict(improved=True, score=7.5, reason="more detail"),
        backend="fake",
    )
    return [
        Sample(
            id=f"{seed.id}#0",
            seed_id=seed.id,
            image=seed.image,
            round=0,
            qa=seed.items[0],
            lineage=Lineage(),
        ),
        Sample(
            id=f"{seed.id}#0@r1",
            seed_id=seed.id,
            image=seed.image,
            round=1,
            qa=evolved,
            lineage=lin,
        ),
    ]


def test_seeds_jsonl_round_trip(tmp_path: Path) -> None:
    seeds = [_seed(i) for i in range(5)]
    p = tmp_path / "seeds.jsonl"
    assert write_seeds(seeds, p) == 5
    assert list(read_seeds(p)) == seeds
    assert not list(tmp_path.glob(".*tmp"))  # no temp file left


def test_samples_jsonl_round_trip(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    write_samples(_samples(), p)
    assert list(read_samples(p)) == _samples()


def test_seeds_jsonl_errors_name_line_and_field(tmp_path: Path) -> None:
    p = tmp_path / "seeds.jsonl"
    good = _seed(0).model_dump_json()
    bad = json.loads(good)
    bad["objects"][0]["bbox"] = [0.5, 0.5, 0.2, 0.9]
    p.write_text(good + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(InputError) as e:
        list(read_seeds(p))
    assert str(e.value).startswith(f"{p}:2: objects.0.bbox: ")
    assert "empty or inverted" in str(e.value)
    p.write_text(good + "\n{oops\n")
    with pytest.raises(InputError, match=r"seeds\.jsonl:2: column 2: invalid JSON"):
        list(read_seeds(p))
    p.write_text("")
    with pytest.raises(InputError, match=r"seeds\.jsonl: file is empty"):
        list(read_seeds(p))
    p.write_bytes(b'{"id": "\xff"}\n')
    with pytest.raises(InputError, match=r"seeds\.jsonl:1: not UTF-8 text"):
        list(read_seeds(p))
    missing = json.loads(good)
    del missing["image"]
    p.write_text(json.dumps(missing))
    with pytest.raises(InputError, match=r"seeds\.jsonl:1: image: Field required"):
        list(read_seeds(p))


def test_parquet_round_trip_and_flat_columns(tmp_path: Path) -> None:
    p = tmp_path / "d.parquet"
    assert write_parquet(_samples(), p) == 2
    table = pq.read_table(p)
    for col in (
        "id",
        "seed_id",
        "round",
        "image",
        "question",
        "answer",
        "format",
        "skills",
        "objects",
        "steps",
        "lineage",
    ):
        assert col in table.column_names
    skills_type = table.schema.field("skills").type
    assert pa.types.is_list(skills_type) and pa.types.is_string(skills_type.value_type)
    row = table.to_pylist()[1]
    assert row["image"] == {"bytes": None, "path": "imgs/1.jpg"}
    assert row["skills"] == ["grounding", "existence"]
    assert json.loads(row["steps"])[0]["manipulation"] == "grounding_1(dog)->bbx_1"
    assert json.loads(row["lineage"])["verdict"]["score"] == 7.5
    assert read_parquet(p) == _samples()


def test_parquet_loads_in_hf_datasets(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    p = tmp_path / "d.parquet"
    write_parquet(_samples(), p)
    ds = datasets.load_dataset(
        "parquet", data_files=str(p), split="train", cache_dir=str(tmp_path / "hf")
    )
    assert ds.features["image"] == datasets.Image()  # declared in the schema's metadata
    ds = ds.cast_column("image", datasets.Image(decode=False))  # imgs/1.jpg is not on disk
    assert ds.num_rows == 2 and ds[1]["skills"] == ["grounding", "existence"]
    assert ds[1]["image"] == {"bytes": None, "path": "imgs/1.jpg"}


def test_parquet_with_a_path_string_image_column_still_reads(tmp_path: Path) -> None:
    """Files written before the image column became the datasets Image struct."""
    p = tmp_path / "old.parquet"
    write_parquet(_samples(), p)
    table = pq.read_table(p)
    paths = pa.array([c["path"] for c in table.column("image").to_pylist()], pa.string())
    old = table.set_column(table.schema.get_field_index("image"), "image", paths)
    pq.write_table(old.replace_schema_metadata(None), p)
    assert read_parquet(p) == _samples()


def test_parquet_bad_file(tmp_path: Path) -> None:
    p = tmp_path / "x.parquet"
    p.write_text("not parquet")
    with pytest.raises(InputError, match=r"x\.parquet: not a readable Parquet file"):
        read_parquet(p)
