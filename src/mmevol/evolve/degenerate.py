"""Degenerate-output checks: evolutions that parse and pass the rules but are not real answers.

A model without the image (or a loop in a template) writes items that look valid one by one:
"There are 0 main object in the image." for every question, a question wrapped in its own
prefix again and again, one reasoning step written twice, a reply in another language, an
unfilled "{object}" slot. ``item_problems`` judges one evolved item (against its parent);
``sibling_problems`` judges one image's evolved items of a round together with the items the
image already kept; ``canned_answers`` looks across all images of a round for one answer
given everywhere. All are pure and linear in the length of the text, and all return short
reasons, most telling first; an empty result means nothing degenerate was seen.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from mmevol.evolve import degenerate_form as form
from mmevol.evolve.degenerate_lang import latin_language, script
from mmevol.evolve.degenerate_repeat import (
    frequent_ngram,
    has_nested_quote,
    repeated_steps,
    step_key,
    tandem_repeat,
)
from mmevol.schema import QA
from mmevol.textsim import normalize_text

ItemCheck = Callable[[QA, QA], list[str]]
REFRAINS = frozenset({"creative_writing"})
SHARED_ANSWER_WORDS = 5  # shorter answers ("Yes.", "2") may rightly answer many questions
CANNED = 3  # one answer to this many different questions is a canned answer: blame every copy
SPAN = 500  # longest passage masked; the bound keeps unclosed quotes linear
QUOTE_RE = re.compile(
    rf"(?<!\w)'[^']{{0,{SPAN}}}'(?!\w)|\"[^\"]{{0,{SPAN}}}\""
    rf"|\u2018[^\u2019]{{0,{SPAN}}}\u2019|\u201c[^\u201d]{{0,{SPAN}}}\u201d"
)
MASK_RE = re.compile(QUOTE_RE.pattern + rf"|\([^()]{{0,{SPAN}}}\)")
MAX_PEEL = 8  # nesting levels peeled off a question for its skeleton
MENTIONS_TEXT = re.compile(
    r"\b(?:text|written|writing|reads?|say|says|said|sign|label|caption|inscription|title"
    r"|translat\w*|language|words?|letters?|english|french|spanish|german|italian|portuguese"
    r"|dutch|chinese|japanese|korean|russian|arabic|hindi|greek|hebrew|thai)\b",
    re.I,
)


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _texts(qa: QA) -> list[tuple[str, str]]:
    steps = [(f"step {i + 1}", s.description) for i, s in enumerate(qa.steps)]
    return [("question", qa.question), ("answer", qa.answer), *steps]


def _repetition(qa: QA, parent: QA) -> list[str]:
    problems = []
    for where, text in _texts(qa):
        rep = tandem_repeat(text)
        if rep is not None and rep.copies < 3 and where == "answer" and qa.format in REFRAINS:
            rep = None  # a poem or a song may say a line twice
        if rep is not None:
            problems.append(f"{where} nests the same phrase {rep.copies} times: {rep.unit!r}")
            continue
        gram = frequent_ngram(text)
        if gram is not None:
            problems.append(f"{where} repeats the phrase {gram.unit!r} {gram.copies} times")
    if has_nested_quote(qa.question):
        problems.append("question quotes a passage that itself quotes another (nested wrapper)")
    for description, count in repeated_steps(qa.steps):
        problems.append(f"step {_short(description)!r} is repeated {count} times")
    return problems


def _form(qa: QA, parent: QA) -> list[str]:
    if not form.WORD_RE.search(qa.answer):
        return []  # empty or punctuation only: the length check and the rules report it
    found = [
        form.copy_problem(qa.question, qa.answer),
        form.choice_problem(qa.question, qa.answer),
        form.yes_no_problem(qa.question, qa.answer, qa.format),
        form.count_problem(qa.question, qa.answer, qa.format),
    ]
    return [p for p in found if p]


def _language(qa: QA, parent: QA) -> list[str]:
    """Only the script falls back on the parent's question (for a question too short to tell);
    a language verdict needs the question's own words."""
    if MENTIONS_TEXT.search(qa.question) or "ocr" in qa.skills:
        return []  # reading, quoting or translating text may rightly answer in its language
    asked = script(qa.question) or script(parent.question)
    said = script(qa.answer)
    if asked and said and asked != said:
        return [f"the answer is in {said} script but the question is in {asked}"]
    if asked == said == "Latin":
        asked_lang, said_lang = latin_language(qa.question), latin_language(qa.answer)
        if asked_lang and said_lang and asked_lang != said_lang:
            return [f"the answer is in {said_lang} but the question is in {asked_lang}"]
    return []


def _length(qa: QA, parent: QA) -> list[str]:
    problem = form.length_problem(qa.answer, qa.format, len(qa.steps))
    if len(qa.question) > form.MAX_CHARS:
        return [f"the question is too long ({len(qa.question)} characters)"]
    return [problem] if problem else []


def _placeholders(qa: QA, parent: QA) -> list[str]:
    """A question may spell out an answer template in quotes ('as "{name}: {count}"')."""
    found = []
    for where, text in _texts(qa):
        text = QUOTE_RE.sub(" ", text) if where == "question" else text
        problem = form.placeholder_problem(text, where)
        if problem:
            found.append(problem)
    if not form.BLANK_RE.search(qa.question):
        blank = form.BLANK_RE.search(qa.answer)
        if blank:
            found.append(f"answer has an unfilled blank {blank.group(0)!r}")
    return found


