"""Exporting a run directory: its seeds + kept evolutions, through the io exporters by name.

With ``reviewed_only`` the export is narrowed to what a person approved in ``mmevol view``:
samples whose latest review (``reviews.sqlite``) is accept or edit, edits applied.
``mmevol-rounds`` is the one format that needs more than the dataset: the whole journal
(every candidate, verdict and direction), written in the authors' run layout. Every format
goes through the same checks and steps (``io.export.plan``: ``--images``, ``--missing-images``,
``--boxes``), and ``run_export`` returns the ``ExportSummary`` the command prints.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from mmevol.errors import MmevolError
from mmevol.io.boxstyle import Restyler
from mmevol.io.export import EXPORTERS, ExportRequest, ExportSummary, atomic_dir, plan
from mmevol.io.export import write_export as write_samples_export
from mmevol.io.export_images import apply_missing, image_present
from mmevol.io.official_rounds import write_official_run
from mmevol.io.tabular import read_samples
from mmevol.schema import Sample, Seed
from mmevol.seeds import read_seeds
from mmevol.store import Store

ROUNDS_FORMAT = "mmevol-rounds"
FORMATS = (*EXPORTERS, ROUNDS_FORMAT)


def _rounds(run_dir: Path) -> int | None:
    try:
        return int(json.loads((run_dir / "config.json").read_text("utf-8"))["config"]["rounds"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _is_rounds_export(folder: Path) -> bool:
    """An earlier ``mmevol-rounds`` export: only ``round{n}`` folders."""
    return all(p.is_dir() and p.name.startswith("round") for p in folder.iterdir())


def check_image_root(seeds: Iterable[Seed], image_root: Path | None) -> None:
    """``--image-root`` must be a folder every image of the run lies under (an image that was
    missing at import is written as it was named, so it does not count)."""
    if image_root is None:
        return
    if not image_root.is_dir():
        raise MmevolError(f"--image-root: {image_root} is not a folder")
    images = [s.image.path for s in seeds if not s.image.digest.startswith("path:")]
    outside = [p for p in images if not Path(p).is_relative_to(image_root)]
    if outside:
        raise MmevolError(f"--image-root: {len(outside)} of {len(images)} images are not under "
                          f"{image_root} (first: {outside[0]}); give a folder that holds them "
                          "all, or leave the option out")  # fmt: skip


def export_rounds(run_dir: Path, out: Path, request: ExportRequest | None = None) -> ExportSummary:
    """The whole run in the authors' layout (``round{n}/`` side files) in folder ``out``."""
    req = request or ExportRequest()
    p = plan(ROUNDS_FORMAT, req)
    db = run_dir / "run.sqlite"
    if not db.is_file():
        raise MmevolError(f"{run_dir}: no run.sqlite (not a run directory)")
    seeds = list(read_seeds(run_dir / "seeds.jsonl"))
    check_image_root(seeds, req.image_root)
    store = Store(db)
    try:
        samples = list(store.iter_samples(kept_only=False))
        directions = store.unit_directions()
    finally:
        store.close()
    rounds = _rounds(run_dir) or max((s.round for s in samples), default=0)
    samples, missing = apply_missing(samples, p.missing)
    if missing.images and p.missing == "skip":
        seeds = [s for s in seeds if image_present(s.image)]
    restyler = Restyler(req.boxes)
    samples = [restyler.sample(s) for s in samples]
    seeds = [restyler.seed(s) for s in seeds]
    with atomic_dir(out, _is_rounds_export) as tmp:
        write_official_run(seeds, samples, directions, rounds, tmp, image_root=req.image_root)
    return ExportSummary(
        format=ROUNDS_FORMAT, out=out, records=len(seeds), samples=len(samples),
        images=p.options.images, boxes=req.boxes, missing=missing,
    )  # fmt: skip


def run_export(
    run_dir: Path,
    fmt: str,
    out: Path,
    request: ExportRequest | None = None,
    *,
    reviewed_only: bool = False,
) -> ExportSummary:
    """Write the run's final dataset (``dataset.jsonl``) in format ``fmt`` at ``out``.

    ``reviewed_only`` keeps only the samples a reviewer accepted or edited (with the edited
    question and answer); rejected and unreviewed samples are left out. ``request``: image
    naming, missing images, box style and grouping (``io.export.ExportRequest``)."""
    req = request or ExportRequest()
    if req.image_root is not None and not req.image_root.is_absolute():
        req = req.model_copy(update={"image_root": req.image_root.absolute()})
    if fmt not in FORMATS:
        raise MmevolError(f"--format: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == ROUNDS_FORMAT:
        if reviewed_only:
            raise MmevolError(f"--reviewed-only: does not apply to {ROUNDS_FORMAT}, which "
                              "writes every candidate with its verdict")  # fmt: skip
        return export_rounds(run_dir, out, req)
    plan(fmt, req)  # a wrong option is reported before anything is read
    dataset = run_dir / "dataset.jsonl"
    if not dataset.is_file():
        raise MmevolError(
            f"{run_dir}: no dataset.jsonl (not a run directory, or the run has not finished)"
        )
    seeds = {s.id: s for s in read_seeds(run_dir / "seeds.jsonl")}
    check_image_root(seeds.values(), req.image_root)
    samples: Iterable[Sample] = read_samples(dataset)
    if reviewed_only:
        from mmevol.reviews import ReviewStore, reviewed_samples

        store = ReviewStore(run_dir, create=False)
        try:
            samples = reviewed_samples(samples, store.all_latest())
        finally:
            store.close()
    if req.rounds is None:
        req = req.model_copy(update={"rounds": _rounds(run_dir)})
    return write_samples_export(fmt, samples, seeds, out, req)


def export_run(
    run_dir: Path,
    fmt: str,
    out: Path,
    *,
    reviewed_only: bool = False,
    image_root: Path | None = None,
    images: str | None = None,
    missing_images: str | None = None,
    boxes: str = "norm",
    group: str = "round",
) -> Path:
    """``run_export`` with the choices as keywords; returns ``out``."""
    req = ExportRequest(group=group, images=images, image_root=image_root,
                        missing_images=missing_images, boxes=boxes)  # fmt: skip
    return run_export(run_dir, fmt, out, req, reviewed_only=reviewed_only).out
