"""Interactive evolution for the grounded generator: the same scene facts in a new task format.

The format is drawn from ``vocab.FORMATS`` minus the parent's: multiple choice (counts or the
category inside a box), yes/no with support (relations, absent objects), true/false with
justification (count statements), fill-in-the-blank (relations, counts), ordering (left to
right / top to bottom), region selection among annotated boxes, counting lists, comparison,
error correction of a false statement derived from the scene graph, constrained instructions
(one "name: count" line per kind) and matching regions to categories.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from typing import Any

from mmevol.backends.geometry import center, format_box
from mmevol.backends.grounded_reasoning import pair_facts
from mmevol.backends.grounded_scene import (
    COMMON_CATEGORIES,
    Draft,
    Thing,
    View,
    amount,
    article,
    be,
    join_words,
    plural,
)
from mmevol.loop.world import COLORS, SHAPES
from mmevol.vocab import canonical_format

Item = dict[str, Any]
LETTERS = "ABCD"


def _box(t: Thing) -> tuple[float, float, float, float]:
    assert t.box is not None
    return t.box


def _pairs(view: View, rng: random.Random, need: str) -> list[tuple[Thing, str, Thing, str]]:
    named = view.nameable()
    out = [(a, ra, b, rb) for a, ra in named for b, rb in named if a.index != b.index]
    rng.shuffle(out)
    return [p for p in out if need in pair_facts(p[0], p[2])]


def _multiple_choice(view: View, rng: random.Random) -> Item | None:
    d = Draft(format="multiple_choice")
    boxed = view.boxed()
    if boxed and rng.random() < 0.5:
        t = rng.choice(boxed)
        pool = [c for c in [*view.categories(), *(SHAPES if view.world else COMMON_CATEGORIES)] if c != t.category]  # fmt: skip
        options = [t.category, *rng.sample(list(dict.fromkeys(pool)), 3)]
        rng.shuffle(options)
        d.refer(_box(t), t.full())
        d.obj(t.category)
        head = f"Which object is inside the box {format_box(_box(t))}?"
        right = options.index(t.category)
    else:
        c = rng.choice(view.categories())
        n = view.count(c)
        nums = [x for x in range(max(0, n - 3), n + 4) if x != n]
        options = [str(x) for x in sorted([n, *rng.sample(nums, 3)])]
        d.count(c, n)
        d.obj(c)
        head = f"How many {plural(c)} are in the image?"
        right = options.index(str(n))
    lines = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(options))
    q = f"{head}\n{lines}\nAnswer with the letter of the correct option."
    return d.item(0, q, f"{LETTERS[right]}. {options[right]}")


def _yes_no(view: View, rng: random.Random) -> Item | None:
    d = Draft(format="yes_no")
    pairs = _pairs(view, rng, "h")
    if pairs and rng.random() < 0.6:
        a, ra, b, rb = pairs[0]
        truth = pair_facts(a, b)["h"]
        asked = rng.choice(["left", "right"])
        d.ground(ra, _box(a))
        d.ground(rb, _box(b))
        ax, bx = center(_box(a))[0], center(_box(b))[0]
        d.calc(
            "horizontal relation of bbx_1 to bbx_2", f"centre x {ax:.3f} vs {bx:.3f}, so {truth}"
        )
        d.skill("relationship_description")
        q = f"Is the {ra} to the {asked} of the {rb}? Answer yes or no, then give one sentence of support."  # fmt: skip
        verdict = "Yes" if asked == truth else "No"
        a_ = f"{verdict}. The centre of the {ra} (x = {ax:.3f}) lies to the {truth} of the centre of the {rb} (x = {bx:.3f})."  # fmt: skip
        return d.item(0, q, a_)
    found = view.absent(rng)
    if found is None:
        return None
    absent = found[0]
    d.skill("existence")
    d.calc(f"count of {absent}", f"number of {plural(absent)} = 0")
    d.obj(absent)
    shown = join_words([amount(view.count(c), c) for c in view.categories()])
    q = f"Is there {article(absent)} {absent} in the image? Answer yes or no, then give one sentence of support."  # fmt: skip
    return d.item(0, q, f"No. The image shows {shown} but no {absent}.")


def _true_false(view: View, rng: random.Random) -> Item | None:
    c = rng.choice(view.categories())
    n = view.count(c)
    m = rng.choice([x for x in (n - 1, n, n, n + 1) if x >= 1])
    d = Draft(format="true_false_justify")
    d.count(c, n)
    d.obj(c)
    q = f"True or false: the image contains exactly {amount(m, c)}. Justify your answer."
    if m != n:
        return d.item(0, q, f"False. There {be(n)} {amount(n, c)} in the image, not {m}.")
    boxes = [format_box(t.box) for t in view.of(c) if t.box]
    where = f", at {join_words(boxes)}" if len(boxes) == n else ""
    return d.item(0, q, f"True. There {be(n)} exactly {amount(n, c)}{where}.")


def _fill_blank(view: View, rng: random.Random) -> Item | None:
    d = Draft(format="fill_in_blank")
    axis = rng.choice(["h", "v"])
    pairs = _pairs(view, rng, axis)
    if pairs and rng.random() < 0.6:
        a, ra, b, rb = pairs[0]
        truth = pair_facts(a, b)[axis]
        d.ground(ra, _box(a))
        d.ground(rb, _box(b))
        i = 0 if axis == "h" else 1
        ca, cb = center(_box(a))[i], center(_box(b))[i]
        name = "horizontal" if axis == "h" else "vertical"
        d.calc(f"{name} relation of bbx_1 to bbx_2", f"centre {'xy'[i]} {ca:.3f} vs {cb:.3f}, so {truth}")  # fmt: skip
        d.skill("relationship_description")
        choices, word = ('"left of" or "right of"', f"{truth} of") if axis == "h" else ('"above" or "below"', truth)  # fmt: skip
        q = f"Fill in the blank with {choices}: the {ra} is ____ the {rb}."
        return d.item(0, q, f"{word}. The {ra} is {word} the {rb}.")
    c = rng.choice(view.categories())
    n = view.count(c)
    d.count(c, n)
    d.obj(c)
    return d.item(
        0, f"Fill in the blank with a number: the image contains ____ {plural(c)}.", f"{n}."
    )


def _ordering(view: View, rng: random.Random, k: int) -> Item | None:
    named = view.nameable()
    axis = rng.choice([0, 1])
    for size in range(min(k, len(named)), 1, -1):
        picks = rng.sample(named, size)
        keyed = sorted(picks, key=lambda p: center(_box(p[0]))[axis])
        cs = [center(_box(t))[axis] for t, _ in keyed]
        if any(b - a < 0.02 for a, b in itertools.pairwise(cs)):
            continue
        d = Draft(format="ordering")
        vars_ = [d.ground(r, _box(t)) for t, r in picks]
        order = [vars_[picks.index(p)] for p in keyed]
        how = "left to right" if axis == 0 else "top to bottom"
        d.calc(f"sort {', '.join(vars_)} by centre {'xy'[axis]}", " < ".join(order))
        d.skill("relationship_description")
        q = f"List these objects from {how}: {join_words([f'the {r}' for _, r in picks])}."
        return d.item(0, q, f"From {how}: " + ", ".join(f"the {r}" for _, r in keyed) + ".")
    return None


def _region_selection(view: View, rng: random.Random) -> Item | None:
    named = view.nameable()
    boxed = view.boxed()
    if not named or len(boxed) < 2:
        return None
    t, r = rng.choice(named)
    others = rng.sample([o for o in boxed if o.index != t.index], min(3, len(boxed) - 1))
    options = [t, *others]
    rng.shuffle(options)
    d = Draft(format="region_selection")
    d.ground(r, _box(t))
    listed = " ".join(f"({LETTERS[i]}) {format_box(_box(o))}" for i, o in enumerate(options))
    right = options.index(t)
    q = f"Which of these regions shows the {r}? {listed}"
    return d.item(0, q, f"({LETTERS[right]}) {format_box(_box(t))}")


def _counting_list(view: View, rng: random.Random) -> Item | None:
    cats = [c for c in view.categories() if view.all_boxed(c) and view.count(c) <= 8]
    if not cats:
        return None
    c = max(cats, key=view.count)
    things = sorted(view.of(c), key=lambda t: center(_box(t))[0])
    d = Draft(format="counting_list")
    for t in things:
        d.ground(t.full(), _box(t))
    d.count(c, len(things))
    listing = "; ".join(
        f"{i}. {t.full()} at {format_box(_box(t))}" for i, t in enumerate(things, 1)
    )
    q = f"Count the {plural(c)} in the image and list each one with its box, from left to right."
    return d.item(0, q, f"There {be(len(things))} {amount(len(things), c)}: {listing}.")


def _comparison(view: View, rng: random.Random) -> Item | None:
    for a, ra, b, rb in _pairs(view, rng, "size"):
        facts = pair_facts(a, b)
        if "h" not in facts:
            continue
        d = Draft(format="comparison")
        d.ground(ra, _box(a))
        d.ground(rb, _box(b))
        d.calc("area of bbx_1 vs area of bbx_2", f"the {ra} is {facts['size']}")
        d.calc("horizontal relation of bbx_1 to bbx_2", f"the {ra} is to the {facts['h']}")
        d.skill("relationship_description")
        big, small = (ra, rb) if facts["size"] == "larger" else (rb, ra)
        left = ra if facts["h"] == "left" else rb
        q = f"Compare the {ra} and the {rb}: which one is larger, and which one is further to the left?"  # fmt: skip
        return d.item(0, q, f"The {big} is larger than the {small}, and the {left} is further to the left.")  # fmt: skip
    return None


def _error_correction(view: View, rng: random.Random) -> Item | None:
    d = Draft(format="error_correction")
    colourable = [(t, r) for t, r in view.nameable(use_color=False) if t.attrs.get("color")]
    kind = rng.choice(["count", "colour"] if colourable else ["count"])
    if kind == "colour":
        t, r = rng.choice(colourable)
        wrong = rng.choice([c for c in COLORS if c != t.attrs["color"]])
        d.ground(r, _box(t))
        d.refer(_box(t), t.full())
        statement, fix = f"The {r} is {wrong}.", f"the {r} is {t.attrs['color']}, not {wrong}"
    else:
        c = rng.choice(view.categories())
        n = view.count(c)
        m = rng.choice([x for x in (n - 1, n + 1, n + 2) if x >= 1 and x != n])
        d.count(c, n)
        d.obj(c)
        statement = f"There {be(m)} {amount(m, c)} in the image."
        fix = f"there {be(n)} {amount(n, c)} in the image, not {m}"
    q = f'Find and correct the mistake in this statement about the image: "{statement}"'
    return d.item(0, q, f"The statement is wrong: {fix}.")


def _constrained(view: View, rng: random.Random) -> Item | None:
    d = Draft(format="constrained_instruction")
    cats = sorted(view.categories())
    for c in cats:
        d.count(c, view.count(c))
        d.obj(c)
    q = ('List every kind of object in the image with how many there are, one line per kind in '
         'the form "name: count", sorted alphabetically, and nothing else.')  # fmt: skip
    return d.item(0, q, "\n".join(f"{c}: {view.count(c)}" for c in cats))


def _matching(view: View, rng: random.Random) -> Item | None:
    firsts = list({t.category: t for t in reversed(view.boxed())}.values())
    if len(firsts) < 2:
        return None
    picks = rng.sample(firsts, min(4, len(firsts)))
    names = [t.category for t in picks]
    rng.shuffle(names)
    d = Draft(format="matching")
    for t in picks:
        d.refer(_box(t), t.full())
        d.obj(t.category)
    regions = " ".join(f"{i}. {format_box(_box(t))}" for i, t in enumerate(picks, 1))
    objs = " ".join(f"{'abcd'[i]}. {c}" for i, c in enumerate(names))
    q = f"Match each region of the image to the object it shows. Regions: {regions} Objects: {objs}"
    pairs = ", ".join(f"{i}-{'abcd'[names.index(t.category)]} ({t.category})" for i, t in enumerate(picks, 1))  # fmt: skip
    return d.item(0, q, pairs)


def _captions_fill(view: View, rng: random.Random) -> Item | None:
    for c in view.caption_categories():
        for s in view.affirmative_captions():
            words = s.split()
            hits = [i for i, w in enumerate(words) if w.lower().strip(".,;:!?") == c]
            if len(hits) == 1:
                words[hits[0]] = "____" + words[hits[0]][len(c) :]
                d = Draft(format="fill_in_blank")
                d.skill("existence")
                d.obj(c)
                q = f'Fill in the blank so that the sentence describes the image: "{" ".join(words)}"'
                return d.item(0, q, f"{c}.")
    return None


BUILDERS: dict[str, Callable[[View, random.Random], Item | None]] = {
    "multiple_choice": _multiple_choice,
    "yes_no": _yes_no,
    "true_false_justify": _true_false,
    "fill_in_blank": _fill_blank,
    "region_selection": _region_selection,
    "counting_list": _counting_list,
    "comparison": _comparison,
    "error_correction": _error_correction,
    "constrained_instruction": _constrained,
    "matching": _matching,
}


def evolve(
    view: View, parent: dict[str, Any], rng: random.Random, taken: frozenset[str] = frozenset()
) -> Item | None:
    """One interactive evolution of ``parent`` in a format it does not have yet, or None."""
    old = canonical_format(str(parent.get("format") or "")) or "open_ended"
    if not view.things:
        return _captions_fill(view, rng) if old != "fill_in_blank" else None
    n_steps, n_objs = len(parent.get("steps") or []), len(parent.get("objects") or [])
    k = max(3, n_objs)
    made = []
    for name in [f for f in [*BUILDERS, "ordering"] if f != old]:
        item = _ordering(view, rng, k) if name == "ordering" else BUILDERS[name](view, rng)
        if item is not None and item["question"] != parent.get("question"):
            made.append(item)
    if not made:
        return None
    fresh = [m for m in made if m["question"] not in taken] or made
    keeps = [m for m in fresh if len(m["steps"]) >= n_steps and len(m["objects"]) >= n_objs]
    if keeps:
        return rng.choice(keeps)
    return max(fresh, key=lambda m: (len(m["steps"]) + len(m["objects"]), rng.random()))
