"""Seeds and image files for the viewer: seed look-up, the image table, safe serving.

This module owns what the viewer knows about files on disk. The only files it will serve are
the images the run's seeds reference (every sample's image is its seed's), each exactly: the
table numbers the distinct image paths of ``seeds.jsonl`` in order of first appearance, and an
image is addressed as ``/image/<number>/<file name>``, the name being that path's own final
component (so URLs stay readable and a wrong pairing is refused). No folder is ever derived
from those paths, so a seed that names ``../../elsewhere/x.jpg`` makes ``x.jpg`` servable and
nothing else there. A file is served only when its path, symlinks resolved, is a regular file
of at most ``MAX_FILE_BYTES`` whose name ends in an image suffix and whose first bytes are
those of a JPEG, PNG, GIF, WebP, BMP or TIFF; the response's type is taken from those bytes,
never from the name. Relative image paths in seeds are taken relative to the working directory,
as the engine reads them. Seeds are found by a byte-offset index of ``seeds.jsonl`` built once,
so a large seed file is not held in memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePath
from urllib.parse import quote

from mmevol.io.images import IMAGE_SUFFIXES
from mmevol.schema import ImageRef, Seed

MAX_FILE_BYTES = 256 * 1024 * 1024
MEDIA_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}
_BMP_HEADERS = {12, 40, 52, 56, 64, 108, 124}


class Refused(Exception):
    """The asked image is not one the run references, or not servable; ``status`` says how
    the viewer answers (404: no such image, 403: it exists but is not served)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Located:
    """Where a sample's image is, as the pages need it."""

    url: str | None  # None when the file is missing (the page shows a placeholder)
    exists: bool


@dataclass(frozen=True)
class Served:
    """A checked image file: its real path, format (from its content) and identity stamp."""

    path: Path
    format: str
    media_type: str
    stamp: tuple[int, int, int]  # inode, mtime_ns, size: a changed file gets new thumbnails


def sniff(head: bytes) -> str | None:
    """The image format the first bytes of a file announce, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and head[12:16] in (b"VP8 ", b"VP8L", b"VP8X"):
        return "WEBP"
    if (
        head[:2] == b"BM"
        and head[6:10] == b"\0\0\0\0"
        and int.from_bytes(head[14:18], "little") in _BMP_HEADERS
    ):
        return "BMP"
    if head[:4] in (b"II*\0", b"MM\0*"):
        return "TIFF"
    return None


def _absolute(path: str) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else Path.cwd() / p


class ImageLibrary:
    """Seed look-up and image serving for one run directory."""

    def __init__(self, seeds_path: Path) -> None:
        self.seeds_path = seeds_path
        self._offsets: dict[str, int] = {}
        self._digests: dict[str, str] = {}  # path -> the content digest the seeds recorded
        self._verified: dict[str, tuple[int, int, int]] = {}  # path -> stamp whose bytes matched
        self._real: dict[str, Path] = {}  # path -> the file it led to when the viewer started
        numbers: dict[str, int] = {}
        if seeds_path.is_file():
            with seeds_path.open("rb") as fh:
                pos = 0
                for line in fh:
                    if line.strip():
                        rec = json.loads(line)
                        self._offsets[str(rec["id"])] = pos
                        where = str(_absolute(str(rec["image"]["path"])))
                        numbers.setdefault(where, len(numbers))
                        self._digests.setdefault(where, str(rec["image"].get("digest", "")))
                        if where not in self._real:
                            with contextlib.suppress(OSError, RuntimeError, ValueError):
                                self._real[where] = Path(where).resolve(strict=True)
                    pos += len(line)
        self._numbers = numbers
        self._paths = list(numbers)

    def __len__(self) -> int:
        """How many distinct image paths the seeds reference."""
        return len(self._paths)

    # --- seeds ------------------------------------------------------------------------------
    def seed(self, seed_id: str) -> Seed | None:
        pos = self._offsets.get(seed_id)
        if pos is None:
            return None
        with self.seeds_path.open("rb") as fh:
            fh.seek(pos)
            return Seed.model_validate_json(fh.readline())

    # --- urls -------------------------------------------------------------------------------
    def locate(self, image: ImageRef) -> Located:
        """The URL of a sample's image, or a missing mark (``path:`` images, deleted files)."""
        path = _absolute(image.path)
        number = self._numbers.get(str(path))
        if number is None or not path.is_file():
            return Located(None, False)
        return Located(f"/image/{number}/{quote(path.name)}", True)

    # --- serving ----------------------------------------------------------------------------
    def resolve(self, number: int, name: str) -> Served:
        """The checked file for ``/image/<number>/<name>``; raise ``Refused`` otherwise."""
        if not 0 <= number < len(self._paths):
            raise Refused(404, "no such image")
        ref = self._paths[number]
        if name != PurePath(ref).name:
            raise Refused(404, "no such image")
        if PurePath(ref).suffix.lower() not in IMAGE_SUFFIXES:
            raise Refused(403, "not an image file name")
        try:
            real = Path(ref).resolve(strict=True)
            info = os.stat(real)
        except (OSError, RuntimeError, ValueError):
            raise Refused(404, "image file not found") from None
        if not stat.S_ISREG(info.st_mode):
            raise Refused(403, "not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise Refused(403, f"the image file is over {MAX_FILE_BYTES >> 20} MiB")
        try:
            with open(real, "rb") as fh:  # a regular file: opening cannot block
                fmt = sniff(fh.read(32))
        except OSError:
            raise Refused(404, "image file cannot be read") from None
        if fmt is None:
            raise Refused(403, "the file is not a JPEG, PNG, GIF, WebP, BMP or TIFF image")
        stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
        self._check_content(ref, real, stamp)
        return Served(real, fmt, MEDIA_TYPES[fmt], stamp)

    def _check_content(self, ref: str, real: Path, stamp: tuple[int, int, int]) -> None:
        """The file must hold the bytes the seeds recorded (``sha256:`` digests): a file swapped
        in behind a referenced name, or a link re-pointed elsewhere, is refused. Checked once
        per file version (inode, mtime, size)."""
        digest = self._digests.get(ref, "")
        if not digest.startswith("sha256:"):  # keyed by path: no bytes to compare with
            if ref in self._real and self._real[ref] != real:
                raise Refused(403, "the name now leads to another file than when the viewer "
                              "started")  # fmt: skip
            return
        if self._verified.get(ref) == stamp:
            return
        h = hashlib.sha256()
        try:
            with open(real, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
        except OSError:
            raise Refused(404, "image file cannot be read") from None
        if "sha256:" + h.hexdigest() != digest:
            raise Refused(403, "the file is not the image the seeds recorded (its bytes differ)")
        self._verified[ref] = stamp
