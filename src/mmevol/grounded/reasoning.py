"""Cognitive reasoning evolution for the grounded generator: longer chains of manipulations.

The target chain length is one step more than the parent's (at least two), so a question
evolved three times goes roughly 2 -> 3 -> 4 steps. Templates: which half of the image an
object is in; count-then-threshold and count comparisons (``grounded.counting``); OCR-then-count-letters; comparing the words on two objects;
grounding two objects then calculating 1–4 relations (left/right, above/below, larger/smaller,
centre distance); the extreme one among k grounded objects; count-then-compare over k
categories; the object closest to an anchor. Every result is computed from the boxes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import Any

from mmevol.geometry import area, center, compare_area, distance, format_box
from mmevol.grounded import counting as grounded_counting
from mmevol.grounded import logic as grounded_logic
from mmevol.grounded.scene import Draft, Thing, View, join_words
from mmevol.grounded.words import Voice, number_word

Item = dict[str, Any]
MARGIN = 0.05  # centres closer than this are not called left/right (above/below)
GAP = 0.03  # a winner must beat the runner-up by this much (positions, distances)


def _box(t: Thing) -> tuple[float, float, float, float]:
    assert t.box is not None
    return t.box


def _half(view: View, n: int, rng: random.Random) -> Item | None:
    if n != 2:
        return None
    cands = []
    for t, r in view.nameable():
        cx, cy = center(_box(t))
        if abs(cx - 0.5) >= MARGIN:
            cands.append((t, r, "x", cx))
        if abs(cy - 0.5) >= MARGIN:
            cands.append((t, r, "y", cy))
    if not cands:
        return None
    t, r, axis, c = rng.choice(cands)
    low = c < 0.5
    halves = ("left", "right") if axis == "x" else ("top", "bottom")
    half = halves[0] if low else halves[1]
    d = Draft()
    var = d.ground(r, _box(t))
    d.calc(f"centre {axis} of {var} vs 0.5", f"centre {axis} = {c:.3f} {'<' if low else '>'} 0.5, so the {half} half")  # fmt: skip
    d.skill("relationship_description")
    v = Voice(view.varied, rng)
    q = v.pick(
        f"Is the {r} in the {halves[0]} half or the {halves[1]} half of the image?",
        f"Does the {r} sit in the {halves[0]} or the {halves[1]} half of the picture?",
        f"Would you place the {r} in the {halves[0]} half of the photo or in the {halves[1]} half?",
        f"In which half of the image, {halves[0]} or {halves[1]}, is the {r}?",
        f"Which half of the photo holds the {r}: the {halves[0]} one or the {halves[1]} one?",
        f"Tell me whether the {r} lies in the {halves[0]} or the {halves[1]} half of this image.",
        f"If the picture were cut into a {halves[0]} half and a {halves[1]} half, which piece would the {r} end up in?",
        f"Split the image down the middle ({halves[0]} against {halves[1]}). On which side does the {r} fall?",
        f"Where is the centre of the {r}: in the {halves[0]} half of the frame or the {halves[1]} half?",
        f"The photo has a {halves[0]} half and a {halves[1]} half. Which of them contains the {r}?",
        f"Picture a line through the middle of the image. Is the {r} on the {halves[0]} side of it or the {halves[1]} side?",
        f"Locate the {r} and say which half it belongs to, {halves[0]} or {halves[1]}.",
        f"Half-and-half check: {halves[0]} or {halves[1]}, where is the {r}?",
    )
    a = f"The {r} is in the {half} half of the image: its box {format_box(_box(t))} has its centre at {axis} = {c:.3f}."
    coord = "horizontal" if axis == "x" else "vertical"
    return d.item(0, v.ask(q), v.answer(
        a,
        f"First I locate the {r}; its box runs from {_box(t)[0 if axis == 'x' else 1]:.3f} to {_box(t)[2 if axis == 'x' else 3]:.3f} along the {coord} axis.",
        f"The middle of that span is {c:.3f}, which is {'less' if low else 'more'} than 0.5, the line that splits the image in two.",
        f"So the {r} belongs to the {half} half.",
    ))  # fmt: skip


def pair_facts(a: Thing, b: Thing) -> dict[str, str]:
    """The relations of ``a`` to ``b`` that are clear enough to state."""
    (ax, ay), (bx, by) = center(_box(a)), center(_box(b))
    facts: dict[str, str] = {}
    if abs(ax - bx) >= MARGIN:
        facts["h"] = "left" if ax < bx else "right"
    if abs(ay - by) >= MARGIN:
        facts["v"] = "above" if ay < by else "below"
    cmp = compare_area(_box(a), _box(b), tolerance=0.15)
    if cmp != "similar":
        facts["size"] = cmp
    facts["dist"] = f"{distance(_box(a), _box(b)):.3f}"
    return facts


def _pair(view: View, n: int, rng: random.Random) -> Item | None:
    named = view.nameable()
    m = n - 2
    pairs = [(a, b) for a in named for b in named if a[0].index != b[0].index]
    rng.shuffle(pairs)
    for (a, ra), (b, rb) in pairs:
        facts = pair_facts(a, b)
        if not 1 <= m <= len(facts):
            continue
        chosen = rng.sample(list(facts), m)
        keys = [k for k in ("h", "v", "size", "dist") if k in chosen]
        d = Draft()
        d.ground(ra, _box(a))
        d.ground(rb, _box(b))
        v = Voice(view.varied, rng)
        (ax, ay), (bx, by) = center(_box(a)), center(_box(b))
        asks, says = [], [f"The {ra} is at {format_box(_box(a))} and the {rb} is at {format_box(_box(b))}."]  # fmt: skip
        notes = [f"Working from the boxes: the centre of the {ra} is at ({ax:.3f}, {ay:.3f}) and the centre of the {rb} is at ({bx:.3f}, {by:.3f})."]  # fmt: skip
        for k in keys:
            f = facts[k]
            if k == "h":
                d.calc(
                    "horizontal relation of bbx_1 to bbx_2",
                    f"centre x {ax:.3f} vs {bx:.3f}, so {f}",
                )
                asks.append(v.pick(f"is the {ra} to the left or to the right of the {rb}", f"which side of the {rb} is the {ra} on, left or right", f"does the {ra} lie left or right of the {rb}"))  # fmt: skip
                says.append(f"The {ra} is to the {f} of the {rb}.")
                notes.append(f"Since {ax:.3f} is {'smaller' if f == 'left' else 'larger'} than {bx:.3f}, the {ra} is further {f}.")  # fmt: skip
            elif k == "v":
                d.calc(
                    "vertical relation of bbx_1 to bbx_2", f"centre y {ay:.3f} vs {by:.3f}, so {f}"
                )
                asks.append(v.pick(f"is the {ra} above or below the {rb}", f"is the {ra} higher or lower in the frame than the {rb}", f"does the {ra} appear above the {rb} or beneath it"))  # fmt: skip
                says.append(f"The {ra} is {f} the {rb}.")
                notes.append(f"Image y grows downwards, and {ay:.3f} is {'smaller' if f == 'above' else 'larger'} than {by:.3f}, so the {ra} is {f} the {rb}.")  # fmt: skip
            elif k == "size":
                d.calc("area of bbx_1 vs area of bbx_2", f"area {area(_box(a)):.4f} vs {area(_box(b)):.4f}, so {f}")  # fmt: skip
                big, small = (ra, rb) if f == "larger" else (rb, ra)
                asks.append(v.pick(f"which is larger, the {ra} or the {rb}", f"which of the two takes up more of the image, the {ra} or the {rb}", f"is the {ra} bigger or smaller in the picture than the {rb}"))  # fmt: skip
                says.append(f"The {big} is larger than the {small}.")
                notes.append(f"As fractions of the image, the box of the {ra} has an area of {area(_box(a)):.4f}, while the box of the {rb} has an area of {area(_box(b)):.4f}; so the {big} is the larger of the two.")  # fmt: skip
            else:
                d.calc("distance between centres of bbx_1 and bbx_2", f"distance = {f}")
                asks.append(v.pick(f"how far apart are the centres of the {ra} and the {rb}", f"what is the distance between the centres of the {ra} and the {rb}", f"how far is the {ra} from the {rb}, centre to centre"))  # fmt: skip
                says.append(f"Their centres are {f} apart.")
                notes.append(f"The distance follows from the two centres by Pythagoras: the square root of ({ax:.3f} - {bx:.3f})² + ({ay:.3f} - {by:.3f})², which is {f} in normalised image units.")  # fmt: skip
        d.skill("relationship_description")
        if m == 1:
            q = asks[0][0].upper() + asks[0][1:] + "?"
        else:
            opener = v.pick("Answer in turn: ", "Please answer each of these: ", f"A few questions about the {ra} and the {rb}: ",
                            "Two things to settle: ", f"Comparing the {ra} with the {rb}, ", "I have several questions: ",
                            f"Think about where the {ra} and the {rb} are. ")  # fmt: skip
            q = opener + "; ".join(asks) + "?"
        return d.item(0, v.ask(q), v.answer(" ".join(says), *notes))
    return None


CRITERIA: dict[str, tuple[str, Callable[[Thing], float], int]] = {
    # name -> (phrase, metric, +1 when the largest metric wins / -1 when the smallest does)
    "left": ("furthest to the left", lambda t: center(_box(t))[0], -1),
    "right": ("furthest to the right", lambda t: center(_box(t))[0], 1),
    "top": ("highest in the image", lambda t: center(_box(t))[1], -1),
    "bottom": ("lowest in the image", lambda t: center(_box(t))[1], 1),
    "largest": ("the largest", lambda t: area(_box(t)), 1),
    "smallest": ("the smallest", lambda t: area(_box(t)), -1),
}


TWO = {"left": "further to the left", "right": "further to the right", "top": "higher in the image",
       "bottom": "lower in the image", "largest": "the larger of the two",
       "smallest": "the smaller of the two"}  # fmt: skip


def _extreme(view: View, n: int, rng: random.Random) -> Item | None:
    named = view.nameable()
    k = n - 1
    if k < 2 or len(named) < k:
        return None
    for _ in range(12):
        picks = rng.sample(named, k)
        crit = rng.choice(list(CRITERIA))
        phrase, metric, sign = CRITERIA[crit]
        vals = sorted(((sign * metric(t), i) for i, (t, _) in enumerate(picks)), reverse=True)
        best, second = vals[0][0], vals[1][0]
        if crit in ("largest", "smallest"):
            win, run = sign * best, sign * second
            clear = win >= 1.15 * run if sign > 0 else run >= 1.15 * win
        else:
            clear = best - second >= GAP
        if not clear:
            continue
        d = Draft()
        vars_ = [d.ground(r, _box(t)) for t, r in picks]
        listing = ", ".join(
            f"{v} = {metric(t):.4f}" for v, (t, _) in zip(vars_, picks, strict=True)
        )
        win_t, win_r = picks[vals[0][1]]
        d.calc(f"{crit} of {', '.join(vars_)}", f"{listing} -> {vars_[vals[0][1]]}")
        d.skill("relationship_description")
        v = Voice(view.varied, rng)
        names = join_words([f"the {r}" for _, r in picks])
        if not v.varied:
            q = f"Among {names}, which one is {phrase}?"
            return d.item(0, q, f"The {win_r} at {format_box(_box(win_t))} is {phrase}.")
        said = TWO[crit] if k == 2 else phrase
        q = v.pick(
            f"Among {names}, which one is {said}?",
            f"Of {names}, which is {said}?",
            f"Look at {names}. Which one is {said}?",
            f"Here are {number_word(k)} objects: {names}. Which of them is {said}?",
            f"Compare {names}: which one comes out as {said}?",
            f"I am thinking of {names}. Tell me the one that is {said}.",
            f"Out of {names}, name the object that is {said}.",
            f"Which object wins if you ask for the one that is {said}: {join_words([f'the {r}' for _, r in picks], 'or')}?",
        )
        what = "area" if crit in ("largest", "smallest") else "centre " + ("x" if crit in ("left", "right") else "y")  # fmt: skip
        values = join_words([f"the {r} ({metric(t):.4f})" for t, r in picks])
        rule = "the biggest value" if sign > 0 else "the smallest value"
        return d.item(0, v.ask(q), v.answer(
            f"The {win_r} at {format_box(_box(win_t))} is {said}.",
            f"To decide, I locate each of the {number_word(k)} objects and compare their box {what}: {values}.",
            f"The {win_r} has {rule}, clearly ahead of the next one, so it is {said}.",
        ))  # fmt: skip
    return None


TEMPLATES: tuple[Callable[[View, int, random.Random], Item | None], ...] = (
    _half, grounded_counting.threshold, grounded_logic.ocr, grounded_logic.ocr_pair, _pair, _extreme, grounded_counting.count_compare, grounded_logic.closest,
    *grounded_logic.TEMPLATES,
)  # fmt: skip


def evolve(
    view: View, parent: dict[str, Any], rng: random.Random, taken: AbstractSet[str] = frozenset()
) -> Item | None:
    """One reasoning evolution with one step more than ``parent`` (at least two), or None."""
    if not view.things:
        return None
    target = max(2, len(parent.get("steps") or []) + 1)
    for n in [target, target + 1, target + 2, *range(target - 1, 1, -1)]:
        made = [t(view, n, rng) for t in TEMPLATES]
        found = [m for m in made if m is not None and m["question"] != parent.get("question")]
        if found:
            return rng.choice([m for m in found if m["question"] not in taken] or found)
    return None