ITEM_CHECKS: dict[str, ItemCheck] = {
    "repetition": _repetition,
    "form": _form,
    "placeholder": _placeholders,
    "length": _length,
    "language": _language,
}


def item_problems(qa: QA, parent: QA) -> list[str]:
    """Every degenerate trait of one evolved item (empty list = none found)."""
    return [p for check in ITEM_CHECKS.values() for p in check(qa, parent)]


# --- across one image's items ------------------------------------------------------------------


def skeleton(question: str) -> str:
    """The question without its quoted and parenthesised passages (where templates nest earlier
    questions); boxes and numbers stay, as questions about two different regions differ."""
    for _ in range(MAX_PEEL):  # peel nested brackets from the inside out
        question, changes = MASK_RE.subn(" ", question)
        if not changes:
            break
    return normalize_text(question)


def _same_answer(items: Sequence[QA], kept: Sequence[QA]) -> dict[int, list[str]]:
    groups: dict[str, list[int]] = {}  # normalised answer -> positions (kept first, then items)
    pool = [*kept, *items]
    for pos, qa in enumerate(pool):
        norm = normalize_text(qa.answer)
        if len(norm.split()) >= SHARED_ANSWER_WORDS:
            groups.setdefault(norm, []).append(pos)
    out: dict[int, list[str]] = {}
    for positions in groups.values():
        questions = {normalize_text(pool[p].question) for p in positions}
        answer = _short(pool[positions[0]].answer)
        if len(questions) >= CANNED:
            reason = f"the same answer {answer!r} is given to {len(questions)} different questions"
            blamed = positions
        else:
            reason = f"gives the same answer as another item of this image: {answer!r}"
            blamed = positions[1:]
        for p in blamed:
            if p >= len(kept):
                out.setdefault(p - len(kept), []).append(reason)
    return out


def _first_seen(
    items: Sequence[QA], kept: Sequence[QA], key: Callable[[QA], object], reason: str
) -> dict[int, list[str]]:
    """Blame every item whose key (if truthy) was already seen in ``kept`` or earlier items."""
    seen = {k for k in map(key, kept) if k}
    out: dict[int, list[str]] = {}
    for i, qa in enumerate(items):
        k = key(qa)
        if not k:
            continue
        if k in seen:
            out[i] = [reason]
        seen.add(k)
    return out


def _chain(qa: QA) -> tuple[tuple[str, str], ...] | None:
    keys = tuple(step_key(s) for s in qa.steps if s.description.strip())
    return keys if len(keys) >= 2 else None


def _same_steps(items: Sequence[QA], kept: Sequence[QA]) -> dict[int, list[str]]:
    """A chain of 2+ steps shared by 3+ items is canned reasoning (two items may rightly share
    one, e.g. the same counts behind two questions): blame the copies after the first."""
    pool = [*kept, *items]
    groups: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for pos, qa in enumerate(pool):
        chain = _chain(qa)
        if chain:
            groups.setdefault(chain, []).append(pos)
    out: dict[int, list[str]] = {}
    for positions in groups.values():
        if len(positions) >= CANNED:
            reason = f"repeats the step chain of {len(positions) - 1} other item(s) of this image"
            for p in positions[1:]:
                if p >= len(kept):
                    out.setdefault(p - len(kept), []).append(reason)
    return out


def _question_skeleton(qa: QA) -> str | None:
    shape = skeleton(qa.question)
    return shape if len(shape.split()) >= 3 else None


SIBLING_CHECKS: dict[str, Callable[[Sequence[QA], Sequence[QA]], dict[int, list[str]]]] = {
    "same_answer": _same_answer,
    "same_steps": _same_steps,
    "same_skeleton": lambda items, kept: _first_seen(
        items, kept, _question_skeleton, "asks the same question skeleton as another item"
    ),
}


def sibling_problems(items: Sequence[QA], kept: Sequence[QA] = ()) -> dict[int, list[str]]:
    """Problems seen only across one image's evolved items of a round (and the items it already
    kept), keyed by index into ``items``. Repeats after the first occurrence are blamed so one
    copy can still be judged; an answer given to 3+ different questions is blamed everywhere."""
    out: dict[int, list[str]] = {}
    for check in SIBLING_CHECKS.values():
        for i, reasons in check(items, kept).items():
            out.setdefault(i, []).extend(reasons)
    return out


def canned_answers(
    answers: Sequence[str], min_count: int = 10, min_share: float = 0.2
) -> dict[int, str]:
    """Across a whole round (all images): answers shared by at least ``min_count`` items and
    ``min_share`` of the round, keyed by index, with the reason. A model that never saw the
    images answers "There are 0 main object in the image." everywhere, one item per image, which
    no per-image check can see."""
    groups: dict[str, list[int]] = {}
    for i, answer in enumerate(answers):
        norm = normalize_text(answer)
        if len(norm.split()) >= SHARED_ANSWER_WORDS:
            groups.setdefault(norm, []).append(i)
    out: dict[int, str] = {}
    for positions in groups.values():
        if len(positions) >= max(min_count, min_share * len(answers)):
            answer = _short(answers[positions[0]])
            for i in positions:
                out[i] = f"the answer {answer!r} is shared by {len(positions)} items of the round"
    return out
