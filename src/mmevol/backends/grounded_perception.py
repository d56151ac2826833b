"""Fine-grained perception evolution for the grounded generator: bring in more of the scene.

Every template here brings more objects or attributes into the item than its parent had:
grounding several named objects (phrase -> box), referring (box -> description with colour,
size and printed word), counting several categories with their boxes, colour questions about
objects named without their colour, and POPE-style existence checks that mix present objects
with an absent distractor (random, popular or co-occurring) answered "No". Answers are computed
from the annotations, so they are correct by construction.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from mmevol.backends.geometry import format_box
from mmevol.backends.grounded_scene import Draft, View, amount, article, be, cap, join_words, plural

Item = dict[str, Any]


def _grounding(view: View, k: int, rng: random.Random) -> Item | None:
    named = view.nameable()
    if not named:
        return None
    picks = rng.sample(named, min(k, len(named)))
    d = Draft(format="open_ended")
    parts = []
    for t, r in picks:
        assert t.box is not None
        d.ground(r, t.box)
        parts.append(f"the {r} is at {format_box(t.box)}")
    if len(picks) == 1:
        q = f"Find the {picks[0][1]} in the image and give its bounding box in normalised coordinates."
    else:
        names = join_words([f"the {r}" for _, r in picks])
        q = f"Find {names} in the image and give the bounding box of each in normalised coordinates."
    return d.item(0, q, cap("; ".join(parts)) + ".")


def _describe(t: Any) -> str:
    text = t.attrs.get("text")
    return t.full() + (f' with the word "{text}" on it' if text else "")


def _referring(view: View, k: int, rng: random.Random) -> Item | None:
    boxed = view.boxed()
    if not boxed:
        return None
    picks = rng.sample(boxed, min(k, len(boxed)))
    d = Draft(format="open_ended")
    sentences = []
    for t in picks:
        assert t.box is not None
        desc = _describe(t)
        d.refer(t.box, desc)
        d.obj(t.category)
        sentences.append(f"The region {format_box(t.box)} contains {article(desc)} {desc}.")
    ask = "its colour, size and any printed word" if view.has_attrs() else "what it is"
    regions = join_words([format_box(t.box) for t in picks if t.box is not None])
    q = f"Describe the object inside each of these regions of the image, saying {ask}: {regions}."
    return d.item(0, q, " ".join(sentences))


def _counting(view: View, k: int, rng: random.Random) -> Item | None:
    cats = view.categories()
    if not cats:
        return None
    picks = rng.sample(cats, min(k, len(cats)))
    d = Draft(format="open_ended")
    parts = []
    with_boxes = all(view.all_boxed(c) for c in picks)
    for c in picks:
        n = view.count(c)
        d.count(c, n)
        d.obj(c)
        part = amount(n, c)
        if with_boxes:
            part += " (" + ", ".join(format_box(t.box) for t in view.of(c) if t.box) + ")"
        parts.append(part)
    if with_boxes:
        d.skill("grounding")
    asks = " and ".join(f"how many {plural(c)}" for c in picks)
    tail = " Give the box of each one." if with_boxes else ""
    q = cap(f"{asks} can you see in the image?{tail}")
    return d.item(0, q, f"There {be(view.count(picks[0]))} " + join_words(parts) + ".")


def _colour(view: View, k: int, rng: random.Random) -> Item | None:
    if not view.has_attrs():
        return None
    named = [(t, r) for t, r in view.nameable(use_color=False) if t.attrs.get("color")]
    if not named:
        return None
    picks = rng.sample(named, min(k, len(named)))
    d = Draft(format="open_ended")
    sentences = []
    for t, r in picks:
        assert t.box is not None
        d.ground(r, t.box)
        d.refer(t.box, t.full())
        sentences.append(f"The {r} is {t.attrs['color']} and sits at {format_box(t.box)}.")
    names = join_words([f"the {r}" for _, r in picks])
    q = f"What colour is each of these in the image: {names}? Also give the box of each."
    if len(picks) == 1:
        q = f"What colour is the {picks[0][1]} in the image, and where is it? Give its box."
    return d.item(0, q, " ".join(sentences))


def _existence(view: View, k: int, rng: random.Random) -> Item | None:
    found = view.absent(rng)
    if found is None:
        return None
    absent, _mode = found
    present = rng.sample(view.categories(), min(k - 1, len(view.categories())))
    d = Draft(format="yes_no" if not present else "open_ended")
    d.skill("existence")
    if not present:
        d.calc(f"count of {absent}", f"number of {plural(absent)} = 0")
        d.obj(absent)
        q = f"Is there {article(absent)} {absent} in the image?"
        return d.item(0, q, f"No, there is no {absent} in the image.")
    order: list[str | None] = [*present, None]
    rng.shuffle(order)
    asked, said = [], []
    for c in order:
        if c is None:
            d.calc(f"count of {absent}", f"number of {plural(absent)} = 0")
            d.obj(absent)
            asked.append(f"{article(absent)} {absent}")
            said.append(f"No, there is no {absent}.")
            continue
        things = view.of(c)
        asked.append(f"{article(c)} {c}")
        if len(things) == 1 and things[0].box is not None:
            d.ground(c, things[0].box)
            said.append(f"Yes, there is {article(c)} {c} at {format_box(things[0].box)}.")
        elif len(things) == 1:
            d.count(c, 1)
            d.obj(c)
            said.append(f"Yes, there is {article(c)} {c}.")
        else:
            d.count(c, len(things))
            d.obj(c)
            said.append(f"Yes, there {be(len(things))} {amount(len(things), c)}.")
    q = (
        f"Check the image for {join_words(asked)}. For each, say whether it is present "
        "and, if it is, where or how many."
    )
    return d.item(0, q, " ".join(said))


def _captions_only(view: View, rng: random.Random) -> Item | None:
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


TEMPLATES: tuple[Callable[[View, int, random.Random], Item | None], ...] = (
    _grounding,
    _referring,
    _counting,
    _colour,
    _existence,
)


def evolve(
    view: View, parent: dict[str, Any], rng: random.Random, taken: frozenset[str] = frozenset()
) -> Item | None:
    """One perception evolution of ``parent``, or None when nothing can be computed."""
    if not view.things:
        return _captions_only(view, rng)
    before = len(parent.get("objects") or [])
    old_skills = set(parent.get("skills") or [])
    k = max(1, before + 1)
    made = [template(view, k, rng) for template in TEMPLATES]
    found = [m for m in made if m is not None and m["question"] != parent.get("question")]
    if not found:
        return None
    fresh = [m for m in found if m["question"] not in taken] or found
    richer = [m for m in fresh if len(m["objects"]) > before]
    steps = len(parent.get("steps") or [])
    if richer:
        return rng.choice([m for m in richer if len(m["steps"]) >= steps] or richer)
    return max(fresh, key=lambda m: (len(set(m["skills"]) - old_skills), len(m["objects"])))
