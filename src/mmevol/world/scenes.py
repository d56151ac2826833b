"""Rendered scenes with an exact scene graph: the bundled demo data and the closed loop's world.

A ``Scene`` is a list of flat shapes (kind, colour, size class, pixel box, optional printed
word) placed without overlap on a plain background. By default kinds and colours are uniform;
with ``skew > 0`` they follow Zipf-like frequencies (rank ``r`` has weight ``1 / (r + 1) ** skew``)
and with ``pair_prob > 0`` the fixed ``PAIRS`` tend to appear together, so a corpus has popular
and co-occurring objects, as natural images do (what POPE's popular and adversarial splits probe). ``render`` draws it with Pillow;
``scene_to_seed`` turns it into a ``Seed`` whose captions, objects and seed Q&A are all written
from the scene graph, so every fact about the image is known exactly. ``write_demo_set`` renders
a deterministic demo set (generated, so freely redistributable).
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from pydantic import BaseModel, ConfigDict, Field

from mmevol.io.images import image_ref
from mmevol.schema import QA, Obj, Provenance, Seed

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "diamond", "hexagon")
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (214, 39, 40),
    "orange": (255, 127, 14),
    "yellow": (235, 205, 20),
    "green": (44, 160, 44),
    "blue": (31, 90, 200),
    "purple": (148, 83, 189),
    "pink": (240, 120, 200),
    "brown": (140, 86, 60),
}
SIZES: dict[str, tuple[float, float]] = {  # side as a fraction of the shorter image side
    "small": (0.11, 0.14),
    "medium": (0.17, 0.22),
    "large": (0.25, 0.31),
}
WORDS: tuple[str, ...] = (
    "GO", "UP", "SUN", "MAP", "KEY", "OWL", "FOX", "INK",
    "TEA", "JAZZ", "STOP", "OPEN", "MINT", "WAVE", "ECHO", "LUCK",
)  # fmt: skip
TEXT_SHAPES: tuple[str, ...] = ("circle", "square", "hexagon")
BACKGROUND: tuple[int, int, int] = (250, 250, 247)
PAIRS: tuple[tuple[str, str], ...] = (  # names that co-occur when ``pair_prob > 0`` (both ways)
    ("red circle", "blue square"),
    ("orange triangle", "green star"),
    ("yellow diamond", "purple hexagon"),
    ("pink circle", "brown triangle"),
)
PARTNER: dict[str, str] = {a: b for x, y in PAIRS for a, b in ((x, y), (y, x))}
NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


class Shape(BaseModel):
    """One object of a scene: kind, colour, size class, boxes (pixels and normalised), text."""

    model_config = ConfigDict(extra="forbid")

    id: int
    shape: str
    color: str
    size: str
    box: list[int] = Field(description="pixel box [x1, y1, x2, y2], x2/y2 exclusive")
    bbox: list[float] = Field(description="normalised box, three decimals")
    text: str | None = None

    @property
    def name(self) -> str:
        """The colour and kind, e.g. ``red circle``."""
        return f"{self.color} {self.shape}"

    def description(self) -> str:
        """The full phrase, e.g. ``large red circle with the word "GO" on it``."""
        extra = f' with the word "{self.text}" on it' if self.text else ""
        return f"{self.size} {self.color} {self.shape}{extra}"


class Scene(BaseModel):
    """An image size, a background and the shapes drawn on it (the exact scene graph)."""

    model_config = ConfigDict(extra="forbid")

    width: int = 256
    height: int = 256
    shapes: list[Shape] = Field(default_factory=list)
    text_scale: float = Field(default=0.25, description="printed word height / shape side")
    text_stroke: float = Field(default=0.0, description="stroke width / font size (bolder)")

    def count(self, shape: str | None = None, color: str | None = None) -> int:
        """How many shapes match the given kind and/or colour."""
        return sum(
            1
            for s in self.shapes
            if (shape is None or s.shape == shape) and (color is None or s.color == color)
        )

    def kinds(self) -> list[str]:
        """The shape kinds present, in order of first appearance."""
        return list(dict.fromkeys(s.shape for s in self.shapes))


def plural(word: str, n: int = 2) -> str:
    """``word`` for ``n`` things (shape names only need an ``s``)."""
    return word if n == 1 else word + "s"


def number_word(n: int) -> str:
    return NUMBER_WORDS[n] if 0 <= n < len(NUMBER_WORDS) else str(n)


def _zipf(items: tuple[str, ...], skew: float) -> list[float]:
    return [1 / (r + 1) ** skew for r in range(len(items))]


def _names(rng: random.Random, n: int, skew: float, pair_prob: float) -> list[tuple[str, str]]:
    """``n`` (kind, colour) draws from the skewed frequencies; a drawn name that has a partner
    in ``PAIRS`` brings the partner along with probability ``pair_prob``."""
    kinds_w, colors_w, colors = _zipf(SHAPES, skew), _zipf(tuple(COLORS), skew), list(COLORS)
    out: list[tuple[str, str]] = []
    while len(out) < n:
        kind = rng.choices(SHAPES, kinds_w)[0]
        color = rng.choices(colors, colors_w)[0]
        out.append((kind, color))
        partner = PARTNER.get(f"{color} {kind}")
        if partner and len(out) < n and rng.random() < pair_prob:
            pc, pk = partner.split()
            out.append((pk, pc))
    return out


def make_scene(
    rng: random.Random,
    width: int = 256,
    height: int = 256,
    min_shapes: int = 3,
    max_shapes: int = 6,
    text_prob: float = 0.4,
    skew: float = 0.0,
    pair_prob: float = 0.0,
    text_scale: float = 0.25,
    text_stroke: float = 0.0,
) -> Scene:
    """Draw a random scene: a few shape kinds (repeats allowed), placed without overlap.

    With the defaults (``skew=0``, ``pair_prob=0``) kinds and colours are uniform (the demo
    set); otherwise names are drawn by ``_names``.
    """
    n = rng.randint(min_shapes, max_shapes)
    named: list[tuple[str, str]] | None = None
    if skew > 0 or pair_prob > 0:
        named = _names(rng, n, skew, pair_prob)
        chosen = [k for k, _ in named]
    else:
        kinds = rng.sample(SHAPES, rng.randint(2, min(4, n)))
        chosen = kinds + [rng.choice(kinds) for _ in range(n - len(kinds))]
        rng.shuffle(chosen)
    side_ref = min(width, height)
    placed: list[list[int]] = []
    shapes: list[Shape] = []
    words = list(WORDS)
    rng.shuffle(words)
    for pos, kind in enumerate(chosen):
        size = rng.choice(list(SIZES))
        lo, hi = SIZES[size]
        side = rng.randint(round(lo * side_ref), round(hi * side_ref))
        box = _place(rng, side, width, height, placed)
        if box is None:
            continue
        placed.append(box)
        text = None
        if kind in TEXT_SHAPES and size != "small" and words and rng.random() < text_prob:
            text = words.pop()
        bbox = [round(box[0] / width, 3), round(box[1] / height, 3)]
        bbox += [round(box[2] / width, 3), round(box[3] / height, 3)]
        color = named[pos][1] if named is not None else rng.choice(list(COLORS))
        shapes.append(
            Shape(id=len(shapes), shape=kind, color=color, size=size, box=box, bbox=bbox, text=text)
        )
    return Scene(
        width=width, height=height, shapes=shapes, text_scale=text_scale, text_stroke=text_stroke
    )


def _place(
    rng: random.Random, side: int, width: int, height: int, placed: list[list[int]]
) -> list[int] | None:
    gap, margin = 6, 4
    for _ in range(300):
        x = rng.randint(margin, width - margin - side)
        y = rng.randint(margin, height - margin - side)
        box = [x, y, x + side, y + side]
        if all(
            box[2] + gap <= b[0]
            or b[2] + gap <= box[0]
            or box[3] + gap <= b[1]
            or b[3] + gap <= box[1]
            for b in placed
        ):
            return box
    return None


def _unit_polygon(kind: str) -> list[tuple[float, float]]:
    import math

    if kind == "triangle":
        return [(0.5, 0.0), (1.0, 1.0), (0.0, 1.0)]
    if kind == "diamond":
        return [(0.5, 0.0), (1.0, 0.5), (0.5, 1.0), (0.0, 0.5)]
    if kind == "hexagon":
        return [(0.25, 0.0), (0.75, 0.0), (1.0, 0.5), (0.75, 1.0), (0.25, 1.0), (0.0, 0.5)]
    if kind == "star":
        pts = []
        for k in range(10):
            r = 1.0 if k % 2 == 0 else 0.45
            a = -math.pi / 2 + k * math.pi / 5
            pts.append((r * math.cos(a), r * math.sin(a)))
        return pts
    raise ValueError(f"no polygon for shape {kind!r}")


def _fit(points: list[tuple[float, float]], box: list[int]) -> list[tuple[float, float]]:
    """Stretch a polygon so its bounds are exactly the pixel box (inclusive last pixel)."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, y0, w, h = min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)
    bx1, by1, bx2, by2 = box[0], box[1], box[2] - 1, box[3] - 1
    return [
        (bx1 + (px - x0) / w * (bx2 - bx1), by1 + (py - y0) / h * (by2 - by1)) for px, py in points
    ]


