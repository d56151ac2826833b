"""Colour claims ("the red car", "the dog is brown") checked against attributes and captions.

An object's colour is settled by a ``color`` attribute where the annotations carry one (the
offline world), else by the captions when they describe the only instance of that thing with
colour words ("a white dog" in a caption refutes "the brown dog" when the image has one dog).
Otherwise the image's pixels inside the object's box decide (``pixels``); a colour no
annotation settles is left to the judge.
"""

from __future__ import annotations

import re

from mmevol.facts.annotations import Annotations, Finding
from mmevol.facts.claims import NEG
from mmevol.facts.lexicon import Sense
from mmevol.facts.pixels import ABSENT_SHARE, NEUTRAL, PRESENT_SHARE
from mmevol.vocab import COLOUR_WORDS

COLOURS = tuple(sorted(COLOUR_WORDS, key=len, reverse=True))  # longest first for the regex
_SAME = {"grey": "gray", "golden": "gold", "violet": "purple", "tan": "brown", "beige": "brown"}
_COLOUR = "|".join(COLOURS)
_BEFORE = re.compile(rf"\b((?:(?:{_COLOUR})(?:\s+and\s+|\s*,\s*|-|\s+))+)$")
_AFTER = re.compile(
    rf"^\s+(?:is|are)\s+(?:mostly\s+|mainly\s+|all\s+)?(?:painted\s+|coloured\s+|colored\s+)?((?:{_COLOUR})(?:\s+and\s+(?:{_COLOUR}))?)\b"
)


def _norm(colour: str) -> str:
    return _SAME.get(colour, colour)


def _colours(text: str) -> set[str]:
    return {_norm(c) for c in re.findall(rf"\b(?:{_COLOUR})\b", text)}


def _caption_colours(ann: Annotations, sense: Sense) -> set[str]:
    """The colour words the captions put right before a word for the same thing."""
    described: set[str] = set()
    for caption in ann.captions:
        for cs, _ce, cap_sense in ann.lexicon.find(caption):
            if cap_sense.categories & sense.categories:
                # "a white with red striped bus": any colour among the four words before it
                near = " ".join(re.findall(r"[a-z]+", caption[max(0, cs - 60) : cs])[-4:])
                described |= _colours(near)
    return described


def colour_claims(text: str, ann: Annotations) -> list[Finding]:
    """Findings for every "<colour> <thing>" and "<thing> is <colour>" in ``text``."""
    found: list[Finding] = []
    low = text.lower()
    for start, end, sense in ann.lexicon.find(low):
        before = _BEFORE.search(low[max(0, start - 40) : start])
        after = _AFTER.match(low[end : end + 40])
        said = _colours(
            (before.group(1) if before else "") + " " + (after.group(1) if after else "")
        )
        if not said or NEG.search(low[max(0, start - 30) : start]):
            continue  # "there is no brown circle" says nothing of any thing's colour
        claim = f"{' and '.join(sorted(said))} {sense.word}"
        members = [x for x in ann.members(sense) if not x.crowd]
        attrs = {_norm(x.attributes["color"]) for x in members if x.attributes.get("color")}
        if members and len(attrs) and all(x.attributes.get("color") for x in members):
            if not said & attrs:
                found.append(
                    Finding("refuted", claim, f"annotated colour(s): {', '.join(sorted(attrs))}")
                )
            continue
        described = _caption_colours(ann, sense)
        if said & described:
            found.append(
                Finding(
                    "confirmed", claim, f"a caption calls it {', '.join(sorted(said & described))}"
                )
            )
            continue
        shares = [ann.colour_share(x, c) for x in members for c in said]
        if members and shares and all(v is not None for v in shares):
            if all(v is not None and v < ABSENT_SHARE for v in shares):
                found.append(
                    Finding(
                        "refuted",
                        claim,
                        f"at most {max(v or 0 for v in shares):.0%} of its box's pixels are {' or '.join(sorted(said))}",
                    )
                )
                continue
            # dark, light and grey pixels are in most boxes: they confirm no black, white or grey
            strict_shares = [ann.colour_share(x, c, strict=True) for x in members for c in said]
            if not said & NEUTRAL.keys() and all(
                v is not None and v >= PRESENT_SHARE for v in strict_shares
            ):
                found.append(Finding("confirmed", claim, "its box's pixels show that colour"))
                continue
        if described:  # the captions give it other colours, and its pixels do not overrule them
            found.append(
                Finding("refuted", claim, f"the captions call it {', '.join(sorted(described))}")
            )
        else:
            found.append(Finding("unsettled", claim, "neither captions nor pixels settle it"))
    return found


_ASKS = re.compile(
    r"\b(?:what|which) colou?rs?\b|\bcolou?rs? (?:of|is)\b|\b(?:its|their) colou?rs?\b"
)


def asked_colour(question: str, answer: str, ann: Annotations) -> list[Finding]:
    """ "What colour is the bus?" + "Black." (or "D) black"): the bus is said to be black."""
    from mmevol.facts.pronouns import referent

    if not _ASKS.search(question.lower()):
        return []
    ref = referent(question, ann)
    words = re.findall(r"[a-z]+", answer.lower())[:8]
    said = next((w for w in words if w in COLOURS), None)
    if not ref or ref.startswith("[") or said is None or re.search(r"\bnot\b|n't", answer.lower()):
        return []
    return colour_claims(f"the {ref} is {said}", ann)
