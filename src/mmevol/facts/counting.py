"""Count claims read from one clause: "there are 3 dogs", "3 people and books combined",
"both sinks", "the only person", "the fourth spoon".

A number directly before a thing (adjectives allowed, no preposition in between) is a count;
it is a claim about the whole image when the sentence says so ("there are", "in total", "the
image shows") and otherwise only bounds the total ("2 dogs on the left"). Units, measures and
collectives ("a 15 inch laptop", "one group of people") are not counts of the thing. One
number for several kinds is checked as their sum; words such as "both" and "the only" carry
counts of their own.
"""

from __future__ import annotations

import re

from mmevol.facts.annotations import (
    NUMBER_RE,
    Annotations,
    Finding,
    amount,
    number_value,
)
from mmevol.facts.claims import NEG, TOTAL_MODS, Phrase, _phrases
from mmevol.facts.lexicon import Sense

# -- counts ------------------------------------------------------------------------------------
_COUNT = re.compile(rf"\b({NUMBER_RE})\s+((?:[a-z-]+\s+){{0,2}}?)$")
_TOTAL_HEAD = re.compile(
    r"(?:\bthere (?:is|are|'s)|\b(?:shows?|contains?|has|have|includes?|features?|depicts?)|"
    r"\b(?:see|count|counted)|\btotal of|\bexactly|\bin all|\bonly|\bnumber of \w+ (?:is|=))\s*$"
)
_TOTAL_TAIL = re.compile(
    r"^\s*(?:$|in (?:the|this) (?:image|picture|photo|photograph|scene|frame)\b|in total\b|"
    r"altogether\b|total\b|(?:are|is) (?:visible|present|shown|there|in (?:the|this) (?:image|picture|photo))\b|"
    r"(?:can be seen|visible|appears?|show up|are seen|is seen)\b|[,:(])"
)


# words after "there are 3 dogs ..." that make the three a part of the dogs, not all of them
_RESTRICT = re.compile(
    r"\b(?:left|right|top|bottom|upper|lower|foreground|background|front|behind|near|nearest|"
    r"next|beside|corner|side|center|centre|middle|edge|who|that|which|wearing|holding|with|"
    r"without|each|other|another|also|more|fewer|less|of|among|besides|except|visible in the)\b"
)


# units, measures and collective nouns: "15 inch laptop", "2 feet from the cat", "one group of"
_NOT_COUNTED = {
    "inch", "inches", "foot", "feet", "cm", "mm", "meter", "meters", "metre", "metres", "km",
    "mile", "miles", "percent", "degree", "degrees", "year", "years", "month", "months",
    "day", "days", "hour", "hours", "minute", "minutes", "second", "seconds", "kg", "pound",
    "pounds", "times", "group", "groups", "team", "teams", "herd", "herds", "flock", "flocks",
    "pack", "crowd", "crowds", "row", "rows", "line", "lines", "pile", "piles", "stack",
    "stacks", "set", "sets", "bunch", "family", "families", "fleet", "pair", "pairs", "kind",
    "kinds", "type", "types", "sort", "sorts", "piece", "pieces", "slice", "slices", "part",
    "parts", "side", "sides", "of", "story", "storey", "wheel", "wheels", "seater", "x",
}  # fmt: skip
_PREPOSITIONS = {"to", "of", "from", "in", "on", "at", "by", "with", "for", "near", "than", "as", "into"}  # fmt: skip
_EXPLICIT_TOTAL = re.compile(r"\b(?:in total|altogether|in all|combined|all told|total of|in the whole (?:image|picture|photo))\b")  # fmt: skip
_JOIN = re.compile(r"\s*(?:,\s*(?:and\s+)?|\s+and\s+|\s+or\s+|\s+plus\s+|\s*&\s*)(?:the\s+)?$")
_STATED = re.compile(rf"^\s*(?:(?:visible|shown|present|here|annotated)\s+)?(?:in (?:the|this) (?:image|picture|photo|scene)\s*)?(?:is|=|:|comes to|equals|totals?|amounts to)\s+({NUMBER_RE}|zero|none|no)\b")  # fmt: skip
_BLOCK = re.compile(
    r"\b(?:of|than|out of|from|among|to|about|around|over|under|nearly|least|most|"
    r"approximately|roughly|almost|some|maybe|perhaps|probably)\s*$"
)


def _group(phrases: list[Phrase], k: int, clause: str) -> list[Phrase]:
    """The phrases joined to phrase ``k`` by "and" / "," / "plus" ("3 people and books")."""
    group = [phrases[k]]
    for nxt in phrases[k + 1 :]:
        if not _JOIN.fullmatch(" " + clause[group[-1][1] : nxt[0]]):
            break
        group.append(nxt)
    return group


