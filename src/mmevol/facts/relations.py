"""Claims about how two things, or a thing and the frame, are placed: read and settled.

- relations between two things (left/right of, above/below, larger/smaller in the image,
  touching: holding, riding, sitting on), true or false for every reading of the phrases
  ("the dog" with two dogs is refuted only when the claim fails for both);
- position in the frame ("on the left side of the image");
- orderings ("from left to right: the dog, the man and the cup");
- proximity ("the closest object to the bench", "closer to the man than to the cup").
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

from mmevol.facts.annotations import NUMBER_RE, Annotations, Finding, Instance, Status
from mmevol.facts.claims import MARGIN, NEG, _phrases, resolve

CONTACT_GAP = 0.05  # boxes further apart than this cannot hold, carry, ride or sit on each other
SIZE_RATIO = 1.25  # an area claim is refuted only when the other box is this much larger


# -- relations between two things ----------------------------------------------------------------
def _left(a: Instance, b: Instance) -> bool | None:
    d = b.cx() - a.cx()
    return None if abs(d) < MARGIN else d > 0


def _above(a: Instance, b: Instance) -> bool | None:
    d = b.cy() - a.cy()
    return None if abs(d) < MARGIN else d > 0


def _larger(a: Instance, b: Instance) -> bool | None:
    if a.area() > b.area() * SIZE_RATIO:
        return True
    if b.area() > a.area() * SIZE_RATIO:
        return False
    return None


def _gap(a: Instance, b: Instance) -> float:
    """How far apart two boxes are (0 when they touch or overlap)."""
    dx = max(0.0, max(a.x1(), b.x1()) - min(a.x2(), b.x2()))
    dy = max(0.0, max(a.y1(), b.y1()) - min(a.y2(), b.y2()))
    return max(dx, dy)


def _touching(a: Instance, b: Instance) -> bool | None:
    """Holding, riding, wearing: the two boxes must meet."""
    gap = _gap(a, b)
    return True if gap == 0 else (False if gap > CONTACT_GAP else None)


def _on(a: Instance, b: Instance) -> bool | None:
    """Sitting or lying on: the boxes meet and ``a`` is not below ``b``."""
    if a.cy() > b.y2() + MARGIN:
        return False
    return _touching(a, b)


RELATIONS: dict[str, Callable[[Instance, Instance], bool | None]] = {
    "touching": _touching,
    "on": _on,
    "left": _left,
    "right": lambda a, b: _left(b, a),
    "above": _above,
    "below": lambda a, b: _above(b, a),
    "larger": _larger,
    "smaller": lambda a, b: _larger(b, a),
}


def _much_larger(a: Instance, b: Instance) -> bool | None:
    """Apparent size when the text gives no cue: only a threefold difference settles it."""
    if a.area() > b.area() * 3:
        return True
    if b.area() > a.area() * 3:
        return False
    return None


_STRONG = {"larger": _much_larger, "smaller": lambda a, b: _much_larger(b, a)}
_REL = re.compile(
    r"\b(?:(?:is|are|sits|stands|lies|appears|located|positioned|placed|found)\s+)?"
    r"(?:(not|n't)\s+)?(?:(?:directly|just|slightly|far|further|farther|clearly|much|noticeably|a bit|a little)\s+)?"
    r"(to the left of|on the left of|left of|to the right of|on the right of|right of|"
    r"(?:on|to) the left(?:-hand)? side of|(?:on|to) the right(?:-hand)? side of|"
    r"above|below|beneath|underneath|"
    r"(?:higher|lower)(?: up| down)?(?: in the (?:image|frame|picture|photo))? than|"
    r"(?:larger|bigger|smaller|tinier)(?: in the (?:image|frame|picture|photo))? than|"
    r"(?:further|farther|more to the) (?:left|right)(?: in the (?:image|frame|picture|photo))? than|"
    r"takes? up (?:more|less)(?: of the (?:image|frame|picture|photo))?(?: space| room| area)? than|"
    r"on top of|(?:sitting|sits|standing|stands|lying|lies|resting|rests|placed|perched|parked)"
    r" on(?: top of)?|riding|rides|holding|holds|carrying|carries|wearing|wears)\b"
)
_CONTACT = re.compile(r"riding|rides|holding|holds|carrying|carries|wearing|wears")
_REL_NAME = {
    "beneath": "below",
    "underneath": "below",
    "higher than": "above",
    "lower than": "below",
}
_SIZE_CUE_EXTRA = re.compile(r"\btakes? up\b|\btinier\b")
_SIZE_CUE = re.compile(
    r"\b(?:in the (?:image|picture|photo|frame)|appears?|looks?|box|boxes|region|area|takes up|occupies)\b"
)


def _relation_name(text: str) -> str:
    text = text.replace("-hand side of", " of").replace(" side of", " of")
    if text.startswith("take"):
        return "larger" if " more" in text else "smaller"
    if text.startswith(("higher", "lower")):
        return "above" if text.startswith("higher") else "below"
    if text.startswith("tinier"):
        return "smaller"
    if text.startswith(("further", "farther", "more to")):
        return "left" if "left" in text else "right"
    if _CONTACT.fullmatch(text):
        return "touching"
    if text == "on top of" or text.endswith((" on", " on top of")):
        return "on"
    text = text.replace("to the ", "").replace("on the ", "")
    for key in ("left", "right", "larger", "bigger", "smaller"):
        if text.startswith(key):
            return "larger" if key == "bigger" else key
    return _REL_NAME.get(text, text)


def settle(outcomes: list[bool | None], negated: bool = False) -> Status | None:
    """A relation over every reading of its phrases: refuted only if false for all, confirmed
    only if true for all, else None (``negated``: the text says it does not hold)."""
    truth = [o if not negated else (None if o is None else not o) for o in outcomes]
    if truth and all(t is False for t in truth):
        return "refuted"
    if truth and all(t is True for t in truth):
        return "confirmed"
    return None


def relations(clause: str, ann: Annotations) -> list[Finding]:
    found: list[Finding] = []
    phrases = _phrases(clause, ann)
    for m in _REL.finditer(clause):
        name = _relation_name(m.group(2))
        subjects = [p for p in phrases if p[1] <= m.start()]
        objects = [p for p in phrases if p[0] >= m.end()][:1]
        if not subjects or not objects or clause[m.end() : objects[0][0]].count(" ") > 3:
            continue
        obj = objects[0]
        negated = bool(m.group(1)) or bool(NEG.search(clause[subjects[-1][1] : m.start()]))
        plain_size = name in {"larger", "smaller"} and not (
            _SIZE_CUE.search(clause)
            or _SIZE_CUE_EXTRA.search(clause)
            or subjects[-1][2].categories == obj[2].categories
        )  # "the bus is larger than the car" may mean real size: refuted only if far off
        test = _STRONG[name] if plain_size else RELATIONS[name]
        outcomes: list[bool | None] = []
        words = ""
        for subj in subjects[-2:]:  # the nearest phrases before the relation may be its subject
            xs, ys = resolve(clause, subj, ann), resolve(clause, obj, ann)
            if not xs or not ys:
                outcomes.append(None)
                continue
            words = f"{subj[2].word} {name} {obj[2].word}"
            outcomes += [test(x, y) for x in xs for y in ys if x is not y]
        if not outcomes or not words:
            continue
        claim = ("not " if negated else "") + words
        status = settle(outcomes, negated)
        if status == "refuted":
            found.append(Finding("refuted", claim, "the annotated boxes say otherwise"))
        elif status == "confirmed":
            found.append(Finding("confirmed", claim, "the annotated boxes agree"))
        else:
            found.append(Finding("unsettled", claim, "the boxes are too close or ambiguous"))
    return found


_FRAME = re.compile(
    r"\b(?:on|in|at|towards?|near|close to) the (?:far |very )?(left|right|top|bottom|upper|lower)"
    r"(?:[- ](left|right))?(?:-hand)?(?: side| half| part| edge| corner| portion| area| third)?"
    r"(?: of the (?:image|picture|photo|photograph|frame|scene)\b|"
    r"(?<=side|half|part|edge|rner|tion|area|hird)(?! of)(?=\W|$))"
)


_QUANTIFIED = re.compile(
    r"\b(?:\w+ of|some|most|few|several|many|half of) (?:the |these |those )?(?:\w+ )?$"
)


def _in_part(x: Instance, sides: list[str], edge: float) -> bool:
    """Whether ``x``'s centre lies in the named part of the frame ("left": x < edge, ...)."""
    checks = {
        "left": x.cx() < edge,
        "right": x.cx() > 1 - edge,
        "top": x.cy() < edge,
        "upper": x.cy() < edge,
        "bottom": x.cy() > 1 - edge,
        "lower": x.cy() > 1 - edge,
    }
    return all(checks[s] for s in sides)


