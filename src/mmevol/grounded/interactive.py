"""Interactive evolution for the grounded generator: the same scene facts in a new task format.

The format is drawn from ``vocab.FORMATS`` minus the parent's: multiple choice (counts or the
category inside a box), yes/no with support (relations, absent objects), true/false with
justification (count statements) and fill-in-the-blank (relations, counts), these three in
``grounded.statements``; ordering (left to
right / top to bottom), region selection among annotated boxes, counting lists, comparison,
error correction of a false statement derived from the scene graph, constrained instructions
(one "name: count" line per kind) and matching regions to categories.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import Any

from mmevol.geometry import center, format_box
from mmevol.grounded import statements as grounded_statements
from mmevol.grounded.choice import (
    constrained,
    counting_list,
    error_correction,
    matching,
    missing_object,
    region_selection,
)
from mmevol.grounded.reasoning import pair_facts
from mmevol.grounded.scene import (
    COMMON_CATEGORIES,
    Draft,
    Thing,
    View,
    amount,
    article,
    join_words,
    plural,
)
from mmevol.grounded.words import Voice, place
from mmevol.vocab import canonical_format
from mmevol.world.scenes import SHAPES

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
    v = Voice(view.varied, rng)
    why = ""
    if boxed and rng.random() < 0.5:
        t = rng.choice(boxed)
        pool = [c for c in [*view.categories(), *(SHAPES if view.world else COMMON_CATEGORIES)] if c != t.category]  # fmt: skip
        if v.varied and len(view.categories()) >= 4:  # distractors that are in the picture too
            pool = [c for c in view.categories() if c != t.category]
        options = [t.category, *rng.sample(list(dict.fromkeys(pool)), 3)]
        rng.shuffle(options)
        d.refer(_box(t), t.full())
        d.obj(t.category)
        head = v.pick(f"Which object is inside the box {format_box(_box(t))}?", f"What does the region {format_box(_box(t))} of the image show?", f"Which of these names fits the object in the box {format_box(_box(t))}?",
                      f"Someone drew the box {format_box(_box(t))} on this photo. What did they draw it around?",
                      f"Choose the label for the object whose bounding box is {format_box(_box(t))}.",
                      f"The rectangle {format_box(_box(t))} frames one object. Identify it from the options.")  # fmt: skip
        right = options.index(t.category)
        why = f"The box {format_box(_box(t))} outlines {article(t.category)} {t.category}, which sits in {_place(t)} of the picture; none of the other options matches it."  # fmt: skip
    else:
        if not view.countable():
            return None
        c = rng.choice(view.countable())
        n = view.count(c)
        nums = [x for x in range(max(0, n - 3), n + 4) if x != n]
        options = [str(x) for x in sorted([n, *rng.sample(nums, 3)])]
        d.count(c, n)
        d.obj(c)
        head = v.pick(f"How many {plural(c)} are in the image?", f"What is the number of {plural(c)} in this picture?", f"Count the {plural(c)} in the photo. How many are there?",
                      f"If you tallied every {c} in this scene, which number would you reach?",
                      f"Choose the correct count of {plural(c)} for this image.",
                      f"The number of {plural(c)} shown here is one of the following. Which?")  # fmt: skip
        right = options.index(str(n))
        boxes = [format_box(_box(t)) for t in view.of(c) if t.box]
        why = f"Counting them one by one gives {amount(n, c)}" + (f", at {join_words(boxes)}." if 0 < len(boxes) <= 5 else ".") + " The other options are off by at least one."  # fmt: skip
    lines = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(options))
    tail = v.pick("Answer with the letter of the correct option.", "Give the letter of the right option and explain the choice.", "Pick one option and say why it is correct.")  # fmt: skip
    q = f"{head}\n{lines}\n{tail}"
    return d.item(0, v.ask(q, explain=False), v.answer(f"{LETTERS[right]}. {options[right]}", why))


def _place(t: Thing) -> str:
    return place(_box(t))


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
        v = Voice(view.varied, rng)
        names = join_words([f"the {r}" for _, r in picks])
        q = v.compose(
            f"List these objects from {how}: {names}.",
            (f"Here are some objects in the image: {names}.", f"Consider {names}.",
             f"The picture contains {names}.", f"Look at {names} in this photo.",
             f"Take {names}.", f"These objects are all in the picture: {names}.",
             f"Focus on {names}.", f"Suppose you walk your eye across the photo past {names}."),
            (f"List them from {how}.", f"Put them in order from {how} as they appear.",
             f"In what order do you meet them going {how}?", f"Sort them by position, {how}.",
             f"Scanning {how}, which comes first and what follows?",
             f"Rank them by where they sit, {how}.",
             f"Which one do you reach first going {how}, which last, and what lies between?",
             f"Number them 1, 2, 3 and so on by their place, {how}.",
             f"Give their sequence as you move {how}."),
        )  # fmt: skip
        values = ", ".join(f"the {r} ({center(_box(t))[axis]:.3f})" for t, r in keyed)
        more = f"I locate each object and sort by the {'horizontal' if axis == 0 else 'vertical'} position of its box centre: {values}."  # fmt: skip
        return d.item(0, v.ask(q), v.answer(f"From {how}: " + ", ".join(f"the {r}" for _, r in keyed) + ".", more))  # fmt: skip
    return None


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
        v = Voice(view.varied, rng)
        q = v.pick(
            f"Compare the {ra} and the {rb}: which one is larger, and which one is further to the left?",
            f"Between the {ra} and the {rb}, which is the larger of the two and which sits further left?",
            f"Size and position: of the {ra} and the {rb}, which takes up more of the image, and which is closer to its left edge?",
            f"Two questions about the {ra} and the {rb}. First, whose box covers a bigger share of the picture? Second, whose box sits nearer the left border?",
            f"Tell me which is bigger, the {ra} or the {rb}, and then say which of them appears further to the left.",
            f"How do the {ra} and the {rb} compare in size and in horizontal position?",
            f"Weigh up the {ra} against the {rb}: which has the larger box, and which lies further left in the frame?",
            f"If you had to name the bigger one and the more leftward one of the {ra} and the {rb}, what would you say?",
            f"Put the {ra} and the {rb} side by side. Which has more area in the picture, and which is nearer the left side?",
            f"Where the {ra} and the {rb} differ in size and in left-right position, describe how.",
            f"First judge which of the {ra} and the {rb} is bigger; then judge which one lies more to the left.",
        )
        more = f"The {ra} is at {format_box(_box(a))} and the {rb} at {format_box(_box(b))}; the {big} has the bigger box area, and the {left} has the smaller centre x."  # fmt: skip
        return d.item(0, v.ask(q), v.answer(f"The {big} is larger than the {small}, and the {left} is further to the left.", more))  # fmt: skip
    return None


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
    "yes_no": grounded_statements.yes_no,
    "true_false_justify": grounded_statements.true_false,
    "fill_in_blank": grounded_statements.fill_blank,
    "region_selection": region_selection,
    "counting_list": counting_list,
    "comparison": _comparison,
    "error_correction": error_correction,
    "constrained_instruction": constrained,
    "matching": matching,
    "missing_object_selection": missing_object,
}


def evolve(
    view: View, parent: dict[str, Any], rng: random.Random, taken: AbstractSet[str] = frozenset()
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
