"""TRL records and the one-image-token rule of the LLaMA-Factory and TRL exports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from mmevol.io.export import EXPORTERS, export
from mmevol.io.images import image_ref, seed_id_for
from mmevol.io.trl import trl_record
from mmevol.schema import QA, Seed, seed_samples


def _seed(tmp_path: Path) -> Seed:
    path = tmp_path / "a.png"
    Image.new("RGB", (20, 10), (9, 9, 9)).save(path)
    ref = image_ref(path)
    items = [
        QA(
            question="What is <image> shown?", answer="A <image> grey square.", image_position="end"
        ),
        QA(question="Which colour?", answer="Grey."),
    ]
    return Seed(id=seed_id_for(ref.digest), image=ref, items=items)


def test_trl_record_places_one_image_block() -> None:
    items = [QA(question="Q1", answer="A1", image_position="end"), QA(question="Q2", answer="A2")]
    rec = trl_record("x.png", items, "r1")
    assert rec["images"] == ["x.png"] and rec["id"] == "r1"
    assert rec["messages"][0]["content"] == [{"type": "text", "text": "Q1"}, {"type": "image"}]
    assert rec["messages"][1] == {"role": "assistant", "content": [{"type": "text", "text": "A1"}]}
    assert rec["messages"][2]["content"] == [{"type": "text", "text": "Q2"}]
    front = trl_record("x.png", [QA(question="Q", answer="A")])
    assert front["messages"][0]["content"][0] == {"type": "image"} and "id" not in front


def test_exports_hold_exactly_one_image_token(tmp_path: Path) -> None:
    assert "trl" in EXPORTERS
    seed = _seed(tmp_path)
    samples = seed_samples(seed)
    lf = export("llamafactory", samples, {seed.id: seed}, tmp_path / "lf", group="seed")
    [rec] = json.loads((lf / "data.json").read_text())
    text = json.dumps(rec["messages"])
    assert text.count("<image>") == 1 and rec["messages"][0]["content"].endswith("\n<image>")
    assert rec["messages"][1]["content"] == "A grey square."
    trl = export("trl", samples, {seed.id: seed}, tmp_path / "trl", group="seed")
    [row] = [json.loads(x) for x in (trl / "data.jsonl").read_text().splitlines()]
    assert "<image>" not in json.dumps(row["messages"])
    assert row["messages"][0]["content"][-1] == {"type": "image"}
    [image] = row["images"]
    assert Path(image).is_absolute() and Path(image).parent == trl / "images"
    assert Path(image).read_bytes() == Path(seed.image.path).read_bytes()
    rel = export("trl", samples, {seed.id: seed}, tmp_path / "rel", images="relative")
    [row] = [json.loads(x) for x in (rel / "data.jsonl").read_text().splitlines()]
    assert row["images"][0].startswith("images/") and (rel / row["images"][0]).is_file()


def test_trl_export_feeds_the_collator_from_another_directory(
    tiny_vlm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """datasets.load_dataset("json") rows, as loaded (image paths as strings), go through
    TRL's vision collator from a working directory unrelated to the export."""
    datasets = pytest.importorskip("datasets")
    pytest.importorskip("trl")
    from transformers import AutoProcessor
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    seed = _seed(tmp_path)
    trl = export("trl", seed_samples(seed), {seed.id: seed}, tmp_path / "trl", group="sample")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    ds = datasets.load_dataset(
        "json", data_files=str(trl / "data.jsonl"), split="train", cache_dir=str(tmp_path / "hf")
    )
    processor = AutoProcessor.from_pretrained(tiny_vlm, local_files_only=True)
    batch = DataCollatorForVisionLanguageModeling(processor)([ds[0], ds[1]])
    assert tuple(batch["pixel_values"].shape)[:2] == (2, 3)
    assert (batch["input_ids"] == processor.image_token_id).sum(dim=1).tolist() == [16, 16]
