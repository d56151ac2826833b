"""Exporting samples to training formats: the ``EXPORTERS`` registry by name and the entry point.

``write_export(fmt, samples, seeds, out, request)`` writes only kept samples and returns an
``ExportSummary`` (records written, images missing and what was done with them, how images
and boxes were written); ``export(...)`` does the same and returns ``out``. The work, in order:
``plan`` checks the user's choices (``ExportRequest``) against the format's entry in
``io.formats`` (one-line ``ConfigError`` naming the flag), ``export_images.apply_missing``
applies ``--missing-images``, ``boxstyle.Restyler`` rewrites boxes in text for ``--boxes``,
and the format's writer (``io.export_writers``) writes the file or folder atomically.

``conversations``, ``atomic_dir``, ``check_replaceable`` and ``TRL_DATA`` are re-exported from
``io.export_base`` for the callers that use them (``mmevol train``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from mmevol.errors import ConfigError
from mmevol.io.boxstyle import BOX_STYLES, Restyler
from mmevol.io.export_base import (
    GROUPS,
    LLAMAFACTORY_NAME,
    TRL_DATA,
    ExportOptions,
    atomic_dir,
    check_replaceable,
    conversations,
)
from mmevol.io.export_images import MissingImages, apply_missing
from mmevol.io.export_writers import WRITERS, Exporter
from mmevol.io.formats import AS_RECORDED, FORMATS, IMAGE_MODES, MISSING_POLICIES, FormatInfo
from mmevol.schema import Sample, Seed

__all__ = [
    "EXPORTERS", "GROUPS", "LLAMAFACTORY_NAME", "TRL_DATA", "ExportOptions", "ExportPlan",
    "ExportRequest", "ExportSummary", "atomic_dir", "check_replaceable", "conversations",
    "export", "plan", "write_export",
]  # fmt: skip

# every name ``--format`` takes that io writes (aliases included; mmevol-rounds is written by
# evolve.export from the whole journal)
EXPORTERS: dict[str, Exporter] = {
    name: WRITERS[info.alias_of or name]
    for name, info in FORMATS.items()
    if (info.alias_of or name) in WRITERS
}


IMAGE_WORDS = {
    "absolute": "absolute image paths",
    "relative": "relative image paths",
    "embed": "image bytes embedded",
    AS_RECORDED: "image paths as recorded",
}


class ExportRequest(BaseModel):
    """The user's choices (``mmevol export`` options); None: the format's default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    group: str = "round"
    images: str | None = None
    image_root: Path | None = None
    missing_images: str | None = None
    boxes: str = "norm"
    rounds: int | None = None


