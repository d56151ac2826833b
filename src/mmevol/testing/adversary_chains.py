"""The adversary's chain kinds: multi-step answers whose lie hides in one link.

Lies told here: a chain whose counting step is right but whose final answer disagrees; an error
"correction" that breaks a right statement (or blesses a wrong one); an area share that the
object's box does not have (the calculate step shows the box, the product is wrong); and a
question that presupposes a wrong number of instances while its answer points at a real box.
"""

from __future__ import annotations

import random

from mmevol.testing.adversary_numbers import count_cats, count_claim, wrong_n
from mmevol.testing.adversary_scene import (
    Draft,
    Scene,
    area,
    centre,
    fmt_box,
    is_are,
    kind,
    num,
    plural,
    step,
)


@kind("chain_conclusion_mismatch")
def chain_conclusion_mismatch(
    scene: Scene, rng: random.Random, lie: bool, direction: str
) -> Draft | None:
    cats = count_cats(scene)
    if not cats:
        return None
    cat = rng.choice(cats)
    n = scene.counts[cat]
    said = wrong_n(n, rng) if lie else n
    steps = [
        step(f"grounding_1({plural(cat)}) -> bbx_1", f"Locate every {cat} in the picture."),
        step(
            "calculate(count(bbx_1)) -> res_1",
            f"res_1 = {n}: that is how many {plural(cat)} there are.",
        ),
    ]
    claims: list[dict[str, object]] = [
        count_claim(cat, n),
        count_claim(cat, said),
        {"type": "agree", "step": n, "answer": said},
    ]
    lie_text = f"steps count {n} {plural(cat)} but the answer says {said}" if lie else ""
    qt = rng.choice(
        [
            f"Reason step by step: how many {plural(cat)} can be seen in the image?",
            f"Using grounding and counting, determine the number of {plural(cat)} in the photo.",
        ]
    )
    ans = rng.choice([f"So the picture holds {said} {plural(cat, said)}.", f"Answer: {said}."])
    return Draft(
        qt, ans, [cat], ["calculating", "grounding"], "step_by_step", steps, claims, lie_text
    )


@kind("false_correction")
def false_correction(scene: Scene, rng: random.Random, lie: bool, direction: str) -> Draft | None:
    cats = count_cats(scene)
    if not cats:
        return None
    cat = rng.choice(cats)
    n = scene.counts[cat]
    stated = rng.choice([n, wrong_n(n, rng)])
    # a right statement: the truth keeps it, the lie "fixes" it; a wrong one: the lie blesses it
    fixed = wrong_n(n, rng) if stated == n else stated
    said = fixed if lie else n
    statement = f"There {is_are(stated)} {num(stated, True)} {plural(cat, stated)} in the image."
    qt = f'Find and fix the error, if any, in this statement about the picture: "{statement}"'
    if said == stated:
        ans = f"The statement is already correct: there {is_are(said)} {said} {plural(cat, said)}."
    else:
        fixed_text = f"there {is_are(said)} {num(said, True)} {plural(cat, said)}"
        ans = f"The number is wrong; it should read: {fixed_text}."
    lie_text = f"ends with {said} {plural(cat, said)}; {n} are annotated" if lie else ""
    return Draft(
        qt, ans, [cat], ["calculating"], "error_correction", [], [count_claim(cat, said)], lie_text
    )


@kind("wrong_area")
def wrong_area(scene: Scene, rng: random.Random, lie: bool, direction: str) -> Draft | None:
    big = [t for t in scene.boxed if t.box is not None and area(t.box) >= 0.02]
    if not big:
        return None
    t = rng.choice(big)
    assert t.box is not None
    x1, y1, x2, y2 = t.box
    share = (x2 - x1) * (y2 - y1)
    said = share * rng.choice([2.5, 3.0, 0.35]) if lie else share
    said = min(said, 0.95)
    claim = {"type": "area", "box": list(t.box), "share": round(said, 3)}
    lie_text = f"puts the area share at {said:.3f}; the box covers {share:.3f}" if lie else ""
    expr = f"({x2:.3f}-{x1:.3f})*({y2:.3f}-{y1:.3f})"
    steps = [
        step(f"grounding_1({t.category}) -> bbx_1", f"{scene.ref(t)}: bbx_1 = {fmt_box(t.box)}."),
        step(f"calculate({expr}) -> res_1", f"The box covers {said:.3f} of the image area."),
    ]
    qt = f"Roughly what share of the whole image does {scene.ref(t)} take up? Use its box."
    ans = rng.choice(
        [
            f"About {round(said * 100)} % of the image.",
            f"Its box covers roughly {round(said * 100)} % of the whole picture area.",
        ]
    )
    return Draft(
        qt,
        ans,
        [t.category],
        ["calculating", "grounding"],
        "step_by_step",
        steps if direction != "perception" else steps[1:],
        [claim],
        lie_text,
    )


@kind("false_presupposition")
def false_presupposition(
    scene: Scene, rng: random.Random, lie: bool, direction: str
) -> Draft | None:
    cats = [c for c in count_cats(scene, 2, 8)]
    if not cats:
        return None
    cat = rng.choice(cats)
    n = scene.counts[cat]
    said = rng.choice([m for m in (n + 1, n + 2, n - 1) if m >= 2 and m != n]) if lie else n
    group = sorted(
        (t for t in scene.boxed if t.category == cat),
        key=lambda t: centre(t.box or (0, 0, 0, 0))[0],
    )
    if (
        len(group) < 2
        or centre(group[1].box or (0, 0, 0, 0))[0] - centre(group[0].box or (0, 0, 0, 0))[0] < 0.08
    ):
        return None
    first = group[0]
    assert first.box is not None
    claims: list[dict[str, object]] = [
        count_claim(cat, said),
        {
            "type": "extreme",
            "which": "leftmost",
            "box": list(first.box),
            "among": [list(t.box or ()) for t in group],
        },
    ]
    lie_text = f"presupposes {said} {plural(cat)}; {n} are annotated" if lie else ""
    qt = (
        f"Of the {num(said, True)} {plural(cat)} in this picture,"
        " which one is furthest to the left?"
    )
    ans = f"The {cat} at {fmt_box(first.box)} is the leftmost of the {num(said, True)}."
    return Draft(
        qt,
        ans,
        [cat],
        ["relationship_description", "calculating"],
        "short_answer",
        [],
        claims,
        lie_text,
    )
