"""What an image's annotations can settle: instances, counts, captions, and findings about claims.

``Annotations`` is the fact checker's view of one seed: every annotated instance (category, box,
crowd flag, attributes), the closed vocabulary its source annotates exhaustively, and the
captions. It answers the questions a claim needs — which instances a word names, how many
there are (a crowd region makes a count a lower bound), whether a caption mentions a thing,
which instance a box in the text points at — and every check reports a ``Finding``: a claim,
its status (``refuted`` / ``confirmed`` / ``unsettled``) and the evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from mmevol.facts.lexicon import Lexicon, Sense, closed_vocabulary, lemma
from mmevol.geometry import Box, area, center, iou
from mmevol.schema import Seed

Status = Literal["refuted", "confirmed", "unsettled"]
MATCH_IOU = 0.5
CROWD = "crowd"
# COCO things that are also parts of other COCO things (a laptop has a keyboard and a touchpad)
PART_OF: dict[str, set[str]] = {"keyboard": {"laptop"}, "mouse": {"laptop"}, "clock": {"oven", "microwave"}}  # fmt: skip
CROWD_AT_LEAST = 2  # a crowd region (COCO iscrowd) stands for a group: two or more instances


@dataclass(frozen=True)
class Finding:
    """One claim read from an item and what the annotations say about it."""

    status: Status
    claim: str
    evidence: str

    def text(self) -> str:
        return f"{self.claim} — {self.evidence}"


@dataclass(frozen=True)
class Instance:
    """One annotated object."""

    index: int
    category: str
    box: Box | None
    crowd: bool
    attributes: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    def cx(self) -> float:
        return center(self.box)[0] if self.box else 0.5

    def cy(self) -> float:
        return center(self.box)[1] if self.box else 0.5

    def area(self) -> float:
        return area(self.box) if self.box else 0.0

    def x1(self) -> float:
        return self.box[0] if self.box else 0.0

    def y1(self) -> float:
        return self.box[1] if self.box else 0.0

    def x2(self) -> float:
        return self.box[2] if self.box else 1.0

    def y2(self) -> float:
        return self.box[3] if self.box else 1.0


@dataclass(frozen=True)
class Count:
    """How many instances a word names: exact unless a crowd region makes it a lower bound."""

    n: int
    crowd: bool
    regions: int = 0  # crowd regions among them

    @property
    def least(self) -> int:
        """The smallest true count: every crowd region holds at least two."""
        return self.n + CROWD_AT_LEAST * self.regions

    def describe(self, word: str) -> str:
        regions = f"{self.regions} crowd region{'s' if self.regions > 1 else ''}"
        more = f" plus {regions} (so at least {self.least})" if self.crowd else ""
        return f"the annotations have {amount(self.n, word)}{more}"


def amount(n: int, word: str) -> str:
    """ "1 backpack", "2 backpacks", "0 people" (the word as the text wrote it, in number)."""
    one = lemma(word)
    if n == 1:
        return f"1 {one}"
    return f"{n} {word if word != one else plural(one)}"


def a(word: str) -> str:
    """ "a cat", "an apple" (the singular of ``word``)."""
    one = lemma(word)
    return f"{'an' if one[:1] in 'aeiou' else 'a'} {one}"


def plural(word: str) -> str:
    """A simple English plural ("person" -> "people", "bus" -> "buses", "knife" -> "knives")."""
    irregular = {"person": "people", "man": "men", "woman": "women", "child": "children",
                 "mouse": "mice", "knife": "knives", "sheep": "sheep", "skis": "skis",
                 "scissors": "scissors", "fish": "fish", "deer": "deer"}  # fmt: skip
    head, _, last = word.rpartition(" ")
    if last in irregular:
        last = irregular[last]
    elif last.endswith(("s", "x", "z", "ch", "sh")):
        last += "es"
    elif last.endswith("y") and last[-2:-1] not in "aeiou":
        last = last[:-1] + "ies"
    else:
        last += "s"
    return f"{head} {last}" if head else last


class Annotations:
    """The settled facts of one image, as the fact checker reads them."""

    def __init__(self, seed: Seed) -> None:
        self.instances = [
            Instance(
                i,
                o.category.strip().lower(),
                (o.bbox[0], o.bbox[1], o.bbox[2], o.bbox[3]) if o.bbox else None,
                o.attributes.get(CROWD, "").lower() in {"yes", "1", "true"},
                dict(o.attributes),
            )
            for i, o in enumerate(seed.objects)
        ]
        cats = [x.category for x in self.instances]
        self.lexicon = Lexicon(cats)
        self.closed = closed_vocabulary(cats, tuple(p.source for p in seed.provenance))
        self.captions = [c.lower() for c in seed.captions if c.strip()]
        self.image_path = seed.image.path
        self._caption_senses = [s for c in self.captions for _, _, s in self.lexicon.find(c)]

    # -- what a word names ------------------------------------------------------------------
    def members(self, sense: Sense) -> list[Instance]:
        return [x for x in self.instances if x.category in sense.categories]

    def countable(self, sense: Sense) -> list[Instance]:
        return [x for x in self.members(sense) if not x.crowd]

    def count(self, sense: Sense) -> Count:
        members = self.members(sense)
        regions = sum(x.crowd for x in members)
        return Count(len(members) - regions, regions > 0, regions)

    def is_closed(self, sense: Sense) -> bool:
        """The annotations would list this thing if it were there."""
        return bool(sense.categories) and sense.categories <= self.closed

    def caption_mentions(self, sense: Sense) -> bool:
        """A caption names this thing (a cover word such as "fruit" does not name a banana)."""
        return any(
            s.categories & sense.categories and s.relation != "super" for s in self._caption_senses
        )

    def at_box(self, box: Box) -> list[Instance]:
        """The instances a box in the text points at (IoU >= 0.5), best first."""
        hits = [(iou(box, x.box), x) for x in self.instances if x.box is not None]
        return [x for score, x in sorted(hits, key=lambda h: -h[0]) if score >= MATCH_IOU]

    def colour_share(self, x: Instance, colour: str, strict: bool = False) -> float | None:
        """The share of ``x``'s box that the image shows in ``colour`` (None: cannot tell)."""
        from mmevol.facts.pixels import colour_share

        return colour_share(self.image_path, x.box, colour, strict) if x.box else None

    def with_attributes(self, sense: Sense, words: list[str]) -> list[Instance] | None:
        """The members that have every one of ``words`` as an attribute value ("brown",
        "small"), or None when some word is no attribute the annotations record."""
        members = self.members(sense)
        known = {v.lower() for x in self.instances for v in x.attributes.values()}
        if not members or any(w not in known for w in words):
            return None
        return [x for x in members if set(words) <= {v.lower() for v in x.attributes.values()}]

    # -- findings about presence --------------------------------------------------------------
    def presence(self, sense: Sense, present: bool, claim: str) -> Finding:
        """A claim that the thing a sense names is (``present``) or is not in the image."""
        members = self.members(sense)
        if present:
            if members:
                status: Status = "unsettled" if sense.relation == "sub" else "confirmed"
                return Finding(status, claim, f"{amount(len(members), sense.word)} annotated")
            whole = {w for c in sense.categories for w in PART_OF.get(c, set())}
            if whole & {x.category for x in self.instances}:  # a laptop's own keyboard
                return Finding("unsettled", claim, f"it may be part of the {sorted(whole)[0]}")
            if (
                sense.relation != "super"
                and self.is_closed(sense)
                and not self.caption_mentions(sense)
            ):
                return Finding(
                    "refuted",
                    claim,
                    f"no {lemma(sense.word)} is annotated and no caption mentions one",
                )
            return Finding("unsettled", claim, f"no {lemma(sense.word)} annotated")
        if members and sense.relation != "sub":
            cats = ", ".join(sorted({x.category for x in members}))
            return Finding("refuted", claim, f"the annotations list {len(members)} ({cats})")
        if not members and self.is_closed(sense) and not self.caption_mentions(sense):
            return Finding("confirmed", claim, f"no {lemma(sense.word)} annotated")
        return Finding("unsettled", claim, "the annotations cannot settle it")

    def exact_count(self, sense: Sense, n: int, claim: str, total: bool) -> Finding:
        """A claim that there are ``n`` of a thing (``total``: in the whole image, else a subset)."""
        if sense.relation == "super" or not self.is_closed(sense):
            known = self.count(sense)
            if sense.relation == "super" and total and n < known.n:
                return Finding("refuted", claim, known.describe(sense.word))
            return Finding("unsettled", claim, "the annotations cannot settle this count")
        have = self.count(sense)
        if n > have.n and not have.crowd:
            return Finding("refuted", claim, have.describe(sense.word))
        if not total or sense.relation == "sub":
            return Finding("unsettled", claim, have.describe(sense.word))
        if n < have.least:
            return Finding("refuted", claim, have.describe(sense.word))
        if have.crowd:
            return Finding("unsettled", claim, have.describe(sense.word))
        return Finding("confirmed", claim, have.describe(sense.word))


