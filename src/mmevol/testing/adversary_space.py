"""The adversary's spatial kinds: relations between two boxes, their sizes, and extremes.

Each kind picks objects whose geometry is unambiguous (boxes apart by a clear margin, areas at
least twice as different) and then either tells the truth or inverts it, in the style of the
call's direction: a plain question (perception), grounding and calculate steps (reasoning), or
an interactive format (yes_no, true_false_justify, multiple_choice, ordering).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from itertools import permutations

from mmevol.testing.adversary_scene import Draft, Scene, Thing, area, centre, fmt_box, kind, step

Box = tuple[float, ...]
GAP = 0.02


def _b(t: Thing) -> tuple[float, float, float, float]:
    assert t.box is not None
    return t.box


def _pairs(scene: Scene) -> list[tuple[Thing, Thing]]:
    return [(a, b) for a, b in permutations(scene.boxed, 2) if scene.ref(a) != scene.ref(b)]


def ground_step(n: int, scene: Scene, t: Thing) -> dict[str, str]:
    return step(
        f"grounding_{n}({t.category}) -> bbx_{n}", f"{scene.ref(t)}: bbx_{n} = {fmt_box(_b(t))}."
    )


def _relation(
    scene: Scene, rng: random.Random, lie: bool, direction: str, axis: str
) -> Draft | None:
    lo, hi = (0, 2) if axis == "x" else (1, 3)
    pairs = [(a, b) for a, b in _pairs(scene) if _b(a)[hi] + GAP <= _b(b)[lo]]
    if not pairs:
        return None
    a, b = rng.choice(pairs)  # the truth: a is left of (above) b
    first, second = (b, a) if lie else (a, b)  # what the item asserts
    word, other = ("left", "right") if axis == "x" else ("above", "below")
    rel = {"left": "to the left of", "right": "to the right of", "above": "above", "below": "below"}
    claim = {
        "type": "left_of" if axis == "x" else "above",
        "a": list(_b(first)),
        "b": list(_b(second)),
    }
    lie_text = f"says {scene.ref(first)} is {rel[word]} {scene.ref(second)}; it is the other way"
    p, q = rng.sample([a, b], 2)
    pf = p is first  # does "p <word> q" hold in the item's telling?
    skills = ["relationship_description", "grounding"]
    if direction == "reasoning":
        cmp = "center_x" if axis == "x" else "center_y"
        steps = [ground_step(1, scene, p), ground_step(2, scene, q)]
        steps.append(
            step(
                f"calculate({cmp}(bbx_1) < {cmp}(bbx_2)) -> res_1",
                f"Comparing the {'horizontal' if axis == 'x' else 'vertical'} centres gives {pf}.",
            )
        )
        ans = f"{scene.ref(p).capitalize()} is {rel[word if pf else other]} {scene.ref(q)}."
        q_text = (
            f"Using the boxes of {scene.ref(p)} and {scene.ref(q)} in the image, work out which "
            f"of them is {'further left' if axis == 'x' else 'higher up'}, step by step."
        )
        return Draft(
            q_text,
            ans,
            [p.category, q.category],
            [*skills, "calculating"],
            "step_by_step",
            steps,
            [claim],
            lie_text if lie else "",
        )
    if direction == "interactive" and rng.random() < 0.5:
        stmt = f"{scene.ref(p).capitalize()} appears {rel[word]} {scene.ref(q)} in this picture."
        verdict = "True" if pf else "False"
        why = f"{scene.ref(first)} sits {rel[word]} {scene.ref(second)}"
        return Draft(
            f"True or false? {stmt} Justify your answer.",
            f"{verdict}: {why}.",
            [p.category, q.category],
            skills,
            "true_false_justify",
            [],
            [claim],
            lie_text if lie else "",
        )
    shapes = [
        (f"Is {scene.ref(p)} {rel[word]} {scene.ref(q)} in the image?", "yes_no"),
        (
            f"Looking at the photo, is {scene.ref(p)} positioned {rel[word]} {scene.ref(q)}?",
            "yes_no",
        ),
    ]
    q_text, fmt = rng.choice(shapes)
    yes = "Yes" if pf else "No"
    far = {"left": "further left than", "right": "further right than", "above": "higher up than",
           "below": "lower down than"}  # fmt: skip
    tail = rng.choice(
        [
            f"{scene.ref(first).capitalize()} is {rel[word]} {scene.ref(second)}.",
            f"{scene.ref(second).capitalize()} is {rel[other]} {scene.ref(first)}.",
            f"In the frame, {scene.ref(first)} sits {far[word]} {scene.ref(second)}.",
        ]
    )
    answer = f"{yes}. {tail}"
    if rng.random() < 0.3:  # an open question instead of a yes/no one
        q_text = f"Where is {scene.ref(p)} relative to {scene.ref(q)} in this picture?"
        answer, fmt = f"It is {rel[word if pf else other]} {scene.ref(q)}.", "short_answer"
    return Draft(
        q_text,
        answer,
        [p.category, q.category],
        skills,
        fmt,
        [],
        [claim],
        lie_text if lie else "",
    )


@kind("inverted_left_right")
def inverted_left_right(
    scene: Scene, rng: random.Random, lie: bool, direction: str
) -> Draft | None:
    return _relation(scene, rng, lie, direction, "x")


@kind("inverted_above_below")
def inverted_above_below(
    scene: Scene, rng: random.Random, lie: bool, direction: str
) -> Draft | None:
    return _relation(scene, rng, lie, direction, "y")


@kind("inverted_size")
def inverted_size(scene: Scene, rng: random.Random, lie: bool, direction: str) -> Draft | None:
    pairs = [(a, b) for a, b in _pairs(scene) if area(_b(a)) >= 2.0 * area(_b(b)) > 0]
    if not pairs:
        return None
    big, small = rng.choice(pairs)
    said, other = (small, big) if lie else (big, small)
    claim = {"type": "larger", "a": list(_b(said)), "b": list(_b(other))}
    lie_text = f"says {scene.ref(said)} is larger than {scene.ref(big)}" if lie else ""
    p, q = rng.sample([big, small], 2)
    objs = [p.category, q.category]
    if direction == "reasoning":
        steps = [ground_step(1, scene, p), ground_step(2, scene, q)]
        n1, n2 = (1, 2) if said is p else (2, 1)
        desc = rng.choice(
            [
                f"The area of bbx_{n1} exceeds that of bbx_{n2}.",
                f"bbx_{n1} covers {area(_b(p if n1 == 1 else q)):.3f} of the frame and bbx_{n2}"
                f" {area(_b(q if n1 == 1 else p)):.3f}, so bbx_{n1} is bigger.",
            ]
        )
        steps.append(step(f"calculate(area(bbx_{n1}) > area(bbx_{n2})) -> res_1", desc))
        ans = f"{scene.ref(said).capitalize()} is the larger one; {scene.ref(other)} is smaller."
        qt = (
            f"Which occupies a bigger part of the image, {scene.ref(p)} or {scene.ref(q)}?"
            " Reason with their boxes."
        )
        return Draft(
            qt, ans, objs, ["grounding", "calculating"], "comparison", steps, [claim], lie_text
        )
    if direction == "interactive":
        qt = (
            f"Compare {scene.ref(p)} and {scene.ref(q)} in the picture: which one looks "
            f"smaller? Answer with the object's name."
        )
        ans = rng.choice(
            [f"{scene.ref(other).capitalize()}.", f"The smaller one is {scene.ref(other)}."]
        )
        return Draft(
            qt,
            ans,
            objs,
            ["calculating", "relationship_description"],
            "comparison",
            [],
            [claim],
            lie_text,
        )
    qt = rng.choice(
        [
            f"In this photo, which is bigger: {scene.ref(p)} or {scene.ref(q)}?",
            f"Between {scene.ref(p)} and {scene.ref(q)}, which takes up more space in the image?",
        ]
    )
    ans = rng.choice(
        [
            f"{scene.ref(said).capitalize()} is bigger than {scene.ref(other)}.",
            f"{scene.ref(said).capitalize()}, which is clearly larger in the frame than"
            f" {scene.ref(other)}.",
        ]
    )
    return Draft(qt, ans, objs, ["calculating"], "short_answer", [], [claim], lie_text)


EXTREMES: dict[str, tuple[Callable[[Box], float], Callable[[Box], float]]] = {
    "leftmost": (lambda b: centre(b)[0], lambda b: b[0]),
    "rightmost": (lambda b: -centre(b)[0], lambda b: -b[2]),
    "topmost": (lambda b: centre(b)[1], lambda b: b[1]),
    "bottommost": (lambda b: -centre(b)[1], lambda b: -b[3]),
}
PHRASE = {
    "leftmost": "furthest to the left",
    "rightmost": "furthest to the right",
    "topmost": "highest up",
    "bottommost": "lowest down",
}


@kind("wrong_extreme")
def wrong_extreme(scene: Scene, rng: random.Random, lie: bool, direction: str) -> Draft | None:
    names = {scene.ref(t): t for t in scene.boxed}
    things = list(names.values())
    if len(things) < 3:
        return None
    group = rng.sample(things, min(len(things), rng.choice([3, 3, 4])))
    which = rng.choice(list(EXTREMES))
    by_c, by_e = EXTREMES[which]
    order = sorted(group, key=lambda t: by_c(_b(t)))
    best = order[0]
    if (
        by_c(_b(order[1])) - by_c(_b(best)) < 0.08
        or min(group, key=lambda t: by_e(_b(t))) is not best
    ):
        return None
    said = rng.choice(order[1:]) if lie else best
    claim = {
        "type": "extreme",
        "which": which,
        "box": list(_b(said)),
        "among": [list(_b(t)) for t in group],
    }
    lie_text = f"names {scene.ref(said)} as {which}; it is {scene.ref(best)}" if lie else ""
    listed = ", ".join(scene.ref(t) for t in group[:-1]) + f" and {scene.ref(group[-1])}"
    objs = [t.category for t in group]
    if direction == "reasoning":
        steps = [ground_step(i + 1, scene, t) for i, t in enumerate(group)]
        steps.append(
            step(
                f"calculate({which}(bbx_1..bbx_{len(group)})) -> res_1",
                f"The {which} box belongs to {scene.ref(said)}.",
            )
        )
        qt = f"Of {listed}, which is {PHRASE[which]} in the image? Use their boxes."
        named = (
            scene.ref(said)
            if "[" in scene.ref(said)
            else f"{scene.ref(said)} ({fmt_box(_b(said))})"
        )
        return Draft(
            qt,
            f"It is {named}.",
            objs,
            ["grounding", "relationship_description"],
            "step_by_step",
            steps,
            [claim],
            lie_text,
        )
    if direction == "interactive":
        opts = group[:]
        rng.shuffle(opts)
        letters = "ABCD"
        body = " ".join(f"{letters[i]}) {scene.ref(t)}" for i, t in enumerate(opts))
        qt = f"Which object is {PHRASE[which]} in the picture? {body}"
        pick = letters[opts.index(said)]
        ans = rng.choice([f"{pick}) {scene.ref(said)}", f"{pick}", f"The answer is {pick}."])
        return Draft(
            qt, ans, objs, ["relationship_description"], "multiple_choice", [], [claim], lie_text
        )
    qt = rng.choice(
        [
            f"Among {listed}, which one is {PHRASE[which]} in this image?",
            f"Look at {listed} in the photo. Which is the {which} of them?",
        ]
    )
    ans = f"{scene.ref(said).capitalize()} is {PHRASE[which]}."
    return Draft(qt, ans, objs, ["relationship_description"], "short_answer", [], [claim], lie_text)
