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
from mmevol.backends.grounded_choice import (
    constrained,
    counting_list,
    error_correction,
    matching,
    missing_object,
    region_selection,
)
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
from mmevol.backends.grounded_words import Voice, number_word, place
from mmevol.loop.world import SHAPES
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
        head = v.pick(f"Which object is inside the box {format_box(_box(t))}?", f"What does the region {format_box(_box(t))} of the image show?", f"Which of these names fits the object in the box {format_box(_box(t))}?")  # fmt: skip
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
        head = v.pick(f"How many {plural(c)} are in the image?", f"What is the number of {plural(c)} in this picture?", f"Count the {plural(c)} in the photo. How many are there?")  # fmt: skip
        right = options.index(str(n))
        boxes = [format_box(_box(t)) for t in view.of(c) if t.box]
        why = f"Counting them one by one gives {amount(n, c)}" + (f", at {join_words(boxes)}." if 0 < len(boxes) <= 5 else ".") + " The other options are off by at least one."  # fmt: skip
    lines = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(options))
    tail = v.pick("Answer with the letter of the correct option.", "Give the letter of the right option and explain the choice.", "Pick one option and say why it is correct.")  # fmt: skip
    q = f"{head}\n{lines}\n{tail}"
    return d.item(0, v.ask(q, explain=False), v.answer(f"{LETTERS[right]}. {options[right]}", why))


def _place(t: Thing) -> str:
    return place(_box(t))


def _yes_no(view: View, rng: random.Random) -> Item | None:
    d = Draft(format="yes_no")
    v = Voice(view.varied, rng)
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
        q = v.pick(
            f"Is the {ra} to the {asked} of the {rb}? Answer yes or no, then give one sentence of support.",
            f"Yes or no: does the {ra} appear to the {asked} of the {rb}? Support your answer.",
            f"Would you say the {ra} is on the {asked} side of the {rb}? Reply yes or no and explain.",
        )
        verdict = "Yes" if asked == truth else "No"
        a_ = f"{verdict}. The centre of the {ra} (x = {ax:.3f}) lies to the {truth} of the centre of the {rb} (x = {bx:.3f})."  # fmt: skip
        more = f"The {ra} is at {format_box(_box(a))} and the {rb} at {format_box(_box(b))}; comparing the horizontal centres of the two boxes settles the question, so the {ra} is on the {truth} side."  # fmt: skip
        return d.item(0, v.ask(q, explain=False), v.answer(a_, more))
    found = view.absent(rng)
    if found is None:
        return None
    absent = found[0]
    d.skill("existence")
    d.absent(absent, view.varied)
    d.obj(absent)
    shown = join_words([view.how_many(c) for c in view.categories()])
    q = v.pick(
        f"Is there {article(absent)} {absent} in the image? Answer yes or no, then give one sentence of support.",
        f"Yes or no: can {article(absent)} {absent} be seen anywhere in this picture? Explain briefly.",
        f"Does the photo include {article(absent)} {absent}? Say yes or no and back it up.",
    )
    more = f"I went through all {len(view.things)} annotated objects and there is no {absent} among them."  # fmt: skip
    return d.item(
        0, v.ask(q, explain=False), v.answer(f"No. The image shows {shown} but no {absent}.", more)
    )


def _true_false(view: View, rng: random.Random) -> Item | None:
    if not view.countable():
        return None
    c = rng.choice(view.countable())
    n = view.count(c)
    m = rng.choice([x for x in (n - 1, n, n, n + 1) if x >= 1])
    d = Draft(format="true_false_justify")
    d.count(c, n)
    d.obj(c)
    v = Voice(view.varied, rng)
    q = v.pick(
        f"True or false: the image contains exactly {amount(m, c)}. Justify your answer.",
        f'Is this statement true or false? "The picture shows exactly {amount(m, c)}." Explain.',
        f"Decide whether it is true that the photo has exactly {amount(m, c)}, and justify it.",
    )
    boxes = [format_box(t.box) for t in view.of(c) if t.box]
    how = f"Counting every {c} in the image one by one gives {number_word(n)}."
    if m != n:
        return d.item(0, v.ask(q, explain=False), v.answer(f"False. There {be(n)} {amount(n, c)} in the image, not {m}.", how, f"{n} differs from the claimed {m}, so the statement is false."))  # fmt: skip
    where = f", at {join_words(boxes)}" if len(boxes) == n else ""
    return d.item(0, v.ask(q, explain=False), v.answer(f"True. There {be(n)} exactly {amount(n, c)}{where}.", how, "That matches the claim, so the statement is true."))  # fmt: skip


def _fill_blank(view: View, rng: random.Random) -> Item | None:
    d = Draft(format="fill_in_blank")
    v = Voice(view.varied, rng)
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
        q = v.pick(
            f"Fill in the blank with {choices}: the {ra} is ____ the {rb}.",
            f'Complete the sentence using {choices}: "In the image, the {ra} is ____ the {rb}."',
        )
        more = f"The centre of the {ra} is at {'xy'[i]} = {ca:.3f} and that of the {rb} at {'xy'[i]} = {cb:.3f}, which puts the {ra} {word} the {rb}."  # fmt: skip
        return d.item(
            0, v.ask(q, explain=False), v.answer(f"{word}. The {ra} is {word} the {rb}.", more)
        )
    if not view.countable():
        return None
    c = rng.choice(view.countable())
    n = view.count(c)
    d.count(c, n)
    d.obj(c)
    q = v.pick(
        f"Fill in the blank with a number: the image contains ____ {plural(c)}.",
        f'Complete the sentence with the right number: "There are ____ {plural(c)} in this picture."',
    )
    return d.item(0, v.ask(q, explain=False), v.answer(f"{n}.", f"The blank takes {n}: counting the {plural(c)} one by one gives {amount(n, c)}."))  # fmt: skip


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
             f"Take {names}."),
            (f"List them from {how}.", f"Put them in order from {how} as they appear.",
             f"In what order do you meet them going {how}?", f"Sort them by position, {how}.",
             f"Scanning {how}, which comes first and what follows?",
             f"Rank them by where they sit, {how}."),
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
    "yes_no": _yes_no,
    "true_false_justify": _true_false,
    "fill_in_blank": _fill_blank,
    "region_selection": region_selection,
    "counting_list": counting_list,
    "comparison": _comparison,
    "error_correction": error_correction,
    "constrained_instruction": constrained,
    "matching": matching,
    "missing_object_selection": missing_object,
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