NUMBER_WORDS = {
    "zero": 0,
    "no": 0,
    "half a dozen": 6,
    "a trio of": 3,
    "twin": 2,
    "none": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "a dozen": 12,
    "a single": 1,
    "single": 1,
    "a pair of": 2,
    "a couple of": 2,
    "both": 2,
}
NUMBER_RE = r"(?:\d{1,4}|zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|half a dozen|a dozen|a single|single|a pair of|a couple of|a trio of|twin)"


def number_value(text: str) -> int | None:
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    return NUMBER_WORDS.get(text)


_CLAUSE_SPLIT = re.compile(
    r"(?:[;!?\n]|\.(?!\d)|(?<!\d)\.)+|:\s(?!\s*\[)|\s[—–-]\s|,\s*(?:but|while|whereas|however)\b|\bbut\b"
)


MAX_CLAUSE = 400  # a longer clause is read in pieces of about this size (bounds every reader)
MAX_TEXT = 20_000  # characters of one text the checker reads (longer answers are degenerate)


def clauses(text: str) -> list[str]:
    """Lower-cased clauses of a text (boxes and decimals stay whole); a run-on clause is cut
    at spaces into pieces of about ``MAX_CLAUSE`` characters, so reading stays linear."""
    out: list[str] = []
    for c in _CLAUSE_SPLIT.split(text[:MAX_TEXT].lower()):
        c = c.strip()
        while len(c) > MAX_CLAUSE:
            cut = c.rfind(" ", MAX_CLAUSE // 2, MAX_CLAUSE)
            cut = cut if cut > 0 else MAX_CLAUSE
            out.append(c[:cut].strip())
            c = c[cut:].strip()
        if c:
            out.append(c)
    return out