class ExportPlan(BaseModel):
    """A request checked against a format: what the writer is told, the missing-image policy,
    why missing images cannot be kept (None: they can), and a note for a deprecated name."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    format: str
    options: ExportOptions
    missing: str
    cannot_keep: str | None = None
    note: str | None = None


class ExportSummary(BaseModel):
    """What an export wrote: records, the samples in them, how images and boxes were
    written, the missing images (counted whatever the policy), and notes (a deprecation)."""

    format: str
    out: Path
    records: int
    samples: int
    images: str
    boxes: str
    missing: MissingImages
    notes: list[str] = []

    def line(self) -> str:
        """The one-line summary the command prints."""
        how = IMAGE_WORDS.get(self.images, self.images)
        text = (
            f"wrote {self.out}: {self.records} record(s) from {self.samples} sample(s); "
            f"{how}, boxes {self.boxes}"
        )
        if self.missing.images:
            done = "skipped" if self.missing.policy == "skip" else "kept"
            text += (
                f"; {self.missing.images} image(s) missing, {self.missing.samples} sample(s) {done}"
            )
        return text


def _choose(flag: str, value: str, choices: Iterable[str]) -> str:
    names = list(choices)
    if value not in names:
        raise ConfigError(f"{flag}: unknown value {value!r}; use one of {', '.join(names)}")
    return value


def _image_mode(fmt: str, info: FormatInfo, req: ExportRequest) -> str:
    """The ``--images`` mode for ``fmt`` (checked against what it takes and ``--image-root``)."""
    if not info.images:
        if req.images is not None:
            raise ConfigError(f"--images: does not apply to {fmt}, which writes image paths as "
                              "the run recorded them (or relative to --image-root)")  # fmt: skip
        return AS_RECORDED
    if req.image_root is not None and info.copies:
        raise ConfigError(f"--image-root: does not apply to {fmt}, which copies the images into "
                          "its folder (--images relative names them relative to it)")  # fmt: skip
    default = "relative" if req.image_root is not None else info.images[0]
    mode = _choose("--images", req.images or default, IMAGE_MODES)
    if mode not in info.images:
        why = " (only parquet stores image bytes)" if mode == "embed" else ""
        raise ConfigError(f"--images {mode}: {fmt} takes {' or '.join(info.images)}{why}")
    if req.image_root is not None and mode != "relative":
        raise ConfigError(f"--image-root: only with --images relative (the folder paths are "
                          f"written relative to); {fmt} was asked for {mode}")  # fmt: skip
    return mode


def plan(fmt: str, req: ExportRequest) -> ExportPlan:
    """Check ``req`` against format ``fmt`` (any name ``io.formats.FORMATS`` lists)."""
    info = FORMATS.get(fmt)
    if info is None:
        raise ConfigError(f"--format: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if req.group not in GROUPS:
        raise ConfigError(
            f"--group: unknown grouping {req.group!r}; use one of {', '.join(GROUPS)}"
        )
    _choose("--boxes", req.boxes, BOX_STYLES)
    mode = _image_mode(fmt, info, req)
    missing = _choose("--missing-images", req.missing_images or info.missing, MISSING_POLICIES)
    cannot_keep = None
    if info.copies:
        cannot_keep = f"{fmt} copies each image into its folder"
    elif mode == "embed":
        cannot_keep = f"{fmt} with --images embed stores each image's bytes"
    options = ExportOptions(req.group, req.image_root, req.rounds, mode)
    return ExportPlan(format=fmt, options=options, missing=missing, cannot_keep=cannot_keep,
                      note=info.deprecated)  # fmt: skip


def write_export(
    fmt: str,
    samples: Iterable[Sample],
    seeds: Mapping[str, Seed],
    out: Path,
    request: ExportRequest | None = None,
) -> ExportSummary:
    """Write the kept ``samples`` in format ``fmt`` at ``out`` (a file, or a folder for
    ``llamafactory``, ``trl`` and ``mmevol``) as ``request`` asks."""
    req = request or ExportRequest()
    fn = EXPORTERS.get(fmt)
    if fn is None:
        raise ConfigError(
            f"--format: unknown format {fmt!r}; use one of {', '.join(sorted(EXPORTERS))}"
        )
    p = plan(fmt, req)
    kept, missing = apply_missing(
        (s for s in samples if s.lineage.kept), p.missing, cannot_keep=p.cannot_keep
    )
    restyler = Restyler(req.boxes)
    if restyler.active:
        kept = [restyler.sample(s) for s in kept]
        used = {s.seed_id for s in kept}
        seeds = {k: restyler.seed(v) if k in used else v for k, v in seeds.items()}
    records = fn(kept, seeds, Path(out), p.options)
    return ExportSummary(
        format=fmt, out=Path(out), records=records, samples=len(kept), images=p.options.images,
        boxes=req.boxes, missing=missing, notes=[p.note] if p.note else [],
    )  # fmt: skip


def export(
    fmt: str,
    samples: Iterable[Sample],
    seeds: Mapping[str, Seed],
    out: Path,
    *,
    group: str = "round",
    image_root: Path | None = None,
    rounds: int | None = None,
    images: str | None = None,
    missing_images: str | None = None,
    boxes: str = "norm",
) -> Path:
    """``write_export`` with the request as keywords; returns ``out``. ``image_root``: image
    paths are written relative to it; ``rounds``: the run's round count, so that the mmevol
    records list every round, empty ones too."""
    req = ExportRequest(group=group, images=images, image_root=image_root,
                        missing_images=missing_images, boxes=boxes, rounds=rounds)  # fmt: skip
    write_export(fmt, samples, seeds, out, req)
    return Path(out)
