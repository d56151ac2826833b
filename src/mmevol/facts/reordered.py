"""Relations written the other way round, read and settled like ``relations``.

"To the left of the bus stands the man", "Higher up than the light is the purse", "the TV is on
the left and the cat is on the right", "the glass has the cup on its left", "compared with the
book, the cat looks small". Each is turned into X-relation-Y and judged for every reading of the
two phrases; it is refuted only when false for all of them.
"""

from __future__ import annotations

import re

from mmevol.facts.annotations import Annotations, Finding
from mmevol.facts.claims import NEG, Phrase, _phrases, resolve
from mmevol.facts.relations import RELATIONS, _relation_name, settle

_SETTING = r"^(?:(?:in|within) (?:the|this) (?:image|picture|photo|frame|scene),?\s+|seen from the camera,?\s+)?"  # fmt: skip
_FRONTED = re.compile(
    _SETTING + r"(?:(?:on|to) the (left|right)(?:-hand side| side)? of|(above|below|beneath|under"
    r"|underneath)|((?:higher(?: up)?|lower(?: down)?|further (?:left|right)|larger|bigger|smaller)"
    r"(?: in the (?:frame|image|picture|photo))? than))\s+"
)
_KEY = {
    "left": "left",
    "right": "right",
    "beneath": "below",
    "under": "below",
    "underneath": "below",
}
_COMPARED = re.compile(
    r"^(?:(?:when |if )?compared (?:with|to)|next to|beside|against|relative to)\s+(?:the\s+)?"
)
_LOOKS = re.compile(
    r"\b(?:looks|appears|seems|is)\s+(?:quite\s+|very\s+|rather\s+|much\s+)?(small|smaller|tiny|little|large|larger|big|bigger|huge)\b"
)
_SIDES = re.compile(
    r"\b(?:is |sits |stands |appears |lies )?(?:on|at|to) the (left|right|top|bottom)(?:-hand)?"
    r"(?: side)?,?\s+(?:and|while|whereas|with)\s+"
)
_OPPOSITE = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}
_HAS_ON = re.compile(r"\bhas (?:the |a |an )?")
_ON_ITS = re.compile(
    r"^\s*(?:on (?:its|his|her|their) (left|right)(?:-hand side| side)?|(above|below|beneath|under) (?:it|him|her|them))\b"
)


def _judge(
    clause: str, ann: Annotations, x: Phrase, rel: str, y: Phrase, negated: bool = False
) -> list[Finding]:
    """X ``rel`` Y for every reading of the two phrases; refuted only if false for all."""
    xs, ys = resolve(clause, x, ann), resolve(clause, y, ann)
    if not xs or not ys:
        return []
    status = settle([RELATIONS[rel](a, b) for a in xs for b in ys if a is not b], negated)
    claim = f"{x[2].word} {rel} {y[2].word}"
    if status == "refuted":
        return [Finding("refuted", claim, "the annotated boxes say otherwise")]
    if status == "confirmed":
        return [Finding("confirmed", claim, "the annotated boxes agree")]
    return []


def reordered_relations(clause: str, ann: Annotations) -> list[Finding]:
    """Relations written the other way round: "To the left of the bus stands the man",
    "Higher up than the light is the purse", "the TV is on the left and the cat on the right",
    "the glass has the cup on its left"."""
    found: list[Finding] = []
    phrases = _phrases(clause, ann)
    m = _FRONTED.match(clause)
    if m and not NEG.search(clause):
        after = [p for p in phrases if p[0] >= m.end()]
        if len(after) >= 2 and after[0][0] - m.end() <= 5 and after[1][0] - after[0][1] <= 60:
            word = m.group(1) or m.group(2) or m.group(3)
            rel = _KEY.get(word) or _relation_name(word.replace("further ", ""))
            if word.startswith("further"):
                rel = "left" if "left" in word else "right"
            found += _judge(clause, ann, after[1], rel, after[0])
    c = _COMPARED.match(clause)
    look = _LOOKS.search(clause) if c else None
    if c and look and not NEG.search(clause):  # "Compared with the book, the cat looks small."
        after = [p for p in phrases if p[0] >= c.end()]
        if len(after) >= 2 and after[1][1] <= look.start():
            rel = "smaller" if look.group(1) in {"small", "smaller", "tiny", "little"} else "larger"
            found += _judge(clause, ann, after[1], rel, after[0])
    for s in _SIDES.finditer(clause):
        before = [p for p in phrases if p[1] <= s.start()][-1:]
        after = [p for p in phrases if p[0] >= s.end()][:1]
        tail = clause[after[0][1] :] if after else ""
        other = re.match(r"\s*(?:is |sits |stands |appears |lies )?(?:on|at|to) the (left|right|top|bottom)", tail)  # fmt: skip
        if before and after and other and other.group(1) == _OPPOSITE[s.group(1)]:
            rel = {"left": "left", "right": "right", "top": "above", "bottom": "below"}[s.group(1)]
            found += _judge(clause, ann, before[0], rel, after[0], bool(NEG.search(clause)))
    for h in _HAS_ON.finditer(clause):
        owner = [p for p in phrases if p[1] <= h.start()][-1:]
        thing = [p for p in phrases if p[0] == h.end()][:1]
        on = _ON_ITS.match(clause[thing[0][1] :]) if thing else None
        if owner and thing and on:
            rel = {"left": "left", "right": "right", "above": "above"}.get(on.group(1) or on.group(2), "below")  # fmt: skip
            found += _judge(clause, ann, thing[0], rel, owner[0], bool(NEG.search(clause)))
    return found
