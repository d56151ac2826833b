"""Answer matching without a judge model, as VLMEvalKit does it in its ``exact_matching`` mode.

This module owns the rules that turn a model's free-text answer into a verdict when the result
file carries no judge column: pure functions, no file reading. They follow VLMEvalKit (commit
e8e78f0 of 2026-08-18, v0.3rc1 line; ``vlmeval/utils/matching_util.py``,
``vlmeval/dataset/utils/multiple_choice.py``, ``vlmeval/dataset/utils/yorn.py``,
``vlmeval/smp/misc.py``), rewritten here:

* **Multiple choice** (``option_of``): the choices are the option letters whose cell is present
  and not empty/NaN. A refusal (``Cannot determine the answer`` ...) or a lone ``Z`` means "no
  option" (``Z``). Otherwise, with ``.()[],:;!*#{}`` turned into spaces, exactly one option
  letter standing as its own word among the last four words names the option (``B``, ``B.``,
  ``(B)``, ``The answer is B``); ``answer is B`` anywhere (any case) names B too. Failing that,
  the answer names an option by its text: exactly one option's text inside an answer at most
  twice as long as all options' texts together. Two options named, or none: no option. VLMEvalKit
  only warns about the quantifier ``A`` when ``VERBOSE`` is set; like its default, it is not
  treated specially here.
* **Circular evaluation** (``score_choices``, MMBench and ``*circular*`` sets): the copies of a
  question with shifted options have ``index + k * 1_000_000``; a question counts right only if
  every copy is; copies whose original (``index < 1e6``) is absent are left out.
* **Yes/no** (``yes_no_of``): after VLMEvalKit's punctuation clean-up, an answer holding the
  word ``yes`` and not ``no`` is Yes, the reverse No, anything else Unknown (wrong).
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

LETTERS = string.ascii_uppercase
CIRCULAR_STEP = 1_000_000
# cell texts pandas reads as NaN (``read_csv``/``read_excel`` defaults): VLMEvalKit never sees them
NA_TEXT = frozenset(
    {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
     "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
)  # fmt: skip
REFUSALS = (
    "Sorry, I can't help with images of people yet.", "I can't process this file.",
    "I'm sorry, but without the image provided", "Cannot determine the answer",
)  # fmt: skip
API_FAILURE = "Failed to obtain answer via API"
OPTION_PUNCT = ".()[],:;!*#{}"
ANSWER_IS = re.compile(r"(?i)(?:correct\s+)?answer\s+is\s+\**([ABCD])\**")
YN_PUNCT = (";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<",
            "@", "`", ",", "?", "!")  # fmt: skip
DIGIT_COMMA = re.compile(r"(\d)(,)(\d)")
LONE_PERIOD = re.compile(r"(?<!\d)\.(?!\d)")


def missing(value: Any) -> bool:
    """An empty cell as pandas (and so VLMEvalKit) sees it: None, NaN or a NaN spelling."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and value in NA_TEXT


def choices_of(get: Callable[[str], Any]) -> dict[str, str]:
    """The options of a row: each letter A..Z whose cell is present and not empty."""
    return {c: str(v) for c in LETTERS if not missing(v := get(c))}


def _option_by_letter(answer: str, choices: dict[str, str]) -> str | None:
    if API_FAILURE in answer:
        return None
    if any(r in answer for r in REFUSALS):
        return "Z"
    words = answer.translate({ord(c): " " for c in OPTION_PUNCT}).split()
    named = [c for c in choices if c in words]
    if len(named) == 1 and words.index(named[0]) > len(words) - 5:
        return named[0]
    if not named and "Z" in words:
        return "Z"
    said = ANSWER_IS.search(answer)
    if said and said.group(1).upper() in choices:
        return said.group(1).upper()
    return None