def render(scene: Scene) -> Image.Image:
    """Draw the scene (RGB, no anti-aliasing on shapes, so each shape is one flat colour)."""
    img = Image.new("RGB", (scene.width, scene.height), BACKGROUND)
    draw = ImageDraw.Draw(img)
    for s in scene.shapes:
        rgb = COLORS[s.color]
        x1, y1, x2, y2 = s.box
        if s.shape == "circle":
            draw.ellipse([x1, y1, x2 - 1, y2 - 1], fill=rgb)
        elif s.shape == "square":
            draw.rectangle([x1, y1, x2 - 1, y2 - 1], fill=rgb)
        else:
            draw.polygon(_fit(_unit_polygon(s.shape), s.box), fill=rgb)
        if s.text:
            size = max(9, int((x2 - x1) * scene.text_scale))
            font = ImageFont.load_default(size=size)
            dark = sum(rgb) < 400
            ink = (255, 255, 255) if dark else (20, 20, 20)
            stroke = round(size * scene.text_stroke)
            draw.text(
                ((x1 + x2) / 2, (y1 + y2) / 2), s.text, fill=ink, font=font, anchor="mm",
                stroke_width=stroke, stroke_fill=ink,
            )  # fmt: skip
    return img


def captions(scene: Scene) -> list[str]:
    """Two or three different sentences about the scene, each true by construction."""
    items = [f"a {s.description()}" for s in scene.shapes]
    listing = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    out = [f"A picture of {number_word(len(items))} flat shapes on a plain background: {listing}."]
    counts = Counter(s.shape for s in scene.shapes)
    parts = [f"{number_word(c)} {plural(k, c)}" for k, c in counts.items()]
    joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    out.append(f"Counting by kind, the image holds {joined}.")
    if len(scene.shapes) >= 2:
        by_x = sorted(scene.shapes, key=lambda s: s.box[0] + s.box[2])
        left, right = by_x[0], by_x[-1]
        sentence = f"The {left.size} {left.name} is furthest to the left and the {right.size} {right.name} is furthest to the right."
        texts = [s for s in scene.shapes if s.text]
        if texts:
            sentence += (
                f' The word "{texts[0].text}" is printed on the {texts[0].size} {texts[0].name}.'
            )
        out.append(sentence)
    return out