def frame_positions(clause: str, ann: Annotations) -> list[Finding]:
    found: list[Finding] = []
    phrases = _phrases(clause, ann)
    for m in _FRAME.finditer(clause):
        subjects = [p for p in phrases if p[1] <= m.start()][-1:]
        fronted = not clause[: m.start()].strip(" ,") or re.fullmatch(r"\W*(?:and|also|while)\W*", clause[: m.start()])  # fmt: skip
        if fronted:  # "On the left half of the picture we find the bus."
            subjects = [p for p in phrases if 0 <= p[0] - m.end() <= 40][:1]
        if not subjects or NEG.search(clause[min(subjects[0][1], m.end()) : max(subjects[0][0], m.start())]):  # fmt: skip
            continue
        if _QUANTIFIED.search(clause[: subjects[0][0]]):
            continue  # "two of the 3 cows are in the top half": not all of them
        xs = resolve(clause, subjects[0], ann)
        if not xs:
            continue
        sides = [s for s in (m.group(1), m.group(2)) if s]

        claim = f"{subjects[0][2].word} in the {'-'.join(sides)} of the image"
        if not any(_in_part(x, sides, 0.55) for x in xs):
            found.append(Finding("refuted", claim, "its annotated box lies elsewhere"))
        elif all(_in_part(x, sides, 0.4) for x in xs):
            found.append(Finding("confirmed", claim, "its annotated box lies there"))
    return found


