"""Perception templates for real photographs (COCO and the like), not used on shape scenes.

Crowd regions (COCO ``iscrowd``: a group whose members are not outlined one by one) are named
as "a crowd of people" / "a group of books", never as one object, and make the category's
count a lower bound. Templates: what a crowd region shows, an inventory of every kind of object
with counts and places, the objects whose centre lies in one part of the image, a description
grounded in an annotator's caption with the box of each object mentioned, and the objects that
share the scene with a chosen one. Everything stated is computed from the annotations; caption
text is quoted, never restated as fact.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

from mmevol.geometry import center, distance, format_box
from mmevol.grounded.scene import Draft, Thing, View, amount, article, be, cap, join_words, plural
from mmevol.grounded.words import Voice, place, share

Item = dict[str, Any]
EDGE = 0.03  # centres this close to a dividing line are not placed on either side


def _box(t: Thing) -> tuple[float, float, float, float]:
    assert t.box is not None
    return t.box


def _named(view: View, t: Thing) -> str:
    """How a thing is written in an answer: ``the dog``, ``a crowd of people``, ``a cup``."""
    if t.crowd:
        return f"{'a crowd' if t.category == 'person' else 'a group'} of {plural(t.category)}"
    return f"{article(t.category)} {t.category}"


def _crowd_region(view: View, k: int, rng: random.Random) -> Item | None:
    crowds = view.crowds()
    if not view.varied or not crowds:
        return None
    t = rng.choice(crowds)
    c, box = t.category, format_box(_box(t))
    v = Voice(True, rng)
    d = Draft()
    group = _named(view, t)
    d.refer(_box(t), group.split(" ", 1)[1])
    d.count(c, view.count(c), crowd=True)
    d.obj(c)
    q = v.pick(
        f"What does the region {box} of the image show? Is it a single object?",
        f"Describe what occupies the box {box} in this picture, and say whether it is one object or many.",
        f"The box {box} marks part of the scene. What is inside it, and can its members be counted?",
        f"Someone outlined {box} on this photo. Did they outline one thing or a whole group?",
        f"Could you give an exact count of what fills the region {box}? Say what is there.",
        f"Tell me what the rectangle {box} encloses and whether it is a lone object.",
    )
    n = view.count(c)
    rest = (
        f"Apart from that region, {view.how_many(c).split(' outlined')[0]} are outlined one by one elsewhere in the picture."
        if n
        else f"No single {c} is outlined on its own."
    )
    return d.item(0, v.ask(q), v.answer(
        f"The region {box} contains {group}: a group, not one object.",
        f"It lies in {place(_box(t))} and covers {share(_box(t))} of the image.",
        "The members of such a group are not outlined individually, so they cannot be counted exactly from the annotations.",
        rest,
    ))  # fmt: skip


def _inventory(view: View, k: int, rng: random.Random) -> Item | None:
    cats = view.categories()
    if not view.varied or len(cats) < 2:
        return None
    v = Voice(True, rng)
    d = Draft(format="detailed_description")
    lines = []
    for c in cats:
        d.count(c, view.count(c), crowd=view.crowded(c))
        d.obj(c)
        things = [t for t in view.things if t.category == c and t.box]
        places = join_words(list(dict.fromkeys(place(_box(t)) for t in things)))
        lines.append(f"{view.how_many(c)}, in {places}" if places else view.how_many(c))
    d.skill("context_understanding")
    q = v.compose(
        "",
        ("List every kind of object you can see in the image.", "Take an inventory of this picture.",
         "What objects does the photo contain?", "Go through the scene kind by kind.",
         "Describe the contents of the image object type by object type.",
         "Summarise what is in this picture.", "Catalogue the picture for me.",
         "Which kinds of things make up this scene?", "Break the photo down into its objects.",
         "Imagine describing this picture to someone who cannot see it, kind by kind.",
         "Walk me through the kinds of objects in this image.", "How is this scene made up?"),
        ("Say how many there are of each and where they are.",
         "Give a count and a rough location for each kind.",
         "For each kind, give its number and its position in the frame.",
         "Mention the number of each and which part of the image it occupies.",
         "Numbers and rough positions are what I need.",
         "State where each kind sits and how many of it there are.",
         "Include how many of each kind there are and the region it lies in."),
    )  # fmt: skip
    head = f"The image contains {len(cats)} kinds of annotated objects."
    body = " ".join(cap(x) + "." for x in lines)
    note = "Where a crowd or group region is marked, its members are not outlined one by one, so that count is a lower bound."  # fmt: skip
    return d.item(0, v.ask(q), v.answer(head, body, note if view.crowds() else ""))


REGIONS = {
    "left half": (0, 0.5, -1), "right half": (0, 0.5, 1),
    "top half": (1, 0.5, -1), "bottom half": (1, 0.5, 1),
}  # fmt: skip


def _region_contents(view: View, k: int, rng: random.Random) -> Item | None:
    boxed = [t for t in view.things if t.box is not None]
    if not view.varied or len(boxed) < 2:
        return None
    name = rng.choice(list(REGIONS))
    axis, line, side = REGIONS[name]
    if any(abs(center(_box(t))[axis] - line) < EDGE for t in boxed):
        return None
    inside = [t for t in boxed if (center(_box(t))[axis] - line) * side > 0]
    outside = [t for t in boxed if t not in inside]
    if not inside or not outside or len(inside) > 8:
        return None
    v = Voice(True, rng)
    d = Draft()
    for t in inside:
        d.refer(_box(t), _named(view, t).split(" ", 1)[1])
        d.obj(t.category)
    d.calc(f"centre {'xy'[axis]} of each region vs {line}", f"{len(inside)} of {len(boxed)} annotated regions have their centre in the {name}")  # fmt: skip
    d.skill("relationship_description")
    q = v.pick(
        f"Which objects have their centre in the {name} of the image? Give their boxes.",
        f"What can be seen in the {name} of this picture? List each object with its box.",
        f"Name the objects located in the {name} of the photo, with a bounding box for each.",
        f"List the objects that sit mainly in the {name} of the photo, with a box for each.",
        f"Focus on the {name} of the picture. Which annotated objects are there?",
        f"If you covered everything except the {name} of the photo, which objects would still show? Give boxes.",
        f"Looking only at the {name} of the image, what objects are centred there, and where exactly?",
        f"The {name} of this picture holds some objects. Name them and box each one.",
    )
    said = join_words([f"{_named(view, t)} at {format_box(_box(t))}" for t in inside])
    others = join_words(list(dict.fromkeys(plural(t.category) for t in outside)))
    coord = "x" if axis == 0 else "y"
    return d.item(0, v.ask(q), v.answer(
        cap(f"{said}."),
        f"Each of these has its centre {coord} coordinate {'below' if side < 0 else 'above'} {line}, the middle of the image.",
        f"The remaining annotated objects ({others}) have their centres in the other half.",
    ))  # fmt: skip


NUMBER_WORDS = {w: i for i, w in enumerate(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"])}  # fmt: skip
NUMBER = re.compile(r"\b(\d+|" + "|".join(NUMBER_WORDS) + r"|an?|single)\s+([a-z]+(?: [a-z]+)?)")


def consistent_caption(view: View, caption: str) -> bool:
    """False when the caption counts a kind differently from the annotations (or counts a kind
    that has a crowd region): such a caption is not quoted."""
    for num, words in NUMBER.findall(caption.lower()):
        for c in view.categories():
            for form, many in ((plural(c), True), (c, False)):
                if words == form or words.startswith(form + " ") or words.endswith(" " + form):
                    n = 1 if num in ("a", "an", "single") else int(num) if num.isdigit() else NUMBER_WORDS[num]  # fmt: skip
                    if many and (view.crowded(c) or view.count(c) != n):
                        return False
                    if (
                        not many
                        and num not in ("a", "an")
                        and (view.crowded(c) or view.count(c) != 1)
                    ):
                        return False
    return True


def _grounded_description(view: View, k: int, rng: random.Random) -> Item | None:
    captions = [c for c in view.affirmative_captions() if consistent_caption(view, c)]
    if not view.varied or not captions:
        return None
    caption = rng.choice(captions).strip().rstrip(".")
    mentioned = [c for c in view.categories() if f" {c} " in f" {caption.lower()} " or f" {plural(c)} " in f" {caption.lower()} "]  # fmt: skip
    chosen = mentioned or view.categories()[:3]
    v = Voice(True, rng)
    d = Draft(format="detailed_description")
    facts = []
    for c in chosen:
        things = view.of(c)
        if len(things) == 1 and things[0].box and not view.crowded(c):
            d.ground(c, _box(things[0]))
            facts.append(f"the {c} is at {format_box(_box(things[0]))}, in {place(_box(things[0]))}")  # fmt: skip
        else:
            d.count(c, len(things), crowd=view.crowded(c))
            d.obj(c)
            boxes = ", ".join(format_box(_box(t)) for t in things[:4])
            more = " among others" if len(things) > 4 else ""
            facts.append(f"there {'are' if len(things) != 1 or view.crowded(c) else 'is'} {view.how_many(c)}" + (f" (for example at {boxes}{more})" if boxes else ""))  # fmt: skip
    d.skill("context_understanding")
    q = v.pick(
        "Describe this image in a few sentences and give the box of each object you mention.",
        "Write a short grounded description of the photo: what is happening, and where the main objects are.",
        "Give a detailed description of the picture that points to the main objects with bounding boxes.",
        "What is going on in this photo? Describe it and anchor each object you name to a box.",
        "Tell the story of this picture in a few lines, boxing the things you talk about.",
        "Caption this image, then ground the key objects with their coordinates.",
    )
    return d.item(0, v.ask(q), v.answer(
        f'In one sentence, the scene shows "{caption.lower()}".',
        "Grounding the main objects: " + "; ".join(facts) + ".",
        f"Altogether {amount(len(view.things), 'object')} of {amount(len(view.categories()), 'kind')} {be(len(view.things))} annotated.",
    ))  # fmt: skip


def _companions(view: View, k: int, rng: random.Random) -> Item | None:
    named = view.nameable()
    if not view.varied or not named or len(view.categories()) < 3:
        return None
    t, r = rng.choice(named)
    others = [c for c in view.categories() if c != t.category]
    v = Voice(True, rng)
    d = Draft()
    d.ground(r, _box(t))
    for c in others:
        d.count(c, view.count(c), crowd=view.crowded(c))
        d.obj(c)
    near = min((o for o in view.boxed() if o.category != t.category), key=lambda o: distance(_box(o), _box(t)), default=None)  # fmt: skip
    d.skill("relationship_description")
    q = v.pick(
        f"What other kinds of objects share the scene with the {r}?",
        f"Besides the {r}, which objects appear in this image, and how many of each?",
        f"The photo shows the {r}. What else is in the picture with it?",
        f"Apart from the {r}, what can be seen in the image?",
        f"Which objects accompany the {r} in this scene, and which of them is nearest to it?",
        f"Name everything else in the picture besides the {r}, with counts.",
        f"If you took the {r} out of the picture, what would be left, and how much of it?",
        f"Who or what keeps the {r} company in this photo?",
        f"Start from the {r}: which other things are in the scene, and which is closest?",
        f"What is the {r} surrounded by in this picture?",
        f"Describe the rest of the scene around the {r}, with numbers.",
        f"Which neighbours does the {r} have in this photo, and which one is the nearest?",
        f"List what else appears alongside the {r}, kind by kind.",
    )
    return d.item(0, v.ask(q), v.answer(
        f"The {r} is at {format_box(_box(t))}, in {place(_box(t))} of the image.",
        f"Sharing the scene with it: {join_words([view.how_many(c) for c in others])}.",
        f"Measured between box centres, the nearest of these to the {r} is {article(near.category)} {near.category} at {format_box(_box(near))}." if near else "",
    ))  # fmt: skip


TEMPLATES: tuple[Callable[[View, int, random.Random], Item | None], ...] = (
    _crowd_region, _inventory, _region_contents, _grounded_description, _companions,
)  # fmt: skip
