"""The adversary's wording kinds: colours, multiple-choice letters, and a lie buried among
true statements in a long description or a dialogue.

Lies told here: a colour the captions (or colour attributes) do not give to a thing; a
multiple-choice answer whose letter points at a wrong option (the options include the right
one); a detailed description or role-play where one of several statements (counts, sides) is
false and the rest check out, which is what makes it hard.
"""

from __future__ import annotations

import random

from mmevol.testing.adversary_scene import (
    COLOURS,
    GROUP_OF,
    Draft,
    Scene,
    Thing,
    article,
    centre,
    fmt_box,
    is_are,
    kind,
    num,
    plural,
    step,
)

LETTERS = "ABCD"


def _b(t: Thing) -> tuple[float, float, float, float]:
    assert t.box is not None
    return t.box


@kind("caption_colour")
def caption_colour(scene: Scene, rng: random.Random, lie: bool, direction: str) -> Draft | None:
    facts = scene.colour_facts()
    if not facts:
        return None
    noun, colour = rng.choice(facts)
    unsaid = [
        c
        for c in COLOURS
        if c not in scene.caption_words
        and c not in {"gray", "grey", "silver"}
        and c not in {col for _, col in facts}
    ]
    if len(unsaid) < 3:
        return None
    said = rng.choice(unsaid) if lie else colour
    claim = {"type": "colour", "noun": noun, "colour": said, "holds": True}
    lie_text = f"calls the {noun} {said}; the annotations say {colour}" if lie else ""
    if direction == "interactive":
        opts = [said, *rng.sample([c for c in unsaid if c != said], 2)]
        if lie:
            opts.append(colour)
        rng.shuffle(opts)
        body = " ".join(f"{LETTERS[i]}) {c}" for i, c in enumerate(opts))
        pick = LETTERS[opts.index(said)]
        return Draft(
            f"What colour is the {noun} in the picture? {body}",
            f"{pick}) {said}",
            [noun],
            ["existence"],
            "multiple_choice",
            [],
            [claim],
            lie_text,
        )
    if direction == "reasoning":
        t = next((x for x in scene.boxed if x.category == noun and scene.unique(noun)), None)
        steps = (
            [step(f"grounding_1({noun}) -> bbx_1", f"The {noun} is at {fmt_box(_b(t))}.")]
            if t
            else []
        )
        steps.append(step("referring_2(bbx_1) -> tgt_2", f"Its dominant colour is {said}."))
        qt = f"Locate the {noun} in the image and tell what colour it is."
        return Draft(
            qt,
            f"The {noun} is {said}.",
            [noun],
            ["grounding", "referencing"],
            "step_by_step",
            steps,
            [claim],
            lie_text,
        )
    qt = rng.choice(
        [
            f"What colour is the {noun} shown in the image?",
            f"Describe the {noun} in this photo, including its colour.",
        ]
    )
    ans = rng.choice([f"The {noun} is {said}.", f"It is a {said} {noun}.", f"{said.capitalize()}."])
    return Draft(qt, ans, [noun], ["referencing"], "short_answer", [], [claim], lie_text)


@kind("mc_wrong_letter")
def mc_wrong_letter(scene: Scene, rng: random.Random, lie: bool, direction: str) -> Draft | None:
    if not scene.boxed:
        return None
    t = rng.choice(scene.boxed)
    taken = scene.overlapping_cats(_b(t)) | {t.category}
    wrong = sorted({c for c in GROUP_OF if c not in taken})
    opts = [t.category, *rng.sample(wrong, 3)]
    rng.shuffle(opts)
    said = rng.choice([c for c in opts if c != t.category]) if lie else t.category
    letter = LETTERS[opts.index(said)]
    box = fmt_box(_b(t))
    claim = {"type": "class_at", "box": list(_b(t)), "category": said, "holds": True}
    lie_text = f"picks {letter} ({said}) for the {t.category} at {box}" if lie else ""
    body = "\n".join(f"{LETTERS[i]}. {c}" for i, c in enumerate(opts))
    qt = rng.choice(
        [
            f"What is shown inside {box} in the image?\n{body}",
            f"Choose the object that occupies the region {box} of the picture.\n{body}",
        ]
    )
    ans = rng.choice([f"{letter}", f"{letter}. {said}", f"The correct option is {letter}."])
    steps = []
    if direction == "reasoning":
        steps = [
            step(
                f"referring_1({box}) -> tgt_1",
                f"The region holds {article(said)} {said}, option {letter}.",
            )
        ]
    return Draft(
        qt, ans, [t.category], ["referencing"], "multiple_choice", steps, [claim], lie_text
    )


def _facts(scene: Scene, rng: random.Random) -> list[tuple[str, str, dict[str, object]]]:
    """Candidate statements: (true sentence, false sentence, the true claim with the false
    value beside it under a ``false_`` key)."""
    out: list[tuple[str, str, dict[str, object]]] = []
    for cat in scene.exact_cats():
        n = scene.counts[cat]
        if n <= 8:
            m = n + rng.choice([1, 2]) if n < 3 or rng.random() < 0.5 else n - 1
            out.append(
                (
                    f"there {is_are(n)} {num(n, True)} {plural(cat, n)}",
                    f"there {is_are(m)} {num(m, True)} {plural(cat, m)}",
                    {"type": "count", "category": cat, "n": n, "mode": "exact", "false_n": m},
                )
            )
    for t in scene.boxed:
        cx = centre(_b(t))[0]
        if scene.unique(t.category) and (cx < 0.3 or cx > 0.7):
            side, other = ("left", "right") if cx < 0.3 else ("right", "left")
            out.append(
                (
                    f"the {t.category} is on the {side}",
                    f"the {t.category} is on the {other}",
                    {"type": "position", "box": list(_b(t)), "side": side, "false_side": other},
                )
            )
    rng.shuffle(out)
    return out


@kind("buried_lie")
def buried_lie(scene: Scene, rng: random.Random, lie: bool, direction: str) -> Draft | None:
    facts = _facts(scene, rng)[:3]
    if len(facts) < 2:
        return None
    bad = rng.randrange(len(facts)) if lie else -1
    sentences, claims, lie_text = [], [], ""
    for i, (right, wrong, claim) in enumerate(facts):
        c = {k: v for k, v in claim.items() if not k.startswith("false_")}
        if i == bad:
            sentences.append(wrong)
            if c["type"] == "count":
                c["n"] = claim["false_n"]
            else:
                c["side"] = claim["false_side"]
            lie_text = f"buries '{wrong}' among true statements"
        else:
            sentences.append(right)
        claims.append(c)
    body = "; ".join(sentences[:-1]) + f", and {sentences[-1]}"
    objs = [str(c.get("category", "")) for c in claims if c.get("category")]
    if direction == "interactive":
        qt = "Role-play a short exchange: a visitor asks a guide to describe this picture."
        ans = f"Visitor: What is in this picture? Guide: Let me see: {body}. Visitor: Thanks!"
        return Draft(qt, ans, objs, ["context_understanding"], "dialogue", [], claims, lie_text)
    qt = rng.choice(
        [
            "Describe the image in detail: what is there, how many, and where?",
            "Give a detailed description of this picture, with counts and positions.",
        ]
    )
    ans = rng.choice([f"In this image {body}.", f"Looking closely, {body}."])
    steps = []
    if direction == "reasoning":
        steps = [
            step("calculate(count(objects)) -> res_1", f"Tallying what the image shows: {body}.")
        ]
    return Draft(
        qt,
        ans,
        objs,
        ["context_understanding", "calculating"],
        "detailed_description",
        steps,
        claims,
        lie_text,
    )
