"""Claims that only the question and answer together make: a choice among named candidates,
a share of the image, and what a wh-question takes for granted.

- "Which is larger, the dog or the cat?" / "Which is closest to the bench: the bike, the car
  or the man?" — the candidate the answer names must be the best one by the question's
  measure (box area, centre distance, position), unless another candidate beats it clearly
  for every reading of the phrases;
- "about 40 % of the image" — the share of the frame the named thing's box covers;
- "What is the cat on the sofa doing?" — a wh-question about "the cat" takes for granted that
  there is a cat, and so does any answer to it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from mmevol.facts.annotations import NUMBER_RE, Annotations, Finding, Instance, number_value
from mmevol.facts.claims import NEG, Phrase, resolve
from mmevol.geometry import BOX_RE, as_box

Measure = Callable[[Instance, Instance | None], float]  # lower is better


def _log_area(x: Instance) -> float:
    return math.log(max(x.area(), 1e-6))


# (pattern, measured against a reference thing?, the measures of its readings, how clearly a
# rival must win). A claim is refuted only when a rival wins under every reading: "nearest to
# the left edge" may mean the box's left side or its centre, so both are measured.
# fmt: off
_CRITERIA: list[tuple[re.Pattern[str], bool, tuple[Measure, ...], float]] = [
    (re.compile(r"\b(?:closest|nearest|closer|nearer)\b(?! to the (?:left|right|top|bottom|upper|lower)\b)"), True, (lambda x, y: _d(x, y),), 0.03),
    (re.compile(r"\b(?:farthest|furthest|farther|further away)(?! (?:to the )?(?:left|right|up|down))\b"), True, (lambda x, y: -_d(x, y),), 0.03),
    (re.compile(r"\b(?:largest|biggest|larger|bigger|more space|most space|more room)\b"), False, (lambda x, y: -_log_area(x),), 0.22),
    (re.compile(r"\b(?:smallest|smaller|tiniest|tinier|littlest|less space|least space)\b"), False, (lambda x, y: _log_area(x),), 0.22),
    (re.compile(r"\b(?:leftmost|(?:furthest|farthest|further|most) (?:to the )?left|more to the left|(?:closest|nearest) to the left (?:edge|border|side))\b"), False, (lambda x, y: x.cx(), lambda x, y: x.x1()), 0.03),
    (re.compile(r"\b(?:rightmost|(?:furthest|farthest|further|most) (?:to the )?right|more to the right|(?:closest|nearest) to the right (?:edge|border|side))\b"), False, (lambda x, y: -x.cx(), lambda x, y: -x.x2()), 0.03),
    (re.compile(r"\b(?:highest|topmost|higher up|higher|(?:closest|nearest) to the (?:top|upper) (?:edge|border|side))\b"), False, (lambda x, y: x.cy(), lambda x, y: x.y1()), 0.03),
    (re.compile(r"\b(?:lowest|bottommost|lower down|lower|(?:closest|nearest) to the (?:bottom|lower) (?:edge|border|side))\b"), False, (lambda x, y: -x.cy(), lambda x, y: -x.y2()), 0.03),
]
# fmt: on


_LABELS = (
    ("left", "leftmost"), ("right", "rightmost"), ("further away", "farthest"),
    ("farthest", "farthest"), ("furthest", "farthest"), ("farther", "farthest"),
    ("clos", "closest"), ("near", "closest"), ("larg", "largest"), ("big", "largest"), ("more", "largest"),
    ("most", "largest"), ("small", "smallest"), ("tin", "smallest"), ("littl", "smallest"),
    ("less", "smallest"), ("least", "smallest"), ("top", "highest"), ("upper", "highest"),
    ("high", "highest"), ("bottom", "lowest"), ("low", "lowest"),
)  # fmt: skip


def _label(text: str) -> str:
    """The measure a criterion names, as a superlative ("more space" -> "largest")."""
    return next((name for key, name in _LABELS if key in text), text)


def _d(x: Instance, y: Instance | None) -> float:
    if y is None:
        return 0.0
    return float(((x.cx() - y.cx()) ** 2 + (x.cy() - y.cy()) ** 2) ** 0.5)


_NUMEROUS = re.compile(
    r"\b(?:more|most) (?:numerous|common|frequent)\b|\boutnumber|\bmore of (?!the (?:image|picture|photo|frame))"
)
_FEWER = re.compile(r"\b(?:less|least|fewer|fewest) (?:numerous|common|frequent)\b")


def _candidates(
    q: str, ann: Annotations, ref: Phrase | None
) -> list[tuple[Phrase, list[Instance]]]:
    """The things a question offers to choose from, each with the instances it can mean."""
    out: list[tuple[Phrase, list[Instance]]] = []
    for p in ann.lexicon.find(q):
        if ref is not None and p[0] == ref[0]:
            continue
        xs = resolve(q, p, ann)
        if xs and all(set(map(id, xs)) != set(map(id, c)) for _, c in out):
            out.append((p, xs))
    return out


_SKIP_BOXES = re.compile(r"\s*(?:at\s+)?\[[^\]]*\]")
_BARE = re.compile(
    r"\W*(?:(?:it|that|this|the answer|answer|the correct one)\s*(?:is|'s|:)?\s*)?(?:the |an? )?"
    r"(?:(?!is\b|are\b)[a-z-]+\s*){1,3}(?:(?:at|in)\s*)?\W*"
)


def _picked(
    a: str, ann: Annotations, cands: list[tuple[Phrase, list[Instance]]], cue: re.Pattern[str]
) -> int | None:
    """Which candidate the answer names (by box when it gives one, else by kind)."""
    named: list[int] = []
    bare = bool(_BARE.fullmatch(BOX_RE.sub(" ", a)))  # "The orange at [...]." / "It is the cat."
    for p in ann.lexicon.find(a):
        xs = resolve(a, p, ann) or []
        hits = [k for k, (c, inst) in enumerate(cands) if set(map(id, xs)) & set(map(id, inst))]
        kinds = [k for k, (c, _) in enumerate(cands) if c[2].categories == p[2].categories]
        match = hits if len(hits) == 1 else kinds if len(kinds) == 1 else []
        after = _SKIP_BOXES.sub(" ", a[p[1] : p[1] + 120])[:45]
        before = a[max(0, p[0] - 45) : p[0]]
        if match and (
            re.match(r"(?:,\s*which)?[^.;,]{0,30}?" + cue.pattern, after)
            or re.search(cue.pattern + r"(?:\s+[a-z]+){0,5}?\s+(?:is|:|=)\s+(?:the\s+)?$", before)
        ):
            named = [match[0], *named]
        elif match and bare:
            named.append(match[0])
    if not named and bare and BOX_RE.search(a):  # "the one at [box]"
        box = as_box([float(v) for v in BOX_RE.findall(a)[0]])
        at = {id(x) for x in ann.at_box(box)}
        hits = [k for k, (_, inst) in enumerate(cands) if at & set(map(id, inst))]
        named = hits[:1] if len(hits) == 1 else []
    return named[0] if named else None


def choice(question: str, answer: str, ann: Annotations) -> list[Finding]:
    """The candidate an answer picks must be the best by the question's measure."""
    q = question.lower()
    if not re.search(r"\b(?:which|who|what)\b|\bor\b", q):
        return []
    if _NUMEROUS.search(q) or _FEWER.search(q):
        return _by_count(q, answer.lower(), ann, more=bool(_NUMEROUS.search(q)))
    phrases = ann.lexicon.find(q)
    starts = {p[0] for p in phrases}
    found = [
        (c, m)
        for c in _CRITERIA
        for m in c[0].finditer(q)
        # "the leftmost chair" names a thing; only "which is leftmost" asks for a measure
        if not any(
            0 <= st - m.end() <= 12 and re.fullmatch(r"\s*(?:[a-z-]+\s+)?", q[m.end() : st])
            for st in starts
        )
    ]
    if len({id(c) for c, _ in found}) != 1:
        return []  # none, or several ("higher or lower", "which is larger and which is left")
    (pattern, relative, measures, tol), hit = found[0]
    ref: Phrase | None = None
    if relative:
        after = [p for p in ann.lexicon.find(q) if p[0] >= hit.end() and re.search(r"\b(?:to|from)\s+(?:the\s+)?(?:[a-z]+\s+){0,2}$", q[hit.end() : p[0]])]  # fmt: skip
        if not after:
            return []
        ref = after[0]
    cands = _candidates(q, ann, ref)
    if len(cands) < 2:
        return []
    k = _picked(answer.lower(), ann, cands, pattern)
    if k is None:
        return []
    ys: list[Instance | None] = list(resolve(q, ref, ann) or []) if ref else [None]
    if not ys:
        return []
    for measure in measures:
        for y in ys:
            best = min((measure(x, y) for x in cands[k][1] if x is not y), default=None)
            rivals = [
                min((measure(x, y) for x in inst if x is not y), default=math.inf)
                for j, (_, inst) in enumerate(cands)
                if j != k
            ]
            if best is None or not rivals or min(rivals) >= best - tol:
                return []  # under this reading the chosen candidate is (nearly) the best
    word = cands[k][0][2].word
    return [
        Finding(
            "refuted",
            f"the {word} is the {_label(hit.group(0))} one",
            "another candidate the question lists wins by the annotated boxes",
        )
    ]


