"""Interactive templates for the grounded generator: corrections, tallies, regions, absences.

``error_correction`` rewrites a false statement derived from the scene (a wrong count or, in
the shape world, a wrong colour) and asks for the fix; ``constrained`` asks for an alphabetical
"name: count" tally (a kind with a crowd region is written "at least N"); ``matching`` pairs
regions with categories; ``region_selection`` picks the box of a named object among annotated
ones; ``counting_list`` counts one kind and lists each instance left to right; ``missing_object`` (not on shape scenes) asks which listed object is
*not* in the image: three present categories and one absent distractor (random, popular or
co-occurring, as for POPE), answered with the option letter and the evidence.
"""

from __future__ import annotations

import random
from typing import Any

from mmevol.geometry import center, format_box
from mmevol.grounded.scene import Draft, Thing, View, amount, article, be, cap, join_words, plural
from mmevol.grounded.words import ORDINALS, Voice, place
from mmevol.world.scenes import COLORS

LETTERS = "ABCD"
Item = dict[str, Any]


def _box(t: Thing) -> tuple[float, float, float, float]:
    assert t.box is not None
    return t.box


def _evidence(view: View, c: str) -> str:
    things = view.of(c)
    if len(things) == 1 and things[0].box is not None and not view.crowded(c):
        return f"{article(c)} {c} is at {format_box(things[0].box)}"
    return f"there {'is' if len(things) == 1 and not view.crowded(c) else 'are'} {view.how_many(c)}"  # fmt: skip


def missing_object(view: View, rng: random.Random) -> dict[str, Any] | None:
    """Which of four objects is missing from the image (format ``missing_object_selection``)."""
    cats = view.categories()
    if not view.varied or len(cats) < 3:
        return None
    found = view.absent(rng)
    if found is None:
        return None
    absent = found[0]
    present = rng.sample(cats, 3)
    options = [*present, absent]
    rng.shuffle(options)
    v = Voice(True, rng)
    d = Draft(format="missing_object_selection")
    d.skill("existence")
    for c in present:
        things = view.of(c)
        if len(things) == 1 and things[0].box is not None and not view.crowded(c):
            d.ground(c, things[0].box)
        else:
            d.count(c, len(things), crowd=view.crowded(c))
            d.obj(c)
    d.absent(absent, varied=True)
    d.obj(absent)
    listed = "\n".join(f"{LETTERS[i]}. {c}" for i, c in enumerate(options))
    q = v.pick(
        f"Which of these objects does not appear in the image?\n{listed}",
        f"One of the following is missing from the picture. Which one?\n{listed}",
        f"Three of these can be found in the photo and one cannot. Pick the odd one out.\n{listed}",
        f"Only three of the options below are actually in this picture. Name the one that is not.\n{listed}",
        f"If you searched the image for each of these, which search would come up empty?\n{listed}",
        f"Spot the intruder: which listed thing has no counterpart in the scene?\n{listed}",
        f"A caption writer listed four things for this photo, but one of them is wrong. Which?\n{listed}",
        f"Every option but one is visible somewhere in the image. Find the exception.\n{listed}",
        f"Choose the object you cannot find in this scene.\n{listed}",
        f"Which option names something this picture does not show?\n{listed}",
        f"Exactly one of these is absent from the image. Identify it.\n{listed}",
        f"Imagine ticking off each option against the photo. Which one is never ticked?\n{listed}",
    )
    right = options.index(absent)
    evidence = join_words([_evidence(view, c) for c in present])
    return d.item(0, v.ask(q), v.answer(
        f"{LETTERS[right]}. {cap(absent)}, which is missing from the image.",
        f"The other three are all present: {evidence}.",
        f"There is no {absent} among the {len(view.things)} annotated objects, so it is the odd one out.",
    ))  # fmt: skip


def error_correction(view: View, rng: random.Random) -> Item | None:
    d = Draft(format="error_correction")
    colourable = [(t, r) for t, r in view.nameable(use_color=False) if t.attrs.get("color")]
    kind = rng.choice(["count", "colour"] if colourable else ["count"])
    if kind == "colour":
        t, r = rng.choice(colourable)
        wrong = rng.choice([c for c in COLORS if c != t.attrs["color"]])
        d.ground(r, _box(t))
        d.refer(_box(t), t.full())
        statement, fix = f"The {r} is {wrong}.", f"the {r} is {t.attrs['color']}, not {wrong}"
    else:
        if not view.countable():
            return None
        c = rng.choice(view.countable())
        n = view.count(c)
        m = rng.choice([x for x in (n - 1, n + 1, n + 2) if x >= 1 and x != n])
        d.count(c, n)
        d.obj(c)
        statement = f"There {be(m)} {amount(m, c)} in the image."
        fix = f"there {be(n)} {amount(n, c)} in the image, not {m}"
    v = Voice(view.varied, rng)
    q = v.pick(
        f'Find and correct the mistake in this statement about the image: "{statement}"',
        f'This description of the picture contains an error: "{statement}" Correct it.',
        f'Proofread this claim against the photo and fix what is wrong: "{statement}"',
        f'Is this sentence about the photo accurate? "{statement}" If not, rewrite it correctly.',
        f'A student wrote "{statement}" about this picture. What did they get wrong, and what should it say?',
        f'Rewrite the following so that it matches the image: "{statement}"',
        f'Spot the factual slip in "{statement}" and give the corrected version.',
        f'Someone described the scene as follows: "{statement}" Point out the error and repair it.',
    )
    more = "Checking the claim against the image shows the number is off; the corrected sentence keeps everything else."  # fmt: skip
    return d.item(
        0, v.ask(q), v.answer(f"The statement is wrong: {fix}.", more if kind == "count" else "")
    )