ORDER = re.compile(
    r"\b(?:from |ordered |sorted |in order )?(left to right|right to left|top to bottom|"
    r"bottom to top|largest to smallest|biggest to smallest|smallest to largest|"
    r"smallest to biggest)\b"
)
_ORDER_TEST = {
    "left to right": "left",
    "right to left": "right",
    "top to bottom": "above",
    "bottom to top": "below",
    "largest to smallest": "larger",
    "biggest to smallest": "larger",
    "smallest to largest": "smaller",
    "smallest to biggest": "smaller",
}


_CONNECTORS = {
    "and", "then", "followed", "by", "next", "after", "that", "finally", "last", "comes",
    "come", "first", "second", "the", "a", "an", "is", "are", "at", "in", "with", "lastly",
}  # fmt: skip


def orderings(clause: str, ann: Annotations) -> list[Finding]:
    """ "From left to right: the dog, the man and the cup": each neighbour pair in that order."""
    m = ORDER.search(clause)
    if not m or NEG.search(clause):
        return []
    # the listed things, not a count of them ("there are 3 cows: 1. cow at [...]; 2. ...")
    phrases = [
        p
        for p in _phrases(clause, ann)
        if not re.search(rf"\b{NUMBER_RE}\s+(?:[a-z-]+\s+)?$", clause[: p[0]])
        and not re.match(r"\s*:", clause[p[1] :])
    ]
    listed = [p for p in phrases if p[0] >= m.end()] or [p for p in phrases if p[1] <= m.start()]
    listed = listed[:60]
    test = RELATIONS[_ORDER_TEST[m.group(1)]]
    for a, b in itertools.pairwise(listed):
        between = re.findall(r"[a-z]+", re.sub(r"\[[^\]]*\]", " ", clause[a[1] : b[0]]))
        if len(between) > 6 or not set(between) <= _CONNECTORS:
            return []  # not a plain list
        xs, ys = resolve(clause, a, ann), resolve(clause, b, ann)
        if not xs or not ys:
            continue
        truth = [test(x, y) for x in xs for y in ys if x is not y]
        if truth and all(t is False for t in truth):
            claim = f"{a[2].word} before {b[2].word} ({m.group(1)})"
            return [Finding("refuted", claim, "the annotated boxes put them the other way round")]
    return []