def _by_count(q: str, a: str, ann: Annotations, more: bool) -> list[Finding]:
    """ "Which are more numerous, people or backpacks?": exact counts decide."""
    kinds = [p for p in ann.lexicon.find(q) if p[2].relation == "same" and ann.is_closed(p[2])]
    if len({p[2].categories for p in kinds}) < 2:
        return []
    named = [
        p for p in ann.lexicon.find(a) if any(p[2].categories == c[2].categories for c in kinds)
    ]
    if not named:
        return []
    counts = {p[2].categories: ann.count(p[2]) for p in kinds}
    if any(c.crowd for c in counts.values()):
        return []
    chosen = counts[named[0][2].categories].n
    others = [c.n for cats, c in counts.items() if cats != named[0][2].categories]
    wrong = any(n > chosen for n in others) if more else any(n < chosen for n in others)
    if not wrong:
        return []
    said = ", ".join(f"{c.n} {cats and sorted(cats)[0]}" for cats, c in counts.items())
    return [
        Finding(
            "refuted",
            f"the {named[0][2].word} are the {'more' if more else 'less'} numerous",
            f"annotated: {said}",
        )
    ]


_SHARE = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*(?:%|percent|per cent)")


def area_share(question: str, answer: str, ann: Annotations) -> list[Finding]:
    """ "It covers about 40 % of the image": the named thing's box area against the frame."""
    text = f"{question} {answer}".lower()
    if not re.search(r"\b(?:of the (?:image|picture|photo|frame|scene)|of the whole)\b", text):
        return []
    shares = [float(m.group(1)) / 100 for m in _SHARE.finditer(answer.lower())]
    phrases = ann.lexicon.find(question.lower()) or ann.lexicon.find(answer.lower())
    if len(shares) != 1 or not phrases:
        return []
    xs = resolve(question.lower(), phrases[0], ann) if phrases else None
    if not xs or len(xs) != 1:
        return []
    actual, said = xs[0].area(), shares[0]
    if abs(actual - said) > 0.02 and not 0.55 <= said / max(actual, 1e-6) <= 1.8:
        return [
            Finding(
                "refuted",
                f"the {phrases[0][2].word} covers {said:.0%} of the image",
                f"its box covers {actual:.0%}",
            )
        ]
    return [
        Finding(
            "confirmed",
            f"the {phrases[0][2].word} covers {said:.0%}",
            f"its box covers {actual:.0%}",
        )
    ]


