"""Colour evidence from the image itself: how much of an object's box shows a named colour.

When neither attributes nor captions settle "the red car", the pixels can: the car's box is
cropped from the seed image, each pixel is named by hue, saturation and value (white, gray,
black, red, orange, yellow, green, blue, purple, pink, brown), and the share of pixels that a
colour word can describe is measured. Each word accepts its neighbours ("brown" accepts dark
orange and red, "silver" accepts gray and white), so only a colour that is practically absent
from the box (under ``ABSENT_SHARE``) refutes a claim. The image is read once, at most 256 px
on its long side and white-balanced (grey world); a missing or unreadable image settles
nothing.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from mmevol.geometry import Box

ABSENT_SHARE = 0.03  # a colour on fewer of the box's pixels than this is not the object's
PRESENT_SHARE = 0.25  # on at least this many, the claim is confirmed
LONG_SIDE = 256
BASIC = (
    "white",
    "gray",
    "black",
    "red",
    "orange",
    "yellow",
    "green",
    "blue",
    "purple",
    "pink",
    "brown",
)
ACCEPTS: dict[str, set[str]] = {
    "white": {"white", "gray"},
    "gray": {"gray", "white", "black", "blue"},
    "silver": {"gray", "white", "black", "blue"},
    "black": {"black", "gray", "brown", "blue", "purple"},
    "red": {"red", "pink", "orange", "brown", "purple"},
    "orange": {"orange", "red", "yellow", "brown"},
    "yellow": {"yellow", "orange", "green", "brown"},
    "gold": {"yellow", "orange", "brown"},
    "green": {"green", "yellow", "blue"},
    "blue": {"blue", "purple", "green", "gray"},
    "cyan": {"blue", "green"},
    "purple": {"purple", "blue", "pink", "red"},
    "magenta": {"purple", "pink", "red"},
    "pink": {"pink", "red", "purple", "orange", "white"},
    "brown": {"brown", "orange", "red", "yellow", "black", "gray"},
}


NEUTRAL = {
    "white": lambda v, s: (v >= 0.55) & (s < 0.45),
    "black": lambda v, s: v < 0.3,
    "gray": lambda v, s: s < 0.3,
    "silver": lambda v, s: s < 0.3,
}


def name_pixels(rgb: np.ndarray) -> np.ndarray:
    """The basic colour name index (into ``BASIC``) of every pixel of an ``(h, w, 3)`` array."""
    x = rgb.reshape(-1, 3).astype(np.float64) / 255.0
    mx, mn = x.max(axis=1), x.min(axis=1)
    v, delta = mx, mx - mn
    s = np.where(mx > 0, delta / np.maximum(mx, 1e-9), 0.0)
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    safe = np.maximum(delta, 1e-9)
    h = (
        np.select(
            [mx == r, mx == g],
            [((g - b) / safe) % 6, (b - r) / safe + 2],
            default=(r - g) / safe + 4,
        )
        * 60.0
    )
    names = np.full(len(x), BASIC.index("gray"))
    chroma = (s >= 0.2) & (v >= 0.2)
    names[(v < 0.2)] = BASIC.index("black")
    names[(s < 0.2) & (v >= 0.8)] = BASIC.index("white")
    hue_bins = [
        (15, "red"),
        (40, "orange"),
        (70, "yellow"),
        (170, "green"),
        (260, "blue"),
        (300, "purple"),
        (340, "pink"),
        (361, "red"),
    ]
    lo = 0.0
    for hi, name in hue_bins:
        names[chroma & (h >= lo) & (h < hi)] = BASIC.index(name)
        lo = hi
    brownish = chroma & (h < 45) & (v < 0.6)
    names[brownish] = BASIC.index("brown")
    return names.reshape(rgb.shape[:2])


@lru_cache(maxsize=64)
def _image(path: str) -> np.ndarray | None:
    from mmevol.io.images import load_rgb

    try:
        img = np.asarray(load_rgb(path, long_side=LONG_SIDE)).astype(np.float64)
    except Exception:  # any unreadable image simply gives no evidence
        return None
    # grey-world white balance: indoor light turns a white cake yellow and a white cat orange
    means = img.reshape(-1, 3).mean(axis=0)
    gains = np.clip(means.mean() / np.maximum(means, 1.0), 0.5, 2.5)
    return np.clip(img * gains, 0, 255).astype(np.uint8)


# what a colour word means at its strictest: the share of these decides a confirmation
STRICT: dict[str, set[str]] = {
    "red": {"red"}, "orange": {"orange"}, "yellow": {"yellow"}, "gold": {"yellow", "orange"},
    "green": {"green"}, "blue": {"blue"}, "cyan": {"blue", "green"}, "purple": {"purple"},
    "magenta": {"purple", "pink"}, "pink": {"pink"}, "brown": {"brown"},
}  # fmt: skip


def colour_share(path: str, box: Box, colour: str, strict: bool = False) -> float | None:
    """The share of the box's pixels that ``colour`` can describe (None: no image or no box);
    ``strict``: only pixels of that very colour (neutral colours have no strict reading)."""
    accepts = (STRICT.get(colour) if strict else None) or ACCEPTS.get(colour)
    img = _image(path) if accepts else None
    if img is None or accepts is None:
        return None
    h, w = img.shape[:2]
    x1, y1, x2, y2 = (round(v * n) for v, n in zip(box, (w, h, w, h), strict=True))
    crop = img[max(0, y1) : max(y1 + 1, y2), max(0, x1) : max(x1 + 1, x2)]
    if crop.size == 0:
        return None
    names = name_pixels(crop)
    hit = np.isin(names, [BASIC.index(c) for c in accepts])
    if (
        colour in NEUTRAL and not strict
    ):  # light, dark and grey are about value and saturation, not hue
        x = crop.reshape(-1, 3).astype(np.float64) / 255.0
        v, mn = x.max(axis=1), x.min(axis=1)
        s = np.where(v > 0, (v - mn) / np.maximum(v, 1e-9), 0.0)
        hit = hit.ravel() | NEUTRAL[colour](v, s)
    return float(hit.mean())
