"""``mmevol export --format trl`` and ``mmevol train`` (TRL SFTTrainer) on the tiny random VLM.

End to end on CPU: a grounded run is exported in TRL's format, trained for a set number of
steps, and the saved folder loads again (as a model and as the ``hf`` backend).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from mmevol.cli.app import app
from mmevol.errors import MmevolError
from mmevol.seeds import write_seeds
from mmevol.world.scenes import write_demo_set

pytest.importorskip("trl")
runner = CliRunner()


@pytest.fixture(scope="module")
def grounded_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("trl-run")
    seeds = root / "seeds.jsonl"
    write_seeds(write_demo_set(root / "scenes", n=3, seed=4), seeds)
    run = root / "run"
    result = runner.invoke(app, ["evolve", str(seeds), "--out", str(run), "--rounds", "1"])
    assert result.exit_code == 0, result.output
    return run


def test_trl_export_matches_the_trainer_format(
    tiny_vlm: Path, grounded_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "trl"
    result = runner.invoke(app, ["export", str(grounded_run), "--format", "trl", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(x) for x in (out / "data.jsonl").read_text().splitlines()]
    assert len(rows) >= 3
    for row in rows:
        [image] = row["images"]
        # absolute by default (loads from any working directory), a copy inside the export
        assert Path(image).is_absolute() and Path(image).parent == out / "images"
        assert Path(image).is_file()
        roles = [m["role"] for m in row["messages"]]
        assert roles == ["user", "assistant"] * (len(roles) // 2) and roles
        blocks = [b for m in row["messages"] for b in m["content"]]
        assert sum(b["type"] == "image" for b in blocks) == 1
        assert all(b["text"] and "<image>" not in b["text"] for b in blocks if b["type"] == "text")
    # the collator TRL uses for VLMs turns two records into a batch with one image each
    import datasets
    from transformers import AutoProcessor
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    from mmevol.train.data import load_records
    from mmevol.train.trl_sft import _dataset

    processor = AutoProcessor.from_pretrained(tiny_vlm, local_files_only=True)
    ds = _dataset(datasets, load_records(out))
    batch = DataCollatorForVisionLanguageModeling(processor)([ds[0], ds[1]])
    assert tuple(batch["pixel_values"].shape) == (2, 3, 32, 32)
    image_tokens = (batch["input_ids"] == processor.image_token_id).sum(dim=1)
    assert image_tokens.tolist() == [16, 16]  # (32 / 8) ** 2 patches, the class token dropped
    assert (batch["labels"] != -100).sum() > 0


def _train(model: Path, data: Path, out: Path, *extra: str) -> Result:
    args = ["train", "--model", str(model), "--data", str(data), "--out", str(out)]
    return runner.invoke(app, [*args, "--lr", "1e-3", "--batch-size", "2", *extra])


@pytest.mark.timeout(120)
def test_train_end_to_end(tiny_vlm: Path, grounded_run: Path, tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForImageTextToText

    export = tmp_path / "trl"
    args = ["export", str(grounded_run), "--format", "trl", "--out", str(export)]
    assert runner.invoke(app, args).exit_code == 0
    out = tmp_path / "trained"
    result = _train(tiny_vlm, export, out, "--max-steps", "3", "--seed", "1")
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 3 and [x["step"] for x in metrics["losses"]] == [1, 2, 3]
    assert all(math.isfinite(x["loss"]) and x["loss"] > 0 for x in metrics["losses"])
    assert metrics["device"] == "cpu" and metrics["records"] >= 3
    assert metrics["loss_on"] == "assistant turns"  # the template marks them: answers only
    config = json.loads((out / "train_config.json").read_text())
    assert config["settings"]["max_steps"] == 3 and config["settings"]["lr"] == 1e-3
    assert config["versions"]["trl"] and len(config["data_sha256"]) == 64
    assert not (out / "trainer").exists() and not list(tmp_path.glob("trained.tmp-*"))

    base = AutoModelForImageTextToText.from_pretrained(tiny_vlm, local_files_only=True)
    tuned = AutoModelForImageTextToText.from_pretrained(out, local_files_only=True)
    changed = [
        name
        for (name, a), (_, b) in zip(
            base.state_dict().items(), tuned.state_dict().items(), strict=True
        )
        if not torch.equal(a, b)
    ]
    assert changed  # the weights moved, and the folder loads as a model again
    from mmevol.backends.base import make_backend

    assert make_backend("hf", model=str(out)).vision  # and as the hf backend, with its processor

    # a run directory is accepted directly; --epochs bounds the steps when --max-steps is absent
    again = tmp_path / "from-run"
    result = _train(tiny_vlm, grounded_run, again, "--epochs", "1")
    assert result.exit_code == 0, result.output
    m2 = json.loads((again / "metrics.json").read_text())
    assert m2["steps"] == math.ceil(m2["records"] / 2) and m2["epochs"] == pytest.approx(1.0)


def test_train_bad_inputs_are_one_line_and_write_nothing(tiny_vlm: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    no_model = _train(tmp_path / "nope", tmp_path, out)
    assert no_model.exit_code == 2
    assert "model folder not found" in no_model.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"images": ["missing.png"], "messages": [
        {"role": "user", "content": "What is this?"}, {"role": "assistant", "content": "A box."}
    ]}) + "\n")  # fmt: skip
    result = _train(tiny_vlm, bad, out)
    line = " ".join(result.output.split())
    assert (
        result.exit_code == 2 and "bad.jsonl: line 1: images: missing.png: file not found" in line
    )
    assert not out.exists() and not list(tmp_path.glob("out.tmp-*"))


def test_out_never_replaces_a_run_a_model_or_other_folders(
    tiny_vlm: Path, grounded_run: Path, tmp_path: Path
) -> None:
    before = sorted(p.name for p in grounded_run.iterdir())
    for fmt in ("trl", "llamafactory", "mmevol"):  # exporting into the run itself
        res = runner.invoke(app, ["export", str(grounded_run), "--format", fmt, "--out", str(grounded_run)])  # fmt: skip
        assert res.exit_code == 2 and "is not an earlier output of this command" in res.output
    res = _train(tiny_vlm, grounded_run, grounded_run)
    assert res.exit_code == 2 and "is not an earlier output" in " ".join(res.output.split())
    assert sorted(p.name for p in grounded_run.iterdir()) == before
    # an earlier export of the same kind is replaced, as a re-export should be
    out = tmp_path / "trl"
    for _ in range(2):
        res = runner.invoke(app, ["export", str(grounded_run), "--format", "trl", "--out", str(out)])  # fmt: skip
        assert res.exit_code == 0, res.output


@pytest.mark.parametrize(
    ("messages", "problem"),
    [
        ([{"role": "system", "content": "Be brief."},
          {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What?"}]},
          {"role": "assistant", "content": [{"type": "text", "text": "A box."}]}],
         "mixes plain-text and typed-block contents"),
        ([{"role": "user", "content": [{"type": "text", "text": "What?"}]},
          {"role": "assistant", "content": [{"type": "text", "text": "A box."}]}],
         "0 image placeholders for 1 images"),
    ],
)  # fmt: skip
def test_training_records_the_trainer_cannot_take_are_refused(
    tmp_path: Path, messages: list[dict[str, object]], problem: str
) -> None:
    from PIL import Image

    from mmevol.train.data import load_records

    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({"images": ["a.png"], "messages": messages}) + "\n")
    with pytest.raises(MmevolError, match=f"data.jsonl: line 1: messages: {problem}"):
        load_records(data)


def test_a_template_without_assistant_markers_trains_on_everything_and_says_so(
    tiny_vlm: Path, grounded_run: Path, tmp_path: Path
) -> None:
    import datasets
    import trl
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from mmevol.train.data import load_records
    from mmevol.train.trl_sft import SFTSettings, _dataset, _trainer

    processor = AutoProcessor.from_pretrained(tiny_vlm, local_files_only=True)
    processor.chat_template = processor.chat_template.replace("{% generation %}", "").replace(
        "{% endgeneration %}", ""
    )
    model = AutoModelForImageTextToText.from_pretrained(tiny_vlm, local_files_only=True)
    data = _dataset(datasets, load_records(grounded_run))
    settings = SFTSettings(model=str(tiny_vlm), data=str(grounded_run), out=str(tmp_path / "o"))
    _, loss_on = _trainer(trl, model, processor, data, tmp_path, settings, "cpu")
    assert loss_on == "whole conversation"
