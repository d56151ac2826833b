"""Synthetic stand-ins for ``../shared/data``: a tiny COCO 2017 folder and a LLaVA-Instruct sample,
written in the shapes the real files have, so the default suite needs nothing beside the repo.

Shapes followed (every key and type as the real tools write them; only the content is made up):

* **COCO 2017** (cocodataset.org "Data format"; the files of the 2017 release,
  ``annotations_trainval2017.zip``), laid out as ``../shared/data/tiny_coco`` is:
  ``annotations/captions_{train,val}2017.json``, ``annotations/instances_{train,val}2017.json``
  and the JPEGs in ``train2017/`` and ``val2017/``. Both kinds of file hold ``info``,
  ``licenses``, ``images`` and ``annotations``; an instances file also ``categories``: COCO's 80
  thing classes under their released, non-contiguous ids (1..90) with their supercategories.
  An image is ``{license, file_name: "%012d.jpg", coco_url, height, width, date_captured,
  flickr_url, id}`` (the URLs are placeholders on a ``.invalid`` host); a caption is ``{id,
  image_id, caption}``, five per image, some with a trailing space or no full stop as people
  typed them. An object is ``{segmentation, area, iscrowd, image_id, bbox, category_id, id}``
  with ``bbox`` the pixel ``[x, y, width, height]`` of its mask and ``area`` the mask's area in
  pixels: ``iscrowd: 0`` with polygons ``[[x1, y1, x2, y2, ...], ...]`` (some objects in two
  parts), ``iscrowd: 1`` (about one image in ten: a crowd of people, a shelf of books, a pile
  of bananas) with an uncompressed RLE ``{"counts": [...], "size": [height, width]}``: run
  lengths over the mask in column-major order, starting with a run of 0s, a box one pixel
  short of the mask's extent and the id ``9`` + category (3 digits) + image (8 digits), as
  COCO's crowd regions have them. One image per split has captions
  but no objects, as a few real ones do, and one image repeats a caption up to case and
  punctuation (as one of the real tiny-COCO images does).
* **LLaVA-Instruct-150K** (``llava_instruct_150k.json`` of the LLaVA v1 release,
  liuhaotian/LLaVA-Instruct-150K): a JSON list of ``{id, image, conversations}`` where ``id``
  is the COCO image id in 12 digits, ``image`` its COCO ``train2017`` file name and
  ``conversations`` alternate ``{"from": "human"|"gpt", "value"}`` turns, human first, with
  ``<image>`` in the first human turn, before (``"<image>\\n..."``) or after (``"...\\n<image>"``)
  its text. Most records are multi-turn conversations, some single-turn detailed descriptions
  or reasoning answers, as in the three parts (conversation, detail, complex reasoning) of the
  real file. Here every record is about one of the synthetic ``train2017`` images, and what it
  says (counts, colours, positions) is true of the drawn image.

Images are drawn with Pillow: each object is its polygon mask filled in a colour (so masks,
boxes and pixels agree), on an indoor or outdoor backdrop. Generation is deterministic for a
given ``seed`` and takes about a second.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

# COCO 2017 instances: (id, name, supercategory), as in the release's category table
CATEGORIES: tuple[tuple[int, str, str], ...] = (
    (1, "person", "person"), (2, "bicycle", "vehicle"), (3, "car", "vehicle"),
    (4, "motorcycle", "vehicle"), (5, "airplane", "vehicle"), (6, "bus", "vehicle"),
    (7, "train", "vehicle"), (8, "truck", "vehicle"), (9, "boat", "vehicle"),
    (10, "traffic light", "outdoor"), (11, "fire hydrant", "outdoor"),
    (13, "stop sign", "outdoor"), (14, "parking meter", "outdoor"), (15, "bench", "outdoor"),
    (16, "bird", "animal"), (17, "cat", "animal"), (18, "dog", "animal"),
    (19, "horse", "animal"), (20, "sheep", "animal"), (21, "cow", "animal"),
    (22, "elephant", "animal"), (23, "bear", "animal"), (24, "zebra", "animal"),
    (25, "giraffe", "animal"), (27, "backpack", "accessory"), (28, "umbrella", "accessory"),
    (31, "handbag", "accessory"), (32, "tie", "accessory"), (33, "suitcase", "accessory"),
    (34, "frisbee", "sports"), (35, "skis", "sports"), (36, "snowboard", "sports"),
    (37, "sports ball", "sports"), (38, "kite", "sports"), (39, "baseball bat", "sports"),
    (40, "baseball glove", "sports"), (41, "skateboard", "sports"),
    (42, "surfboard", "sports"), (43, "tennis racket", "sports"), (44, "bottle", "kitchen"),
    (46, "wine glass", "kitchen"), (47, "cup", "kitchen"), (48, "fork", "kitchen"),
    (49, "knife", "kitchen"), (50, "spoon", "kitchen"), (51, "bowl", "kitchen"),
    (52, "banana", "food"), (53, "apple", "food"), (54, "sandwich", "food"),
    (55, "orange", "food"), (56, "broccoli", "food"), (57, "carrot", "food"),
    (58, "hot dog", "food"), (59, "pizza", "food"), (60, "donut", "food"), (61, "cake", "food"),
    (62, "chair", "furniture"), (63, "couch", "furniture"), (64, "potted plant", "furniture"),
    (65, "bed", "furniture"), (67, "dining table", "furniture"), (70, "toilet", "furniture"),
    (72, "tv", "electronic"), (73, "laptop", "electronic"), (74, "mouse", "electronic"),
    (75, "remote", "electronic"), (76, "keyboard", "electronic"),
    (77, "cell phone", "electronic"), (78, "microwave", "appliance"),
    (79, "oven", "appliance"), (80, "toaster", "appliance"), (81, "sink", "appliance"),
    (82, "refrigerator", "appliance"), (84, "book", "indoor"), (85, "clock", "indoor"),
    (86, "vase", "indoor"), (87, "scissors", "indoor"), (88, "teddy bear", "indoor"),
    (89, "hair drier", "indoor"), (90, "toothbrush", "indoor"),
)  # fmt: skip
CATEGORY_ID = {name: cid for cid, name, _ in CATEGORIES}
LICENSES = [
    {"url": "http://creativecommons.org/licenses/by-nc-sa/2.0/", "id": 1,
     "name": "Attribution-NonCommercial-ShareAlike License"},
    {"url": "http://creativecommons.org/licenses/by-nc/2.0/", "id": 2,
     "name": "Attribution-NonCommercial License"},
    {"url": "http://creativecommons.org/licenses/by-nc-nd/2.0/", "id": 3,
     "name": "Attribution-NonCommercial-NoDerivs License"},
    {"url": "http://creativecommons.org/licenses/by/2.0/", "id": 4, "name": "Attribution License"},
    {"url": "http://creativecommons.org/licenses/by-sa/2.0/", "id": 5,
     "name": "Attribution-ShareAlike License"},
    {"url": "http://creativecommons.org/licenses/by-nd/2.0/", "id": 6,
     "name": "Attribution-NoDerivs License"},
    {"url": "http://flickr.com/commons/usage/", "id": 7, "name": "No known copyright restrictions"},
    {"url": "http://www.usa.gov/copyright.shtml", "id": 8, "name": "United States Government Work"},
]  # fmt: skip
INFO = {"description": "COCO 2017 Dataset (synthetic stand-in for tests)",
        "url": "http://cocodataset.org", "version": "1.0", "year": 2017,
        "contributor": "COCO Consortium", "date_created": "2017/09/01"}  # fmt: skip
SIZES = [(640, 480), (640, 427), (480, 640), (427, 640), (640, 428), (500, 375), (375, 500),
         (640, 360), (612, 612), (640, 425)]  # fmt: skip
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (200, 40, 40), "blue": (40, 80, 200), "green": (50, 150, 60),
    "yellow": (230, 200, 40), "white": (240, 240, 235), "black": (25, 25, 25),
    "brown": (120, 80, 45), "gray": (128, 128, 128), "orange": (240, 140, 30),
    "pink": (235, 130, 180), "purple": (120, 60, 150),
}  # fmt: skip
NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
IRREGULAR = {"person": "people", "sheep": "sheep", "skis": "skis", "knife": "knives",
             "mouse": "mice", "bus": "buses", "couch": "couches", "sandwich": "sandwiches",
             "glass": "glasses", "broccoli": "broccoli", "wine glass": "wine glasses"}  # fmt: skip


def plural(name: str) -> str:
    if name in IRREGULAR:
        return IRREGULAR[name]
    return name + ("es" if name.endswith(("s", "sh", "ch", "x")) else "s")


def article(name: str) -> str:
    return "an" if name[0] in "aeiou" else "a"


def amount(n: int, name: str) -> str:
    """``a dog``, ``two dogs``, ``several people`` (counts over four are not spelled out)."""
    if n == 1:
        return f"{article(name)} {name}"
    return f"{NUMBERS[n] if n <= 4 else 'several'} {plural(name)}"


@dataclass(frozen=True)
class Kind:
    """A category as a kind of scene holds it: how many, how large (box width as a fraction
    of the image width), how tall for its width, and where (``ground``, ``table``, ``sky``,
    ``wall``, ``any``)."""

    name: str
    count: tuple[int, int]
    size: tuple[float, float]
    aspect: float = 1.0
    zone: str = "ground"


@dataclass(frozen=True)
class SceneKind:
    place: str  # "a kitchen"
    where: str  # "in a kitchen"
    outdoor: bool
    kinds: tuple[Kind, ...]
    crowd: str | None = None  # category of a crowd region some of these scenes have
    doing: str = "is"  # what the main subject does, as in "A dog {doing} {where}."


K = Kind
SCENES: tuple[SceneKind, ...] = (
    SceneKind("a kitchen", "in a kitchen", False, (
        K("refrigerator", (0, 1), (0.18, 0.25), 2.2, "ground"), K("oven", (0, 1), (0.2, 0.3), 1.0),
        K("sink", (1, 1), (0.15, 0.22), 0.5, "table"), K("bowl", (1, 3), (0.06, 0.1), 0.5, "table"),
        K("cup", (0, 3), (0.03, 0.05), 1.2, "table"), K("bottle", (0, 3), (0.025, 0.04), 2.8, "table"),
        K("microwave", (0, 1), (0.12, 0.16), 0.6, "wall"), K("person", (0, 1), (0.12, 0.18), 2.6),
        K("banana", (0, 2), (0.05, 0.08), 0.5, "table"),
    ), doing="stands"),
    SceneKind("a dining room", "at a dining table", False, (
        K("dining table", (1, 1), (0.5, 0.75), 0.45, "table"), K("chair", (2, 4), (0.1, 0.15), 1.6),
        K("pizza", (0, 2), (0.12, 0.2), 0.5, "table"), K("cup", (1, 3), (0.03, 0.05), 1.2, "table"),
        K("wine glass", (0, 3), (0.025, 0.04), 2.2, "table"), K("fork", (0, 2), (0.02, 0.03), 3.0, "table"),
        K("knife", (0, 2), (0.015, 0.025), 3.5, "table"), K("person", (1, 4), (0.12, 0.18), 2.0),
        K("bottle", (0, 2), (0.025, 0.04), 2.8, "table"), K("cake", (0, 1), (0.1, 0.15), 0.7, "table"),
    ), doing="sits"),
    SceneKind("a city street", "on a city street", True, (
        K("car", (2, 6), (0.12, 0.22), 0.55), K("person", (1, 6), (0.05, 0.08), 2.6),
        K("traffic light", (1, 3), (0.03, 0.04), 2.5, "sky"), K("bus", (0, 1), (0.3, 0.4), 0.6),
        K("truck", (0, 1), (0.2, 0.3), 0.7), K("bicycle", (0, 2), (0.08, 0.12), 0.7),
        K("stop sign", (0, 1), (0.04, 0.06), 1.0, "sky"), K("fire hydrant", (0, 1), (0.03, 0.04), 1.6),
        K("handbag", (0, 2), (0.02, 0.03), 1.0), K("umbrella", (0, 2), (0.06, 0.1), 0.6, "any"),
    ), crowd="person", doing="walks"),
    SceneKind("a grassy park", "in a grassy park", True, (
        K("person", (1, 3), (0.08, 0.14), 2.6), K("dog", (1, 2), (0.1, 0.16), 0.8),
        K("frisbee", (0, 1), (0.03, 0.05), 0.4, "sky"), K("bench", (0, 2), (0.15, 0.22), 0.5),
        K("kite", (0, 3), (0.05, 0.08), 1.0, "sky"), K("bird", (0, 3), (0.02, 0.04), 0.8, "sky"),
        K("backpack", (0, 1), (0.04, 0.06), 1.2),
    ), doing="plays"),
    SceneKind("a living room", "in a living room", False, (
        K("couch", (1, 1), (0.4, 0.55), 0.45), K("chair", (0, 2), (0.12, 0.16), 1.4),
        K("tv", (1, 1), (0.18, 0.25), 0.6, "wall"), K("remote", (0, 2), (0.03, 0.04), 0.4, "table"),
        K("potted plant", (0, 2), (0.08, 0.12), 1.6), K("book", (0, 6), (0.025, 0.035), 1.4, "wall"),
        K("clock", (0, 1), (0.05, 0.07), 1.0, "wall"), K("vase", (0, 1), (0.04, 0.05), 1.8, "table"),
        K("cat", (0, 1), (0.1, 0.14), 0.7), K("person", (0, 2), (0.12, 0.16), 2.2),
    ), crowd="book", doing="rests"),
    SceneKind("a bedroom", "in a bedroom", False, (
        K("bed", (1, 1), (0.5, 0.7), 0.5), K("teddy bear", (0, 2), (0.06, 0.1), 1.2, "table"),
        K("laptop", (0, 1), (0.1, 0.14), 0.7, "table"), K("book", (0, 4), (0.03, 0.04), 1.3, "table"),
        K("clock", (0, 1), (0.04, 0.06), 1.0, "wall"), K("cell phone", (0, 1), (0.02, 0.03), 1.8, "table"),
        K("cat", (0, 1), (0.1, 0.14), 0.7, "table"), K("potted plant", (0, 1), (0.07, 0.1), 1.6),
    ), doing="lies"),
    SceneKind("a sandy beach", "on a sandy beach", True, (
        K("person", (2, 7), (0.05, 0.09), 2.6), K("surfboard", (1, 4), (0.04, 0.07), 3.0),
        K("umbrella", (1, 3), (0.12, 0.18), 0.6), K("boat", (0, 2), (0.1, 0.16), 0.5, "sky"),
        K("kite", (0, 2), (0.05, 0.07), 1.0, "sky"), K("bird", (0, 2), (0.02, 0.04), 0.8, "sky"),
    ), crowd="person", doing="stands"),
    SceneKind("a snowy slope", "on a snowy ski slope", True, (
        K("person", (2, 6), (0.05, 0.09), 2.4), K("skis", (1, 4), (0.07, 0.1), 0.25),
        K("snowboard", (0, 2), (0.06, 0.09), 0.3), K("backpack", (0, 2), (0.03, 0.04), 1.2),
    ), crowd="person", doing="skis"),
    SceneKind("a green pasture", "in a green pasture", True, (
        K("sheep", (2, 9), (0.07, 0.11), 0.7), K("cow", (0, 4), (0.12, 0.18), 0.7),
        K("horse", (0, 2), (0.14, 0.2), 0.9), K("person", (0, 2), (0.05, 0.08), 2.6),
        K("dog", (0, 1), (0.06, 0.09), 0.8), K("bird", (0, 3), (0.02, 0.03), 0.8, "sky"),
    ), doing="grazes"),
    SceneKind("a dry savanna", "on a dry savanna", True, (
        K("giraffe", (0, 3), (0.12, 0.18), 2.2), K("zebra", (0, 4), (0.12, 0.16), 0.8),
        K("elephant", (1, 3), (0.2, 0.3), 0.85), K("bird", (0, 2), (0.02, 0.03), 0.8, "sky"),
    ), doing="walks"),
    SceneKind("a baseball field", "on a baseball field", True, (
        K("person", (3, 8), (0.05, 0.08), 2.6), K("sports ball", (1, 1), (0.015, 0.02), 1.0, "any"),
        K("baseball bat", (0, 1), (0.02, 0.03), 3.0), K("baseball glove", (1, 2), (0.02, 0.03), 1.0),
        K("bench", (0, 1), (0.2, 0.3), 0.3),
    ), crowd="person", doing="plays"),
    SceneKind("an office desk", "on an office desk", False, (
        K("laptop", (0, 1), (0.2, 0.28), 0.7, "table"), K("keyboard", (1, 1), (0.25, 0.35), 0.3, "table"),
        K("mouse", (1, 1), (0.04, 0.05), 0.6, "table"), K("tv", (1, 2), (0.25, 0.3), 0.65, "wall"),
        K("cup", (0, 2), (0.05, 0.07), 1.2, "table"), K("cell phone", (0, 1), (0.04, 0.05), 1.8, "table"),
        K("book", (0, 3), (0.05, 0.07), 1.3, "table"), K("scissors", (0, 1), (0.04, 0.06), 1.5, "table"),
    ), doing="sits"),
    SceneKind("a bathroom", "in a bathroom", False, (
        K("toilet", (1, 1), (0.15, 0.22), 1.4), K("sink", (1, 1), (0.18, 0.25), 0.5, "table"),
        K("toothbrush", (0, 2), (0.01, 0.015), 5.0, "table"), K("bottle", (0, 3), (0.025, 0.04), 2.8, "table"),
        K("hair drier", (0, 1), (0.05, 0.07), 1.0, "table"), K("cup", (0, 1), (0.03, 0.04), 1.2, "table"),
    ), doing="stands"),
    SceneKind("a harbour", "in a harbour", True, (
        K("boat", (2, 6), (0.1, 0.2), 0.5), K("person", (0, 3), (0.04, 0.06), 2.6),
        K("bird", (0, 4), (0.02, 0.04), 0.8, "sky"), K("truck", (0, 1), (0.15, 0.2), 0.7),
        K("bench", (0, 1), (0.12, 0.16), 0.4),
    ), doing="floats"),
    SceneKind("a fruit market", "at a fruit market", True, (
        K("banana", (1, 4), (0.06, 0.09), 0.5, "table"), K("orange", (1, 5), (0.03, 0.04), 1.0, "table"),
        K("apple", (0, 5), (0.03, 0.04), 1.0, "table"), K("carrot", (0, 3), (0.03, 0.05), 2.2, "table"),
        K("broccoli", (0, 2), (0.05, 0.07), 1.0, "table"), K("person", (1, 3), (0.1, 0.14), 2.6),
        K("handbag", (0, 1), (0.04, 0.05), 1.0),
    ), crowd="banana", doing="shops"),
    SceneKind("a train station", "at a train station", True, (
        K("train", (1, 1), (0.55, 0.8), 0.4), K("person", (1, 5), (0.05, 0.08), 2.6),
        K("bench", (0, 2), (0.1, 0.15), 0.4), K("clock", (0, 1), (0.04, 0.05), 1.0, "sky"),
        K("suitcase", (0, 2), (0.04, 0.06), 1.2), K("traffic light", (0, 1), (0.025, 0.03), 2.5, "sky"),
    ), crowd="person", doing="waits"),
    SceneKind("a quiet road", "on a quiet road", True, (
        K("motorcycle", (1, 2), (0.14, 0.2), 0.7), K("person", (1, 2), (0.08, 0.12), 2.4),
        K("car", (0, 3), (0.12, 0.2), 0.55), K("parking meter", (0, 2), (0.025, 0.035), 3.0),
        K("skateboard", (0, 1), (0.05, 0.07), 0.3), K("dog", (0, 1), (0.06, 0.09), 0.8),
    ), doing="rides"),
    SceneKind("an airfield", "at an airfield", True, (
        K("airplane", (1, 3), (0.25, 0.45), 0.35), K("truck", (0, 2), (0.1, 0.15), 0.7),
        K("person", (0, 4), (0.025, 0.04), 2.6), K("car", (0, 2), (0.08, 0.12), 0.55),
    ), doing="waits"),
)  # fmt: skip
BACKDROP = {True: ((150, 190, 230), (110, 150, 80)), False: ((225, 215, 195), (150, 120, 90))}


@dataclass
class Thing:
    """One annotated object: its category, colour, polygons (pixels) or crowd mask."""

    name: str
    colour: str
    polygons: list[list[float]] = field(default_factory=list)
    crowd_mask: np.ndarray | None = None
    box: list[float] = field(default_factory=list)  # pixel [x, y, w, h]
    area: float = 0.0


@dataclass
class Picture:
    id: int
    split: str
    width: int
    height: int
    scene: SceneKind
    things: list[Thing]
    captions: list[str]

    @property
    def file_name(self) -> str:
        return f"{self.id:012d}.jpg"

    def counts(self) -> Counter[str]:
        return Counter(t.name for t in self.things if t.crowd_mask is None)


@dataclass(frozen=True)
class DataSet:
    """A copy of the data the tests read, with what it is known to hold.

    ``name`` is ``synthetic`` (made here) or ``shared`` (``../shared/data``, its numbers counted
    once by hand from the files). Counts are per split, ``{"train2017": n, "val2017": n}``."""

    name: str
    coco: Path  # the tiny_coco folder
    llava: Path  # the LLaVA-Instruct JSON
    images: dict[str, int]
    boxes: dict[str, int]
    crowd: dict[str, int]
    no_box_images: int  # images with captions but no objects (both splits)
    distinct_caption_images: int  # images whose five captions stay five after normalising
    llava_records: int
    llava_items: int  # question/answer pairs over all records
    llava_first_image: str

    @property
    def total_images(self) -> int:
        return sum(self.images.values())

    @property
    def total_boxes(self) -> int:
        return sum(self.boxes.values())


# --- geometry ----------------------------------------------------------------------------------
def _ellipse(rng: random.Random, x: float, y: float, w: float, h: float) -> list[float]:
    """A jittered ellipse inscribed in the box, as a flat COCO polygon (2 decimals)."""
    k = rng.randint(10, 18)
    cx, cy, rx, ry = x + w / 2, y + h / 2, w / 2, h / 2
    out: list[float] = []
    for i in range(k):
        a = 2 * math.pi * i / k
        r = rng.uniform(0.88, 1.0)
        out += [round(cx + rx * r * math.cos(a), 2), round(cy + ry * r * math.sin(a), 2)]
    return out


def _poly_area(p: list[float]) -> float:
    xs, ys = p[0::2], p[1::2]
    n = len(xs)
    return abs(sum(xs[i] * ys[(i + 1) % n] - xs[(i + 1) % n] * ys[i] for i in range(n))) / 2


def _poly_box(polygons: list[list[float]]) -> list[float]:
    xs = [v for p in polygons for v in p[0::2]]
    ys = [v for p in polygons for v in p[1::2]]
    x0, y0 = min(xs), min(ys)
    return [round(x0, 2), round(y0, 2), round(max(xs) - x0, 2), round(max(ys) - y0, 2)]


def crowd_id(category_id: int, image_id: int) -> int:
    """The id COCO gives a crowd region: 9, the category in 3 digits, the image in 8."""
    return 900_000_000_000 + category_id * 100_000_000 + image_id


def rle_counts(mask: np.ndarray) -> list[int]:
    """COCO's uncompressed RLE of a boolean mask: run lengths in column-major order, the first
    run counting 0s (so it is 0 when the first pixel is set)."""
    flat = mask.flatten(order="F").astype(np.int8)
    changes = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.concatenate([[0], changes, [flat.size]])).tolist()
    return ([0] if flat[0] else []) + [int(r) for r in runs]


def _zone_y(rng: random.Random, zone: str, height: int, h: float) -> float:
    lo, hi = {"sky": (0.02, 0.3), "wall": (0.08, 0.4), "table": (0.35, 0.65),
              "ground": (0.45, 0.95), "any": (0.05, 0.9)}[zone]  # fmt: skip
    top = rng.uniform(lo, hi) * height - h / 2
    return min(max(0.0, top), height - h - 1)


def _place(rng: random.Random, kind: Kind, width: int, height: int) -> tuple[float, ...]:
    w = max(8.0, rng.uniform(*kind.size) * width)
    h = max(8.0, min(w * kind.aspect * rng.uniform(0.85, 1.15), height * 0.9))
    x = rng.uniform(0, width - w - 1)
    return x, _zone_y(rng, kind.zone, height, h), w, h


def _crowd(rng: random.Random, name: str, width: int, height: int) -> Thing:
    """A crowd region: many small blobs in a band, as one mask."""
    mask_img = Image.new("1", (width, height), 0)
    draw = ImageDraw.Draw(mask_img)
    bx, bw = rng.uniform(0, width * 0.3), rng.uniform(width * 0.4, width * 0.7)
    by, bh = rng.uniform(height * 0.15, height * 0.35), rng.uniform(height * 0.1, height * 0.2)
    blob = 10 if name == "person" else 7
    for _ in range(rng.randint(25, 45)):
        x, y = rng.uniform(bx, bx + bw - blob), rng.uniform(by, by + bh - blob * 2)
        draw.ellipse([x, y, x + blob, y + blob * (2 if name == "person" else 0.6)], fill=1)
    mask = np.array(mask_img, dtype=bool)
    ys, xs = np.nonzero(mask)
    x0, y0 = int(xs.min()), int(ys.min())
    box = [x0, y0, int(xs.max()) - x0, int(ys.max()) - y0]  # as COCO's crowd boxes measure
    return Thing(name, rng.choice(list(COLOURS)), [], mask, [float(v) for v in box],
                 float(mask.sum()))  # fmt: skip


# --- captions ----------------------------------------------------------------------------------
def _listing(counts: Counter[str], names: list[str]) -> str:
    """``a sink, two bowls and a cup``."""
    said = [amount(counts[n], n) for n in names]
    return said[0] if len(said) == 1 else ", ".join(said[:-1]) + " and " + said[-1]


def _captions(rng: random.Random, pic: Picture, repeat: bool) -> list[str]:
    counts = pic.counts()
    crowd = next((t.name for t in pic.things if t.crowd_mask is not None), None)
    scene = pic.scene
    size = Counter[str]()
    for t in pic.things:
        if t.crowd_mask is None:
            size[t.name] += t.area
    names = sorted(counts, key=lambda n: (-size[n], n)) or [scene.place.split()[-1]]  # big first
    main = names[0]
    others = names[1:4]
    colour = next((t.colour for t in pic.things if t.name == main), "white")

    subject = amount(counts[main], main) if counts else scene.place
    verb = scene.doing if counts[main] == 1 else scene.doing.removesuffix("s")  # sits, sit
    pool = [
        f"{subject.capitalize()} {verb} {scene.where}.",
        f"{scene.place.capitalize()} with {_listing(counts, names[:3])}.",
        f"A view of {_listing(counts, names[:2])} {scene.where}.",
        f"There {'is' if counts[main] == 1 else 'are'} {subject} {scene.where}.",
        f"{scene.place.capitalize()} that has {_listing(counts, names[:2])} in it.",
        f"A photo of {subject} {scene.where}",
        f"{article(main).capitalize()} {main} dressed in {colour} can be seen {scene.where}."
        if main == "person"
        else f"{article(colour).capitalize()} {colour} {main} can be seen {scene.where}.",
    ]
    if others:
        pool.append(f"{amount(counts[others[0]], others[0]).capitalize()} near "
                    f"{'the' if counts[main] == 1 else 'some'} {main if counts[main] == 1 else plural(main)}.")  # fmt: skip
    if crowd:
        pool.append(f"A crowd of {plural(crowd)} {scene.where}." if crowd == "person"
                    else f"Lots of {plural(crowd)} piled up {scene.where}.")  # fmt: skip
    if not counts:
        pool = [f"An empty view {scene.where}.", f"Nothing much to see {scene.where}.",
                f"A quiet corner {scene.where}.", f"A plain scene {scene.where}.",
                f"Just the backdrop {scene.where}."]  # fmt: skip
    rng.shuffle(pool)
    caps = pool[:5]
    for i, cap in enumerate(caps):  # typed by people: lower case, no full stop, a space after
        roll = rng.random()
        if roll < 0.15:
            caps[i] = cap[0].lower() + cap[1:]
        elif roll < 0.25:
            caps[i] = cap + " "
    if repeat:  # the same caption twice, up to case and punctuation
        caps[4] = caps[0].strip().rstrip(".").lower()
    return caps


# --- one picture -------------------------------------------------------------------------------
def _picture(rng: random.Random, image_id: int, split: str, *, empty: bool, crowd: bool,
             repeat: bool) -> Picture:  # fmt: skip
    width, height = rng.choice(SIZES)
    scene = rng.choice([s for s in SCENES if s.crowd] if crowd else SCENES)
    things: list[Thing] = []
    if not empty:
        for kind in scene.kinds:
            for _ in range(rng.randint(*kind.count)):
                x, y, w, h = _place(rng, kind, width, height)
                if rng.random() < 0.12 and w > 30:  # seen in two parts (something in front)
                    cut = w * rng.uniform(0.35, 0.6)
                    gap = min(8.0, (w - cut) / 3)
                    polys = [_ellipse(rng, x, y, cut, h), _ellipse(rng, x + cut + gap, y, w - cut - gap, h)]  # fmt: skip
                else:
                    polys = [_ellipse(rng, x, y, w, h)]
                area = sum(_poly_area(p) for p in polys)
                things.append(Thing(kind.name, rng.choice(list(COLOURS)), polys, None,
                                    _poly_box(polys), area))  # fmt: skip
        if not things:
            kind = scene.kinds[0]
            polys = [_ellipse(rng, *_place(rng, kind, width, height))]
            things.append(Thing(kind.name, rng.choice(list(COLOURS)), polys, None,
                                _poly_box(polys), _poly_area(polys[0])))  # fmt: skip
        if crowd and scene.crowd:
            things.append(_crowd(rng, scene.crowd, width, height))
    pic = Picture(image_id, split, width, height, scene, things, [])
    pic.captions = _captions(rng, pic, repeat)
    return pic


def _render(pic: Picture, path: Path) -> None:
    sky, ground = BACKDROP[pic.scene.outdoor]
    img = Image.new("RGB", (pic.width, pic.height), sky)
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, int(pic.height * 0.45), pic.width, pic.height], fill=ground)
    # back to front: what stands lower in the picture is nearer
    for t in sorted(pic.things, key=lambda t: t.box[1] + t.box[3]):
        fill = COLOURS[t.colour]
        if t.crowd_mask is not None:
            img.paste(Image.new("RGB", img.size, fill), mask=Image.fromarray(t.crowd_mask))
            continue
        for p in t.polygons:
            draw.polygon(list(zip(p[0::2], p[1::2], strict=True)), fill=fill,
                         outline=tuple(max(0, c - 60) for c in fill))  # fmt: skip
    img.save(path, format="JPEG", quality=88)


# --- LLaVA conversations -----------------------------------------------------------------------
def _side(t: Thing, pic: Picture) -> str:
    cx = (t.box[0] + t.box[2] / 2) / pic.width
    cy = (t.box[1] + t.box[3] / 2) / pic.height
    horiz = "left side" if cx < 0.4 else "right side" if cx > 0.6 else "middle"
    vert = "upper part" if cy < 0.4 else "lower part" if cy > 0.6 else "centre"
    return (
        f"{vert} of the image, towards the {horiz}" if horiz != "middle" else f"{vert} of the image"
    )


def _turns(rng: random.Random, pic: Picture) -> list[tuple[str, str]]:
    counts = pic.counts()
    present = sorted(counts)
    absent = sorted({n for _, n, _ in CATEGORIES} - {t.name for t in pic.things})
    scene = pic.scene
    single = [t for t in pic.things if t.crowd_mask is None and counts[t.name] == 1]
    pairs: list[tuple[str, str]] = []
    if present:
        name = rng.choice(present)
        n = counts[name]
        pairs.append(
            (
                f"How many {plural(name)} can be seen in the image?",
                f"There {'is' if n == 1 else 'are'} {NUMBERS[n] if n <= 10 else n} "
                f"{name if n == 1 else plural(name)} in the image.",
            )
        )
    if single:
        t = rng.choice(single)
        pairs.append(
            ("What color is the person wearing?", f"The person is wearing {t.colour}.")
            if t.name == "person"
            else (f"What color is the {t.name}?", f"The {t.name} is {t.colour}.")
        )
        t2 = rng.choice(single)
        pairs.append(
            (
                f"Where is the {t2.name} located in the picture?",
                f"The {t2.name} is in the {_side(t2, pic)}.",
            )
        )
    miss = rng.choice(absent)
    pairs.append(
        (
            f"Is there {article(miss)} {miss} in this scene?",
            f"No, there is no {miss} visible in this scene; it shows {scene.place} instead.",
        )
    )
    pairs.append(
        (
            "What kind of place is shown here?",
            f"The picture was taken {scene.where}, with {_listing(counts, present[:3])} in view."
            if present
            else f"The picture was taken {scene.where}; nothing stands out in it.",
        )
    )
    rng.shuffle(pairs)
    return pairs[: rng.randint(4, 5)] if len(pairs) >= 4 else pairs


def _detail(pic: Picture) -> str:
    counts = pic.counts()
    parts = [f"The image shows {pic.scene.place}."]
    for name in sorted(counts, key=lambda n: -counts[n])[:4]:
        first = next(t for t in pic.things if t.name == name and t.crowd_mask is None)
        if counts[name] == 1:
            what = f"A {name} in {first.colour}" if name == "person" else f"A {first.colour} {name}"
            parts.append(f"{what} appears in the {_side(first, pic)}.")
        else:
            dressed = "dressed in " if name == "person" else ""
            parts.append(
                f"There are {amount(counts[name], name)}, one of them {dressed}{first.colour}."
            )
    if any(t.crowd_mask is not None for t in pic.things):
        parts.append("In the background a dense group fills part of the view.")
    parts.append(
        "The lighting is even and the colors are clear, which makes the scene easy to read."
    )
    return " ".join(parts)


def _reasoning(pic: Picture) -> tuple[str, str]:
    place = pic.scene.place
    return (
        f"What might be the purpose of a setting like {place}?",
        f"A setting like {place} serves several purposes:\n\n"
        f"1. Everyday use: people rely on {place} for ordinary tasks, and the objects in view "
        "suggest what those are.\n\n"
        "2. Arrangement: the way the items are placed shows how the space is organised and "
        "which parts see the most use.\n\n"
        "3. Atmosphere: colors, light and open space give the scene its character.\n\n"
        "Overall, the picture gives a good sense of how such a place works from day to day.",
    )


def _record(rng: random.Random, pic: Picture, style: str) -> dict[str, Any]:
    if style == "detail":
        pairs = [(rng.choice(["Describe the following image.", "What do you see happening in this image?",
                              "Can you elaborate on the elements of the picture provided?"]),
                  _detail(pic))]  # fmt: skip
    elif style == "reasoning":
        pairs = [_reasoning(pic)]
    else:
        pairs = _turns(rng, pic)
    turns: list[dict[str, str]] = []
    for q, a in pairs:
        turns += [{"from": "human", "value": q}, {"from": "gpt", "value": a}]
    first = turns[0]["value"]
    turns[0]["value"] = f"<image>\n{first}" if rng.random() < 0.45 else f"{first}\n<image>"
    return {"id": f"{pic.id:012d}", "image": pic.file_name, "conversations": turns}


# --- the files ---------------------------------------------------------------------------------
def _image_entry(rng: random.Random, pic: Picture) -> dict[str, Any]:
    day = f"2013-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    clock = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
    return {
        "license": rng.randint(1, 8),
        "file_name": pic.file_name,
        "coco_url": f"http://images.cocodataset.invalid/{pic.split}/{pic.file_name}",
        "height": pic.height,
        "width": pic.width,
        "date_captured": f"{day} {clock}",
        "flickr_url": f"http://farm{rng.randint(1, 9)}.staticflickr.invalid/{pic.file_name}",
        "id": pic.id,
    }


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


def write_synthetic_data(root: Path, *, per_split: int = 50, seed: int = 2017) -> DataSet:
    """Write ``root/tiny_coco`` (COCO 2017 layout, ``per_split`` images in each of train2017
    and val2017) and ``root/llava_instruct.json`` (one record per train2017 image); return
    the ``DataSet`` with the counts written."""
    rng = random.Random(seed)
    coco = root / "tiny_coco"
    (coco / "annotations").mkdir(parents=True)
    ids = rng.sample(range(1000, 581_929), 2 * per_split)
    ann_ids = iter(rng.sample(range(1, 2_000_000), 40 * per_split))
    images, boxes, crowds = {}, {}, {}
    no_box = 0
    train: list[Picture] = []
    for s, split in enumerate(("train2017", "val2017")):
        folder = coco / split
        folder.mkdir()
        pics = []
        for i in range(per_split):
            prng = random.Random(rng.random())
            pics.append(_picture(prng, ids[s * per_split + i], split, empty=i == per_split // 2,
                                 crowd=i % 10 == 3, repeat=(s, i) == (0, 7)))  # fmt: skip
            _render(pics[-1], folder / pics[-1].file_name)
        image_entries = [_image_entry(rng, p) for p in pics]
        captions = [
            {"image_id": p.id, "id": next(ann_ids), "caption": c} for p in pics for c in p.captions
        ]
        objects = []
        for p in pics:
            for t in p.things:
                if t.crowd_mask is not None:
                    seg: Any = {"counts": rle_counts(t.crowd_mask), "size": [p.height, p.width]}
                    ann_id, area = crowd_id(CATEGORY_ID[t.name], p.id), int(t.area)
                else:
                    seg, ann_id, area = t.polygons, next(ann_ids), t.area
                objects.append({"segmentation": seg, "area": area, "iscrowd": int(t.crowd_mask is not None),
                                "image_id": p.id, "bbox": t.box, "category_id": CATEGORY_ID[t.name],
                                "id": ann_id})  # fmt: skip
        head = {"info": INFO, "licenses": LICENSES, "images": image_entries}
        _write_json(coco / "annotations" / f"captions_{split}.json",
                    {**head, "annotations": captions})  # fmt: skip
        categories = [{"supercategory": sup, "id": cid, "name": n} for cid, n, sup in CATEGORIES]
        _write_json(coco / "annotations" / f"instances_{split}.json",
                    {**head, "annotations": objects, "categories": categories})  # fmt: skip
        images[split], boxes[split] = len(pics), len(objects)
        crowds[split] = sum(o["iscrowd"] for o in objects)
        no_box += sum(not p.things for p in pics)
        if split == "train2017":
            train = pics
    styles = ["conversation"] * 7 + ["detail", "reasoning"]
    records = [_record(rng, p, styles[i % len(styles)]) for i, p in enumerate(train)]
    llava = root / "llava_instruct.json"
    _write_json(llava, records)
    return DataSet(
        name="synthetic",
        coco=coco,
        llava=llava,
        images=images,
        boxes=boxes,
        crowd=crowds,
        no_box_images=no_box,
        distinct_caption_images=sum(images.values()) - 1,  # the one repeated caption
        llava_records=len(records),
        llava_items=sum(len(r["conversations"]) // 2 for r in records),
        llava_first_image=records[0]["image"],
    )