_WH = re.compile(r"^\s*(?:what|which|where|why|how(?! many)|who|whose|describe|explain|tell)\b")
_THE_N = re.compile(rf"\bthe ({NUMBER_RE})\s+(?:[a-z-]+\s+){{0,2}}$")
_THE = re.compile(r"\bthe\s+(?:[a-z]+\s+){0,2}$")


def presupposed(question: str, ann: Annotations) -> list[Finding]:
    """Counts a question takes for granted ("of the four sinks"), and things a wh-question
    calls "the X"; only refutations are reported (the answer's own claims are read apart)."""
    q = question.lower()
    if re.search(r"\b(?:if|whether|suppose|imagine|pretend|hypothetical)\b", q):
        return []
    wh = bool(_WH.match(q)) and not re.search(r"\b(?:any|not|no)\b", q)
    found: list[Finding] = []
    for start, _end, sense in ann.lexicon.find(q):
        counted = _THE_N.search(q[max(0, start - 40) : start])
        n = number_value(counted.group(1)) if counted else None
        if n is not None:
            f = ann.exact_count(sense, n, f"the question speaks of {n} {sense.word}", total=True)
        elif wh and sense.relation != "super" and _THE.search(q[max(0, start - 30) : start]):
            f = ann.presence(sense, True, f"the question takes a {sense.word} for granted")
        else:
            continue
        if f.status == "refuted":
            found.append(f)
    return found


