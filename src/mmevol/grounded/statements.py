"""Statement formats of the grounded interactive direction: yes/no, true/false, fill-in.

``yes_no`` asks about a left/right relation between two objects (or an absent object) and
supports the verdict; ``true_false`` checks an exact-count statement; ``fill_blank`` asks for a
relation word or a count to complete a sentence. All facts come from the boxes and counts of
the annotations; on COCO-like scenes the answers add where the objects lie.
"""

from __future__ import annotations

import random
from typing import Any

from mmevol.geometry import center, format_box
from mmevol.grounded.reasoning import pair_facts
from mmevol.grounded.scene import Draft, Thing, View, amount, article, be, join_words, plural
from mmevol.grounded.words import Voice, number_word, place

Item = dict[str, Any]


def _box(t: Thing) -> tuple[float, float, float, float]:
    assert t.box is not None
    return t.box


def _place(t: Thing) -> str:
    return place(_box(t))


def _pairs(view: View, rng: random.Random, need: str) -> list[tuple[Thing, str, Thing, str]]:
    named = view.nameable()
    out = [(a, ra, b, rb) for a, ra in named for b, rb in named if a.index != b.index]
    rng.shuffle(out)
    return [p for p in out if need in pair_facts(p[0], p[2])]


def spread(view: View, c: str) -> str:
    """Where the instances of a kind are, as a sentence (empty when none is boxed)."""
    spots = list(dict.fromkeys(_place(t) for t in view.of(c) if t.box))
    if not spots:
        return ""
    return f"They can be found in {join_words(spots)} of the image." if view.count(c) > 1 else f"It is in {spots[0]} of the image."  # fmt: skip


def yes_no(view: View, rng: random.Random) -> Item | None:
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
            f"Someone says the {ra} lies to the {asked} of the {rb}. Is that right? Answer yes or no with a reason.",
            f"Looking only at horizontal position, is the {ra} found on the {asked} of the {rb}? Say yes or no and why.",
            f"Check this: the {ra} is placed to the {asked} of the {rb}. Yes or no, with one supporting fact.",
            f"Taking the {rb} as the reference point, does the {ra} sit to its {asked}? Answer yes or no and justify it.",
        )
        verdict = "Yes" if asked == truth else "No"
        a_ = f"{verdict}. The centre of the {ra} (x = {ax:.3f}) lies to the {truth} of the centre of the {rb} (x = {bx:.3f})."  # fmt: skip
        more = f"The {ra} is at {format_box(_box(a))} and the {rb} at {format_box(_box(b))}; comparing the horizontal centres of the two boxes settles the question, so the {ra} is on the {truth} side."  # fmt: skip
        seen = f"Seen in the frame, the {ra} lies in {_place(a)} and the {rb} in {_place(b)}."
        return d.item(0, v.ask(q, explain=False), v.answer(a_, more, seen))
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
        f"Someone thinks there is {article(absent)} {absent} in this scene. Are they right? Answer yes or no with a reason.",
        f"Could you point to {article(absent)} {absent} in this image? Reply yes or no and explain.",
        f"Is {article(absent)} {absent} part of this scene? Give a yes or no and the evidence.",
    )
    more = f"I went through all {len(view.things)} annotated objects and there is no {absent} among them."  # fmt: skip
    return d.item(
        0, v.ask(q, explain=False), v.answer(f"No. The image shows {shown} but no {absent}.", more)
    )


def true_false(view: View, rng: random.Random) -> Item | None:
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
        f"A caption claims there {be(m)} exactly {amount(m, c)} here. True or false? Give the reason.",
        f"Exactly {amount(m, c)}: is that a true description of this image? Justify it.",
        f'Judge the claim "the scene holds exactly {amount(m, c)}" as true or false, and explain.',
    )
    boxes = [format_box(t.box) for t in view.of(c) if t.box]
    how = f"Counting every {c} in the image one by one gives {number_word(n)}."
    if m != n:
        return d.item(0, v.ask(q, explain=False), v.answer(f"False. There {be(n)} {amount(n, c)} in the image, not {m}.", how, spread(view, c), f"{n} differs from the claimed {m}, so the statement is false."))  # fmt: skip
    where = f", at {join_words(boxes)}" if len(boxes) == n else ""
    return d.item(0, v.ask(q, explain=False), v.answer(f"True. There {be(n)} exactly {amount(n, c)}{where}.", how, "That matches the claim, so the statement is true."))  # fmt: skip


def fill_blank(view: View, rng: random.Random) -> Item | None:
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
            f"Which words belong in the gap, {choices}? The {ra} appears ____ the {rb}.",
            f'Supply the missing relation ({choices}) in "Seen in the photo, the {ra} sits ____ the {rb}."',
            f"Choose between {choices} to fill the gap so the sentence matches the picture: the {ra} lies ____ the {rb}.",
        )
        more = f"The centre of the {ra} is at {'xy'[i]} = {ca:.3f} and that of the {rb} at {'xy'[i]} = {cb:.3f}, which puts the {ra} {word} the {rb}."  # fmt: skip
        seen = f"In terms of regions, the {ra} lies in {_place(a)} and the {rb} in {_place(b)} of the picture."  # fmt: skip
        return d.item(
            0,
            v.ask(q, explain=False),
            v.answer(f"{word}. The {ra} is {word} the {rb}.", more, seen),
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
        f"What number belongs in the gap? In this photo, ____ {plural(c)} can be counted.",
        f'Supply the missing count: "The scene shows ____ {plural(c)}."',
        f"Write the number that completes this: the total of {plural(c)} here is ____.",
    )
    return d.item(0, v.ask(q, explain=False), v.answer(f"{n}.", f"The blank takes {n}: counting the {plural(c)} one by one gives {amount(n, c)}.", spread(view, c)))  # fmt: skip
