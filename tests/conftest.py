"""Shared fixtures: tiny seed sets built on the fly, and the COCO / LLaVA data the readers and
the backends are tried on.

``data_set`` is that data: always the synthetic copy made by ``synthetic_data.py`` (real COCO 2017
and LLaVA-Instruct shapes, generated in a second), and also ``../shared/data`` when it is beside
the repository (as in CI), so every test that takes it runs on both there and on the synthetic
copy alone on a fresh clone, with nothing skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mmevol.schema import Seed
from mmevol.seeds import write_seeds
from mmevol.world.scenes import write_demo_set
from synthetic_data import DataSet, write_synthetic_data

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _fresh_endpoints() -> Iterator[None]:
    """Each test meets its endpoints new: the admission controllers (one per base URL, shared
    in a process as in a real run) keep no rates learnt by an earlier test on the same port."""
    from mmevol.backends import admission

    yield
    admission._CONTROLLERS.clear()


# ../shared/data as counted from its files: tiny COCO (50 + 50 images of COCO 2017 with their
# captions and instances) and 100 records of LLaVA-Instruct-150K about other COCO images
SHARED = DataSet(
    name="shared",
    coco=SHARED_DATA / "tiny_coco",
    llava=SHARED_DATA / "llava_instruct_100.json",
    images={"train2017": 50, "val2017": 50},
    boxes={"train2017": 470, "val2017": 382},
    crowd={"train2017": 5, "val2017": 5},
    no_box_images=3,
    distinct_caption_images=99,  # one image repeats a caption up to case and punctuation
    llava_records=100,
    llava_items=458,
    llava_first_image="000000379143.jpg",
)
HAVE_SHARED = (SHARED.coco / "annotations").is_dir() and SHARED.llava.is_file()


def pytest_report_header() -> str:
    where = "../shared/data and synthetic" if HAVE_SHARED else "synthetic only (no ../shared/data)"
    return f"mmevol test data: {where}"


@pytest.fixture(scope="session")
def synthetic_data(tmp_path_factory: pytest.TempPathFactory) -> DataSet:
    """The generated tiny COCO + LLaVA-Instruct copy (see synthetic_data.py), made once."""
    return write_synthetic_data(tmp_path_factory.mktemp("synthetic-data"))


@pytest.fixture(scope="session", params=["synthetic", "shared"] if HAVE_SHARED else ["synthetic"])
def data_set(request: pytest.FixtureRequest) -> DataSet:
    """COCO + LLaVA data to read: the synthetic copy, and ../shared/data where it is present."""
    if request.param == "shared":
        return SHARED
    return request.getfixturevalue("synthetic_data")


@pytest.fixture(scope="session")
def tiny_coco_seeds(data_set: DataSet, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seeds of every tiny-COCO image (both splits, captions + instances), built once."""
    from mmevol.seeds import SourceSpec, build_from_specs

    root = data_set.coco
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
