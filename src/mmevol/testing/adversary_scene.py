"""What the adversarial model knows of one image, and the wording helpers its kinds share.

``Scene`` is built from an evolve (or judge) context: the annotated things (category, box, crowd
flag, attributes), exact counts per category (a crowd region turns a count into a lower bound),
caption words and caption colour phrases, and which COCO categories are neither annotated nor
mentioned (candidates for a made-up object). ``Draft`` is one evolved item before it is sent,
with the structured claims it makes, so a ledger (and a test) can check it independently.
The wording helpers (plurals, number words, articles, boxes written with three decimals) are
here so every kind speaks the same fluent English.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

COCO_GROUPS: dict[str, tuple[str, ...]] = {
    "vehicle": ("bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat"),
    "outdoor": ("traffic light", "fire hydrant", "stop sign", "parking meter", "bench"),
    "animal": (
        "bird",
        "cat",
        "dog",
        "horse",
        "sheep",
        "cow",
        "elephant",
        "bear",
        "zebra",
        "giraffe",
    ),
    "accessory": ("backpack", "umbrella", "handbag", "tie", "suitcase"),
    "sports": (
        "frisbee",
        "skis",
        "snowboard",
        "sports ball",
        "kite",
        "baseball bat",
        "baseball glove",
        "skateboard",
        "surfboard",
        "tennis racket",
    ),
    "kitchen": ("bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl"),
    "food": (
        "banana",
        "apple",
        "sandwich",
        "orange",
        "broccoli",
        "carrot",
        "hot dog",
        "pizza",
        "donut",
        "cake",
    ),
    "furniture": ("chair", "couch", "potted plant", "bed", "dining table", "toilet"),
    "electronic": ("tv", "laptop", "mouse", "remote", "keyboard", "cell phone"),
    "appliance": ("microwave", "oven", "toaster", "sink", "refrigerator"),
    "indoor": ("book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush"),
    "person": ("person",),
}
GROUP_OF = {cat: group for group, cats in COCO_GROUPS.items() for cat in cats}
SYNONYMS: dict[str, tuple[str, ...]] = {
    "person": ("man", "men", "woman", "women", "people", "boy", "girl", "child", "player", "kid"),
    "tv": ("television", "screen", "monitor"),
    "couch": ("sofa",),
    "motorcycle": ("motorbike", "bike"),
    "bicycle": ("bike",),
    "airplane": ("plane", "jet", "aircraft"),
    "cell phone": ("phone", "cellphone"),
    "dining table": ("table",),
    "donut": ("doughnut",),
    "sports ball": ("ball",),
}
# everyday names a model may use instead of the annotation's category name
ALIASES: dict[str, tuple[str, ...]] = {
    "tv": ("television",), "couch": ("sofa",), "cell phone": ("phone", "mobile phone"),
    "dining table": ("table",), "motorcycle": ("motorbike",), "airplane": ("plane",),
    "sports ball": ("ball",), "donut": ("doughnut",), "potted plant": ("houseplant",),
    "hair drier": ("hair dryer",), "bicycle": ("bike",), "refrigerator": ("fridge",),
    "remote": ("remote control",), "handbag": ("purse",),
}  # fmt: skip
IRREGULAR = {
    "person": "people",
    "mouse": "mice",
    "sheep": "sheep",
    "skis": "skis",
    "scissors": "scissors",
    "knife": "knives",
    "broccoli": "broccoli",
    "giraffe": "giraffes",
}
COLOURS = (
    "red",
    "blue",
    "green",
    "yellow",
    "black",
    "white",
    "orange",
    "brown",
    "pink",
    "purple",
    "gray",
    "grey",
    "silver",
)
NUMBER_WORDS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
)
WORD_RE = re.compile(r"[a-z]+")


def use_alias(text: str, cat: str, alias: str) -> str:
    """``text`` with the category written as ``alias`` (plural and article kept right)."""
    for old, new in ((plural(cat), plural(alias)), (cat, alias)):
        text = re.sub(rf"\b{re.escape(old)}\b", new, text)
    fix = re.compile(rf"\b([Aa])n? ({re.escape(alias)})\b")
    return fix.sub(lambda m: f"{m.group(1)}{article(alias)[1:]} {m.group(2)}", text)


def fmt_box(box: tuple[float, ...] | list[float]) -> str:
    """A box as written inside text: ``[x1, y1, x2, y2]`` with three decimals."""
    return "[" + ", ".join(f"{float(v):.3f}" for v in box) + "]"


def plural(cat: str, n: int = 2) -> str:
    """``cat`` for one, its plural otherwise ('person' -> 'people', 'bus' -> 'buses')."""
    if n == 1:
        return cat
    head, _, last = cat.rpartition(" ")
    if cat in IRREGULAR:
        return IRREGULAR[cat]
    if last in IRREGULAR:
        return f"{head} {IRREGULAR[last]}".strip()
    tail = "es" if re.search(r"(s|sh|ch|x)$", last) else "s"
    return cat + tail


def article(word: str) -> str:
    """'a' or 'an' before a word."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def num(n: int, words: bool) -> str:
    """A number as a word (0-12) or as digits."""
    return NUMBER_WORDS[n] if words and 0 <= n < len(NUMBER_WORDS) else str(n)


def is_are(n: int) -> str:
    return "is" if n == 1 else "are"


def scene_key(captions: list[Any], objects: list[Any]) -> str:
    """A short digest naming an image's annotations (the same from a context or a seed)."""
    blob = json.dumps([captions, objects], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def area(box: tuple[float, ...]) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def centre(box: tuple[float, ...]) -> tuple[float, float]:
    return ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)


