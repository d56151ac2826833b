"""Fact checks of an answer's claims against the annotations, for the grounded judge.

The grounded judge's first rules catch malformed items and impossible boxes; this module reads
the *claims* an answer makes about annotated objects and rejects an item whose claim
contradicts them. Four claim shapes are read (case-insensitive), each only when its object
phrase resolves against the annotations (colour and size words plus a known category; any other
qualifier such as "leftmost" makes the claim uncheckable, and it is skipped):

- existence: "yes, there is a red circle" / "no, there is no star";
- colour: "the small square is blue" (checked when the phrase names exactly one object);
- count: "there are 2 circles" anywhere, "3 squares (" in answers to how-many or count
  questions;
- region: "[x1, y1, x2, y2] contains a medium orange triangle" (the best-matching box, IoU
  at least 0.5, must show that colour and category).

These are the claims a hallucinating generator gets wrong most visibly (objects that are not
there, wrong attributes, wrong counts); text the rules cannot read is never rejected here.
"""

from __future__ import annotations

import re

from mmevol.geometry import best_match, parse_boxes
from mmevol.grounded.scene import Thing, View
from mmevol.schema import QA
from mmevol.world.scenes import COLORS, NUMBER_WORDS, SHAPES, SIZES

_WORD_NUM = {w: i for i, w in enumerate(NUMBER_WORDS)}
_PHRASE = r"((?:[a-z]+ ){0,2}[a-z]+)"
_EXIST = re.compile(rf"\b(yes|no),? there (?:is|are) (?:no |an? |\d+ )?{_PHRASE}\b(?! of)")
_COLOUR = re.compile(rf"\bthe {_PHRASE} is ({'|'.join(COLORS)})\b")
_COUNT = re.compile(rf"\b(\d+|{'|'.join(NUMBER_WORDS[1:])}) {_PHRASE}\b")
_THERE_N = re.compile(rf"\bthere (?:is|are) (\d+) {_PHRASE}\b")
_REGION = re.compile(r"(\[[^\]]*\]) contains an? ((?:[a-z]+ ){0,2}[a-z]+)")
IOU_MIN = 0.5


def _category(view: View, word: str) -> str | None:
    cats = set(view.categories()) | set(SHAPES)
    for cand in (word, word[:-1] if word.endswith("s") else "", word[:-2] if word.endswith("es") else ""):  # fmt: skip
        if cand in cats:
            return cand
    return None


def _resolve(view: View, phrase: str) -> list[Thing] | None:
    """The annotated things a phrase such as ``small red circle`` names (the words up to the
    first category word), or None when it cannot be checked (no category, other qualifiers)."""
    words = phrase.split()
    for i, word in enumerate(words):
        head = _category(view, word)
        if head is not None:
            mods = words[:i]
            if any(m not in COLORS and m not in SIZES for m in mods):
                return None
            return [
                t for t in view.things
                if t.category == head and all(m in t.attrs.values() for m in mods)
            ]  # fmt: skip
    return None


def fact_conflict(view: View, qa: QA) -> str | None:
    """Why ``qa``'s answer contradicts the annotations, or None."""
    if not view.world or not view.has_attrs():  # attribute claims: the shape world only
        return None
    ans = " ".join(qa.answer.lower().split())
    for yes, phrase in _EXIST.findall(ans):
        found = _resolve(view, phrase)  # a kind with no annotation at all resolves to []
        if found is not None and (yes == "yes") != bool(found):
            return f"the answer says {phrase!r} is {'present' if yes == 'yes' else 'absent'}, the annotations disagree"  # fmt: skip
    for phrase, colour in _COLOUR.findall(ans.replace(", not ", ". not ")):
        found = _resolve(view, phrase)
        if found is not None and len(found) == 1 and found[0].attrs.get("color") != colour:
            return f"the answer calls the {phrase} {colour}, the annotations say {found[0].attrs.get('color')}"  # fmt: skip
    counted = ans.split(":")[0] if qa.question.lower().lstrip().startswith(("how many", "count")) else ""  # fmt: skip
    for num, phrase in _COUNT.findall(counted) + _THERE_N.findall(ans):
        found = _resolve(view, phrase)
        n = int(num) if num.isdigit() else _WORD_NUM[num]
        if found is not None and n != len(found):
            return f"the answer counts {n} {phrase}, the annotations have {len(found)}"
    boxed = [t for t in view.things if t.box is not None]
    for box_text, phrase in _REGION.findall(ans):
        boxes = parse_boxes(box_text)
        if not boxes or not boxed:
            continue
        k, overlap = best_match(boxes[0], [t.box for t in boxed if t.box])
        if overlap < IOU_MIN:
            continue
        thing, words = boxed[k], phrase.split()
        named = [c for c in (_category(view, w) for w in words) if c]
        if (named and named[0] != thing.category) or any(
            w in COLORS and w != thing.attrs.get("color") for w in words
        ):
            return f"the answer says {box_text} shows a {phrase}, the annotations say {thing.full()}"  # fmt: skip
    return None