def _option_by_text(answer: str, choices: dict[str, str]) -> str | None:
    low = answer.lower()
    if not choices or len(low) > 2 * sum(len(v) for v in choices.values()):
        return None
    named = [c for c, text in choices.items() if text.lower() in low]
    return named[0] if len(named) == 1 else None


def option_of(prediction: Any, choices: dict[str, str]) -> str | None:
    """The option letter an answer names (``Z``: none of them), or None when it cannot tell."""
    answer = "nan" if missing(prediction) else str(prediction)
    return _option_by_letter(answer, choices) or _option_by_text(answer, choices)


def choice_right(prediction: Any, answer: Any, choices: dict[str, str]) -> bool:
    """Exact matching: the named option (``Z`` when none) equals the gold letter."""
    return (option_of(prediction, choices) or "Z") == str(answer).strip()


T = TypeVar("T")


@dataclass
class Choice(Generic[T]):
    """One multiple-choice answer to score; ``extra`` is the caller's (type, bad case...)."""

    index: int | None
    answer: str
    prediction: Any
    choices: dict[str, str]
    extra: T

    @property
    def right(self) -> bool:
        return choice_right(self.prediction, self.answer, self.choices)


def as_index(value: Any) -> int | None:
    """A row's integer ``index`` (``12``, ``12.0``, ``"1000012"``), or None."""
    if isinstance(value, bool) or missing(value):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() and 0 <= number < 2**53 else None


def score_choices(
    items: Iterable[Choice[T]], circular: bool
) -> tuple[list[tuple[Choice[T], float, Choice[T]]], int]:
    """(question, 1.0/0.0, the copy to show as a bad case) per question, and how many circular
    copies were left out for want of their original. Without ``circular`` every row is alone."""
    rows = list(items)
    if not circular:
        return [(c, float(c.right), c) for c in rows], 0
    groups: dict[int, list[Choice[T]]] = {}
    for c in rows:
        if c.index is not None:
            groups.setdefault(c.index % CIRCULAR_STEP, []).append(c)
    scored: list[tuple[Choice[T], float, Choice[T]]] = []
    used = 0
    for c in rows:
        if c.index is None:
            scored.append((c, float(c.right), c))
        elif c.index < CIRCULAR_STEP:
            copies = groups[c.index]
            used += len(copies)
            wrong = next((v for v in copies if not v.right), None)
            scored.append((c, 0.0 if wrong else 1.0, wrong or c))
    # a repeated index is one question read twice, not a missing original
    return scored, max(0, sum(len(g) for g in groups.values()) - used)


def looks_circular(indices: Iterable[int | None]) -> bool:
    """Circular copies are present: some index >= 1e6 whose original is there too."""
    seen = {i for i in indices if i is not None}
    return any(i >= CIRCULAR_STEP and i % CIRCULAR_STEP in seen for i in seen)


def _clean_punctuation(text: str) -> str:
    out = text
    glued = DIGIT_COMMA.search(text) is not None
    for p in YN_PUNCT:
        spaced = p + " " in text or " " + p in text
        out = out.replace(p, "" if spaced or glued else " ")
    # VLMEvalKit passes re.UNICODE (32) where ``count`` goes: only the first 32 periods go
    return LONE_PERIOD.sub("", out, count=32)


def yes_no_of(prediction: Any) -> str:
    """``Yes``, ``No`` or ``Unknown`` (VLMEvalKit's ``YOrN_Extraction``)."""
    words = _clean_punctuation(("nan" if missing(prediction) else str(prediction)).lower()).split()
    if "yes" in words and "no" not in words:
        return "Yes"
    if "no" in words and "yes" not in words:
        return "No"
    return "Unknown"


def is_yes_no(answer: Any) -> bool:
    return not missing(answer) and str(answer).strip().lower() in ("yes", "no")


def yes_no_right(prediction: Any, answer: Any) -> bool:
    """The extracted Yes/No equals the gold answer (compared without case, as for AMBER)."""
    return yes_no_of(prediction).lower() == str(answer).strip().lower()
