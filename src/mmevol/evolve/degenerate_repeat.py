"""Repetition detectors behind the degenerate-output checks: loops, nesting and repeated steps.

A model that loops writes the same phrase back to back ("Looking at the image (Looking at the
image (...") or the same sentence many times; a template applied to its own output nests a
quoted question inside another quoted question. Every function here is pure and linear in the
length of its text (a bounded number of passes over the tokens), so 10k-character replies cost
milliseconds.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from mmevol.schema import Step
from mmevol.textsim import normalize_text

TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)*|\w+|[^\w\s]")
MAX_UNIT = 16  # longest back-to-back repeated unit looked for, in tokens
NGRAM = 6  # length of the word n-grams counted for "the same phrase many times"
OPENERS = {"(", "[", "{", "'", '"', "\u2018", "\u201c", "\u00ab", ":"}
INDEX_RE = re.compile(r"(?<=[A-Za-z])_\d+\b")


@dataclass(frozen=True)
class Repeat:
    """A unit of tokens written ``copies`` times back to back."""

    unit: str
    copies: int


def tokens(text: str) -> list[str]:
    """Lower-cased word, number and punctuation tokens."""
    return [t.lower() for t in TOKEN_RE.findall(text)]


def _qualifies(unit: list[str], copies: int) -> bool:
    """Whether a back-to-back repeat is a loop rather than ordinary emphasis ("very very")."""
    words = [t for t in unit if t.isalpha()]
    if not any(len(w) >= 3 for w in words):
        return False
    if unit[-1] in OPENERS:  # a wrapper opening itself again: "After 'After '"
        return copies >= 2
    if len(words) >= 6:  # a long phrase said twice in a row is a loop
        return copies >= 2
    if len(words) >= 4:  # shorter ones recur in plain lists ("the leftmost cup, the ...")
        return copies >= 3
    return copies >= 4


def tandem_repeat(text: str) -> Repeat | None:
    """The most repeated back-to-back unit that looks like a loop (the earliest on a tie).

    For each unit length L a run of positions i with tok[i] == tok[i+L] marks a stretch with
    period L; ``run + L`` tokens hold ``(run + L) // L`` copies of the unit that starts the run.
    """
    found = list(TOKEN_RE.finditer(text))
    toks = [m.group(0).lower() for m in found]
    best: tuple[int, int, int, int] | None = None  # copies, -start, start, size
    n = len(toks)
    for size in range(1, min(MAX_UNIT, n // 2) + 1):
        run = 0
        for i in range(n - size + 1):
            if i < n - size and toks[i] == toks[i + size]:
                run += 1
                continue
            copies, start = (run + size) // size, i - run
            better = best is None or (copies, -start) > best[:2]
            if copies >= 2 and better and _qualifies(toks[start : start + size], copies):
                best = (copies, -start, start, size)
            run = 0
    if best is None:
        return None
    copies, _, start, size = best
    return Repeat(text[found[start].start() : found[start + size - 1].end()], copies)


def frequent_ngram(text: str) -> Repeat | None:
    """A word n-gram repeated so often that it makes up much of the text, or None."""
    words = [t for t in tokens(text) if t[0].isalnum()]
    if len(words) < NGRAM * 3:
        return None
    counts = Counter(tuple(words[i : i + NGRAM]) for i in range(len(words) - NGRAM + 1))
    gram, count = counts.most_common(1)[0]
    cover = count * NGRAM / len(words)
    if (count >= 3 and cover >= 0.5) or (count >= 4 and cover >= 0.25):
        return Repeat(" ".join(gram), count)
    return None


# --- nested quoting -----------------------------------------------------------------------------

QUOTE_FAMILY = {
    "'": "single", "\u2018": "single", "\u2019": "single",
    '"': "double", "\u201c": "double", "\u201d": "double",
    "(": "paren", ")": "paren",
}  # fmt: skip
OPEN_ONLY = {"\u2018", "\u201c", "("}
CLOSE_ONLY = {"\u2019", "\u201d", ")"}
NESTED_MIN_WORDS = 4
WORD_RE = re.compile(r"[^\W\d_]+")


def _role(text: str, i: int) -> str | None:
    ch = text[i]
    before = text[i - 1] if i > 0 else " "
    after = text[i + 1] if i + 1 < len(text) else " "
    if ch in OPEN_ONLY:
        return "open"
    if ch in CLOSE_ONLY:
        return None if (before.isalpha() and after.isalpha()) else "close"
    if (before.isspace() or before in "([{") and not after.isspace() and after not in "'\"":
        return "open"
    if not before.isspace() and (after.isspace() or after in ".,;:!?)]}"):
        return "close"
    return None  # an apostrophe inside a word


def has_nested_quote(text: str) -> bool:
    """Whether a quoted or bracketed passage holds another of the same kind that has at least
    ``NESTED_MIN_WORDS`` words ("the '90s 'retro' look" does not count). Only passages exactly
    two deep are measured; they never overlap, so the scan stays linear."""
    stacks: dict[str, list[int]] = {"single": [], "double": [], "paren": []}
    for i, ch in enumerate(text):
        family = QUOTE_FAMILY.get(ch)
        role = _role(text, i) if family else None
        if family is None or role is None:
            continue
        stack = stacks[family]
        if role == "open":
            stack.append(i)
        elif stack:
            start = stack.pop()
            if len(stack) == 1 and len(WORD_RE.findall(text[start:i])) >= NESTED_MIN_WORDS:
                return True
    # passages never closed run to the end of the text
    return any(
        len(stack) >= 2 and len(WORD_RE.findall(text[stack[1] :])) >= NESTED_MIN_WORDS
        for stack in stacks.values()
    )


# --- steps --------------------------------------------------------------------------------------


def step_key(step: Step) -> tuple[str, str]:
    """A step with its variable numbering folded away ("grounding_2(sink) -> bbx_2" and
    "grounding_3(sink) -> bbx_3" are the same step); the manipulation's arguments are kept."""
    head, arrow, tail = step.manipulation.partition("->")
    name, paren, args = head.partition("(")
    manipulation = INDEX_RE.sub("", name).strip().lower() + paren + args.strip()
    manipulation += arrow + INDEX_RE.sub("", tail).strip()
    return manipulation.replace(" ", ""), normalize_text(INDEX_RE.sub("", step.description))


def repeated_steps(steps: list[Step]) -> list[tuple[str, int]]:
    """Steps of one chain that occur more than once: (description, count), in chain order."""
    keys = [step_key(s) for s in steps if s.description.strip()]
    counts = Counter(keys)
    seen: set[tuple[str, str]] = set()
    out: list[tuple[str, int]] = []
    for step, key in zip([s for s in steps if s.description.strip()], keys, strict=True):
        if counts[key] > 1 and key not in seen:
            seen.add(key)
            out.append((step.description.strip(), counts[key]))
    return out
