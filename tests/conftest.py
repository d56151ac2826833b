"""Shared fixtures: tiny seed sets built on the fly, and the path of ../shared/data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mmevol.schema import Seed
from mmevol.seeds import write_seeds
from mmevol.world.scenes import write_demo_set

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _fresh_endpoints() -> Iterator[None]:
    """Each test meets its endpoints new: the admission controllers (one per base URL, shared
    in a process as in a real run) keep no rates learnt by an earlier test on the same port."""
    from mmevol.backends import admission

    yield
    admission._CONTROLLERS.clear()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside the repository")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_coco_seeds(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seeds of the 100 tiny-COCO images (both splits, captions + instances), built once."""
    from mmevol.seeds import SourceSpec, build_from_specs

    root = shared_data / "tiny_coco"
    if not (root / "annotations").is_dir():
        pytest.skip("tiny_coco is missing")
    ann = root / "annotations"
    specs = SourceSpec.from_cli(
        coco_captions=[ann / "captions_val2017.json", ann / "captions_train2017.json"],
        coco_instances=[ann / "instances_val2017.json", ann / "instances_train2017.json"],
        images=[root / "val2017", root / "train2017"],
    )
    out = tmp_path_factory.mktemp("tiny-coco") / "seeds.jsonl"
    build_from_specs(specs, out)
    return out


@pytest.fixture(scope="session")
def world_seeds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Seed]]:
    """Eight rendered scenes with exact scene graphs, written as a seeds JSONL."""
    root = tmp_path_factory.mktemp("world")
    seeds = write_demo_set(root / "scenes", n=8, seed=3)
    path = root / "seeds.jsonl"
    write_seeds(seeds, path)
    return path, seeds


@pytest.fixture(scope="session")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny randomly initialised LLaVA-style model folder built offline (see hf_tiny.py)."""
    pytest.importorskip("transformers")
    from hf_tiny import build_tiny_vlm

    return build_tiny_vlm(tmp_path_factory.mktemp("tiny-vlm"))
