"""Words for annotated things: what a noun in model text names among an image's categories.

The fact checker reads claims such as "three men", "a sofa at [...]" or "no vehicles" and must
know which annotated categories they are about. This module owns that mapping:

- ``lemma`` folds plurals ("knives" -> "knife", "people" -> "person");
- ``Lexicon`` maps a word or phrase to a ``Sense``: the categories it covers and how it relates
  to them. ``same`` is a synonym ("sofa" = couch, "people" = person); ``sub`` is a kind of one
  category ("man", "puppy"): it can be present while its category is, but its count is only
  bounded by the category's; ``super`` covers several categories ("vehicle", "animal", "table"
  for dining table) and more kinds that an annotation set may not list.

The built-in table covers the 80 COCO categories and the offline world's shapes; any category
an image carries that the table does not know is its own ``same`` sense. Closed vocabularies
(``closed_vocabulary``) say when the absence of an annotation means the absence of the thing.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache

from mmevol.facts.words import COCO_CATEGORIES, TABLE, WORLD_SHAPES, Relation

_IRREGULAR_PLURALS = {
    "people": "person",
    "persons": "person",
    "men": "man",
    "women": "woman",
    "children": "child",
    "mice": "mouse",
    "knives": "knife",
    "feet": "foot",
    "teeth": "tooth",
    "geese": "goose",
    "oxen": "ox",
    "sheep": "sheep",
    "skis": "skis",
    "scissors": "scissors",
    "fish": "fish",
    "deer": "deer",
    "buses": "bus",
    "glasses": "glass",
    "boxes": "box",
    "ladies": "lady",
    "puppies": "puppy",
    "kitties": "kitty",
    "series": "series",
    "species": "species",
    "cattle": "cow",
    "calves": "calf",
    "wolves": "wolf",
    "leaves": "leaf",
    "shelves": "shelf",
    "loaves": "loaf",
    "halves": "half",
    "lives": "life",
    "wives": "wife",
    "dice": "die",
    "benches": "bench",
    "couches": "couch",
    "sandwiches": "sandwich",
    "watches": "watch",
    "dishes": "dish",
    "brushes": "brush",
    "toothbrushes": "toothbrush",
    "glasses of wine": "wine glass",
    "skies": "sky",
    "pizzas": "pizza",
    "umbrellas": "umbrella",
    "zebras": "zebra",
    "giraffes": "giraffe",
    "broccoli": "broccoli",
    "tvs": "tv",
    "hot dogs": "hot dog",
    "doughnuts": "donut",
    "tomatoes": "tomato",
    "potatoes": "potato",
    "remotes": "remote",
    "vases": "vase",
}
_NOT_PLURAL = {
    "bus",
    "glass",
    "grass",
    "dress",
    "skis",
    "scissors",
    "lens",
    "canvas",
    "chess",
    "physics",
    "news",
    "pants",
    "shorts",
    "jeans",
    "glasses",
    "is",
    "was",
    "has",
    "this",
    "its",
    "his",
    "us",
    "yes",
    "as",
    "across",
    "plus",
    "gas",
    "axis",
    "analysis",
    "basis",
    "tennis",
    "iris",
    "chassis",
    "lettuce",
}


@lru_cache(maxsize=16384)
def lemma(word: str) -> str:
    """The singular of an English noun (a multi-word phrase singularises its last word)."""
    word = word.strip().lower()
    if word in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[word]
    head, _, last = word.rpartition(" ")
    if head:
        return f"{head} {lemma(last)}"
    if len(word) <= 3 or word in _NOT_PLURAL or word.endswith(("ss", "us")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "zes", "sses")):
        return word[:-2]
    if word.endswith("oes") and word not in {"shoes", "toes"}:
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


@dataclass(frozen=True)
class Sense:
    """What a word names: categories, and whether it is their synonym, a kind or a cover term."""

    categories: frozenset[str]
    relation: Relation
    word: str


WORD_RE = re.compile(r"[a-z]+(?:-[a-z]+)?")
MAX_WORDS = 3


class Lexicon:
    """Senses of the words that can name an image's annotated categories."""

    def __init__(self, categories: list[str]) -> None:
        self.table: dict[str, tuple[tuple[str, ...], Relation]] = dict(TABLE)
        for cat in categories:  # every annotated category names itself
            key = lemma(cat.strip().lower())
            if key and key not in self.table:
                self.table[key] = ((cat.strip().lower(),), "same")
        self.longest = max((len(k.split()) for k in self.table), default=1)

    def sense(self, phrase: str) -> Sense | None:
        """The sense of a noun phrase's head (its longest known ending), or None."""
        words = WORD_RE.findall(phrase.lower())
        for n in range(min(self.longest, len(words)), 0, -1):
            key = " ".join(words[-n:])
            for cand in (key, lemma(key)):
                hit = self.table.get(cand)
                if hit:
                    return Sense(frozenset(hit[0]), hit[1], cand)
        return None

    def _noun_next(self, following: list[re.Match[str]]) -> bool:
        """Whether the next word or two name a thing ("orange triangle": orange is a colour)."""
        words = [m.group(0) for m in following]
        keys = [" ".join(words[:k]) for k in range(len(words), 0, -1)]
        return any(k in self.table or lemma(k) in self.table for k in keys)

    def find(self, text: str) -> list[tuple[int, int, Sense]]:
        """Every known noun phrase in ``text`` (lower case): (start, end, sense), longest first
        at each position, non-overlapping, in order."""
        found: list[tuple[int, int, Sense]] = []
        words = list(WORD_RE.finditer(text))
        i = 0
        while i < len(words):
            for n in range(min(self.longest, len(words) - i), 0, -1):
                span = words[i : i + n]
                if any(text[a.end() : b.start()].strip(" -") for a, b in itertools.pairwise(span)):
                    continue  # "microwave ([...]), 1 oven" is two things, not a microwave oven
                key = " ".join(m.group(0) for m in span)
                hit = (
                    self.table.get(key)
                    or self.table.get(lemma(key))
                    or (self.table.get(key[:-1]) if key.endswith("s") else None)
                )
                if (
                    hit
                    and _is_noun_use(text, span[-1].end(), key)
                    and not _colour_use(text, span[0].start(), key)
                    and not (key in _MODIFIERS and self._noun_next(words[i + n : i + n + 2]))
                ):
                    found.append(
                        (span[0].start(), span[-1].end(), Sense(frozenset(hit[0]), hit[1], key))
                    )
                    i += n
                    break
            else:
                i += 1
        return found


