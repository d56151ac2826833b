"""Every export that names images loads with Hugging Face ``datasets`` from an unrelated working
directory, and an image opens through what was loaded (``mmevol export`` on a grounded run)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from typer.testing import CliRunner

from mmevol.cli.app import app
from mmevol.io.export import export
from mmevol.io.images import image_ref, seed_id_for
from mmevol.schema import QA, Seed, seed_samples
from mmevol.seeds import write_seeds
from mmevol.world.scenes import write_demo_set

datasets = pytest.importorskip("datasets")
runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("export-run")
    seeds = root / "seeds.jsonl"
    write_seeds(write_demo_set(root / "scenes", n=3, seed=5), seeds)
    run = root / "run"
    result = runner.invoke(app, ["evolve", str(seeds), "--out", str(run), "--rounds", "1"])
    assert result.exit_code == 0, result.output
    return run


def _load(kind: str, file: Path, cache: Path) -> Any:
    return datasets.load_dataset(kind, data_files=str(file), split="train", cache_dir=str(cache))


def _first_image(value: Any) -> Image.Image:
    """An image opened from a loaded cell: a path, a list of paths, or a decoded image."""
    if isinstance(value, list):
        value = value[0]
    if isinstance(value, dict):  # the mmevol Sample's image {path, digest, width, height}
        value = value["path"]
    if isinstance(value, str):
        return Image.open(value)
    assert isinstance(value, Image.Image)
    return value


# format, --out name, loader, data file inside --out ("" = --out itself), image column
CASES = [
    ("llava", "d.json", "json", "", "image"),
    ("openai-messages", "d.jsonl", "json", "", "images"),
    ("sharegpt", "d.jsonl", "json", "", "images"),
    ("sharegpt-classic", "d.json", "json", "", "images"),
    ("sharegpt-classic", "d.jsonl", "json", "", "image"),
    ("llamafactory", "lf", "json", "data.json", "images"),
    ("trl", "trl", "json", "data.jsonl", "images"),
    ("parquet", "d.parquet", "parquet", "", "image"),
    ("jsonl", "d.jsonl", "json", "", "image"),
]


@pytest.mark.parametrize(("fmt", "name", "kind", "inner", "column"), CASES)
def test_default_export_loads_from_another_directory(
    run_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
    name: str,
    kind: str,
    inner: str,
    column: str,
) -> None:
    out = tmp_path / "exports" / name
    result = runner.invoke(app, ["export", str(run_dir), "--format", fmt, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}:" in result.stdout and "record(s)" in result.stdout
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    ds = _load(kind, out / inner if inner else out, tmp_path / "hf")
    assert ds.num_rows > 0
    image = _first_image(ds[0][column])
    assert image.size == (256, 256)
    image.load()


def test_trl_images_cast_to_datasets_images(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TRL's examples hold PIL images: the paths cast to ``datasets.Image`` from anywhere."""
    out = tmp_path / "trl"
    assert (
        runner.invoke(app, ["export", str(run_dir), "--format", "trl", "--out", str(out)]).exit_code
        == 0
    )
    (tmp_path / "other").mkdir()
    monkeypatch.chdir(tmp_path / "other")
    ds = _load("json", out / "data.jsonl", tmp_path / "hf")
    image_list = getattr(datasets, "List", None) or datasets.Sequence
    ds = ds.cast_column("images", image_list(datasets.Image()))
    [image] = ds[0]["images"]
    assert isinstance(image, Image.Image) and image.size == (256, 256)


def test_relative_exports_load_against_their_folder(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--images relative: paths are relative to the export's folder, which makes it movable."""
    out = tmp_path / "trl"
    args = ["export", str(run_dir), "--format", "trl", "--images", "relative", "--out", str(out)]
    assert runner.invoke(app, args).exit_code == 0
    moved = tmp_path / "moved"
    shutil.move(out, moved)
    monkeypatch.chdir(tmp_path)
    row = json.loads((moved / "data.jsonl").read_text().splitlines()[0])
    assert row["images"][0].startswith("images/")
    assert Image.open(moved / row["images"][0]).size == (256, 256)
    llava = tmp_path / "sub" / "d.json"
    args = [
        "export",
        str(run_dir),
        "--format",
        "llava",
        "--images",
        "relative",
        "--out",
        str(llava),
    ]
    assert runner.invoke(app, args).exit_code == 0
    [first, *_] = json.loads(llava.read_text())
    assert not Path(first["image"]).is_absolute()
    assert Image.open(llava.parent / first["image"]).size == (256, 256)


def test_embedded_parquet_needs_no_image_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """parquet embeds the bytes: the export loads and decodes after the images are gone."""
    path = tmp_path / "imgs" / "a.png"
    path.parent.mkdir()
    Image.new("RGB", (30, 20), (200, 10, 10)).save(path)
    ref = image_ref(path)
    seed = Seed(id=seed_id_for(ref.digest), image=ref, items=[QA(question="Q?", answer="A.")])
    out = export("parquet", seed_samples(seed), {seed.id: seed}, tmp_path / "d.parquet")
    shutil.rmtree(tmp_path / "imgs")
    (tmp_path / "other").mkdir()
    monkeypatch.chdir(tmp_path / "other")
    ds = _load("parquet", out, tmp_path / "hf")
    assert ds[0]["image"].size == (30, 20)
    assert ds[0]["image"].convert("RGB").getpixel((0, 0)) == (200, 10, 10)
    assert ds[0]["question"] == "Q?"