def _seed_items(scene: Scene, rng: random.Random) -> list[QA]:
    counts = Counter(s.shape for s in scene.shapes)
    cands: list[QA] = []
    unique = [s for s in scene.shapes if counts[s.shape] == 1]
    if unique:
        s = rng.choice(unique)
        cands.append(QA(question=f"What color is the {s.shape}?", answer=f"{s.color.capitalize()}.", objects=[s.shape], skills=["referencing"], format="short_answer"))  # fmt: skip
    kind, n = max(counts.items(), key=lambda kv: kv[1])
    cands.append(QA(question=f"How many {plural(kind)} are there in the image?", answer=f"{n}.", objects=[kind], skills=["calculating"], format="short_answer"))  # fmt: skip
    present = rng.choice(scene.kinds())
    cands.append(QA(question=f"Is there a {present} in the picture?", answer="Yes.", objects=[present], skills=["existence"], format="yes_no"))  # fmt: skip
    absent = [k for k in SHAPES if k not in counts]
    if absent:
        a = rng.choice(absent)
        cands.append(QA(question=f"Is there a {a} in the picture?", answer="No.", objects=[a], skills=["existence"], format="yes_no"))  # fmt: skip
    names = Counter(s.name for s in scene.shapes)
    texts = [s for s in scene.shapes if s.text and names[s.name] == 1]
    if texts:
        t = rng.choice(texts)
        cands.append(QA(question=f"What word is written on the {t.name}?", answer=f"{t.text}", objects=[t.shape], skills=["ocr"], format="short_answer"))  # fmt: skip
    rng.shuffle(cands)
    return cands[: rng.randint(2, min(4, len(cands)))]


def scene_to_seed(scene: Scene, image_path: Path | str) -> Seed:
    """The seed of a rendered scene: captions, objects and 2–4 Q&A items from the scene graph."""
    path = Path(image_path)
    ref = image_ref(path)
    hexdigest = ref.digest.split(":", 1)[-1]
    objects = []
    for s in scene.shapes:
        attrs = {"color": s.color, "size": s.size}
        if s.text:
            attrs["text"] = s.text
        objects.append(Obj(category=s.shape, bbox=list(s.bbox), attributes=attrs))
    return Seed(
        id="img-" + hexdigest[:16],
        image=ref,
        captions=captions(scene),
        objects=objects,
        items=_seed_items(scene, random.Random(ref.digest)),
        provenance=[Provenance(source="world", file=str(path), record_id=path.stem)],
        topic="shapes",
    )


def write_demo_set(out_dir: Path, n: int = 24, seed: int = 0) -> list[Seed]:
    """Render ``n`` scenes to ``out_dir/images/scene-NNN.png`` and return their seeds."""
    images = Path(out_dir) / "images"
    images.mkdir(parents=True, exist_ok=True)
    seeds = []
    for i in range(n):
        scene = make_scene(random.Random(seed * 1_000_003 + i))
        path = images / f"scene-{i:03d}.png"
        render(scene).save(path, format="PNG")
        seeds.append(scene_to_seed(scene, path))
    return seeds
