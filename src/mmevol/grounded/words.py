"""English for the grounded generator: plurals, articles, counts, places, and the ``Voice``.

Small helpers that make computed facts read as correct English ("1 sink" / "2 sinks", "more
than one sink", "an oven", "the larger of the two" versus "the largest of the three", "in the
upper left of the image"), and ``Voice``, which words a question and its answer. On shape-world
scenes the voice is fixed (the first phrasing, no lead-in or closing request, no explanation):
the closed loop reads those texts by their exact wording. On other scenes (COCO and the like)
it draws a phrasing, an opening and a closing request from the seeded generator, and the
answer carries its explanation.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from mmevol.geometry import Box, area, center
from mmevol.textsim import plural

__all__ = ["plural"]

SMALL_NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")  # fmt: skip
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")


def article(phrase: str) -> str:
    """``a`` or ``an`` before a phrase."""
    return "an" if phrase[:1].lower() in "aeiou" else "a"


def with_article(phrase: str) -> str:
    return f"{article(phrase)} {phrase}"


def join_words(parts: Sequence[str], conj: str = "and") -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    parts = list(parts)
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + f" {conj} " + parts[-1]


def be(n: int) -> str:
    """``is`` for one thing, ``are`` for several."""
    return "is" if n == 1 else "are"


def amount(n: int, category: str) -> str:
    """``1 circle``, ``3 circles``, ``2 people``."""
    return f"{n} {category if n == 1 else plural(category)}"


def number_word(n: int) -> str:
    return SMALL_NUMBERS[n] if 0 <= n < len(SMALL_NUMBERS) else str(n)


def more_than(m: int, category: str) -> str:
    """``more than one sink``, ``more than 3 sinks``."""
    return f"more than one {category}" if m == 1 else f"more than {m} {plural(category)}"


def cap(text: str) -> str:
    """Upper-case the first letter only."""
    return text[:1].upper() + text[1:]


def lower_first(text: str) -> str:
    return text if text[:2] == "I " else text[:1].lower() + text[1:]


def extreme_word(word: str, k: int) -> str:
    """A comparative for two things, the superlative for three or more: ``larger``/``largest``."""
    table = {"largest": "larger", "smallest": "smaller", "highest": "higher", "lowest": "lower",
             "closest": "closer", "farthest": "farther", "leftmost": "further left",
             "rightmost": "further right"}  # fmt: skip
    return table.get(word, word) if k == 2 else word


def place(box: Box) -> str:
    """Which ninth of the image a box's centre lies in, read after "in": ``the upper left``,
    ``the top centre``, ``the middle right``, ``the centre``."""
    cx, cy = center(box)
    col = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else ""
    row = "upper" if cy < 1 / 3 else "lower" if cy > 2 / 3 else ""
    if row and col:
        return f"the {row} {col}"
    if row:
        return "the top centre" if row == "upper" else "the bottom centre"
    return f"the middle {col}" if col else "the centre"


def share(box: Box) -> str:
    """The share of the image a box covers: ``about 12%`` or ``less than 1%``."""
    pct = 100 * area(box)
    return f"about {pct:.0f}%" if pct >= 1 else "less than 1%"


LEADS = (
    "Looking at the image, ", "Based on what you can see, ", "Using the picture, ",
    "From the photo, ", "Take a close look at the scene. ", "Using only what is visible, ",
    "Study the image carefully. ", "With the picture in front of you, ", "Here is a task about this photo: ",
    "Consider the objects in this image. ", "Please examine the photograph. ", "In this picture, ",
    "Here is a question about the scene. ", "Judging from the photograph, ", "Working from the image, ",
    "Quick visual check: ", "For this photo, ", "Have a look at the picture. ",
)  # fmt: skip
# A question may follow a comma opening ("Looking at the image, ...") only when it starts with
# one of these words; a statement such as "The photo shows ..." gets a sentence opening.
OPENERS = frozenset(
    [
        "what",
        "which",
        "where",
        "how",
        "is",
        "are",
        "does",
        "do",
        "can",
        "could",
        "would",
        "should",
        "in",
        "of",
        "among",
        "between",
        "find",
        "locate",
        "count",
        "list",
        "give",
        "name",
        "describe",
        "tell",
        "point",
        "show",
        "sort",
        "put",
        "rank",
        "identify",
        "compare",
        "go",
        "match",
        "pair",
        "link",
        "select",
        "fill",
        "complete",
        "decide",
        "check",
        "make",
        "write",
        "output",
        "produce",
        "summarise",
        "split",
        "divide",
        "focus",
        "assign",
        "enumerate",
        "arrange",
        "besides",
        "apart",
        "measuring",
        "take",
    ]
)
TAILS = (
    "Explain how you worked it out.", "Walk through your reasoning step by step.",
    "Support your answer with the boxes you used.", "Justify the answer from what is visible.",
    "Answer in full sentences and show your evidence.", "Briefly say how you reached the answer.",
    "Mention the positions that back up your answer.", "Give the answer first, then the explanation.",
    "Point to the parts of the image that matter.", "Be precise and explain each step.",
    "Describe the evidence before concluding.", "Keep it concise but complete.",
    "Say what you checked to get there.", "Explain the answer so that someone else could verify it.",
    "Lay out the reasoning in a few sentences.", "Show which objects you looked at.",
    "Back the answer with facts from the image.", "Give reasons, not just the answer.",
)  # fmt: skip


class Voice:
    """How one item is worded: fixed on shape-world scenes, drawn by ``rng`` elsewhere."""

    def __init__(self, varied: bool, rng: random.Random) -> None:
        self.varied = varied
        self.rng = rng

    def pick(self, *options: str) -> str:
        """The first option on fixed scenes (no draw), otherwise a random one."""
        return options[0] if not self.varied else self.rng.choice(options)

    def compose(self, first: str, *parts: tuple[str, ...]) -> str:
        """``first`` on fixed scenes; otherwise one drawn option from each part, joined by a
        space (each option a whole sentence)."""
        if not self.varied:
            return first
        return " ".join(self.rng.choice(options) for options in parts)

    def ask(self, core: str, explain: bool = True) -> str:
        """The question ``core``, with an opening and (if ``explain``) a closing request."""
        if not self.varied:
            return core
        out = core
        if self.rng.random() < 0.6:
            lead = self.rng.choice(LEADS)
            if lead.endswith(", ") and core.split(" ", 1)[0].lower() not in OPENERS:
                lead = self.rng.choice([x for x in LEADS if not x.endswith(", ")])
            out = lead + (lower_first(core) if lead.endswith(", ") else core)
        if explain and self.rng.random() < 0.7:
            out = f"{out} {self.rng.choice(TAILS)}"
        return out

    def answer(self, direct: str, *explanation: str) -> str:
        """The direct answer, followed on varied scenes by the explaining sentences."""
        if not self.varied:
            return direct
        return " ".join([direct, *(e for e in explanation if e)])
