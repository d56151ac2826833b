"""More reasoning templates for the grounded generator.

``ocr`` (read a printed word, count its letters) and ``ocr_pair`` (which of two printed words
is longer) serve scenes with text on objects (the shape world); ``closest`` (which of several
objects is nearest to an anchor, by centre distance) serves every scene. The rest are for real
photographs (COCO and the like) and are not used on shape scenes. Each one is a chain of explicit manipulations whose answer walks through the steps in
sentences: ranking objects by the share of the image their boxes cover, the closest or farthest
pair among several objects, arithmetic on two counts (difference, total), the quarter of the
image an object is in, how many objects of a kind lie in one half, and the box-geometry
kinds of ``grounded.overlap`` (overlap, area ratio, thirds, nearest border). Categories with a crowd
region are never counted exactly here. Results must be clear-cut (a margin between the winner
and the runner-up, no centre on a dividing line), otherwise the template declines.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from typing import Any

from mmevol.geometry import area, center, distance, format_box
from mmevol.grounded import overlap as grounded_overlap
from mmevol.grounded.scene import Draft, Thing, View, amount, join_words, plural
from mmevol.grounded.words import Voice, number_word

Item = dict[str, Any]
GAP = 0.03
EDGE = 0.03
RATIO = 1.15


def _box(t: Thing) -> tuple[float, float, float, float]:
    assert t.box is not None
    return t.box


def _size_rank(view: View, n: int, rng: random.Random) -> Item | None:
    named = view.nameable()
    k = n - 1
    if not view.varied or k < 3 or len(named) < k:
        return None
    for _ in range(8):
        picks = rng.sample(named, k)
        ranked = sorted(picks, key=lambda p: area(_box(p[0])), reverse=True)
        areas = [area(_box(t)) for t, _ in ranked]
        if any(a < RATIO * b for a, b in itertools.pairwise(areas)):
            continue
        v = Voice(True, rng)
        d = Draft(format="ordering")
        vars_ = [d.ground(r, _box(t)) for t, r in picks]
        order = [vars_[picks.index(p)] for p in ranked]
        d.calc(f"sort {', '.join(vars_)} by box area, largest first", " > ".join(order))
        d.skill("relationship_description")
        names = join_words([f"the {r}" for _, r in picks])
        big = v.pick("largest to smallest", "biggest to smallest")
        q = v.pick(
            f"Rank {names} from {big} by how much of the image each one covers.",
            f"Order these objects by the area of their boxes, from {big}: {names}.",
            f"Which of {names} takes up the most space in the picture, and how do the others rank?",
            f"Which of {names} is biggest in the frame? Rank all of them by box area.",
            f"Sort {names} by the share of the picture they occupy, from {big}.",
            f"Put {names} in a size ladder, from {big}, judging by their boxes.",
            f"If you lined up {names} by how much of the frame they fill, what order would you get ({big})?",
            f"Rank by box area, {big}: {names}.",
        )
        listing = ", ".join(f"the {r} ({100 * area(_box(t)):.1f}% of the image)" for t, r in ranked)
        return d.item(0, v.ask(q), v.answer(
            f"From largest to smallest: {listing}.",
            f"I locate each of the {number_word(k)} objects, work out the area of its box as a share of the whole image, and sort the values.",
            f"The {ranked[0][1]} is clearly the largest and the {ranked[-1][1]} the smallest; each step down the list is at least {round(100 * (RATIO - 1))}% smaller.",
        ))  # fmt: skip
    return None


def _pair_extreme(view: View, n: int, rng: random.Random) -> Item | None:
    named = view.nameable()
    k = n - 1
    if not view.varied or k < 3 or len(named) < k:
        return None
    for _ in range(8):
        picks = rng.sample(named, k)
        far = rng.random() < 0.5
        pairs = sorted(
            ((distance(_box(a), _box(b)), i, j) for (i, (a, _)), (j, (b, _)) in itertools.combinations(enumerate(picks), 2)),
            reverse=far,
        )  # fmt: skip
        if abs(pairs[0][0] - pairs[1][0]) < GAP:
            continue
        v = Voice(True, rng)
        d = Draft(format="relative_distance")
        vars_ = [d.ground(r, _box(t)) for t, r in picks]
        best, i, j = pairs[0]
        word = "farthest apart" if far else "closest together"
        d.calc(f"centre distances of every pair of {', '.join(vars_)}", f"{len(pairs)} pairs; {vars_[i]}-{vars_[j]} = {best:.3f} is the {'largest' if far else 'smallest'}")  # fmt: skip
        d.skill("relationship_description")
        names = join_words([f"the {r}" for _, r in picks])
        q = v.pick(
            f"Which two of {names} are {word} in the image?",
            f"Among {names}, find the pair of objects that are {word}.",
            f"Measuring between box centres, which pair out of {names} is {word}?",
            f"Consider every pairing of {names}. Which pairing is {word}?",
            f"Take {names} two at a time. Which two are {word}?",
            f"If you measured the gap between each two of {names}, which two would be {word}?",
        )
        ri, rj = picks[i][1], picks[j][1]
        runner = pairs[1]
        return d.item(0, v.ask(q), v.answer(
            f"The {ri} and the {rj} are {word}: their centres are {best:.3f} apart.",
            f"With {number_word(k)} objects there are {len(pairs)} pairs; I locate each object and measure the distance between the centres of every pair.",
            f"The next pair, the {picks[runner[1]][1]} and the {picks[runner[2]][1]}, is {runner[0]:.3f} apart, so the {ri} and the {rj} are the clear answer.",
        ))  # fmt: skip
    return None


def _arithmetic(view: View, n: int, rng: random.Random) -> Item | None:
    cats = view.countable()
    if not view.varied or n != 3 or len(cats) < 2:
        return None
    c1, c2 = rng.sample(cats, 2)
    n1, n2 = view.count(c1), view.count(c2)
    if n1 < n2:
        (c1, n1), (c2, n2) = (c2, n2), (c1, n1)
    v = Voice(True, rng)
    d = Draft()
    r1, r2 = d.count(c1, n1), d.count(c2, n2)
    d.obj(c1, c2)
    p1, p2 = plural(c1), plural(c2)
    counted = f"First I count the {p1}: {number_word(n1)}. Then the {p2}: {number_word(n2)}."
    if n1 > n2 and rng.random() < 0.5:
        d.calc(f"{r1} - {r2}", f"{n1} - {n2} = {n1 - n2}")
        q = v.pick(
            f"How many more {p1} than {p2} are there in the image?",
            f"By how many do the {p1} outnumber the {p2} in this picture?",
            f"What is the difference between the number of {p1} and the number of {p2} in the photo?",
            f"Count the {p1} and the {p2}, then subtract. What is the gap?",
            f"The {p1} outnumber the {p2} here. By what margin?",
        )
        return d.item(0, v.ask(q), v.answer(
            f"The {p1} outnumber the {p2} by {n1 - n2}.",
            counted, f"Subtracting, {n1} - {n2} = {n1 - n2}.",
        ))  # fmt: skip
    d.calc(f"{r1} + {r2}", f"{n1} + {n2} = {n1 + n2}")
    q = v.pick(
        f"How many {p1} and {p2} are there altogether in the image?",
        f"What is the total number of {p1} and {p2} in this picture?",
        f"If you add up the {p1} and the {p2} in the photo, what do you get?",
        f"Counting both kinds together, how many {p1} and {p2} does the photo show?",
        f"Add the {p1} to the {p2} in this scene. What total do you reach?",
        f"Taken as one group, how large is the set of {p1} and {p2} here?",
    )
    return d.item(0, v.ask(q), v.answer(
        f"Altogether there are {n1 + n2} of them: {amount(n1, c1)} and {amount(n2, c2)}.",
        counted, f"Adding, {n1} + {n2} = {n1 + n2}.",
    ))  # fmt: skip


def _quarter(view: View, n: int, rng: random.Random) -> Item | None:
    if not view.varied or n != 3:
        return None
    cands = [(t, r) for t, r in view.nameable() if all(abs(c - 0.5) >= EDGE for c in center(_box(t)))]  # fmt: skip
    if not cands:
        return None
    t, r = rng.choice(cands)
    cx, cy = center(_box(t))
    row, col = ("upper" if cy < 0.5 else "lower"), ("left" if cx < 0.5 else "right")
    v = Voice(True, rng)
    d = Draft()
    var = d.ground(r, _box(t))
    d.calc(f"centre x of {var} vs 0.5", f"x = {cx:.3f}, so the {col} half")
    d.calc(f"centre y of {var} vs 0.5", f"y = {cy:.3f}, so the {row} half")
    d.skill("relationship_description")
    q = v.pick(
        f"In which quarter of the image is the {r}: upper left, upper right, lower left or lower right?",
        f"Which quadrant of the picture contains the centre of the {r}?",
        f"Split the photo into four equal quarters. Which one holds the {r}?",
        f"Which corner region of the picture, upper left, upper right, lower left or lower right, is the {r} in?",
        f"Divide the image into quadrants. Where does the centre of the {r} fall?",
        f"Is the {r} in the upper or lower half, and in the left or right half, of the photo?",
        f"Draw a cross through the middle of the picture. Which of the four parts does the {r} land in?",
        f"Name the quarter of the frame where the {r} is centred.",
        f"Where does the {r} sit if you think of the photo as a two-by-two grid?",
    )
    return d.item(0, v.ask(q), v.answer(
        f"The {r} is in the {row} {col} quarter of the image.",
        f"Its box {format_box(_box(t))} has its centre at x = {cx:.3f} and y = {cy:.3f}.",
        f"Since x is {'below' if col == 'left' else 'above'} 0.5 it is in the {col} half, and since y is {'below' if row == 'upper' else 'above'} 0.5 (y grows downwards) it is in the {row} half.",
    ))  # fmt: skip


def _half_count(view: View, n: int, rng: random.Random) -> Item | None:
    if not view.varied or n != 3:
        return None
    cats = [c for c in view.countable() if view.count(c) >= 2 and view.all_boxed(c)]
    rng.shuffle(cats)
    for c in cats:
        axis = rng.choice([0, 1])
        things = view.of(c)
        if any(abs(center(_box(t))[axis] - 0.5) < EDGE for t in things):
            continue
        half = ("left", "top")[axis]
        inside = [t for t in things if center(_box(t))[axis] < 0.5]
        v = Voice(True, rng)
        d = Draft()
        res = d.count(c, len(things))
        d.obj(c)
        d.calc(f"centres of the {plural(c)} in {res} with {'xy'[axis]} < 0.5", f"{len(inside)} of {len(things)}")  # fmt: skip
        d.skill("relationship_description")
        q = v.pick(
            f"How many of the {plural(c)} are in the {half} half of the image?",
            f"Count only the {plural(c)} whose centre lies in the {half} half of the picture.",
            f"Of all the {plural(c)} in the photo, how many sit in its {half} half?",
            f"Ignore the {('right', 'bottom')[axis]} half of the picture. How many {plural(c)} remain?",
            f"If you cut the image in two, how many {plural(c)} would be in the {half} piece?",
            f"What number of {plural(c)} have their centre on the {half} side of the frame?",
        )
        listed = join_words([format_box(_box(t)) for t in inside]) if inside else "none of them"
        if not inside:  # said positively: the checker reads "zero ... in the top half" as a claim
            head = (
                f"None: all {amount(len(things), c)} are in the {('right', 'bottom')[axis]} half."
            )
        elif len(inside) == len(things):
            head = f"All {amount(len(things), c)} are in the {half} half."
        else:
            head = f"{number_word(len(inside)).capitalize()} of the {amount(len(things), c)} {'is' if len(inside) == 1 else 'are'} in the {half} half."  # fmt: skip
        return d.item(0, v.ask(q), v.answer(
            head,
            f"I first find all {number_word(len(things))} {plural(c)}, then check for each whether the centre of its box lies before 0.5 along the {'horizontal' if axis == 0 else 'vertical'} axis.",
            f"The ones that pass are at {listed}." if inside else "None of the centres passes that test.",
        ))  # fmt: skip
    return None


def ocr(view: View, n: int, rng: random.Random) -> Item | None:
    named = [(t, r) for t, r in view.nameable() if t.attrs.get("text")]
    if n not in (2, 3) or not named:
        return None
    t, r = rng.choice(named)
    text = t.attrs["text"]
    d = Draft()
    if n == 3:
        d.ground(r, _box(t))
    var = d.ocr(r, text)
    d.calc(f"letters in {var}", f"len({text}) = {len(text)}")
    q = f"What word is printed on the {r}, and how many letters does it have?"
    return d.item(0, q, f'The {r} carries the word "{text}", which has {len(text)} letters.')


def ocr_pair(view: View, n: int, rng: random.Random) -> Item | None:
    named = [(t, r) for t, r in view.nameable() if t.attrs.get("text")]
    pairs = [(a, b) for a in named for b in named if len(a[0].attrs["text"]) > len(b[0].attrs["text"])]  # fmt: skip
    if n not in (3, 5) or not pairs:
        return None
    (ta, ra), (tb, rb) = rng.choice(pairs)
    if rng.random() < 0.5:
        (ta, ra), (tb, rb) = (tb, rb), (ta, ra)
    d = Draft()
    for t, r in ((ta, ra), (tb, rb)):
        if n == 5:
            d.ground(r, _box(t))
    v1, v2 = d.ocr(ra, ta.attrs["text"]), d.ocr(rb, tb.attrs["text"])
    (lt, lr), (st, sr) = ((ta, ra), (tb, rb)) if len(ta.attrs["text"]) > len(tb.attrs["text"]) else ((tb, rb), (ta, ra))  # fmt: skip
    d.calc(f"compare letters in {v1} and {v2}", f"{len(ta.attrs['text'])} vs {len(tb.attrs['text'])} letters")  # fmt: skip
    q = f"Which is longer: the word on the {ra} or the word on the {rb}?"
    lw, sw = lt.attrs["text"], st.attrs["text"]
    a = f'The word on the {lr} ("{lw}", {len(lw)} letters) is longer than the word on the {sr} ("{sw}", {len(sw)} letters).'
    return d.item(0, q, a)


def closest(view: View, n: int, rng: random.Random) -> Item | None:
    named = view.nameable()
    k = n - 1
    if k < 3 or len(named) < k:
        return None
    for _ in range(12):
        (anchor, ar), *others = rng.sample(named, k)
        dists = sorted((distance(_box(anchor), _box(t)), i) for i, (t, _) in enumerate(others))
        if dists[1][0] - dists[0][0] < GAP:
            continue
        d = Draft()
        av = d.ground(ar, _box(anchor))
        vars_ = [d.ground(r, _box(t)) for t, r in others]
        best_t, best_r = others[dists[0][1]]
        listing = ", ".join(f"{vars_[i]} = {x:.3f}" for x, i in sorted(dists, key=lambda p: p[1]))
        d.calc(f"distances from {av} to {', '.join(vars_)}", f"{listing} -> {vars_[dists[0][1]]}")
        d.skill("relationship_description")
        options = join_words([f"the {r}" for _, r in others], "or")
        v = Voice(view.varied, rng)
        q = v.pick(
            f"Which is closest to the {ar}: {options}?",
            f"Of {options}, which one is nearest to the {ar}?",
            f"Measuring centre to centre, which of {options} lies closest to the {ar}?",
            f"Starting from the {ar}, which of {options} would you reach first?",
            f"Who is the {ar}'s nearest neighbour among {options}?",
            f"Name the object that sits nearest the {ar}: {options}.",
            f"If the {ar} had to pick its closest companion from {options}, which would it be?",
            f"Taking the {ar} as a reference point, which is the nearest: {options}?",
            f"How would you rank {options} by closeness to the {ar}, and which comes out on top?",
        )
        a = f"The {best_r} at {format_box(_box(best_t))} is closest to the {ar}, with a centre distance of {dists[0][0]:.3f}."
        values = join_words(
            [f"the {r} ({x:.3f})" for x, (_, r) in ((x, others[i]) for x, i in dists)]
        )
        return d.item(0, v.ask(q), v.answer(
            a,
            f"I first locate the {ar} at {format_box(_box(anchor))}, then each candidate, and measure the distance between box centres: {values}.",
            f"The smallest of these belongs to the {best_r}, so it is the closest.",
        ))  # fmt: skip
    return None


TEMPLATES: tuple[Callable[[View, int, random.Random], Item | None], ...] = (
    _size_rank, _pair_extreme, _arithmetic, _quarter, _half_count, *grounded_overlap.TEMPLATES,
)  # fmt: skip