def constrained(view: View, rng: random.Random) -> Item | None:
    d = Draft(format="constrained_instruction")
    cats = sorted(view.categories())
    for c in cats:
        d.count(c, view.count(c), crowd=view.crowded(c))
        d.obj(c)
    v = Voice(view.varied, rng)
    q = v.pick(
        'List every kind of object in the image with how many there are, one line per kind in the form "name: count", sorted alphabetically, and nothing else.',
        'Write one line per kind of object in this picture as "name: count", in alphabetical order, with no other text.',
        'Output an alphabetical tally of the objects in the photo, one "name: count" line per kind and nothing more.',
        'Give a plain list of what the image contains: one line per kind of object, formatted "name: count", alphabetically, with no extra words.',
        'Produce an inventory of this picture with exactly one "name: count" line per object kind, sorted A to Z, and no commentary.',
        'How many of each kind of object are in the photo? Reply only with lines of the form "name: count", in alphabetical order.',
        'Count the objects in this image kind by kind. Format: one "name: count" line per kind, alphabetical, nothing else.',
        'For a catalogue, I need the contents of this photo as "name: count" lines, alphabetised, without any explanation.',
        'Tally the picture: every annotated kind of object on its own line as "name: count", ordered from A to Z, and no other output.',
        'Return only a sorted list (alphabetical by name) of the kinds of object in this image, each written as "name: count".',
        'What does this scene contain, and how many of each? Answer strictly as alphabetical "name: count" lines.',
        'Break the image down into its kinds of object and their numbers. Use the format "name: count", one per line, sorted by name, with no extra text.',
        'Sorting the kinds alphabetically, write a "name: count" line for each kind of object you see in the photo and add nothing else.',
        'Make a count sheet for this picture: alphabetical "name: count" lines only.',
        'Reply in the form "name: count", one kind per line and alphabetical, to say what this photo contains.',
        'Summarise the image as a machine-readable tally: alphabetical lines of "name: count" and nothing more.',
        'Which objects are here, and how many of each? Use one "name: count" line per kind, A to Z, no sentences.',
        'Fill in a "name: count" line for every kind of object in the picture; order the lines alphabetically and skip any comment.',
        'Give the per-kind totals for this photo, alphabetically, as bare "name: count" lines.',
        'A data-entry task: record each kind of object in this image with its number as "name: count", one per line, in A to Z order, and write nothing else.',
        'Answer with a tally only. Every kind of object in the picture gets one "name: count" line; the lines go in alphabetical order.',
        'In alphabetical order, how many of every kind of object does this picture have? Use bare "name: count" lines.',
    )
    if view.crowds():
        q += ' Write "at least N" where part of a kind is a crowd that cannot be counted.'
    lines = [f"{c}: at least {view.count(c)}" if view.crowded(c) else f"{c}: {view.count(c)}" for c in cats]  # fmt: skip
    return d.item(0, v.ask(q, explain=False), "\n".join(lines))