_EXTREME_OBJECT = re.compile(
    r"\b(largest|biggest|smallest|tiniest) (?:single )?(?:thing|object|item|one)(?: in (?:view|sight|"
    r"the (?:image|picture|photo|frame|scene)))?\b"
)


def extreme_object(question: str, answer: str, ann: Annotations) -> list[Finding]:
    """ "The biggest thing in view is a sink": of all annotated objects, by box area."""
    q, a = question.lower(), answer.lower()
    m = _EXTREME_OBJECT.search(a) or _EXTREME_OBJECT.search(q)
    if not m or NEG.search(a[:200]):
        return []
    named = ann.lexicon.find(a[m.end() :] if _EXTREME_OBJECT.search(a) else a)
    if not named or named[0][2].relation not in {"same", "sub", "group"}:
        named = ann.lexicon.find(a[: m.start()]) if _EXTREME_OBJECT.search(a) else []
    if not named:
        return []
    sense = named[0][2]
    mine = [x for x in ann.members(sense) if x.box and not x.crowd]
    others = [x for x in ann.instances if x.box and not x.crowd and x.category not in sense.categories]  # fmt: skip
    if not mine or not others:
        return []
    big = m.group(1) in {"largest", "biggest"}
    best = max(x.area() for x in mine) if big else min(x.area() for x in mine)
    rival = max(x.area() for x in others) if big else min(x.area() for x in others)
    wins = rival > best * 1.25 if big else rival * 1.25 < best
    if not wins:
        return []
    return [Finding("refuted", f"the {sense.word} is the {m.group(1)} object", "another annotated object's box is clearly " + ("larger" if big else "smaller"))]  # fmt: skip


_MOST = re.compile(
    r"\b(?:most (?:numerous|common|frequent(?:ly)?|often)|"
    r"more (?:of them )?than (?:anything|any other kind) else|the most (?:instances|copies))\b"
)


def most_numerous(question: str, answer: str, ann: Annotations) -> list[Finding]:
    """ "Which kind appears most often?" + "Backpacks": the kind with the largest count (a crowd
    region counts as two, the least it can be)."""
    q, a = question.lower(), answer.lower()
    if not (_MOST.search(q) or _MOST.search(a)) or NEG.search(a[:80]):
        return []
    named = [p for p in ann.lexicon.find(a) if p[2].relation == "same" and ann.is_closed(p[2])]
    if not named:
        return []
    sense = named[0][2]
    mine = ann.count(sense)
    if mine.crowd:
        return []
    counts: dict[str, int] = {}
    for x in ann.instances:
        counts[x.category] = counts.get(x.category, 0) + (2 if x.crowd else 1)
    listed = {c for p in ann.lexicon.find(q) for c in p[2].categories}
    if len(listed) >= 2:  # "which of these appears most often: ..." compares the listed kinds
        counts = {c: n for c, n in counts.items() if c in listed}
    rival = max((n for c, n in counts.items() if c not in sense.categories), default=0)
    if rival <= mine.n:
        return []
    best = max(counts, key=lambda c: counts[c])
    evidence = f"{mine.n} annotated, but at least {counts[best]} {best}"
    return [Finding("refuted", f"the {sense.word} are the most numerous", evidence)]
