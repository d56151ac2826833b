"""Cognitive reasoning evolution for the grounded generator: longer chains of manipulations.

The target chain length is one step more than the parent's (at least two), so a question
evolved three times goes roughly 2 -> 3 -> 4 steps. Templates: which half of the image an
object is in; count-then-threshold; OCR-then-count-letters; comparing the words on two objects;
grounding two objects then calculating 1–4 relations (left/right, above/below, larger/smaller,
centre distance); the extreme one among k grounded objects; count-then-compare over k
categories; the object closest to an anchor. Every result is computed from the boxes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from mmevol.backends.geometry import area, center, compare_area, distance, format_box
from mmevol.backends.grounded_scene import Draft, Thing, View, amount, be, join_words, plural

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
    q = f"Is the {r} in the {halves[0]} half or the {halves[1]} half of the image?"
    a = f"The {r} is in the {half} half of the image: its box {format_box(_box(t))} has its centre at {axis} = {c:.3f}."
    return d.item(0, q, a)


def _threshold(view: View, n: int, rng: random.Random) -> Item | None:
    if n != 2 or not view.categories():
        return None
    c = rng.choice(view.categories())
    k = view.count(c)
    m = rng.choice([x for x in (k - 1, k, k + 1) if x >= 1] or [1])
    d = Draft()
    res = d.count(c, k)
    d.calc(f"{res} > {m}", f"{k} > {m} is {'true' if k > m else 'false'}")
    d.obj(c)
    q = f"Are there more than {m} {plural(c)} in the image?"
    if k > m:
        return d.item(0, q, f"Yes. There {be(k)} {amount(k, c)}, which is more than {m}.")
    return d.item(0, q, f"No. There {be(k)} only {amount(k, c)}, which is not more than {m}.")


def _ocr(view: View, n: int, rng: random.Random) -> Item | None:
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


def _ocr_pair(view: View, n: int, rng: random.Random) -> Item | None:
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
        (ax, ay), (bx, by) = center(_box(a)), center(_box(b))
        asks, says = [], [f"The {ra} is at {format_box(_box(a))} and the {rb} is at {format_box(_box(b))}."]  # fmt: skip
        for k in keys:
            f = facts[k]
            if k == "h":
                d.calc(
                    "horizontal relation of bbx_1 to bbx_2",
                    f"centre x {ax:.3f} vs {bx:.3f}, so {f}",
                )
                asks.append(f"is the {ra} to the left or to the right of the {rb}")
                says.append(f"The {ra} is to the {f} of the {rb}.")
            elif k == "v":
                d.calc(
                    "vertical relation of bbx_1 to bbx_2", f"centre y {ay:.3f} vs {by:.3f}, so {f}"
                )
                asks.append(f"is the {ra} above or below the {rb}")
                says.append(f"The {ra} is {f} the {rb}.")
            elif k == "size":
                d.calc("area of bbx_1 vs area of bbx_2", f"area {area(_box(a)):.4f} vs {area(_box(b)):.4f}, so {f}")  # fmt: skip
                big, small = (ra, rb) if f == "larger" else (rb, ra)
                asks.append(f"which is larger, the {ra} or the {rb}")
                says.append(f"The {big} is larger than the {small}.")
            else:
                d.calc("distance between centres of bbx_1 and bbx_2", f"distance = {f}")
                asks.append(f"how far apart are the centres of the {ra} and the {rb}")
                says.append(f"Their centres are {f} apart.")
        d.skill("relationship_description")
        q = asks[0][0].upper() + asks[0][1:] + "?" if m == 1 else "Answer in turn: " + "; ".join(asks) + "?"  # fmt: skip
        return d.item(0, q, " ".join(says))
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
        q = f"Among {join_words([f'the {r}' for _, r in picks])}, which one is {phrase}?"
        return d.item(0, q, f"The {win_r} at {format_box(_box(win_t))} is {phrase}.")
    return None


def _count_compare(view: View, n: int, rng: random.Random) -> Item | None:
    cats = view.categories()
    k = n - 1
    if k < 2 or len(cats) < k:
        return None
    for _ in range(6):
        picks = rng.sample(cats, k)
        counts = [view.count(c) for c in picks]
        if k >= 3 and sorted(counts)[-1] == sorted(counts)[-2]:
            continue
        d = Draft()
        vars_ = [d.count(c, v) for c, v in zip(picks, counts, strict=True)]
        for c in picks:
            d.obj(c)
        listing = ", ".join(f"{v} = {x}" for v, x in zip(vars_, counts, strict=True))
        if k == 2:
            (c1, c2), (n1, n2) = picks, counts
            d.calc(f"compare {vars_[0]} and {vars_[1]}", listing)
            q = f"Are there more {plural(c1)} or more {plural(c2)} in the image?"
            if n1 == n2:
                a = f"There are as many {plural(c1)} as {plural(c2)}: {n1} of each."
            else:
                (hc, hn), (lc, ln) = ((c1, n1), (c2, n2)) if n1 > n2 else ((c2, n2), (c1, n1))
                a = f"There are more {plural(hc)} ({hn}) than {plural(lc)} ({ln})."
            return d.item(0, q, a)
        top = max(range(k), key=lambda i: counts[i])
        d.calc(f"maximum of {', '.join(vars_)}", f"{listing} -> {vars_[top]}")
        q = f"Which appears most often in the image: {join_words([plural(c) for c in picks], 'or')}?"
        rest = join_words([amount(x, c) for c, x in zip(picks, counts, strict=True)])
        return d.item(0, q, f"The {plural(picks[top])} appear most often; the image has {rest}.")
    return None


def _closest(view: View, n: int, rng: random.Random) -> Item | None:
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
        q = f"Which is closest to the {ar}: {join_words([f'the {r}' for _, r in others], 'or')}?"
        a = f"The {best_r} at {format_box(_box(best_t))} is closest to the {ar}, with a centre distance of {dists[0][0]:.3f}."
        return d.item(0, q, a)
    return None


TEMPLATES: tuple[Callable[[View, int, random.Random], Item | None], ...] = (
    _half, _threshold, _ocr, _ocr_pair, _pair, _extreme, _count_compare, _closest,
)  # fmt: skip


def evolve(
    view: View, parent: dict[str, Any], rng: random.Random, taken: frozenset[str] = frozenset()
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
