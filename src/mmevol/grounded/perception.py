"""Fine-grained perception evolution for the grounded generator: bring in more of the scene.

Every template here brings more objects or attributes into the item than its parent had:
grounding several named objects (phrase -> box), referring (box -> description with colour,
size and printed word), counting several categories with their boxes, colour questions about
objects named without their colour, and POPE-style existence checks (``grounded.existence``).
On scenes other than the shape world, ``grounded.scenery`` adds crowd regions, region
inventories, a full inventory and a caption-grounded description, and ``grounded.overlap``
locates the objects a caption mentions. Question forms are drawn from pools of differently
built sentences on those scenes; the shape world keeps the first form of each. Counts of a category with a crowd region are
lower bounds. Answers are computed from the annotations, so they are correct by construction.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import Any

from mmevol.geometry import format_box
from mmevol.grounded import existence as grounded_existence
from mmevol.grounded import overlap as grounded_overlap
from mmevol.grounded import scenery as grounded_scenery
from mmevol.grounded.scene import Draft, View, article, be, cap, join_words, plural
from mmevol.grounded.words import Voice, place, share

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
            f"If you had to draw a rectangle around the {r}, what would its corners be?",
            f"What region of the picture does the {r} occupy? Answer with a box.",
            f"Give the coordinates that frame the {r} in this photo.",
            f"Mark the {r}: which box, in fractions of the width and height, encloses it?",
        )
    else:
        names = join_words([f"the {r}" for _, r in picks])
        q = v.compose(
            f"Find {names} in the image and give the bounding box of each in normalised coordinates.",
            (f"Find {names} in the image.", f"Where are {names} in this picture?",
             f"Locate each of these in the photo: {names}.", f"I need the positions of {names}.",
             f"Point out {names} in the image.", f"Show where {names} are in the scene.",
             f"Draw a box around each of {names}.", f"My task is to find {names} in this photo.",
             f"Which parts of the picture do {names} occupy?",
             f"Can you pin down {names} with boxes?",
             f"Help me find {names} in this scene.", f"Tell me where to look for {names}.",
             f"Mark the positions of {names} in the image."),
            ("Give the bounding box of each in normalised coordinates.",
             "Give a normalised bounding box for each one.", "Report each one's box.",
             "Give each one's box and say which part of the image it is in.",
             "Answer with one box per object, in the order listed.",
             "For every object, state its box and its rough position.",
             "Write the coordinates as fractions of the width and height.",
             "A box and a short note on where it lies will do for each.",
             "Keep the same order as my list.",
             "Answer with coordinates between 0 and 1.",
             "I want the box and the part of the frame for each.",
             "Use normalised left, top, right, bottom coordinates."),
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
            f"Someone drew the rectangle {regions} on this photo. What did they mark?",
            f"Tell me what the box {regions} contains and where in the frame it lies.",
            f"If you zoomed into {regions}, what would you find there?",
        )
    else:
        q = v.pick(
            f"Describe the object inside each of these regions of the image, saying {ask}: {regions}.",
            f"What is shown in each of these regions of the picture: {regions}?",
            f"Identify the object in each box below and say where it sits in the image: {regions}.",
            f"Name what you see inside each of the boxes {regions} in this photo.",
            f"Tell me which object each of these boxes frames: {regions}.",
            f"For every region listed, name the object and say where in the image it is: {regions}.",
            f"Someone marked the boxes {regions} on this picture. What did they mark?",
            f"What would you find if you zoomed into each of {regions}?",
            f"Say what each of these boxes contains: {regions}.",
            f"These boxes each hold one object: {regions}. Which objects are they?",
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
         f"How many of each are there in the image: {listed}?",
         f"Do a count of the {listed} you can find.", f"For the {listed}, give me numbers.",
         f"What are the totals for the {listed} shown here?",
         f"Going kind by kind, how many {listed} are in this picture?"),
        ("Give the box of each one." if with_boxes else "Give a number for each kind.",
         "List the box of every one you count." if with_boxes else "Say how many of each kind.",
         "Include a bounding box for each instance." if with_boxes else "Answer kind by kind.",
         "Back every count with the boxes you counted." if with_boxes else "Keep each kind separate.",
         "Say where each one is with a box." if with_boxes else "State each number on its own."),
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


TEMPLATES: tuple[Callable[[View, int, random.Random], Item | None], ...] = (
    _grounding,
    _referring,
    _counting,
    _colour,
    grounded_existence.existence,
    *grounded_scenery.TEMPLATES,
    grounded_overlap.caption_locate,
)


def _gain(m: Item, parent: dict[str, Any]) -> float:
    """A rough estimate of the judge's gain (steps, objects, skills, boxes) over the parent."""
    d_steps = len(m["steps"]) - len(parent.get("steps") or [])
    d_objs = len(m["objects"]) - len(parent.get("objects") or [])
    new_skills = len(set(m["skills"]) - set(parent.get("skills") or []))
    return 1.5 * d_steps + min(d_objs, 3) + min(new_skills, 2) - 0.5 * max(-d_objs, 0)


def evolve(
    view: View, parent: dict[str, Any], rng: random.Random, taken: AbstractSet[str] = frozenset()
) -> Item | None:
    """One perception evolution of ``parent``, or None when nothing can be computed."""
    if not view.things:
        return grounded_existence.captions_only(view, rng)
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