@dataclass(frozen=True)
class Thing:
    """One annotated object."""

    index: int
    category: str
    box: tuple[float, float, float, float] | None
    crowd: bool
    attributes: tuple[tuple[str, str], ...] = ()

    def attr(self, name: str) -> str | None:
        return dict(self.attributes).get(name)


@dataclass
class Draft:
    """One evolved item before sending: its text fields and the claims it makes.

    ``claims`` are structured (``{"type": "count", ...}``): for a true item all of them hold
    in the annotations; a false item holds at least one that they refute, described by ``lie``.
    """

    question: str
    answer: str
    objects: list[str]
    skills: list[str]
    format: str
    steps: list[dict[str, str]] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)
    lie: str = ""

    def item(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "objects": self.objects,
            "skills": self.skills,
            "format": self.format,
            "steps": self.steps,
        }


def step(manipulation: str, description: str) -> dict[str, str]:
    return {"manipulation": manipulation, "description": description}


class Scene:
    """The annotations of one image as the adversary reads them from a context."""

    def __init__(self, context: dict[str, Any]) -> None:
        raw = [o for o in context.get("objects") or [] if isinstance(o, dict) and o.get("category")]
        self.captions = [str(c) for c in context.get("captions") or []]
        self.key = scene_key(context.get("captions") or [], context.get("objects") or [])
        self.things: list[Thing] = []
        for i, o in enumerate(raw):
            attrs = {str(k): str(v) for k, v in (o.get("attributes") or {}).items()}
            raw_box = o.get("bbox")
            box = (
                tuple(float(v) for v in raw_box)
                if isinstance(raw_box, list) and len(raw_box) == 4
                else None
            )
            self.things.append(
                Thing(
                    index=i,
                    category=str(o["category"]).strip().lower(),
                    box=box,  # type: ignore[arg-type]
                    crowd=attrs.get("crowd", "").lower() in {"yes", "true", "1"},
                    attributes=tuple(sorted(attrs.items())),
                )
            )
        self.boxed = [t for t in self.things if t.box is not None and not t.crowd]
        self.counts: Counter[str] = Counter(t.category for t in self.things if not t.crowd)
        self.crowd_cats = {t.category for t in self.things if t.crowd}
        self.categories = sorted({t.category for t in self.things})
        text = " ".join(self.captions).lower()
        self.caption_words = set(WORD_RE.findall(text))
        self.caption_text = text

    # --- objects and names ------------------------------------------------------------------
    def exact_cats(self) -> list[str]:
        """Categories whose count is exact (annotated and without a crowd region)."""
        return [c for c in self.categories if c not in self.crowd_cats]

    def unique(self, cat: str) -> bool:
        return self.counts[cat] == 1 and cat not in self.crowd_cats

    def ref(self, t: Thing) -> str:
        """How to name a thing unambiguously: 'the dog', or 'the dog at [box]'."""
        if self.unique(t.category) or t.box is None:
            return f"the {t.category}"
        return f"the {t.category} at {fmt_box(t.box)}"

    def mentioned(self, cat: str) -> bool:
        """Whether the captions mention the category (its words, plural or a synonym)."""
        words = [w for w in cat.split() if len(w) >= 3] + list(SYNONYMS.get(cat, ()))
        forms = {f for w in words for f in (w, plural(w), w + "s")}
        return bool(forms & self.caption_words)

    def absent_cats(self) -> list[str]:
        """COCO categories neither annotated nor mentioned, those near the scene's groups first."""
        present = set(self.categories)
        groups = {GROUP_OF.get(c) for c in present}
        out = [c for c in GROUP_OF if c not in present and c != "person" and not self.mentioned(c)]
        return sorted(out, key=lambda c: (GROUP_OF[c] not in groups, c))

    def overlapping_cats(self, box: tuple[float, ...]) -> set[str]:
        """Categories of the things whose box overlaps ``box`` noticeably (IoU >= 0.3)."""
        return {t.category for t in self.things if t.box is not None and iou(t.box, box) >= 0.3}

    # --- colours ----------------------------------------------------------------------------
    def colour_facts(self) -> list[tuple[str, str]]:
        """(noun, colour) pairs: colour attributes of annotated things and caption phrases."""
        facts = [
            (t.category, str(t.attr("color") or t.attr("colour")).lower())
            for t in self.things
            if (t.attr("color") or t.attr("colour")) and self.unique(t.category)
        ]
        nouns = set(self.categories) | {c.split()[-1] for c in self.categories}
        for cap in self.captions:
            words = WORD_RE.findall(cap.lower())
            for i, w in enumerate(words):
                if w not in COLOURS:
                    continue
                for word in words[i + 1 : i + 3]:
                    noun = word if word in nouns else word[:-1] if word.endswith("s") else ""
                    if noun in nouns:
                        facts.append((noun, w))
                        break
        return list(dict.fromkeys(facts))

    def colours_of(self, noun: str) -> set[str]:
        return {c for n, c in self.colour_facts() if n == noun}


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


KindFn = Callable[[Scene, random.Random, bool, str], Draft | None]
KINDS: dict[str, KindFn] = {}


def kind(name: str) -> Callable[[KindFn], KindFn]:
    """Register a kind: ``fn(scene, rng, lie, direction)`` -> a ``Draft`` or None (not possible
    here). With ``lie`` False it writes the true counterpart of the same family."""

    def deco(fn: KindFn) -> KindFn:
        KINDS[name] = fn
        return fn

    return deco
