"""Existence templates of the grounded perception direction: is it there, and where?

``existence`` mixes present categories with one absent distractor (random, popular or
co-occurring, POPE style) and answers each with a box, a count (a lower bound where a crowd
region exists) or "No"; a single absent object makes a yes/no item. ``captions_only`` serves
seeds without annotated objects, confirming an object that an affirmative caption names.
Answers are computed from the annotations, so they are correct by construction.
"""

from __future__ import annotations

import random
from typing import Any

from mmevol.geometry import format_box
from mmevol.grounded.scene import Draft, View, amount, article, be, join_words
from mmevol.grounded.words import Voice

Item = dict[str, Any]


def present_part(view: View, c: str, d: Draft) -> str:
    """The answer part for a present category in an existence check (crowd-aware)."""
    things = view.of(c)
    if view.crowded(c):
        d.count(c, len(things), crowd=True)
        d.obj(c)
        return f"Yes, there {'are' if things else 'is'} {view.how_many(c)}."
    if len(things) == 1 and things[0].box is not None:
        d.ground(c, things[0].box)
        return f"Yes, there is {article(c)} {c} at {format_box(things[0].box)}."
    d.count(c, len(things))
    d.obj(c)
    if len(things) == 1:
        return f"Yes, there is {article(c)} {c}."
    return f"Yes, there {be(len(things))} {amount(len(things), c)}."


def existence(view: View, k: int, rng: random.Random) -> Item | None:
    found = view.absent(rng)
    if found is None:
        return None
    absent, mode = found
    present = rng.sample(view.categories(), min(k - 1, len(view.categories())))
    v = Voice(view.varied, rng)
    d = Draft(format="yes_no" if not present else "open_ended")
    d.skill("existence")
    total = len(view.things)
    why = f"There is no {absent} among the {total} annotated objects in the picture"
    if mode == "co-occurring":
        why += ", even though it is the kind of thing that often appears in such scenes"
    if not present:
        d.absent(absent, view.varied)
        d.obj(absent)
        q = v.pick(
            f"Is there {article(absent)} {absent} in the image?",
            f"Does this picture contain {article(absent)} {absent}?",
            f"Can you spot {article(absent)} {absent} anywhere in the photo?",
            f"Someone says there is {article(absent)} {absent} in this scene. Are they right?",
            f"Is {article(absent)} {absent} part of this picture?",
        )
        shown = join_words([view.how_many(c) for c in view.categories()[:3]])
        return d.item(0, v.ask(q), v.answer(f"No, there is no {absent} in the image.", why + ".", f"What it does show includes {shown}." if shown else ""))  # fmt: skip
    order: list[str | None] = [*present, None]
    rng.shuffle(order)
    asked, said = [], []
    for c in order:
        if c is None:
            d.absent(absent, view.varied)
            d.obj(absent)
            asked.append(f"{article(absent)} {absent}")
            said.append(f"No, there is no {absent}.")
            continue
        asked.append(f"{article(c)} {c}")
        said.append(present_part(view, c, d))
    listed = join_words(asked)
    q = v.compose(
        f"Check the image for {listed}. For each, say whether it is present and, if it is, where or how many.",
        (f"Check the image for {listed}.", f"Which of these can be found in the picture: {listed}?",
         f"Go through this list and tell me which items appear in the photo: {listed}.",
         f"Which of these does the image contain: {listed}?", f"Here is a list of objects: {listed}.",
         f"Some of these may be missing from the photo: {listed}.",
         f"Tell me which of {listed} you can actually find in the scene.",
         f"I am looking for {listed} in this picture.",
         f"Which items on this checklist are visible: {listed}?",
         f"Do {listed} all appear in the image?",
         f"Which, if any, of {listed} are absent from this photo?",
         f"Search this picture for {listed}.", f"Run down this list against the image: {listed}.",
         f"Not everything in this list is necessarily in the scene: {listed}."),
        ("For each, say whether it is present and, if it is, where or how many.",
         "For each one that is there, give its location or count.",
         "Add a box or a count for each one you find.",
         "Answer for each in turn, with a box or a count for those present.",
         "Give a box for a single object and a count for several.",
         "Mark each as present or absent and back it up with a box or a count.",
         "Say yes or no for each, with the evidence for every yes.",
         "Report each as found or not found, giving a location or count when found.",
         "Anything that is missing should be said to be missing.",
         "Where something is there, say where or how many; where it is not, say so.",
         "Confirm or deny each item, with its box or count when present.",
         "For the ones you find, add where they are or how many."),
    )  # fmt: skip
    return d.item(0, v.ask(q), v.answer(" ".join(said), why + "."))


def captions_only(view: View, rng: random.Random) -> Item | None:
    cats = view.caption_categories()
    if not cats:
        return None
    c = rng.choice(cats)
    sentence = next(s for s in view.affirmative_captions() if c in s.lower())
    d = Draft(format="yes_no")
    d.skill("existence")
    d.obj(c)
    q = f"Does the image show {article(c)} {c}? Answer yes or no and say how it appears."
    return d.item(
        0, q, f'Yes, the image shows {article(c)} {c}; it can be described as: "{sentence.strip()}"'
    )