_ADJ_USE = re.compile(
    r"\s+(?:[a-z]+\s+)?(?:shirt|jacket|coat|hat|dress|top|juice|slice|peel|"
    r"light|color|colour|sign|tree|and white|and black|cat|dog)\b"
)


def _is_noun_use(text: str, end: int, key: str) -> bool:
    """False where a category word is used as a modifier: "orange shirt", "hot dog stand"."""
    if key in {"orange", "stop", "tie", "bear", "glass"}:
        return not _ADJ_USE.match(text, end)
    return not re.match(
        r"\s*(?:'s\s+)?(?:stand|shop|store|cart|truck|rack|holder|case|sign|"
        r"shaped|like|print|pattern)\b",
        text[end:],
    )


# words that name a thing alone but modify a following noun: "orange triangle", "individual cups"
_MODIFIERS = {"orange", "individual", "human", "baby", "toy", "pet", "glass", "kitchen", "mobile"}
_COPULA = re.compile(
    r"\b(?:is|are|was|were|looks|appears|seems|painted|coloured|colored|and|or|bright|dark|light|pale)\s+$"
)


def _colour_use(text: str, start: int, key: str) -> bool:
    """ "The triangle is orange": a colour word that also names a COCO category, used as a colour."""
    return key == "orange" and bool(_COPULA.search(text[max(0, start - 20) : start]))


def closed_vocabulary(categories: list[str], sources: tuple[str, ...] = ()) -> frozenset[str]:
    """The categories whose absence from an image's annotations means they are not there.

    COCO annotates all 80 of its categories exhaustively, and the offline world annotates every
    shape; an image annotated only in one of these vocabularies is judged against it, and so is
    a COCO image with no objects at all (none of the 80 is there). Anything else is an open
    set: only the categories present are known.
    """
    cats = {c.strip().lower() for c in categories}
    if cats <= COCO_CATEGORIES and (cats or "coco_instances" in sources):
        return COCO_CATEGORIES
    if cats and cats <= WORLD_SHAPES:
        return WORLD_SHAPES
    return frozenset(cats)
