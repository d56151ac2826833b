"""The adversary's object kinds: what is at a box, where a thing is, whether it is there.

Lies told here: a real box named as another class; a grounding step (or a picked region) whose
box belongs to a different object; a COCO object that neither the annotations nor the captions
know answered as present; an annotated object answered as absent; a colour the captions do not
give; a multiple-choice answer whose letter points at a wrong option. Each has a true
counterpart drawn from the same scene with the same sentence shapes.
"""

from __future__ import annotations

import random

from mmevol.testing.adversary_scene import (
    COCO_GROUPS,
    GROUP_OF,
    Draft,
    Scene,
    Thing,
    article,
    fmt_box,
    iou,
    kind,
    plural,
    step,
)

LETTERS = "ABCD"


def _b(t: Thing) -> tuple[float, float, float, float]:
    assert t.box is not None
    return t.box


def _wrong_class(scene: Scene, t: Thing, rng: random.Random) -> str:
    """A plausible wrong class for a box: same COCO group when possible, not overlapping it."""
    taken = scene.overlapping_cats(_b(t)) | {t.category}
    near = [c for c in COCO_GROUPS.get(GROUP_OF.get(t.category, ""), ()) if c not in taken]
    pool = near or [c for c in GROUP_OF if c not in taken]
    return rng.choice(sorted(pool))


@kind("wrong_class_at_box")
def wrong_class_at_box(scene: Scene, rng: random.Random, lie: bool, direction: str) -> Draft | None:
    if not scene.boxed:
        return None
    t = rng.choice(scene.boxed)
    box = fmt_box(_b(t))
    said = _wrong_class(scene, t, rng) if lie else t.category
    claim = {"type": "class_at", "box": list(_b(t)), "category": said, "holds": True}
    lie_text = f"calls the {t.category} at {box} {article(said)} {said}" if lie else ""
    a = article(said)
    if direction == "reasoning":
        steps = [
            step(f"referring_1({box}) -> tgt_1", f"The region {box} shows {a} {said}."),
            step(f"grounding_2({said}) -> bbx_2", f"The {said} fills bbx_2 = {box}."),
        ]
        qt = rng.choice(
            [
                f"Identify the object inside {box} in the image and explain how its box was found.",
                f"What does the region {box} of this photo contain? Work it out step by step.",
            ]
        )
        ans = f"The region {box} contains {a} {said}."
        return Draft(
            qt, ans, [said], ["referencing", "grounding"], "step_by_step", steps, [claim], lie_text
        )
    if direction == "interactive":
        if rng.random() < 0.5:
            qt = f"Complete the sentence from the picture: the object outlined by {box} is ____."
            return Draft(
                qt, f"{a} {said}", [said], ["referencing"], "fill_in_blank", [], [claim], lie_text
            )
        truth = t.category
        stmt_cat = rng.choice([truth, _wrong_class(scene, t, rng)])
        holds = (stmt_cat == truth) != lie  # the verdict the item gives on the statement
        verdict = "True" if holds else "False"
        claim = {"type": "class_at", "box": list(_b(t)), "category": stmt_cat, "holds": holds}
        lie_text = (
            f"judges 'the box {box} shows {article(stmt_cat)} {stmt_cat}' {verdict}" if lie else ""
        )
        why = (
            f"the box holds {article(stmt_cat)} {stmt_cat}"
            if holds
            else f"that box does not hold {article(stmt_cat)} {stmt_cat}"
        )
        qt = (
            f"True or false: in the image, the box {box} outlines"
            f" {article(stmt_cat)} {stmt_cat}. Explain."
        )
        return Draft(
            qt,
            f"{verdict}, {why}.",
            [stmt_cat],
            ["referencing"],
            "true_false_justify",
            [],
            [claim],
            lie_text,
        )
    qt = rng.choice(
        [
            f"What object is located at {box} in this image?",
            f"Describe the thing that the box {box} frames in the picture.",
            f"Which object can be seen in the region {box} of the photo?",
        ]
    )
    ans = rng.choice(
        [f"It is {a} {said}.", f"The box {box} frames {a} {said}.", f"{a.capitalize()} {said}."]
    )
    return Draft(qt, ans, [said], ["referencing"], "short_answer", [], [claim], lie_text)


