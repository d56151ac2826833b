"""Fine-grained perception evolution for the grounded generator: bring in more of the scene.

Every template here brings more objects or attributes into the item than its parent had:
grounding several named objects (phrase -> box), referring (box -> description with colour,
size and printed word), counting several categories with their boxes, colour questions about
objects named without their colour, and POPE-style existence checks that mix present objects
with an absent distractor (random, popular or co-occurring) answered "No". On scenes other
than the shape world, ``grounded_scenery`` adds crowd regions, region inventories, a full
inventory and a caption-grounded description. Counts of a category with a crowd region are
lower bounds. Answers are computed from the annotations, so they are correct by construction.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from mmevol.backends import grounded_scenery
from mmevol.backends.geometry import format_box
from mmevol.backends.grounded_scene import Draft, View, amount, article, be, cap, join_words, plural
from mmevol.backends.grounded_words import Voice, place, share

Item = dict[str, Any]


def _grounding(view: View, k: int, rng: random.Random) -> Item | None:
    named = view.nameable()
    if not named:
        return None
    picks = rng.sample(named, min(k, len(named)))
    v = Voice(view.varied, rng)
    d = Draft(format="open_ended")
    parts, notes = [], []
    for t, r in picks:
        assert t.box is not None
        d.ground(r, t.box)
        parts.append(f"the {r} is at {format_box(t.box)}")
        notes.append(f"The {r} sits in {place(t.box)} of the picture and covers {share(t.box)} of it.")  # fmt: skip
    if len(picks) == 1:
        r = picks[0][1]
        q = v.pick(
            f"Find the {r} in the image and give its bounding box in normalised coordinates.",
            f"Where is the {r} in this image? Give its box as four normalised coordinates.",
            f"Locate the {r} in the photo and report its bounding box.",
            f"Point out the {r} with a normalised bounding box and say which part of the image it is in.",
        )
    else:
        names = join_words([f"the {r}" for _, r in picks])
        q = v.compose(
            f"Find {names} in the image and give the bounding box of each in normalised coordinates.",
            (f"Find {names} in the image.", f"Where are {names} in this picture?",
             f"Locate each of these in the photo: {names}.", f"I need the positions of {names}.",
             f"Point out {names} in the image.", f"Show where {names} are in the scene."),
            ("Give the bounding box of each in normalised coordinates.",
             "Give a normalised bounding box for each one.", "Report each one's box.",
             "Give each one's box and say which part of the image it is in.",
             "Answer with one box per object, in the order listed.",
             "For every object, state its box and its rough position."),
        )  # fmt: skip
    closing = "Each box gives the left, top, right and bottom edges as fractions of the image width and height."  # fmt: skip
    return d.item(0, v.ask(q), v.answer(cap("; ".join(parts)) + ".", *notes, closing))


def _describe(t: Any) -> str:
    text = t.attrs.get("text")
    return t.full() + (f' with the word "{text}" on it' if text else "")


def _referring(view: View, k: int, rng: random.Random) -> Item | None:
    boxed = view.boxed()
    if not boxed:
        return None
    picks = rng.sample(boxed, min(k, len(boxed)))
    v = Voice(view.varied, rng)
    d = Draft(format="open_ended")
    sentences, notes = [], []
    for t in picks:
        assert t.box is not None
        desc = _describe(t)
        d.refer(t.box, desc)
        d.obj(t.category)
        sentences.append(f"The region {format_box(t.box)} contains {article(desc)} {desc}.")
        n = view.count(t.category)
        which = f"the only {t.category} in the image" if n == 1 and not view.crowded(t.category) else f"one of the {view.how_many(t.category)} in the image"  # fmt: skip
        notes.append(f"The {t.category} at {format_box(t.box)} lies in {place(t.box)}, covers {share(t.box)} of the frame and is {which}.")  # fmt: skip
    ask = "its colour, size and any printed word" if view.has_attrs() else "what it is"
    regions = join_words([format_box(t.box) for t in picks if t.box is not None])
    if len(picks) == 1:
        q = v.pick(
            f"Describe the object inside each of these regions of the image, saying {ask}: {regions}.",
            f"What object is inside the region {regions} of the image?",
            f"Name the object that the box {regions} marks in this picture.",
            f"Which kind of object occupies {regions} in the photo, and where does it sit?",
            f"Identify the object framed by {regions} in this picture.",
            f"What would you call the thing inside the box {regions}?",
        )
    else:
        q = v.pick(
            f"Describe the object inside each of these regions of the image, saying {ask}: {regions}.",
            f"What is shown in each of these regions of the picture: {regions}?",
            f"Identify the object in each box below and say where it sits in the image: {regions}.",
            f"Name what you see inside each of the boxes {regions} in this photo.",
            f"Tell me which object each of these boxes frames: {regions}.",
            f"For every region listed, name the object and say where in the image it is: {regions}.",
        )
    return d.item(0, v.ask(q), v.answer(" ".join(sentences), *notes))


def _counting(view: View, k: int, rng: random.Random) -> Item | None:
    cats = view.categories()
    if not cats:
        return None
    picks = rng.sample(cats, min(k, len(cats)))
    v = Voice(view.varied, rng)
    d = Draft(format="open_ended")
    parts, notes = [], []
    with_boxes = all(view.all_boxed(c) for c in picks)
    for c in picks:
        n = view.count(c)
        d.count(c, n, crowd=view.crowded(c))
        d.obj(c)
        part = view.how_many(c)
        boxes = [t.box for t in view.of(c) if t.box]
        if with_boxes:
            part += " (" + ", ".join(format_box(b) for b in boxes) + ")" if boxes else ""
        parts.append(part)
        if boxes:
            places = join_words(list(dict.fromkeys(place(b) for b in boxes)))
            what = f"The {c} is in" if n == 1 else f"The {plural(c)} are found in"
            notes.append(f"{what} {places} of the image.")
        for t in view.crowds():
            if t.category == c and t.box:
                notes.append(f"The {plural(c)} in the region {format_box(t.box)} form a crowd that is not outlined one by one, so their exact number cannot be read off.")  # fmt: skip
    if with_boxes:
        d.skill("grounding")
    plurals = [plural(c) for c in picks]
    asks = " and ".join(f"how many {p}" for p in plurals)
    tail = " Give the box of each one." if with_boxes else ""
    listed = join_words(plurals)
    q = v.compose(
        cap(f"{asks} can you see in the image?{tail}"),
        (cap(f"{asks} can you see in the image?"), f"Count the {listed} in this picture.",
         f"What is the number of {listed} visible in the photo?",
         f"Tell me how many {listed} appear in the image.",
         f"I would like a head count of the {listed} in this scene.",
         f"How many of each are there in the image: {listed}?"),
        ("Give the box of each one." if with_boxes else "Give a number for each kind.",
         "List the box of every one you count." if with_boxes else "Say how many of each kind.",
         "Include a bounding box for each instance." if with_boxes else "Answer kind by kind."),
    )  # fmt: skip
    verb = "are" if view.crowded(picks[0]) else be(view.count(picks[0]))
    direct = f"There {verb} " + join_words(parts) + "."
    counts = [view.count(c) for c in picks]
    if v.varied and len(picks) > 1 and not any(view.crowded(c) for c in picks):
        total = sum(counts)
        d.calc(" + ".join(f"count of {c}" for c in picks), f"{' + '.join(map(str, counts))} = {total}")  # fmt: skip
        direct = (
            f"Altogether {total} objects of these kinds are visible: " + join_words(parts) + "."
        )
        notes.append(f"Each kind was counted separately, and the {len(picks)} numbers add up to {total}.")  # fmt: skip
    return d.item(0, v.ask(q), v.answer(direct, *notes))


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


def _present(view: View, c: str, d: Draft) -> str:
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


def _existence(view: View, k: int, rng: random.Random) -> Item | None:
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
        said.append(_present(view, c, d))
    listed = join_words(asked)
    q = v.compose(
        f"Check the image for {listed}. For each, say whether it is present and, if it is, where or how many.",
        (f"Check the image for {listed}.", f"Which of these can be found in the picture: {listed}?",
         f"Go through this list and tell me which items appear in the photo: {listed}.",
         f"Which of these does the image contain: {listed}?", f"Here is a list of objects: {listed}.",
         f"Some of these may be missing from the photo: {listed}."),
        ("For each, say whether it is present and, if it is, where or how many.",
         "For each one that is there, give its location or count.",
         "Add a box or a count for each one you find.",
         "Answer for each in turn, with a box or a count for those present.",
         "Give a box for a single object and a count for several.",
         "Mark each as present or absent and back it up with a box or a count."),
    )  # fmt: skip
    return d.item(0, v.ask(q), v.answer(" ".join(said), why + "."))


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
    *grounded_scenery.TEMPLATES,
)


def _gain(m: Item, parent: dict[str, Any]) -> float:
    """A rough estimate of the judge's gain (steps, objects, skills, boxes) over the parent."""
    d_steps = len(m["steps"]) - len(parent.get("steps") or [])
    d_objs = len(m["objects"]) - len(parent.get("objects") or [])
    new_skills = len(set(m["skills"]) - set(parent.get("skills") or []))
    return 1.5 * d_steps + min(d_objs, 3) + min(new_skills, 2) - 0.5 * max(-d_objs, 0)


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
    if view.varied:
        good = [m for m in fresh if len(m["objects"]) >= before and _gain(m, parent) >= 2.0]
        if good:
            return rng.choice(good)
    richer = [m for m in fresh if len(m["objects"]) > before]
    steps = len(parent.get("steps") or [])
    if richer:
        return rng.choice([m for m in richer if len(m["steps"]) >= steps] or richer)
    return max(fresh, key=lambda m: (len(set(m["skills"]) - old_skills), len(m["objects"])))
