"""Thumbnails for the viewer: bounded decoding and a bounded in-memory cache.

This module owns turning a checked image file (``images.Served``) into a small JPEG. Every cost
an image can impose is bounded: only the widths in ``WIDTHS`` are made; an image whose header
declares more than ``MAX_PIXELS`` pixels is refused before any pixel is decoded
(``TooLarge``, answered 422); JPEGs are decoded at a reduced scale (PIL's ``draft``) and other
formats are shrunk with ``reducing_gap`` (``reduce`` before resampling); at most ``DECODERS``
images are decoded at once (on one decoder thread, so that memory freed by one decode is
reused by the next rather than kept by each server thread's allocator), and together they hold at most ``DECODE_BYTES`` of decoded
pixels (what a decode needs is known from the header: size and JPEG draft scale; one that
alone needs more is refused, others wait their turn), so the viewer's memory stays bounded
whatever the images; and each (file, width) is made once: the result, or the reason it
could not be made, is kept in an LRU cache bounded in bytes and entries, and concurrent requests
for the same thumbnail wait for the one decode in progress. A file that changes (inode, mtime,
size) gets new thumbnails.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from PIL import Image

from mmevol.view.images import Served

WIDTHS = (64, 128, 256, 512, 1024)
MAX_PIXELS = 64_000_000
MAX_ASPECT = 4  # a thumbnail is at most 4x as tall as it is wide
CACHE_BYTES = 32 * 1024 * 1024
CACHE_ENTRIES = 4096
DECODERS = 1  # one decoder thread (see the module doc)
DECODE_BYTES = 160 * 1024 * 1024  # decoded pixels held at once by all decodes together
WAIT_S = 60.0
PIL_FORMATS = {"JPEG": ("JPEG", "MPO")}  # cameras' JPEGs open as MPO
_ERROR_COST = 256  # bytes charged to a cached refusal


class ThumbnailError(Exception):
    """No thumbnail can be made of this image (``status``: how the viewer answers)."""

    status = 422


class TooLarge(ThumbnailError):
    """The image declares more pixels than ``MAX_PIXELS``."""


@dataclass
class Stats:
    hits: int = 0
    decodes: int = 0
    refused: int = 0


Key = tuple[str, tuple[int, int, int], int]


class Thumbnailer:
    """Makes and caches thumbnails; safe to call from many threads."""

    def __init__(
        self,
        *,
        max_pixels: int = MAX_PIXELS,
        max_bytes: int = CACHE_BYTES,
        max_entries: int = CACHE_ENTRIES,
        decoders: int = DECODERS,
        decode_bytes: int = DECODE_BYTES,
    ) -> None:
        self.max_pixels, self.max_bytes, self.max_entries = max_pixels, max_bytes, max_entries
        self._cache: OrderedDict[Key, bytes | ThumbnailError] = OrderedDict()
        self._bytes = 0
        self._pending: dict[Key, threading.Event] = {}
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(decoders)
        self._budget = _Budget(decode_bytes)
        self._decoder = ThreadPoolExecutor(1, thread_name_prefix="mmevol-thumbs")
        self.stats = Stats()

    @property
    def cached_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._cache)

    def get(self, image: Served, width: int) -> bytes:
        """A JPEG of ``image`` at most ``width`` (one of ``WIDTHS``) pixels wide.

        Raises ``ValueError`` for another width and ``ThumbnailError`` when the image is too
        large or cannot be decoded."""
        if width not in WIDTHS:
            raise ValueError(f"w must be one of {', '.join(map(str, WIDTHS))}")
        key: Key = (str(image.path), image.stamp, width)
        while True:
            with self._lock:
                found = self._lookup(key)
                waiting = self._pending.get(key) if found is None else None
                if found is None and waiting is None:
                    self._pending[key] = threading.Event()
                    break  # this thread makes it
            if found is not None:
                return self._result(found)
            assert waiting is not None
            if not waiting.wait(WAIT_S):
                raise ThumbnailError("the image is still being decoded; try again")
        result: bytes | ThumbnailError
        try:
            with self._slots:
                with self._lock:
                    self.stats.decodes += 1
                # every decode runs on one thread: large pixel buffers freed there are reused
                # there, instead of each server thread's allocator arena keeping its own copy
                result = self._decoder.submit(self._make, image, width).result()
        except ThumbnailError as exc:
            result = exc
        except Exception as exc:  # any decoder failure is the file's fault: refuse it
            result = ThumbnailError(f"the image cannot be decoded ({type(exc).__name__})")
        with self._lock:
            self._store(key, result)
            self._pending.pop(key).set()
        return self._result(result)

    def _result(self, found: bytes | ThumbnailError) -> bytes:
        if isinstance(found, ThumbnailError):
            with self._lock:
                self.stats.refused += 1
            raise type(found)(*found.args)  # a fresh one: re-raising the cached one grows it
        return found

    def _lookup(self, key: Key) -> bytes | ThumbnailError | None:
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
            self.stats.hits += 1
        return found

    def _store(self, key: Key, value: bytes | ThumbnailError) -> None:
        cost = len(value) if isinstance(value, bytes) else _ERROR_COST
        if cost > self.max_bytes:
            return
        self._cache[key] = value
        self._bytes += cost
        while self._bytes > self.max_bytes or len(self._cache) > self.max_entries:
            _, old = self._cache.popitem(last=False)
            self._bytes -= len(old) if isinstance(old, bytes) else _ERROR_COST

    def _make(self, image: Served, width: int) -> bytes:
        formats = PIL_FORMATS.get(image.format, (image.format,))
        try:
            img = Image.open(image.path, formats=formats)
        except Image.DecompressionBombError:
            limit = self.max_pixels // 1_000_000
            raise TooLarge(f"the image is over the {limit}-megapixel limit") from None
        with img:
            w, h = img.size
            if w * h > self.max_pixels:
                raise TooLarge(
                    f"the image is {w}x{h} pixels, over the "
                    f"{self.max_pixels // 1_000_000}-megapixel limit for thumbnails"
                )
            if w < 1 or h < 1:
                raise ThumbnailError("the image has no pixels")
            scale = min(width / w, width * MAX_ASPECT / h, 1.0)
            target = (max(1, round(w * scale)), max(1, round(h * scale)))
            # a JPEG is decoded at 1/2, 1/4 or 1/8 scale, still at least twice the target; then
            # thumbnail() reduce()s by whole factors before resampling (other formats too)
            img.draft("RGB", (2 * target[0], 2 * target[1]))
            # decoded pixels (after the draft), at 4 bytes each: the widest mode a decode or
            # its conversion holds
            need = img.size[0] * img.size[1] * 4
            if need > self._budget.total:
                raise TooLarge(
                    f"the image needs {need // 2**20} MiB to decode, over the viewer's "
                    f"{self._budget.total // 2**20} MiB"
                )
            with self._budget.hold(need):
                img.thumbnail(target, reducing_gap=2.0)
                pic = img if img.mode == "RGB" else img.convert("RGB")
                buf = io.BytesIO()
                pic.save(buf, format="JPEG", quality=82)
        return buf.getvalue()


class _Budget:
    """Bytes of decoded pixels that the decodes in progress may hold together."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._used = 0
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def hold(self, need: int) -> Iterator[None]:
        with self._cond:
            if not self._cond.wait_for(lambda: self._used + need <= self.total, WAIT_S):
                raise ThumbnailError("the viewer is busy decoding other images; try again")
            self._used += need
        try:
            yield
        finally:
            with self._cond:
                self._used -= need
                self._cond.notify_all()
