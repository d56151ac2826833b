"""``mmevol select --encoder DIR``: image similarity from a local vision encoder folder (a tiny
randomly initialised CLIP vision tower built here from a config; nothing is downloaded)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmevol.cli.app import app
from test_select import seed_ids, write_plan_with_weights

pytest.importorskip("torch")
pytest.importorskip("transformers")

runner = CliRunner()


def tiny_clip_vision(out: Path, seed: int = 0) -> Path:
    """A CLIP vision tower with a projection (about 5k parameters) and its image processor."""
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    try:
        from transformers.models.clip.image_processing_pil_clip import (
            CLIPImageProcessorPil as Processor,
        )
    except ImportError:  # transformers 4
        from transformers import CLIPImageProcessor as Processor

    config = CLIPVisionConfig(
        hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        image_size=32, patch_size=8, projection_dim=8,
    )  # fmt: skip
    torch.manual_seed(seed)
    CLIPVisionModelWithProjection(config).save_pretrained(out)
    Processor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(
        out
    )
    return out


def test_encoder_matches_bad_case_images_and_falls_back_to_text(tmp_path: Path) -> None:
    from mmevol.api import demo_seeds

    pool = tmp_path / "pool" / "seeds.jsonl"
    pool.parent.mkdir()
    demo_seeds(pool, n=12, seed=2)
    images = {
        json.loads(x)["id"]: json.loads(x)["image"]["path"] for x in pool.read_text().splitlines()
    }
    target_id, target = sorted(images.items())[5]
    plan = write_plan_with_weights(tmp_path, budget=8)
    data = json.loads(plan.read_text())
    # the count type's bad case was asked about this image (a path relative to the plan)
    rel = Path(target).relative_to(tmp_path)
    data["bad_case_images"] = {"count": [str(rel)]}
    plan.write_text(json.dumps(data))
    encoder = tiny_clip_vision(tmp_path / "encoder")
    out = tmp_path / "picked"
    res = runner.invoke(app, ["select", str(pool), "--plan", str(plan), "--out", str(out),
                              "--encoder", str(encoder), "--batch-size", "4", "--overlap"])  # fmt: skip
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "selection.json").read_text())
    count = manifest["types"]["count"]
    assert count["similarity"] == "image" and manifest["encoder"] == str(encoder)
    first = count["images"][0]
    assert (first["seed_id"], first["pick"], first["bad_case"]) == (target_id, "similar", 0)
    assert first["score"] == pytest.approx(1.0, abs=1e-4)  # the same image
    assert target_id in seed_ids(out / count["seeds_file"])
    # types whose bad cases have no image are matched by text, and said so
    assert manifest["types"]["color"]["similarity"] == "text"
    assert "matched by image" in res.output and "matched by text" in res.output


def test_encoder_folder_errors_are_one_line(tmp_path: Path) -> None:
    from mmevol.api import demo_seeds

    pool = tmp_path / "seeds.jsonl"
    demo_seeds(pool, n=4, seed=2)
    plan = write_plan_with_weights(tmp_path, budget=4)
    data = json.loads(plan.read_text())
    data["bad_case_images"] = {
        "count": [json.loads(pool.read_text().splitlines()[0])["image"]["path"]]
    }
    plan.write_text(json.dumps(data))
    args = ["select", str(pool), "--plan", str(plan), "--out", str(tmp_path / "o"), "--encoder"]
    res = runner.invoke(app, [*args, str(tmp_path / "nowhere")])
    assert res.exit_code == 2 and "model folder not found" in res.output
    (tmp_path / "empty").mkdir()
    res = runner.invoke(app, [*args, str(tmp_path / "empty")])
    assert res.exit_code == 2 and "config.json" in res.output and "Traceback" not in res.output