_NEAREST = re.compile(
    r"\b(?:is|are|sits|stands|lies|appears)?\s*(?:the\s+)?(closest|nearest|farthest|furthest)"
    r"\s+(?:(?:annotated\s+)?(?:object|thing|item)|of all(?: objects)?)\s+(?:to|from)\s+"
)
_CLOSER = re.compile(r"\b(closer|nearer|farther|further)\s+(?:to|from)\s+")


def _dist(a: Instance, b: Instance) -> float:
    return float(((a.cx() - b.cx()) ** 2 + (a.cy() - b.cy()) ** 2) ** 0.5)


def proximity(clause: str, ann: Annotations) -> list[Finding]:
    """ "The cup is the closest object to the laptop" (of all annotated objects: a closest one
    among listed candidates is not read), "the dog is closer to the man than to the cup"."""
    found: list[Finding] = []
    phrases = _phrases(clause, ann)
    boxed = [x for x in ann.instances if x.box is not None and not x.crowd]
    for m in _NEAREST.finditer(clause):
        subj = [p for p in phrases if p[1] <= m.start()][-1:]
        obj = [p for p in phrases if p[0] >= m.end()][:1]
        if not subj or not obj or NEG.search(clause[subj[0][1] : m.start()]):
            continue
        xs, ys = resolve(clause, subj[0], ann), resolve(clause, obj[0], ann)
        if not xs or not ys or len(ys) != 1:
            continue
        y = ys[0]
        others = [z for z in boxed if z is not y]
        if len(others) < 2:
            continue
        far = m.group(1) in {"farthest", "furthest"}
        ranked = sorted(_dist(z, y) for z in others)
        best = ranked[-1] if far else ranked[0]
        ok = [abs(_dist(x, y) - best) <= 0.02 + 0.25 * best for x in xs if x is not y]
        if ok and not any(ok):
            claim = f"{subj[0][2].word} {m.group(1)} to {obj[0][2].word}"
            found.append(
                Finding(
                    "refuted",
                    claim,
                    "another annotated object is " + ("farther" if far else "closer"),
                )
            )
    for m in _CLOSER.finditer(clause):
        subj = [p for p in phrases if p[1] <= m.start()][-1:]
        rest = [p for p in phrases if p[0] >= m.end()]
        than = clause.find(" than ", m.end())
        if not subj or len(rest) < 2 or than < 0 or NEG.search(clause[subj[0][1] : m.start()]):
            continue
        a, b = rest[0], next((p for p in rest if p[0] > than), None)
        if b is None or a[0] > than:
            continue
        xs, ys, zs = (resolve(clause, p, ann) for p in (subj[0], a, b))
        if not xs or not ys or not zs:
            continue
        near = m.group(1) in {"closer", "nearer"}
        truth = [
            (_dist(x, y) < _dist(x, z)) == near
            for x in xs
            for y in ys
            for z in zs
            if len({x, y, z}) == 3 and abs(_dist(x, y) - _dist(x, z)) > 0.05
        ]
        if truth and not any(truth):
            claim = f"{subj[0][2].word} {m.group(1)} to {a[2].word} than to {b[2].word}"
            found.append(Finding("refuted", claim, "the annotated boxes say otherwise"))
    return found
