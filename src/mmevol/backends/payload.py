"""Images for the wire: any image file -> a small RGB JPEG -> a base64 ``data:`` URL.

Pillow opens the file; EXIF orientation is applied; CMYK, palette, grey, alpha and 16-bit
images become 8-bit RGB (transparent pixels over white); the long side is shrunk to
``long_side`` (the authors used 512 px with "low" detail). Encoding is cached in an LRU keyed
by the image's content digest and the long side, so an image is encoded once and reused by
every call about it (evolve and judge, every round).
"""

from __future__ import annotations

import base64
import io
import threading
from collections import OrderedDict
from pathlib import Path

from PIL import Image, ImageOps

from mmevol.schema import ImageRef

JPEG_QUALITY = 85
CACHE_SIZE = 256


def _to_8bit(img: Image.Image) -> Image.Image:
    """Scale 16-bit / 32-bit grey and float images down to 8-bit grey ("L")."""
    if img.mode not in {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}:
        return img
    img = img.convert("F") if img.mode != "F" else img
    extrema = img.getextrema()
    lo, hi = float(extrema[0]), float(extrema[1])  # type: ignore[arg-type]
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    return img.point(lambda v: (v - lo) * scale).convert("L")


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow image as 8-bit RGB; transparency is composited over white."""
    img = _to_8bit(img)
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in {"RGBA", "LA", "PA", "RGBa", "La"}:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if img.mode != "RGB":
        return img.convert("RGB")  # CMYK, YCbCr, L, 1, HSV, LAB ...
    return img


def encode_jpeg(path: str | Path, long_side: int = 512) -> bytes:
    """The image at ``path`` as RGB JPEG bytes whose long side is at most ``long_side``."""
    with Image.open(path) as opened:
        opened.load()
        img = ImageOps.exif_transpose(opened) or opened
        img = to_rgb(img)
    if max(img.size) > long_side:
        ratio = long_side / max(img.size)
        size = (max(1, round(img.width * ratio)), max(1, round(img.height * ratio)))
        img = img.resize(size, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return buf.getvalue()


class DataUrlCache:
    """A thread-safe LRU of data URLs keyed by (content digest, long side)."""

    def __init__(self, maxsize: int = CACHE_SIZE) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[tuple[str, int], str] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.encodes = 0

    def get(self, image: ImageRef, long_side: int, root: str | Path | None = None) -> str:
        key = (image.digest, long_side)
        with self._lock:
            url = self._items.get(key)
            if url is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return url
        path = Path(image.path)
        if root is not None and not path.is_absolute():
            path = Path(root) / path
        try:
            data = encode_jpeg(path, long_side)
        except (OSError, ValueError) as err:
            raise ValueError(f"{path}: cannot encode image for the model ({err})") from None
        url = "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")
        with self._lock:
            self.encodes += 1
            self._items[key] = url
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return url

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.hits = self.encodes = 0


CACHE = DataUrlCache()


def image_data_url(image: ImageRef, long_side: int = 512, root: str | Path | None = None) -> str:
    """The base64 JPEG data URL of an image (cached by digest + long side)."""
    return CACHE.get(image, long_side, root)
