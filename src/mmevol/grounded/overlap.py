"""Box-geometry and caption templates of the grounded generator, for real photographs only.

Question kinds that the other modules do not ask, each computed from the annotated boxes so
the answer is correct by construction: whether the boxes of two objects overlap (and by how
much of the smaller box), how many times larger one box is than another, which annotated
objects have their centre in one third of the image, which of several objects comes nearest
to one border of the frame (by the box edge, not the centre), and locating the objects that
a caption mentions. Every template declines on shape-world scenes before drawing anything,
so the closed loop's texts and random draws stay as they were, and declines whenever the
result is not clear-cut (a margin around every threshold).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from mmevol.geometry import area, center, format_box, intersection
from mmevol.grounded.scene import Draft, Thing, View, join_words, plural
from mmevol.grounded.scenery import consistent_caption
from mmevol.grounded.words import ORDINALS, Voice, number_word, place

Item = dict[str, Any]
CLEAR = 0.03  # gaps, margins and edge distances must beat this to be stated


def _box(t: Thing) -> tuple[float, float, float, float]:
    assert t.box is not None
    return t.box


def _pairs(view: View, rng: random.Random) -> list[tuple[Thing, str, Thing, str]]:
    named = view.nameable()
    out = [(a, ra, b, rb) for a, ra in named for b, rb in named if a.index < b.index]
    rng.shuffle(out)
    return out


def _gap(a: Thing, b: Thing) -> tuple[float, float]:
    """The horizontal and vertical gaps between two boxes (0 where they overlap on that axis)."""
    (ax1, ay1, ax2, ay2), (bx1, by1, bx2, by2) = _box(a), _box(b)
    return max(0.0, bx1 - ax2, ax1 - bx2), max(0.0, by1 - ay2, ay1 - by2)


def _overlap(view: View, n: int, rng: random.Random) -> Item | None:
    if not view.varied or n != 3:
        return None
    for a, ra, b, rb in _pairs(view, rng)[:12]:
        inter = intersection(_box(a), _box(b))
        small = min(area(_box(a)), area(_box(b)))
        gx, gy = _gap(a, b)
        share = inter / small if small else 0.0
        if not (share >= 0.1 or max(gx, gy) >= CLEAR):
            continue
        d = Draft()
        d.ground(ra, _box(a))
        d.ground(rb, _box(b))
        d.skill("relationship_description")
        v = Voice(True, rng)
        q = v.pick(
            f"Do the bounding boxes of the {ra} and the {rb} overlap?",
            f"Is there any area that the box of the {ra} shares with the box of the {rb}?",
            f"If you drew rectangles around the {ra} and the {rb}, would they cross into each other?",
            f"Check whether the regions of the {ra} and the {rb} intersect, and by how much.",
            f"Are the {ra} and the {rb} separated by empty space in the image, or do their boxes meet?",
        )
        boxes = f"The {ra} is at {format_box(_box(a))} and the {rb} at {format_box(_box(b))}."
        if share >= 0.1:
            d.calc("intersection of bbx_1 and bbx_2", f"shared area {inter:.4f}, {100 * share:.0f}% of the smaller box")  # fmt: skip
            return d.item(0, v.ask(q), v.answer(
                f"Yes, their boxes overlap: the shared area is {inter:.4f} of the image, about {100 * share:.0f}% of the smaller box.",
                boxes,
                "The overlap is the rectangle between the larger of the two left edges and the smaller of the two right edges, and likewise from top to bottom.",
            ))  # fmt: skip
        axis, gap = ("horizontal", gx) if gx >= gy else ("vertical", gy)
        d.calc("gap between bbx_1 and bbx_2", f"{axis} gap {gap:.3f}, so no shared area")
        return d.item(0, v.ask(q), v.answer(
            f"No, their boxes do not overlap: a {axis} gap of {gap:.3f} separates them.",
            boxes,
            f"Along the {axis} axis one box ends before the other begins, so they share no area.",
        ))  # fmt: skip
    return None


def _area_ratio(view: View, n: int, rng: random.Random) -> Item | None:
    if not view.varied or n != 3:
        return None
    for a, ra, b, rb in _pairs(view, rng)[:12]:
        big, rbig, small, rsmall = (a, ra, b, rb) if area(_box(a)) >= area(_box(b)) else (b, rb, a, ra)  # fmt: skip
        ab, asm = round(area(_box(big)), 4), round(area(_box(small)), 4)
        if asm < 0.002 or ab < 1.5 * asm:
            continue
        ratio = ab / asm  # from the rounded areas that the answer shows
        d = Draft()
        d.ground(rbig, _box(big))
        d.ground(rsmall, _box(small))
        d.calc("area of bbx_1 / area of bbx_2", f"{ab:.4f} / {asm:.4f} = {ratio:.2f}")
        d.skill("relationship_description")
        v = Voice(True, rng)
        q = v.pick(
            f"Roughly how many times larger is the box of the {rbig} than the box of the {rsmall}?",
            f"By what factor does the area of the {rbig} exceed that of the {rsmall} in the image?",
            f"Comparing box areas, how many copies of the {rsmall} would fit into the {rbig}?",
            f"What is the ratio of the {rbig}'s box area to the {rsmall}'s?",
            f"The {rbig} looks bigger than the {rsmall}. By how much, judging by their boxes?",
        )
        return d.item(0, v.ask(q), v.answer(
            f"The box of the {rbig} is about {ratio:.1f} times as large as the box of the {rsmall}.",
            f"The {rbig} at {format_box(_box(big))} has a box area of {ab:.4f} of the image and the {rsmall} at {format_box(_box(small))} one of {asm:.4f}.",
            f"Dividing the first area by the second gives {ratio:.2f}, or about {ratio:.1f}.",
        ))  # fmt: skip
    return None


THIRDS = {"left": (0, 0), "right": (0, 2), "top": (1, 0), "bottom": (1, 2)}


def _rest(n: int) -> str:
    if n == 0:
        return "No other object is annotated."
    if n == 1:
        return "The one remaining object has its centre elsewhere."
    return f"The other {number_word(n)} have their centres elsewhere."


def _third(view: View, n: int, rng: random.Random) -> Item | None:
    if not view.varied or view.crowds() or n < 2:
        return None
    boxed = view.boxed()
    names = dict((t.index, r) for t, r in view.nameable())
    for side in rng.sample(list(THIRDS), len(THIRDS)):
        axis, part = THIRDS[side]
        cs = [center(_box(t))[axis] for t in boxed]
        if any(min(abs(c - 1 / 3), abs(c - 2 / 3)) < CLEAR for c in cs):
            continue
        inside = [t for t, c in zip(boxed, cs, strict=True) if int(c * 3) == part]
        if len(inside) != n - 1 or any(t.index not in names for t in inside):
            continue
        d = Draft()
        for t in inside:
            d.ground(names[t.index], _box(t))
        line = "1/3" if part == 0 else "2/3"
        d.calc(f"objects with centre {'xy'[axis]} {'<' if part == 0 else '>'} {line}", f"{len(inside)} of {len(boxed)}")  # fmt: skip
        d.skill("relationship_description")
        v = Voice(True, rng)
        strip = f"the {side} third"
        q = v.pick(
            f"Divide the picture into three equal strips. Which objects have their centre in {strip}?",
            f"Which annotated objects are centred in {strip} of the image?",
            f"Looking only at {strip} of the frame, which objects sit there? Give their boxes.",
            f"What lies in {strip} of this photo, judging by where each box is centred?",
        )
        listed = join_words([f"the {names[t.index]} at {format_box(_box(t))}" for t in inside])
        return d.item(0, v.ask(q), v.answer(
            (f"Only one annotated object is centred in {strip}: {listed}." if len(inside) == 1 else f"{number_word(len(inside)).capitalize()} of the annotated objects are centred in {strip}: {listed}."),
            f"{strip.capitalize()} covers the {'first' if part == 0 else 'last'} third of the {'width' if axis == 0 else 'height'}, so I keep the objects whose centre {'xy'[axis]} is {'below' if part == 0 else 'above'} {line}.",
            _rest(len(boxed) - len(inside)),
        ))  # fmt: skip
    return None


BORDERS = {"left": (0, 1), "top": (1, 1), "right": (2, -1), "bottom": (3, -1)}


def _border(view: View, n: int, rng: random.Random) -> Item | None:
    named = view.nameable()
    k = n - 1
    if not view.varied or k < 2 or len(named) < k:
        return None
    for _ in range(8):
        picks = rng.sample(named, k)
        side = rng.choice(list(BORDERS))
        i, sign = BORDERS[side]
        dist = sorted(((_box(t)[i] if sign > 0 else 1 - _box(t)[i]), j) for j, (t, _) in enumerate(picks))  # fmt: skip
        if dist[1][0] - dist[0][0] < CLEAR:
            continue
        d = Draft()
        vars_ = [d.ground(r, _box(t)) for t, r in picks]
        win_t, win_r = picks[dist[0][1]]
        d.calc(f"distance of {', '.join(vars_)} to the {side} border", f"smallest: {vars_[dist[0][1]]} ({dist[0][0]:.3f})")  # fmt: skip
        d.skill("relationship_description")
        v = Voice(True, rng)
        names = join_words([f"the {r}" for _, r in picks], "or")
        q = v.pick(
            f"Which comes nearest to the {side} border of the picture: {names}?",
            f"Going inwards from the {side} edge of the photo, whose box do you reach first: {names}?",
            f"Name the object whose box starts closest to the {side} edge of the frame: {names}.",
            f"Of {names}, which one leaves the least room between itself and the {side} border?",
        )
        values = join_words(
            [f"the {r} ({x:.3f})" for x, (_, r) in ((x, picks[j]) for x, j in dist)]
        )
        return d.item(0, v.ask(q), v.answer(
            f"The {win_r} at {format_box(_box(win_t))} comes nearest to the {side} border.",
            f"I measure how far the {side} side of each box is from the {side} edge of the image: {values}.",
            f"The {win_r} has the smallest distance, ahead of the next one by {dist[1][0] - dist[0][0]:.3f}.",
        ))  # fmt: skip
    return None


def caption_locate(view: View, k: int, rng: random.Random) -> Item | None:
    """Locate the objects a caption mentions (perception; every instance boxed, no crowd)."""
    if not view.varied:
        return None
    captions = [s for s in view.affirmative_captions() if consistent_caption(view, s)]
    cats = [c for c in view.countable() if view.all_boxed(c) and 0 < view.count(c) <= 4]
    found = [(s, c) for s in captions for c in cats if f" {c} " in f" {s.lower().strip('.')} "]
    if not found:
        return None
    sentence, c = rng.choice(found)
    things = sorted(view.of(c), key=lambda t: center(_box(t))[0])
    d = Draft()
    for i, t in enumerate(things):
        d.ground(c if len(things) == 1 else f"{ORDINALS[i]} {c} from the left", _box(t))
    d.obj(c)
    d.skill("context_understanding")
    v = Voice(True, rng)
    quote = f'"{sentence.strip()}"'
    q = v.pick(
        f"One description of this photo reads {quote} Where in the image is the {c} it mentions?",
        f"A caption says {quote} Find the {c} from that caption and give its box.",
        f"Ground the word {c} in the sentence {quote}: which region of the picture does it refer to?",
        f"Someone summed up the scene as {quote} Point to every {c} that could be meant.",
    )
    spots = join_words([f"{format_box(_box(t))} in {place(_box(t))}" for t in things])
    if len(things) == 1:
        head = f"The {c} in the caption is at {spots}."
    else:
        head = f"The image has {number_word(len(things))} {plural(c)} the caption could mean, from left to right at {spots}."  # fmt: skip
    return d.item(0, v.ask(q), v.answer(
        head,
        f"The caption names the {c}; matching it to the annotated objects of that kind gives the box{'es' if len(things) > 1 else ''} above.",
    ))  # fmt: skip


TEMPLATES: tuple[Callable[[View, int, random.Random], Item | None], ...] = (
    _overlap, _area_ratio, _third, _border,
)  # fmt: skip
