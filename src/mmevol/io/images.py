"""Image files: content digests, sizes, validation, and RGB loading for drawing and payloads.

An image is identified by the SHA-256 of its bytes (``"sha256:<hex>"``), so the same picture
under two names or in two sources is one seed. Records whose image is absent can be accepted
explicitly; they get a ``"path:<hex>"`` digest derived from the path string instead.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mmevol.errors import InputError
from mmevol.schema import ImageRef

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
_CACHE: dict[tuple[str, int, int], tuple[str, int, int]] = {}
_CACHE_MAX = 200_000


def seed_id_for(digest: str) -> str:
    """The seed id of an image: ``"img-"`` + the first 16 hex digits of its digest."""
    return "img-" + digest.split(":", 1)[-1][:16]


def digest_hex(digest: str) -> str:
    """The hex part of a ``"sha256:<hex>"`` or ``"path:<hex>"`` digest."""
    return digest.split(":", 1)[-1]


def _check_inside(path: Path, root: Path) -> None:
    try:
        real = path.resolve(strict=False)
        base = root.resolve(strict=False)
    except (OSError, RuntimeError) as exc:  # symlink loops
        raise InputError(path, "image", f"cannot resolve the path ({exc})") from exc
    if not real.is_relative_to(base):
        how = "is a symlink pointing" if path.is_symlink() else "resolves to"
        raise InputError(path, "image", f"{how} {real}, outside the image folder {base} (refused)")


def _probe(data: bytes, path: Path) -> tuple[int, int]:
    """Decode ``data`` enough to be sure it is a whole image; return (width, height)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            if img.format == "JPEG":
                img.draft(img.mode, (max(1, width // 8), max(1, height // 8)))
            img.load()
    except UnidentifiedImageError as exc:
        raise InputError(path, "image", "not a readable image (unknown format)") from exc
    except Image.DecompressionBombError as exc:
        raise InputError(path, "image", f"image too large to decode safely ({exc})") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(path, "image", f"corrupt or truncated image ({exc})") from exc
    if width <= 0 or height <= 0:
        raise InputError(path, "image", f"image has no pixels ({width}x{height})")
    return int(width), int(height)


def image_ref(path: Path, *, root: Path | None = None, field: str = "image") -> ImageRef:
    """Describe the image file at ``path``: content digest, width and height.

    The file is decoded once to prove it is a whole image. Raises ``InputError`` naming the
    file for a missing or empty file, bytes that are not an image, a truncated image, or (when
    ``root`` is given) a path or symlink that leads outside ``root``. ``ImageRef.path`` is the
    absolute path (symlinks kept), so a seeds file works from any working directory. Results
    are memoised by (path, mtime, size).
    """
    path = Path(path)
    if root is not None:
        _check_inside(path, root)
    try:
        st = path.stat()
    except FileNotFoundError as exc:
        raise InputError(path, field, "image file not found") from exc
    except OSError as exc:
        raise InputError(path, field, f"cannot read the image file ({exc.strerror})") from exc
    if not path.is_file():
        raise InputError(path, field, "not a regular file (expected an image file)")
    if st.st_size == 0:
        raise InputError(path, field, "image file is empty (0 bytes)")
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    hit = _CACHE.get(key)
    if hit is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(path, field, f"cannot read the image file ({exc.strerror})") from exc
        width, height = _probe(data, path)
        hit = ("sha256:" + hashlib.sha256(data).hexdigest(), width, height)
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[key] = hit
    return ImageRef(path=os.path.abspath(path), digest=hit[0], width=hit[1], height=hit[2])


def missing_image_ref(
    path_str: str, *, width: int | None = None, height: int | None = None
) -> ImageRef:
    """A reference to an image that is not on disk (only with the "accept missing images"
    option): keyed by the path string, size unknown unless the source states it."""
    hexdigest = hashlib.sha256(str(path_str).encode("utf-8")).hexdigest()
    return ImageRef(path=str(path_str), digest="path:" + hexdigest, width=width, height=height)


def resolve_image(
    name: str, folder: Path, *, allow_missing: bool, where: str, field: str = "image"
) -> ImageRef:
    """The ``ImageRef`` of image ``name`` (relative to ``folder``) named by a source record.

    ``where`` is the source file (used in messages, with ``field``). A missing file is an
    ``InputError`` unless ``allow_missing``; other problems always are.
    """
    path = folder / name
    if allow_missing and not path.exists():
        return missing_image_ref(str(path))
    try:
        return image_ref(path, root=folder)
    except InputError as exc:
        hint = (
            " (use --allow-missing-images to accept absent images)"
            if "not found" in exc.problem
            else ""
        )
        raise InputError(where, field, f"{path}: {exc.problem}{hint}") from exc


def _to_8bit(img: Image.Image) -> Image.Image:
    arr = np.asarray(img).astype(np.float64)
    top = 65535.0 if img.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
    if img.mode == "F":
        lo, hi = float(arr.min(initial=0)), float(arr.max(initial=1))
        arr = (arr - lo) / ((hi - lo) or 1.0) * 255.0
    else:
        arr = arr / top * 255.0
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), mode="L")


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB: transparency over white, 16-bit and float scaled."""
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        img = _to_8bit(img)
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return img.convert("RGB") if img.mode != "RGB" else img


def load_rgb(path: Path | str, long_side: int | None = None) -> Image.Image:
    """Open an image as RGB (CMYK, palette, 16-bit, alpha handled), its long side shrunk to
    ``long_side`` pixels if given. EXIF orientation is not applied: boxes refer to the stored
    pixel grid. Raises ``InputError`` if the file cannot be decoded."""
    path = Path(path)
    try:
        with Image.open(path) as src:
            if long_side and src.format == "JPEG":
                src.draft("RGB", (long_side, long_side))
            img = to_rgb(src)
            img.load()
    except FileNotFoundError as exc:
        raise InputError(path, "image", "image file not found") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(path, "image", f"cannot decode the image ({exc})") from exc
    if long_side and max(img.size) > long_side:
        img = ImageOps.contain(img, (long_side, long_side), Image.Resampling.LANCZOS)
    return img
