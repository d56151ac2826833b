"""Exporters by name: llava, openai-messages, llamafactory, parquet, mmevol, jsonl (io.export)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from mmevol.errors import ConfigError, InputError
from mmevol.evolve.import_official import read_official_samples
from mmevol.io.export import EXPORTERS, export
from mmevol.io.images import image_ref, seed_id_for
from mmevol.io.llava import read_llava
from mmevol.io.sharegpt import read_sharegpt
from mmevol.io.tabular import read_parquet, read_samples
from mmevol.schema import QA, Lineage, Obj, Sample, Seed, evolved_id, seed_samples


def _world(tmp_path: Path) -> tuple[list[Sample], dict[str, Seed]]:
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    seeds: dict[str, Seed] = {}
    samples: list[Sample] = []
    for n in range(2):
        p = imgs / f"{n}.png"
        Image.new("RGB", (30, 20), (n * 50, 0, 0)).save(p)
        ref = image_ref(p)
        seed = Seed(
            id=seed_id_for(ref.digest),
            image=ref,
            captions=[f"picture {n}"],
            objects=[Obj(category="box", bbox=[0.1, 0.1, 0.5, 0.5])],
            items=[
                QA(
                    question=f"s{n} q{i}",
                    answer=f"s{n} a{i}",
                    image_position="end" if i == 0 else None,
                )
                for i in range(2)
            ],
        )
        seeds[seed.id] = seed
        samples += seed_samples(seed)
        for i in range(2):
            samples.append(
                Sample(
                    id=evolved_id(seed.id, i, 1),
                    seed_id=seed.id,
                    image=ref,
                    round=1,
                    qa=QA(question=f"s{n} q{i} r1", answer="longer answer", skills=["grounding"]),
                    lineage=Lineage(
                        parent_id=f"{seed.id}#{i}", round=1, direction="perception", kept=i == 0
                    ),
                )
            )
    return samples, seeds


def test_registry_names() -> None:
    assert {"llava", "openai-messages", "sharegpt", "sharegpt-classic", "llamafactory",
            "parquet", "mmevol", "jsonl", "trl"} == set(EXPORTERS)  # fmt: skip
    assert EXPORTERS["sharegpt"] is EXPORTERS["openai-messages"]  # the deprecated alias


@pytest.mark.parametrize(
    ("group", "n_records", "first_turns"), [("round", 4, 4), ("seed", 2, 6), ("sample", 6, 2)]
)
def test_llava_grouping(tmp_path: Path, group: str, n_records: int, first_turns: int) -> None:
    samples, seeds = _world(tmp_path)
    out = export("llava", samples, seeds, tmp_path / "out.json", group=group)
    records = json.loads(out.read_text())
    assert len(records) == n_records
    assert len(records[0]["conversations"]) == first_turns
    assert records[0]["conversations"][0]["value"].endswith("\n<image>")
    assert all(
        "r1" not in t["value"] or "q0" in t["value"] for r in records for t in r["conversations"]
    )
    again = read_llava(out, Path("/"))
    assert {q.question for s in again for q in s.items} == {
        s.qa.question for s in samples if s.lineage.kept
    }


def test_openai_messages(tmp_path: Path) -> None:
    samples, seeds = _world(tmp_path)
    out = export("openai-messages", samples, seeds, tmp_path / "out.jsonl")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 4
    assert [m["role"] for m in rows[0]["messages"]] == ["user", "assistant", "user", "assistant"]
    assert Path(rows[0]["images"][0]).is_file()
    assert len(read_sharegpt(out, Path("/"))) == 4


def test_llamafactory(tmp_path: Path) -> None:
    samples, seeds = _world(tmp_path)
    out = export("llamafactory", samples, seeds, tmp_path / "lf")
    info = json.loads((out / "dataset_info.json").read_text())
    assert info["mmevol"]["formatting"] == "sharegpt"
    assert info["mmevol"]["columns"] == {"messages": "messages", "images": "images"}
    assert info["mmevol"]["tags"]["user_tag"] == "user"
    data = json.loads((out / info["mmevol"]["file_name"]).read_text())
    assert len(data) == 4
    for rec in data:
        [img] = rec["images"]
        assert Path(img).is_absolute() and Path(img).parent == out / "images"
        assert Path(img).is_file()
        assert rec["messages"][0]["content"].count("<image>") == 1
    assert len(list((out / "images").iterdir())) == 2  # one copy per distinct image
    assert not list(tmp_path.glob("lf.*"))
    rel = export("llamafactory", samples, seeds, tmp_path / "lf-rel", images="relative")
    for rec in json.loads((rel / "data.json").read_text()):
        [img] = rec["images"]
        assert img.startswith("images/") and (rel / img).is_file()


def test_parquet_and_jsonl(tmp_path: Path) -> None:
    samples, seeds = _world(tmp_path)
    kept = [s for s in samples if s.lineage.kept]
    assert read_parquet(export("parquet", samples, seeds, tmp_path / "d.parquet")) == kept
    assert list(read_samples(export("jsonl", samples, seeds, tmp_path / "d.jsonl"))) == kept


def test_mmevol(tmp_path: Path) -> None:
    samples, seeds = _world(tmp_path)
    out = export("mmevol", samples, seeds, tmp_path / "mm")
    files = sorted(out.glob("*.json"))
    assert [f.stem for f in files] == sorted(seeds)
    doc = json.loads(files[0].read_text())
    assert len(doc["conversations_v0"]) == 2 and len(doc["conversations_v1"]) == 1
    assert doc["det"] == [{"label": "box", "bbox": [0.1, 0.1, 0.5, 0.5]}]
    _, back = read_official_samples(out, image_root=Path("/"))
    assert sorted(s.qa.question for s in back) == sorted(
        s.qa.question for s in samples if s.lineage.kept
    )


def test_failed_export_leaves_nothing_and_keeps_old(tmp_path: Path) -> None:
    samples, seeds = _world(tmp_path)
    out = tmp_path / "lf"
    export("llamafactory", samples, seeds, out)
    before = sorted(p.name for p in out.rglob("*"))
    Path(samples[0].image.path).unlink()
    with pytest.raises(InputError, match=r"0\.png: image: file not found"):
        export("llamafactory", samples, seeds, out, missing_images="error")
    assert sorted(p.name for p in out.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imgs", "lf"]
    with pytest.raises(InputError, match="keep cannot write them"):
        export("llamafactory", samples, seeds, tmp_path / "fresh", missing_images="keep")
    assert not (tmp_path / "fresh").exists()


def test_failed_file_export_leaves_nothing(tmp_path: Path) -> None:
    samples, seeds = _world(tmp_path)

    def boom() -> object:
        yield samples[0]
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        export("llava", boom(), seeds, tmp_path / "x.json")
    assert not any(p.name.startswith(("x.json", ".x.json")) for p in tmp_path.iterdir())


def test_replaces_existing_and_rejects_unknown(tmp_path: Path) -> None:
    samples, seeds = _world(tmp_path)
    out = tmp_path / "mm"
    out.mkdir()
    (out / "stale.json").write_text("{}")
    export("mmevol", samples, seeds, out)
    assert not (out / "stale.json").exists() and len(list(out.glob("*.json"))) == 2
    with pytest.raises(ConfigError, match="unknown format 'csv'"):
        export("csv", samples, seeds, tmp_path / "x.csv")
    with pytest.raises(ConfigError, match="unknown grouping"):
        export("llava", samples, seeds, tmp_path / "x.json", group="image")
    with pytest.raises(InputError, match="seed_id"):
        export("mmevol", samples, {}, tmp_path / "mm2")
