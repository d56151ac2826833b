"""Claims read from one clause of free text: what is there, how many, what a box shows.

Every reader takes one lower-cased clause and returns ``Finding``s; a clause it cannot parse
yields nothing (never a refutation). This module owns the shared reading helpers (the noun
phrases of a clause, boxes in text, which annotated instances a phrase can mean, superlatives
such as "leftmost") and three readers:

- presence and absence ("there is a dog", "no cars are visible", "the photo shows a man and a
  horse", "the cat sleeps": a thing the text is about is a thing in the image);
- (counts are read by ``counting``);
- the class a box shows ("the cat at [x1, y1, x2, y2]", "[...] contains a bench").

Negation, alternatives ("a cat or a dog") and things that are not real ("a toy horse") are not
read as presence.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from mmevol.facts.annotations import (
    Annotations,
    Finding,
    Instance,
    Status,
    a,
)
from mmevol.facts.lexicon import Sense, lemma
from mmevol.geometry import BOX_RE, as_box

Reader = Callable[[str, Annotations], list[Finding]]
NEG = re.compile(
    r"\b(?:not|no|never|none|nothing|nobody|neither|nor|without|cannot|absent|missing)\b|n't\b"
)
MARGIN = 0.03  # centre offsets smaller than this settle no left/right or above/below claim
TOTAL_MODS = {"visible", "total", "different", "distinct", "separate", "individual", "whole"}

Phrase = tuple[int, int, Sense]


def _phrases(clause: str, ann: Annotations) -> list[Phrase]:
    return ann.lexicon.find(clause)


def _boxes(clause: str) -> list[tuple[int, int, tuple[float, float, float, float]]]:
    out = []
    for m in BOX_RE.finditer(clause):
        try:
            out.append((m.start(), m.end(), as_box([float(g) for g in m.groups()])))
        except ValueError:
            continue
    return out


# -- which instances a phrase names ----------------------------------------------------------
# an extreme by either measure counts ("leftmost": by centre or by left edge), ties included
_SUPERLATIVE: dict[str, tuple[Callable[[Instance], float], ...]] = {
    "leftmost": (lambda x: x.cx(), lambda x: x.x1()),
    "rightmost": (lambda x: -x.cx(), lambda x: -x.x2()),
    "topmost": (lambda x: x.cy(), lambda x: x.y1()),
    "highest": (lambda x: x.cy(), lambda x: x.y1()),
    "uppermost": (lambda x: x.cy(), lambda x: x.y1()),
    "bottommost": (lambda x: -x.cy(), lambda x: -x.y2()),
    "lowest": (lambda x: -x.cy(), lambda x: -x.y2()),
    "largest": (lambda x: -x.area(),),
    "biggest": (lambda x: -x.area(),),
    "smallest": (lambda x: x.area(),),
}


def superlative(clause: str, phrase: Phrase) -> str | None:
    """The superlative ("leftmost", "largest", ...) right before a phrase, if any."""
    before = clause[max(0, phrase[0] - 30) : phrase[0]].split()
    return next((w for w in reversed(before[-2:]) if w in _SUPERLATIVE), None)


def extremes(members: list[Instance], word: str) -> list[Instance]:
    """The members that are the ``word`` one by any of its measures (near ties included)."""
    out: list[Instance] = []
    for key in _SUPERLATIVE[word]:
        best = min(key(x) for x in members)
        tol = 0.0005 if word in {"largest", "biggest", "smallest"} else MARGIN
        out += [x for x in members if key(x) <= best + tol and x not in out]
    return out


def resolve(
    clause: str, phrase: Phrase, ann: Annotations, use_box: bool = True
) -> list[Instance] | None:
    """The instances a phrase can mean: a box right after it picks one; "leftmost" and the like
    pick the extreme ones; other modifiers leave every member. None when it names nothing."""
    _start, end, sense = phrase
    members = [x for x in ann.members(sense) if x.box is not None and not x.crowd]
    if not members:
        return None
    after = clause[end : end + 40]
    m = re.match(r"\s*(?:\(|at|located at|in|is at|is in)?\s*(\[[^\]]*\])", after)
    if m and use_box:
        boxes = _boxes(m.group(1))
        if boxes:
            hits = [x for x in ann.at_box(boxes[0][2]) if x in members]
            return hits[:1] or None
    word = superlative(clause, phrase)
    return extremes(members, word) if word else members


# -- presence and absence ----------------------------------------------------------------------
_ABSENT_HEAD = re.compile(
    r"\bthere (?:is|are) no\b|\bthere (?:isn't|aren't|is not|are not)(?: an?| any)?\b|"
    r"\b(?:does|do|did) not (?:contain|show|include|have|feature|depict)(?: an?| any)?\b|"
    r"\b(?:doesn't|don't) (?:contain|show|include|have|feature|depict)(?: an?| any)?\b|"
    r"\b(?:don't|do not|cannot|can't|can not|couldn't|could not) (?:see|find|spot)(?: an?| any)?\b|"
    r"\bwithout (?:an?|any)?\b|\bno\b|\b(?:free|devoid|empty) of\b|\black(?:s|ing)?\b|"
    r"\b(?:not a single|not one|no sign of|no trace of|absence of|zero)\b|"
    r"\bnone of (?:the )?(?:\w+ )?(?:shown |here |visible |present )?(?:is|are) (?:an?|the)?\b|"
    r"\b(?:won't|will not|wouldn't|would not) (?:find|see|spot)(?: an?| any)?\b"
)
# "nowhere in the frame does a sheep appear": everything named after it is absent
_NOWHERE = re.compile(r"\bnowhere\b|\bat no point\b|\bin no part\b")
_QUANTITY = re.compile(
    r"(?:\b(?:number|count|counts|amount|total|tally|pairs?) of\s+(?:the\s+)?|\b(?:0|zero)\s+(?:[a-z]+\s+)?)$"
)
_DETERMINERS = {"a", "an", "any", "the", "single", "one", "such", "sign", "trace", "of"}
_NOT_REAL = re.compile(
    r"\b(?:like|as|resembl\w*|similar to|shaped|toy|model|picture of|photo of|painting of|"
    r"drawing of|image of|poster of|statue of|figurine|cartoon|printed|logo|imitation|fake)\b"
    r"(?:\s+[a-z]+){0,2}\s*$"
)
_ABSENT_TAIL = re.compile(
    r"^\s*(?:is|are) (?:not|n't) (?:visible|present|shown|depicted|in the (?:image|picture|photo))|"
    r"^\s*(?:isn't|aren't) (?:visible|present|shown|in the)|^\s*(?:is|are) (?:absent|missing)"
)


def presence(clause: str, ann: Annotations) -> list[Finding]:
    found: list[Finding] = []
    phrases = _phrases(clause, ann)
    for start, end, sense in phrases:
        head = clause[:start]
        tail = clause[end:]
        near = head[-40:]
        headed = re.search(r"(?:" + _ABSENT_HEAD.pattern + r")((?:\s+[a-z]+){0,2})\s*$", near)
        absent = _ABSENT_TAIL.match(tail) or headed or _NOWHERE.search(head)
        if absent:
            said = [p[2].categories for p in phrases if p[1] <= start]
            if sense.categories in said:  # "a crowd of people, not a single person": a contrast
                continue
            mods = [w for w in (headed.group(1).split() if headed else []) if w not in _DETERMINERS]
            if mods:  # "no brown circle": only the brown circles count
                kept = ann.with_attributes(sense, mods)
                if kept is not None:
                    claim = f"no {' '.join(mods)} {sense.word} in the image"
                    status: Status = "refuted" if kept else "confirmed"
                    found.append(Finding(status, claim, f"{len(kept)} annotated"))
                continue
            found.append(ann.presence(sense, False, f"no {lemma(sense.word)} in the image"))
            continue
        if NEG.search(near[-25:]) or NEG.search(tail[:25]) or _NOT_REAL.search(near[-30:]):
            continue  # negated some other way, or not the real thing ("a toy dog"): not read
        if _QUANTITY.search(near):
            continue  # "number of buses = 0": a count, read by ``counts``
        if re.match(r"^\s*or\b", tail) or re.search(
            r"\b(?:or|either|any)\s+(?:an?\s+|the\s+)?$", near
        ):
            continue  # alternatives ("a cat or a dog") assert neither
        # stated as there ("there is", "shows", "is visible") or named as a thing the text is
        # about ("the cat sleeps"): either way the text says it is in the image
        found.append(ann.presence(sense, True, f"{a(sense.word)} is in the image"))
    return found


# -- the class a box shows --------------------------------------------------------------------
_BOUND = re.compile(
    r"\s*(?:#?\d{1,3}\s*)?(?:\(|,|:|-)?\s*(?:(?:is |are |can be |sits |stands |lies )?"
    r"(?:located |found |positioned |seen |visible )?(?:at|in|inside|within)\s+|(?:is|are|=)\s+|"
    r"(?:is |are )?(?:enclosed|bounded|framed|outlined|marked|covered|contained|boxed|shown) (?:by|in|within|at)\s+)?"
    r"(?:the )?(?:box|region|bbox)?\s*"
)
_ADJ = re.compile(
    r"(?:(?!(?:to|of|from|than|near|by|with|behind|beside|under|over|on|in|at|and|or|closest|nearest|next)\b)[a-z]+\s+){0,2}"
)
_BOX_VERB = re.compile(
    r"^\s*(?:\)|,)?\s*(?:contains|shows|holds|depicts|is|has|encloses|frames|marks|covers|=|:|->|"
    r"(?:we|you|one) (?:can )?(?:find|see|spot)|there (?:is|are)|there's|lies|sits|appears)"
    r"\s+(?:(?:an?|the|one|only|exactly one)\s+)?"
)


def box_classes(clause: str, ann: Annotations) -> list[Finding]:
    found: list[Finding] = []
    phrases = _phrases(clause, ann)
    for bstart, bend, box in _boxes(clause):
        hits = ann.at_box(box)
        if not hits:  # matches nothing: wrong for a thing the annotations would list
            near = [
                p for p in phrases if p[1] <= bstart and _BOUND.fullmatch(clause[p[1] : bstart])
            ]
            if near and near[-1][2].relation != "super" and ann.is_closed(near[-1][2]):
                what = near[-1][2].word
                found.append(Finding("refuted", f"the {what} is at {list(box)}", f"no annotated {what} has that box"))  # fmt: skip
            continue
        named: list[Sense] = []
        adjacent = [
            p for p in phrases if p[1] <= bstart and _BOUND.fullmatch(clause[p[1] : bstart])
        ]
        v = _BOX_VERB.match(clause[bend:])
        if adjacent:
            named.append(adjacent[-1][2])
        elif v:
            lo = bend + v.end()
            named += [s for st, _, s in phrases if st >= lo and _ADJ.fullmatch(clause[lo:st])][:1]
        if not named:
            window = clause[max(0, bstart - 60) : bstart]
            cut = max(window.rfind(w) for w in (" and ", " while ", " whereas ", "; ", ", "))
            lo = max(0, bstart - 60) + (cut if cut >= 0 else 0)
            named += [s for st, en, s in phrases if lo <= st and en <= bstart]
        if not named:
            continue
        cats = {x.category for x in hits}
        words = " or ".join(dict.fromkeys(s.word for s in named))
        claim = f"{list(box)} shows a {words}"
        before = [p for p in phrases if p[1] <= bstart]
        word = superlative(clause, before[-1]) if adjacent and before else None
        if word and adjacent[-1][2].categories & cats:
            picked = extremes([x for x in ann.countable(adjacent[-1][2]) if x.box], word)
            if picked and not any(x in hits for x in picked):  # "the leftmost cup at [another cup]"
                found.append(
                    Finding(
                        "refuted",
                        f"the {word} {named[-1].word} is at {list(box)}",
                        f"that box is another {hits[0].category}",
                    )
                )
                continue
        if any(s.categories & cats for s in named):
            found.append(
                Finding("confirmed", claim, f"that box is annotated as {hits[0].category}")
            )
        else:
            found.append(Finding("refuted", claim, f"that box is annotated as {hits[0].category}"))
    return found