@kind("grounding_wrong_box")
def grounding_wrong_box(
    scene: Scene, rng: random.Random, lie: bool, direction: str
) -> Draft | None:
    options = []
    for t in scene.boxed:
        same = [_b(u) for u in scene.things if u.category == t.category and u.box is not None]
        others = [
            o
            for o in scene.boxed
            if o.category != t.category and max(iou(_b(o), s) for s in same) < 0.3
        ]
        if others and scene.unique(t.category):
            options.append((t, others))
    if not options:
        return None
    t, others = rng.choice(options)
    decoy = rng.choice(others)
    said = decoy if lie else t
    box = fmt_box(_b(said))
    claim = {"type": "box_of", "category": t.category, "box": list(_b(said)), "holds": True}
    lie_text = f"gives the box of the {decoy.category} for the {t.category}" if lie else ""
    cat = t.category
    if direction == "reasoning":
        steps = [
            step(f"grounding_1({cat}) -> bbx_1", f"Locate the {cat}: bbx_1 = {box}."),
            step("referring_2(bbx_1) -> tgt_2", f"Inside bbx_1 is the {cat}."),
        ]
        qt = f"Find the {cat} in the image and report the box that contains it, step by step."
        return Draft(
            qt,
            f"The {cat} is at {box}.",
            [cat],
            ["grounding"],
            "step_by_step",
            steps,
            [claim],
            lie_text,
        )
    if direction == "interactive":
        choices = [t, decoy, *rng.sample(others, min(1, len(others) - 1))]
        choices = list({id(c): c for c in choices}.values())
        rng.shuffle(choices)
        body = " ".join(f"{LETTERS[i]}) {fmt_box(_b(c))}" for i, c in enumerate(choices))
        qt = f"Which region of the picture shows the {cat}? {body}"
        pick = LETTERS[choices.index(said)]
        return Draft(
            qt, f"{pick}) {box}", [cat], ["grounding"], "region_selection", [], [claim], lie_text
        )
    qt = rng.choice(
        [
            f"Where is the {cat} in this photo? Give its bounding box.",
            f"Point out the {cat} in the image with its bounding box coordinates.",
        ]
    )
    ans = rng.choice([f"The {cat} is at {box}.", f"It can be found at {box}."])
    return Draft(qt, ans, [cat], ["grounding"], "open_ended", [], [claim], lie_text)


def _existence(
    scene: Scene,
    rng: random.Random,
    cat: str,
    present: bool,
    lie: bool,
    direction: str,
    boxed: Thing | None,
) -> Draft:
    said = present != lie  # what the item asserts
    claim = {"type": "present", "category": cat, "holds": said}
    lie_text = (
        (f"says there is {article(cat)} {cat}" if said else f"says there is no {cat}")
        if lie
        else ""
    )
    many = plural(cat)
    if said and boxed is not None and not lie:
        where = f" at {fmt_box(_b(boxed))}"
    elif said and not lie:  # present but not one box: no made-up place
        where = rng.choice([" in the picture", ", at least one", " in this scene"])
    else:
        where = ""
    side = rng.choice(
        ["near the left edge", "in the background", "towards the bottom", "on the right"]
    )
    yes = f"Yes, there is {article(cat)} {cat}{where or ' ' + side}."
    no = rng.choice(
        [f"No, there is no {cat} in the picture.", f"No. No {many} can be seen anywhere."]
    )
    if direction == "reasoning":
        desc = (
            f"The {cat} is found{where or ' ' + side}."
            if said
            else f"No region matches {article(cat)} {cat}."
        )
        steps = [step(f"grounding_1({cat}) -> bbx_1", desc)]
        qt = f"Check whether the image contains {article(cat)} {cat}, and locate it if it does."
        return Draft(
            qt,
            yes if said else no,
            [cat],
            ["existence", "grounding"],
            "step_by_step",
            steps,
            [claim],
            lie_text,
        )
    if direction == "interactive":
        stmt_yes = rng.random() < 0.5
        stmt = (
            f"There is at least one {cat} in this photo."
            if stmt_yes
            else f"The photo shows no {many}."
        )
        verdict = "True" if stmt_yes == said else "False"
        why = (
            f"there is {article(cat)} {cat}{where or ' ' + side}"
            if said
            else f"no {many} can be seen"
        )
        return Draft(
            f"True or false: {stmt} Give a reason.",
            f"{verdict}: {why}.",
            [cat],
            ["existence"],
            "true_false_justify",
            [],
            [claim],
            lie_text,
        )
    qt = rng.choice(
        [
            f"Is there {article(cat)} {cat} anywhere in this image?",
            f"Can you spot any {many} in the picture?",
            f"Does the photo include {article(cat)} {cat}? Answer and say where.",
        ]
    )
    return Draft(qt, yes if said else no, [cat], ["existence"], "yes_no", [], [claim], lie_text)


@kind("present_as_absent")
def present_as_absent(scene: Scene, rng: random.Random, lie: bool, direction: str) -> Draft | None:
    if not scene.categories:
        return None
    cat = rng.choice(scene.categories)
    box = next((t for t in scene.boxed if t.category == cat), None)
    return _existence(scene, rng, cat, True, lie, direction, box)


@kind("absent_as_present")
def absent_as_present(scene: Scene, rng: random.Random, lie: bool, direction: str) -> Draft | None:
    absent = scene.absent_cats()[:8]
    if not absent:
        return None
    return _existence(scene, rng, rng.choice(absent), False, lie, direction, None)
