"""Seeds and image files for the viewer: seed look-up, the image roots, safe serving, thumbnails.

This module owns everything the viewer knows about files on disk. The *image roots* are the
folders that hold the seeds' images (``seeds.jsonl`` of the run); an image is addressed in a
URL as ``/image/<root number>/<name>`` and is served only when its real path (symlinks
followed) is a file inside that root. Absolute names, ``..`` and links that lead out are
refused. Relative image paths in seeds are taken relative to the working directory, as the
engine reads them. Seeds are found by a byte-offset index of ``seeds.jsonl`` built once, so a
large seed file is not held in memory.
"""

from __future__ import annotations

import io
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from PIL import Image

from mmevol.io.images import IMAGE_SUFFIXES
from mmevol.schema import ImageRef, Seed

THUMB_CACHE = 512


class Refused(Exception):
    """The asked path is not an image inside the run's image roots."""


@dataclass(frozen=True)
class Located:
    """Where a sample's image is, as the pages need it."""

    url: str | None  # None when the file is missing (the page shows a placeholder)
    exists: bool


def _absolute(path: str) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else Path.cwd() / p


class ImageLibrary:
    """Seed look-up and image serving for one run directory."""

    def __init__(self, seeds_path: Path) -> None:
        self.seeds_path = seeds_path
        self._offsets: dict[str, int] = {}
        roots: dict[Path, int] = {}
        if seeds_path.is_file():
            with seeds_path.open("rb") as fh:
                pos = 0
                for line in fh:
                    if line.strip():
                        rec = json.loads(line)
                        self._offsets[str(rec["id"])] = pos
                        parent = _absolute(str(rec["image"]["path"])).parent
                        roots.setdefault(parent, len(roots))
                    pos += len(line)
        self.roots: list[Path] = list(roots)
        self._root_index = roots
        self._real_roots = [r.resolve(strict=False) for r in self.roots]
        self._thumbs: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

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
        idx = self._root_index.get(path.parent)
        if idx is None or not path.is_file():
            return Located(None, False)
        return Located(f"/image/{idx}/{quote(path.name)}", True)

    # --- serving ----------------------------------------------------------------------------
    def resolve(self, root: int, name: str) -> Path:
        """The real file for ``/image/<root>/<name>``; raise ``Refused`` for anything else."""
        if not 0 <= root < len(self.roots):
            raise Refused("no such image root")
        rel = PurePosixPath(name)
        if not name or "\\" in name or "\x00" in name or rel.is_absolute():
            raise Refused("absolute or malformed image name")
        if any(part in ("..", "") for part in rel.parts) or name.startswith("~"):
            raise Refused("image name leaves its folder")
        if Path(name).suffix.lower() not in IMAGE_SUFFIXES:
            raise Refused("not an image file name")
        try:
            real = (self.roots[root] / rel).resolve(strict=True)
        except (OSError, RuntimeError) as exc:
            raise Refused("image file not found") from exc
        if not real.is_relative_to(self._real_roots[root]) or not real.is_file():
            raise Refused("image path leads outside the image folder")
        return real

    def thumbnail(self, path: Path, width: int) -> bytes:
        """A JPEG of the image ``width`` pixels wide at most (memoised, least recent dropped).

        Raises ``OSError`` for a file that cannot be decoded."""
        key = (str(path), width)
        with self._lock:
            hit = self._thumbs.get(key)
            if hit is not None:
                self._thumbs.move_to_end(key)
                return hit
        try:
            with Image.open(path) as img:
                img.draft("RGB", (width, width))
                pic = img.convert("RGB")
                pic.thumbnail((width, width * 4))
                buf = io.BytesIO()
                pic.save(buf, format="JPEG", quality=82)
        except (Image.DecompressionBombError, ValueError) as exc:
            raise OSError(f"cannot make a thumbnail of {path.name}: {exc}") from exc
        data = buf.getvalue()
        with self._lock:
            self._thumbs[key] = data
            while len(self._thumbs) > THUMB_CACHE:
                self._thumbs.popitem(last=False)
        return data
