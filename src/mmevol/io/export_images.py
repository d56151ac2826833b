"""Image references in exports: absolute or relative paths, embedded bytes, copies, and the
image files that are missing.

It owns what every exporter shares about images:

* ``apply_missing``: which samples' image files are not on disk and what ``--missing-images``
  does with them (``skip`` leaves them out, ``keep`` writes them, ``error`` stops), counted in
  a ``MissingImages`` for the export summary. A format that copies or embeds pixels cannot keep
  a missing image: asking it to is a one-line error naming the count and an example.
* ``ImagePaths``: an image's path as a file export writes it (``absolute``, or ``relative`` to
  a folder) and, for Parquet, the Hugging Face ``datasets`` Image cell ``{"bytes", "path"}``
  (``embed``: the file's bytes, which load anywhere; else ``bytes`` is null and ``path`` leads
  to the file).
* ``ImageCopies``: folder exports (llamafactory, trl) copy each image once into
  ``images/<digest>.<ext>`` and name the copy absolutely (where the folder will be once it is
  moved into place) or relative to the folder.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mmevol.errors import InputError
from mmevol.io.images import MAX_IMAGE_BYTES, digest_hex
from mmevol.io.safeio import read_regular
from mmevol.schema import ImageRef, Sample


class MissingImages(BaseModel):
    """Image files an export did not find: how many, how many samples are about them, one
    example path, and what was done (the ``--missing-images`` policy)."""

    images: int = 0
    samples: int = 0
    example: str | None = None
    policy: str = "skip"

    def line(self) -> str | None:
        """The one-line warning (None when nothing is missing)."""
        if not self.images:
            return None
        done = (
            "left out" if self.policy == "skip" else "written anyway; a trainer will fail on them"
        )
        return (
            f"{self.images} image file(s) missing ({self.samples} sample(s) {done}), "
            f"e.g. {self.example}"
        )


def image_present(ref: ImageRef) -> bool:
    """Whether the image file is on disk now (a relative path is taken from the working dir)."""
    return Path(ref.path).is_file()


def apply_missing(
    samples: Iterable[Sample], policy: str, *, cannot_keep: str | None = None
) -> tuple[list[Sample], MissingImages]:
    """The samples to write under ``policy``, and the count of missing images. ``cannot_keep``:
    why this format cannot write a missing image (it copies or embeds pixels), or None."""
    present: dict[str, bool] = {}
    kept: list[Sample] = []
    missing: list[Sample] = []
    for s in samples:
        if s.image.path not in present:
            present[s.image.path] = image_present(s.image)
        (kept if present[s.image.path] else missing).append(s)
    absent = [p for p, ok in present.items() if not ok]
    report = MissingImages(
        images=len(absent), samples=len(missing), example=absent[0] if absent else None,
        policy=policy,
    )  # fmt: skip
    if not absent:
        return kept, report
    counted = f"{len(absent)} image file(s) missing, {len(missing)} sample(s)"
    if policy == "error":
        raise InputError(absent[0], "image", f"file not found ({counted}); --missing-images "
                         "skip leaves them out, keep writes them anyway")  # fmt: skip
    if policy == "keep" and cannot_keep is not None:
        raise InputError(absent[0], "image", f"file not found ({counted}); --missing-images "
                         f"keep cannot write them: {cannot_keep}; use skip")  # fmt: skip
    return (kept if policy == "skip" else [*kept, *missing]), report


def absolute(path: str | Path) -> str:
    """The absolute path (symlinks kept, as ``ImageRef.path`` keeps them)."""
    return os.path.abspath(path)


class ImagePaths:
    """How a file export names images: ``absolute``, ``relative`` to ``base`` (a folder), or
    ``embed`` (Parquet: the bytes, with the absolute path beside them)."""

    def __init__(self, mode: str, base: Path | None = None) -> None:
        self.mode = mode
        self.base = absolute(base) if base is not None else None

    def name(self, ref: ImageRef) -> str:
        """The path to write for the image."""
        if self.mode == "relative" and self.base is not None:
            return os.path.relpath(absolute(ref.path), self.base).replace(os.sep, "/")
        return absolute(ref.path)

    def cell(self, ref: ImageRef) -> dict[str, Any]:
        """The Hugging Face ``datasets`` Image value: ``{"bytes", "path"}``."""
        if self.mode != "embed":
            return {"bytes": None, "path": self.name(ref)}
        data = read_regular(ref.path, "image", what="image file", limit=MAX_IMAGE_BYTES)
        return {"bytes": data, "path": self.name(ref)}


def _image_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{2,5}", suffix) else ".jpg"


class ImageCopies:
    """Copies of the images in ``tmp/images/`` (once per digest), named ``relative`` to the
    folder or ``absolute`` as they will be once ``tmp`` is moved to ``final``."""

    def __init__(self, tmp: Path, final: Path, mode: str, fmt: str) -> None:
        self.tmp, self.final, self.mode, self.fmt = tmp, Path(absolute(final)), mode, fmt
        self.copied: dict[str, str] = {}
        (tmp / "images").mkdir(exist_ok=True)

    def name(self, image: ImageRef, key: str) -> str:
        """Copy the image (first time only); the name to write for it."""
        rel = self.copied.get(image.digest)
        if rel is None:
            src = Path(image.path)
            if not src.is_file():
                raise InputError(
                    src, "image", f"file not found (sample {key}); {self.fmt} copies pixels"
                )
            rel = f"images/{digest_hex(image.digest)}{_image_suffix(src)}"
            shutil.copyfile(src, self.tmp / rel)
            self.copied[image.digest] = rel
        return rel if self.mode == "relative" else str(self.final / rel)