def counts(clause: str, ann: Annotations) -> list[Finding]:
    found: list[Finding] = []
    phrases = _phrases(clause, ann)
    covered: set[int] = set()
    for k, (start, end, sense) in enumerate(phrases):
        if start in covered:
            continue
        stated = _STATED.match(clause[end:]) if re.search(r"\b(?:number|count|total) of\s+(?:the\s+)?$", clause[:start]) else None  # fmt: skip
        m = _COUNT.search(clause[:start])
        if stated:  # "the number of cups is 2"
            n = number_value(stated.group(1))
            if n is not None and not NEG.search(clause[max(0, start - 20) : start]):
                found.append(ann.exact_count(sense, n, amount(n, sense.word), True))
            continue
        if not m:
            continue
        n = number_value(m.group(1))
        before = clause[: m.start()]
        blocked = _BLOCK.search(before) and not re.search(r"\btotal of\s*$", before)
        if n is None or blocked or NEG.search(before[-12:]):
            continue  # "two of the 5 dogs", "more than 3 dogs", "not 3 dogs": not a plain count
        group = _group(phrases, k, clause)
        covered |= {p[0] for p in group}
        end = group[-1][1]
        mods = set(m.group(2).split())
        if mods & _PREPOSITIONS:
            continue  # "the nearest of the two to the oven": the two are not ovens
        if mods & _NOT_COUNTED or _NOT_COUNTED & set(
            re.findall(r"[a-z]+", clause[end : end + 12])[:1]
        ):
            continue  # "a 15 inch laptop", "one group of people": a measure or a collective
        head = bool(_TOTAL_HEAD.search(before[-30:])) or bool(re.search(r"\ball\s*$", before))
        tail = clause[end:]
        total = not (mods - TOTAL_MODS) and (
            bool(_EXPLICIT_TOTAL.search(clause))
            or (
                (head or not before.strip())
                and bool(
                    _TOTAL_TAIL.match(tail)
                    or (head and not _RESTRICT.search(" ".join(tail.split()[:6])))
                )
            )
        )
        if len(group) > 1:
            found += _group_count(ann, [p[2] for p in group], n, total)
        else:
            found.append(ann.exact_count(sense, n, amount(n, sense.word), total))
    return found


def _group_count(ann: Annotations, senses: list[Sense], n: int, total: bool) -> list[Finding]:
    """ "3 people and books combined": one number for several kinds, checked as their sum."""
    counts = [ann.count(s) for s in senses]
    if not total or any(
        s.relation not in {"same", "group"} or not ann.is_closed(s) for s in senses
    ):
        return []
    have = sum(c.n for c in counts)
    claim = f"{n} {' and '.join(s.word for s in senses)} together"
    crowd = any(c.crowd for c in counts)
    if n < have + (2 if crowd else 0) or (n > have and not crowd):
        return [Finding("refuted", claim, f"the annotations have {have} of them" + (" plus a crowd" if crowd else ""))]  # fmt: skip
    return [] if crowd else [Finding("confirmed", claim, f"the annotations have {have}")]


_ONE = re.compile(
    r"\b(?:the only|the sole|the single|the one and only|a lone|a single|only one|just one|"
    r"exactly one|one single)\s+(?:[a-z-]+\s+){0,2}?$"
)
_BOTH = re.compile(r"\b(?:both(?: of the)?|the two|the pair of)\s+(?:[a-z-]+\s+){0,2}?$")
_ORDINALS = {"second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10}  # fmt: skip
_NTH = re.compile(rf"\bthe ({'|'.join(_ORDINALS)})(?: one| of them)?\b")


def implicit_counts(clause: str, ann: Annotations) -> list[Finding]:
    """Counts a phrase takes for granted: "both sinks" (two), "the only person" (one), "the
    fourth spoon" or "of the spoons, the fourth one" (at least four)."""
    found: list[Finding] = []
    phrases = _phrases(clause, ann)
    for start, _end, sense in phrases:
        before = clause[max(0, start - 40) : start]
        if NEG.search(before[-20:]):
            continue
        n = 1 if _ONE.search(before) else 2 if _BOTH.search(before) else None
        gap = set(re.findall(r"[a-z]+", before.split("only")[-1].split("both")[-1][-25:]))
        if n is not None and sense.relation in {"same", "group"} and not gap & _NOT_COUNTED:
            found.append(ann.exact_count(sense, n, amount(n, sense.word), True))
    for m in _NTH.finditer(clause):
        after = [p for p in phrases if 0 <= p[0] - m.end() <= 15]
        of = [p for p in phrases if p[1] <= m.start() and re.search(r"\bof the\s+$", clause[: p[0]])]  # fmt: skip
        target = after[:1] or of[-1:]
        k = _ORDINALS[m.group(1)]
        if target and target[0][2].relation in {"same", "group"} and ann.is_closed(target[0][2]):
            have = ann.count(target[0][2])
            if have.n < k and not have.crowd:
                found.append(Finding("refuted", f"a {m.group(1)} {target[0][2].word}", have.describe(target[0][2].word)))  # fmt: skip
    return found
