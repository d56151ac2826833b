"""Counting templates of the grounded reasoning direction: thresholds and count comparisons.

``threshold`` counts one kind and compares the count with a number near it ("more than N?");
``count_compare`` counts two kinds (which is more numerous, or equal) or several (which is
the most numerous, declining on a tie at the top). Only kinds without a crowd region are
counted. The answers walk through the count and the comparison.
"""

from __future__ import annotations

import random
from typing import Any

from mmevol.geometry import format_box
from mmevol.grounded.scene import Draft, View, amount, be, join_words, plural
from mmevol.grounded.words import Voice, more_than, number_word

Item = dict[str, Any]


def threshold(view: View, n: int, rng: random.Random) -> Item | None:
    if n != 2 or not view.countable():
        return None
    c = rng.choice(view.countable())
    k = view.count(c)
    m = rng.choice([x for x in (k - 1, k, k + 1) if x >= 1] or [1])
    d = Draft()
    res = d.count(c, k)
    d.calc(f"{res} > {m}", f"{k} > {m} is {'true' if k > m else 'false'}")
    d.obj(c)
    v = Voice(view.varied, rng)
    if not v.varied:
        q = f"Are there more than {m} {plural(c)} in the image?"
        if k > m:
            return d.item(0, q, f"Yes. There {be(k)} {amount(k, c)}, which is more than {m}.")
        return d.item(0, q, f"No. There {be(k)} only {amount(k, c)}, which is not more than {m}.")
    asked = more_than(m, c)
    q = v.pick(
        f"{'Is' if m == 1 else 'Are'} there {asked} in the image?",
        f"Does the picture contain {asked}?",
        f"Can you see {asked} in this photo?",
        f"Would it be right to say the image shows {asked}?",
        f"Someone claims the scene holds {asked}. Are they right?",
        f"Check whether the number of {plural(c)} in the image exceeds {number_word(m)}.",
        f"Do the {plural(c)} in this picture number more than {number_word(m)}?",
        f"Is the count of {plural(c)} here greater than {number_word(m)}?",
        f"Would you find {asked} if you searched this photo?",
        f"Suppose a caption said the scene has {asked}. Would that be true?",
        f"How does the number of {plural(c)} in the image compare with {number_word(m)}: is it bigger?",
        f"More than {number_word(m)}: is that how many {plural(c)} this image holds?",
        f"I counted {plural(c)} in this picture and got a number above {number_word(m)}. Could that be right?",
        f"Would {number_word(m)} be too low a count for the {plural(c)} in the scene?",
        f"Tell me if this photo has {plural(c)} in excess of {number_word(m)}.",
        f"Do we see {asked} here?",
    )
    boxes = [format_box(t.box) for t in view.of(c) if t.box]
    where = f" They are at {join_words(boxes)}." if 1 < len(boxes) <= 6 else ""
    if len(boxes) == 1:
        where = f" It is at {boxes[0]}."
    steps = f"I count the {plural(c)} one by one and find {number_word(k)}.{where} Then I compare {k} with {m}."  # fmt: skip
    limit = "one" if m == 1 else str(m)
    if k > m:
        return d.item(0, v.ask(q), v.answer(f"Yes. There {be(k)} {amount(k, c)}, which is more than {limit}.", steps, f"Since {k} is greater than {m}, the answer is yes."))  # fmt: skip
    return d.item(0, v.ask(q), v.answer(f"No. There {be(k)} only {amount(k, c)}, which is not more than {limit}.", steps, f"Since {k} is not greater than {m}, the answer is no."))  # fmt: skip


def count_compare(view: View, n: int, rng: random.Random) -> Item | None:
    cats = view.countable()
    k = n - 1
    if k < 2 or len(cats) < k:
        return None
    v = Voice(view.varied, rng)
    for _ in range(6):
        picks = rng.sample(cats, k)
        counts = [view.count(c) for c in picks]
        if k >= 3 and sorted(counts)[-1] == sorted(counts)[-2]:
            continue
        d = Draft()
        vars_ = [d.count(c, v) for c, v in zip(picks, counts, strict=True)]
        for c in picks:
            d.obj(c)
        listing = ", ".join(f"{v} = {x}" for v, x in zip(vars_, counts, strict=True))
        if k == 2:
            (c1, c2), (n1, n2) = picks, counts
            d.calc(f"compare {vars_[0]} and {vars_[1]}", listing)
            q = v.pick(
                f"Are there more {plural(c1)} or more {plural(c2)} in the image?",
                f"Which are more numerous in this picture, the {plural(c1)} or the {plural(c2)}?",
                f"Does the photo show more {plural(c1)} than {plural(c2)}, or the other way round?",
                f"Count the {plural(c1)} and the {plural(c2)}. Which group is bigger?",
                f"Which kind has the larger head count here: {plural(c1)} or {plural(c2)}?",
                f"Between the {plural(c1)} and the {plural(c2)}, which kind is there more of?",
            )
            counted = f"Counting each kind separately gives {amount(n1, c1)} and {amount(n2, c2)}."
            if n1 == n2:
                a = f"There are as many {plural(c1)} as {plural(c2)}: {n1} of each."
                return d.item(0, v.ask(q), v.answer(a, counted, "The two numbers are equal, so neither kind outnumbers the other."))  # fmt: skip
            (hc, hn), (lc, ln) = ((c1, n1), (c2, n2)) if n1 > n2 else ((c2, n2), (c1, n1))
            a = f"There are more {plural(hc)} ({hn}) than {plural(lc)} ({ln})."
            return d.item(0, v.ask(q), v.answer(a, counted, f"Since {hn} is greater than {ln}, the {plural(hc)} outnumber the {plural(lc)} by {hn - ln}."))  # fmt: skip
        top = max(range(k), key=lambda i: counts[i])
        d.calc(f"maximum of {', '.join(vars_)}", f"{listing} -> {vars_[top]}")
        options = join_words([plural(c) for c in picks], "or")
        q = v.pick(
            f"Which appears most often in the image: {options}?",
            f"Which kind is the most numerous in this picture: {options}?",
            f"Of these kinds, which has the most instances in the photo: {options}?",
            f"Count {options} in the picture and name the kind with the highest total.",
            f"If you counted every kind listed ({options}), which one would win?",
            f"Which group is largest in this scene: {options}?",
        )
        rest = join_words([amount(x, c) for c, x in zip(picks, counts, strict=True)])
        second = sorted(counts)[-2]
        return d.item(0, v.ask(q), v.answer(
            f"The {plural(picks[top])} appear most often; the image has {rest}.",
            f"I count each of the {number_word(k)} kinds in turn and then take the largest number.",
            f"{counts[top]} is more than the runner-up's {second}, so the {plural(picks[top])} come out on top.",
        ))  # fmt: skip
    return None
