"""The adversary's layout kinds: where a thing sits in the frame, the left-to-right order of
several things, and which thing is closest to another.

Lies told here: a thing placed on the opposite side of the frame; two neighbours swapped in a
left-to-right order; the farther of the candidates named as the nearest to a reference object
(by box centres, with a clear margin). Each has a true counterpart with the same shapes.
"""

from __future__ import annotations

import math
import random

from mmevol.testing.adversary_scene import Draft, Scene, Thing, centre, fmt_box, kind, step
from mmevol.testing.adversary_space import ground_step

SIDES = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}


def _b(t: Thing) -> tuple[float, float, float, float]:
    assert t.box is not None
    return t.box


@kind("wrong_position")
def wrong_position(scene: Scene, rng: random.Random, lie: bool, direction: str) -> Draft | None:
    spots = []
    for t in scene.boxed:
        cx, cy = centre(_b(t))
        spots += [
            (t, s)
            for s, ok in (
                ("left", cx < 0.3),
                ("right", cx > 0.7),
                ("top", cy < 0.3),
                ("bottom", cy > 0.7),
            )
            if ok
        ]
    if not spots:
        return None
    t, side = rng.choice(spots)
    said = SIDES[side] if lie else side
    claim = {"type": "position", "box": list(_b(t)), "side": said}
    lie_text = f"puts {scene.ref(t)} on the {said} side; it is on the {side}" if lie else ""
    part = {
        "left": "on the left-hand side",
        "right": "on the right-hand side",
        "top": "in the upper part",
        "bottom": "in the lower part",
    }
    if direction == "reasoning":
        steps = [
            ground_step(1, scene, t),
            step(
                "calculate(center(bbx_1)) -> res_1",
                f"The centre of bbx_1 lies {part[said]} of the frame.",
            ),
        ]
        qt = f"Locate {scene.ref(t)} and decide in which part of the image it sits."
        return Draft(
            qt,
            f"It sits {part[said]} of the image.",
            [t.category],
            ["grounding", "relationship_description"],
            "open_ended",
            steps,
            [claim],
            lie_text,
        )
    if direction == "interactive":
        qt = f"Fill in the blank: in the picture, {scene.ref(t)} is on the ____ side."
        return Draft(
            qt,
            said,
            [t.category],
            ["relationship_description"],
            "fill_in_blank",
            [],
            [claim],
            lie_text,
        )
    qt = rng.choice(
        [
            f"In which part of the image is {scene.ref(t)}?",
            f"Where in the frame can {scene.ref(t)} be seen?",
        ]
    )
    return Draft(
        qt,
        f"{scene.ref(t).capitalize()} is {part[said]} of the picture.",
        [t.category],
        ["grounding"],
        "short_answer",
        [],
        [claim],
        lie_text,
    )


@kind("wrong_ordering")
def wrong_ordering(scene: Scene, rng: random.Random, lie: bool, direction: str) -> Draft | None:
    names = {scene.ref(t): t for t in scene.boxed}
    things = sorted(names.values(), key=lambda t: centre(_b(t))[0])
    spaced = [
        t
        for i, t in enumerate(things)
        if i == 0 or centre(_b(t))[0] - centre(_b(things[i - 1]))[0] >= 0.08
    ]
    if len(spaced) < 3:
        return None
    start = rng.randrange(len(spaced) - 2)
    truth = spaced[start : start + 3]
    said = truth[:]
    if lie:
        i = rng.randrange(2)
        said[i], said[i + 1] = said[i + 1], said[i]
    claim = {"type": "order", "boxes": [list(_b(t)) for t in said]}
    lie_text = "swaps two objects in the left-to-right order" if lie else ""
    shown = truth[:]
    rng.shuffle(shown)
    listed = ", ".join(scene.ref(t) for t in shown)
    qt = f"Order these objects of the image from left to right: {listed}."
    ans = " -> ".join(scene.ref(t) for t in said)
    objs = [t.category for t in shown]
    if direction == "reasoning":
        steps = [ground_step(i + 1, scene, t) for i, t in enumerate(said)]
        steps.append(
            step(
                "calculate(sort_by_center_x(bbx_1, bbx_2, bbx_3)) -> res_1",
                "Sorting the boxes by their horizontal centres keeps this order.",
            )
        )
        return Draft(
            qt,
            ans,
            objs,
            ["grounding", "relationship_description"],
            "ordering",
            steps,
            [claim],
            lie_text,
        )
    return Draft(
        qt,
        f"From left to right: {ans}.",
        objs,
        ["relationship_description"],
        "ordering",
        [],
        [claim],
        lie_text,
    )


def _dist(a: Thing, b: Thing) -> float:
    (ax, ay), (bx, by) = centre(_b(a)), centre(_b(b))
    return math.hypot(ax - bx, ay - by)


@kind("wrong_closest")
def wrong_closest(scene: Scene, rng: random.Random, lie: bool, direction: str) -> Draft | None:
    things = list({scene.ref(t): t for t in scene.boxed}.values())
    if len(things) < 3:
        return None
    for _ in range(6):
        anchor = rng.choice(things)
        group = rng.sample([t for t in things if t is not anchor], min(3, len(things) - 1))
        ranked = sorted(group, key=lambda t: _dist(anchor, t))
        near, runner = _dist(anchor, ranked[0]), _dist(anchor, ranked[1])
        if runner >= 1.5 * near and runner - near >= 0.05:
            break
    else:
        return None
    best = ranked[0]
    said = rng.choice(ranked[1:]) if lie else best
    claim = {
        "type": "closest",
        "to": list(_b(anchor)),
        "box": list(_b(said)),
        "among": [list(_b(t)) for t in group],
    }
    lie_text = (
        f"names {scene.ref(said)} as nearest to {scene.ref(anchor)}; it is {scene.ref(best)}"
        if lie
        else ""
    )
    listed = ", ".join(scene.ref(t) for t in group[:-1]) + f" or {scene.ref(group[-1])}"
    objs = [anchor.category, *(t.category for t in group)]
    qt = rng.choice(
        [
            f"Which is closest to {scene.ref(anchor)} in the picture: {listed}?",
            f"In this image, is {listed} nearest to {scene.ref(anchor)}?",
        ]
    )
    steps: list[dict[str, str]] = []
    if direction == "reasoning":
        steps = [
            step(
                f"grounding_1({anchor.category}) -> bbx_1",
                f"{scene.ref(anchor)}: bbx_1 = {fmt_box(_b(anchor))}.",
            )
        ]
        steps += [
            step(
                f"grounding_{i + 2}({t.category}) -> bbx_{i + 2}",
                f"bbx_{i + 2} = {fmt_box(_b(t))}.",
            )
            for i, t in enumerate(group)
        ]
        steps.append(
            step(
                "calculate(min(distance(bbx_1, bbx_k))) -> res_1",
                f"The smallest centre distance is to {scene.ref(said)}.",
            )
        )
    ans = rng.choice(
        [
            f"{scene.ref(said).capitalize()} is the closest.",
            f"The nearest one is {scene.ref(said)}.",
        ]
    )
    fmt = "comparison" if direction == "interactive" else "short_answer"
    return Draft(qt, ans, objs, ["relationship_description"], fmt, steps, [claim], lie_text)