def matching(view: View, rng: random.Random) -> Item | None:
    firsts = list({t.category: t for t in reversed(view.boxed())}.values())
    if len(firsts) < 2:
        return None
    picks = rng.sample(firsts, min(4, len(firsts)))
    names = [t.category for t in picks]
    rng.shuffle(names)
    d = Draft(format="matching")
    for t in picks:
        d.refer(_box(t), t.full())
        d.obj(t.category)
    regions = " ".join(f"{i}. {format_box(_box(t))}" for i, t in enumerate(picks, 1))
    objs = " ".join(f"{'abcd'[i]}. {c}" for i, c in enumerate(names))
    v = Voice(view.varied, rng)
    q = v.pick(
        f"Match each region of the image to the object it shows. Regions: {regions} Objects: {objs}",
        f"Pair every box with the object inside it. Regions: {regions} Objects: {objs}",
        f"Connect the regions of this picture to the right labels. Regions: {regions} Objects: {objs}",
        f"Each numbered box holds one of the lettered objects. Say which goes with which. Regions: {regions} Objects: {objs}",
        f"Link every region of the photo to its object label. Regions: {regions} Labels: {objs}",
        f"Which object belongs to which box? Regions: {regions} Objects: {objs}",
        f"Assign one of the listed objects to every region of the picture. Regions: {regions} Objects: {objs}",
        f"The labels below got separated from their boxes. Put them back together. Regions: {regions} Labels: {objs}",
        f"For each numbered region, give the letter of the object it contains. Regions: {regions} Objects: {objs}",
        f"What goes where? Regions: {regions} Objects: {objs} Answer as number-letter pairs.",
        f"Reunite each box in this image with its label. Regions: {regions} Labels: {objs}",
        f"Read each region of the photo and tell me which listed object fills it. Regions: {regions} Objects: {objs}",
    )
    pairs = ", ".join(f"{i}-{'abcd'[names.index(t.category)]} ({t.category})" for i, t in enumerate(picks, 1))  # fmt: skip
    return d.item(0, v.ask(q, explain=False), pairs)


def region_selection(view: View, rng: random.Random) -> Item | None:
    named = view.nameable()
    boxed = view.boxed()
    if not named or len(boxed) < 2:
        return None
    t, r = rng.choice(named)
    others = rng.sample([o for o in boxed if o.index != t.index], min(3, len(boxed) - 1))
    options = [t, *others]
    rng.shuffle(options)
    d = Draft(format="region_selection")
    d.ground(r, _box(t))
    listed = " ".join(f"({LETTERS[i]}) {format_box(_box(o))}" for i, o in enumerate(options))
    right = options.index(t)
    v = Voice(view.varied, rng)
    q = v.pick(
        f"Which of these regions shows the {r}? {listed}",
        f"Select the box that contains the {r} in this picture: {listed}",
        f"One of these regions of the photo holds the {r}. Which one? {listed}",
        f"Where is the {r}? Choose one of these boxes: {listed}",
        f"Only one of these boxes frames the {r}. Which is it? {listed}",
        f"Pick the correct bounding box for the {r}: {listed}",
        f"If you drew a rectangle around the {r}, which of these would it be? {listed}",
        f"The {r} is outlined by one of the following regions. Give its letter. {listed}",
        f"All but one of these boxes hold something other than the {r}. Which box holds the {r}? {listed}",
        f"Match the {r} to its region in the picture: {listed}",
    )
    wrong = join_words([f"({LETTERS[i]}) shows {article(o.category)} {o.category}" for i, o in enumerate(options) if o is not t])  # fmt: skip
    return d.item(0, v.ask(q), v.answer(f"({LETTERS[right]}) {format_box(_box(t))}", f"That region outlines the {r}, in {place(_box(t))} of the image; of the others, {wrong}."))  # fmt: skip


def counting_list(view: View, rng: random.Random) -> Item | None:
    cats = [c for c in view.countable() if view.all_boxed(c) and view.count(c) <= 8]
    if not cats:
        return None
    c = max(cats, key=view.count)
    things = sorted(view.of(c), key=lambda t: center(_box(t))[0])
    d = Draft(format="counting_list")
    for i, t in enumerate(things):
        d.ground(f"{ORDINALS[i]} {c} from the left" if view.varied else t.full(), _box(t))
    d.count(c, len(things))
    listing = "; ".join(
        f"{i}. {t.full()} at {format_box(_box(t))}" for i, t in enumerate(things, 1)
    )
    v = Voice(view.varied, rng)
    p = plural(c)
    q = v.compose(
        f"Count the {p} in the image and list each one with its box, from left to right.",
        (f"Count the {p} in the image.", f"How many {p} does the picture show?",
         f"I want every {c} in this photo accounted for.", f"Find all the {p} in the scene.",
         f"Take stock of the {p} visible here.", f"Enumerate the {p} in the image.",
         f"Go over the image and pick out every {c}.", f"Make a register of the {p} in this picture.",
         f"Suppose you had to tick off each {c} in the photo.", f"What {p} can you find here?"),
        ("List each one with its box, from left to right.",
         "Give a numbered list from left to right with a box for each.",
         "Number them from the left and give each one's bounding box.",
         "Write one entry per instance, ordered left to right, with its box.",
         "Order them by horizontal position and attach a box to each.",
         "Start with the one nearest the left edge and work rightwards, boxing each.",
         "State the total, then list the boxes in left-to-right order.",
         "Report how many there are and where each one is, scanning from the left."),
    )  # fmt: skip
    more = f"Reading the image from left to right, each {c} is listed once by the centre of its box, which gives a total of {len(things)}."  # fmt: skip
    return d.item(0, v.ask(q), v.answer(f"There {be(len(things))} {amount(len(things), c)}: {listing}.", more))  # fmt: skip
