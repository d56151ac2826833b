"""Image files: content digests, sizes, validation, and RGB loading for drawing and payloads.

An image is identified by the SHA-256 of its bytes (``"sha256:<hex>"``), so the same picture
under two names or in two sources is one seed. Records whose image is absent can be accepted
explicitly; they get a ``"path:<hex>"`` digest derived from the path string instead.

Bounds: an image path read from a file must be printable (no NUL or control characters), an
image file must be a regular file of at most ``MAX_IMAGE_BYTES``, and an image whose header
states more than ``MAX_PIXELS`` pixels is refused before it is decoded. These are errors like a
corrupt image: ``seeds build --skip-bad`` leaves such a record out and lists it.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mmevol.errors import InputError
from mmevol.io.safeio import check_path_text, open_regular, read_regular
from mmevol.schema import ImageRef

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
_CACHE: dict[tuple[str, int, int], tuple[str, int, int]] = {}
_CACHE_MAX = 200_000
MAX_PIXELS = 64 * 10**6  # 64 megapixels: larger images are refused from their header
MAX_IMAGE_BYTES = 256 * 2**20
BOMB = f"image too large: over the limit of {MAX_PIXELS // 10**6} megapixels (refused, not decoded)"


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


@contextmanager
def _quiet() -> Iterator[None]:
    """Pillow's own bomb warning is replaced by ``check_pixels`` (one line, our limit)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield


def check_pixels(width: int, height: int, path: Path | str, field: str = "image") -> None:
    """Refuse an image whose header states more than ``MAX_PIXELS`` pixels (a decompression
    bomb: a few kB on disk, gigabytes once decoded); checked before any decoding."""
    if width * height > MAX_PIXELS:
        raise InputError(path, field, f"image too large: {width}x{height} pixels, over the limit of "
                         f"{MAX_PIXELS // 10**6} megapixels (refused, not decoded)")  # fmt: skip


def _probe(data: bytes, path: Path) -> tuple[int, int]:
    """Decode ``data`` enough to be sure it is a whole image; return (width, height)."""
    try:
        with _quiet(), Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            check_pixels(width, height, path)
            if img.format == "JPEG":
                img.draft(img.mode, (max(1, width // 8), max(1, height // 8)))
            img.load()
    except UnidentifiedImageError as exc:
        raise InputError(path, "image", "not a readable image (unknown format)") from exc
    except Image.DecompressionBombError as exc:  # over twice Pillow's own limit
        raise InputError(path, "image", BOMB) from exc
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
    check_path_text(str(path), path, field)
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
    if st.st_size > MAX_IMAGE_BYTES:
        raise InputError(path, field, f"image file larger than {MAX_IMAGE_BYTES} bytes (refused)")
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    hit = _CACHE.get(key)
    if hit is None:
        data = read_regular(path, field, what="image file", limit=MAX_IMAGE_BYTES)
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
    check_path_text(name, where, field)
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
        with _quiet(), open_regular(path, "image", what="image file") as fh, Image.open(fh) as src:
            check_pixels(*src.size, path)
            if long_side and src.format == "JPEG":
                src.draft("RGB", (long_side, long_side))
            img = to_rgb(src)
            img.load()
    except FileNotFoundError as exc:
        raise InputError(path, "image", "image file not found") from exc
    except Image.DecompressionBombError as exc:
        raise InputError(path, "image", BOMB) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(path, "image", f"cannot decode the image ({exc})") from exc
    if long_side and max(img.size) > long_side:
        img = ImageOps.contain(img, (long_side, long_side), Image.Resampling.LANCZOS)
    return img
