"""VLMEvalKit's judge-free matching (``loop.eval_match``): each expectation follows by hand from
VLMEvalKit's ``can_infer_option`` / ``can_infer_text`` / ``YOrN_Extraction`` and its circular
evaluation (commit e8e78f0), not from running it."""

from __future__ import annotations

import math

import pytest

from mmevol.loop.eval_match import (
    Choice,
    as_index,
    choices_of,
    looks_circular,
    option_of,
    score_choices,
    yes_no_of,
)

OPTS = {"A": "a cat", "B": "a dog", "C": "a bird", "D": "a fish"}


@pytest.mark.parametrize(
    ("answer", "option"),
    [
        ("B", "B"),
        ("B.", "B"),  # punctuation becomes spaces
        ("(B)", "B"),
        ("[C]", "C"),
        ("The answer is B", "B"),  # one letter among the last four words
        ("The correct answer is **D**. Because fish swim.", "D"),  # "answer is D" anywhere
        ("a dog", "B"),  # the text of exactly one option
        ("I think it is a bird.", "C"),
        ("A or C", None),  # two letters: ambiguous
        ("It is a dog or a cat", None),  # two option texts: ambiguous
        (
            "B is my choice because the animal in the picture clearly barks",
            None,
        ),  # letter too early
        ("Cannot determine the answer", "Z"),  # a refusal names no option
        ("Z", "Z"),
        ("Failed to obtain answer via API", None),
        ("A dog", "A"),  # the quantifier "A" counts as a letter, as VLMEvalKit's default does
        ("", None),
        (None, None),  # an empty cell reads as "nan"
    ],
)
def test_option_of(answer: str | None, option: str | None) -> None:
    assert option_of(answer, dict(OPTS)) == option


def test_text_match_refuses_long_answers() -> None:
    # "a dog" is in it, but 2 * len("a cat" "a dog" "a bird" "a fish") = 40 < its length
    long = "Looking closely at the whole picture, I would say a dog is shown."
    assert option_of(long, dict(OPTS)) is None
    assert option_of(long[-20:], dict(OPTS)) == "B"


def test_choices_skip_empty_and_nan_cells() -> None:
    row = {"A": "yes", "B": "no", "C": "nan", "D": None, "E": float("nan"), "F": ""}
    assert choices_of(row.get) == {"A": "yes", "B": "no"}
    assert option_of("C", {"A": "yes", "B": "no"}) is None  # C is no option here


@pytest.mark.parametrize(
    ("value", "index"),
    [(12, 12), ("1000012", 1000012), (12.0, 12), ("12.5", None), (True, None), ("x", None),
     (math.nan, None), (-1, None)],
)  # fmt: skip
def test_as_index(value: object, index: int | None) -> None:
    assert as_index(value) == index


def item(index: int | None, answer: str, prediction: str) -> Choice[str]:
    return Choice(index, answer, prediction, dict(OPTS), f"q{index}")


def test_circular_groups_need_every_copy_right() -> None:
    rows = [
        item(1, "A", "A"), item(1_000_001, "D", "D"), item(2_000_001, "C", "C"),  # all right
        item(2, "B", "B"), item(1_000_002, "A", "a bird"),  # copy wrong -> question wrong
        item(3, "C", "C"),  # alone
        item(1_000_004, "A", "A"),  # no question 4: left out
        item(None, "B", "B"),  # no index: scored alone
    ]  # fmt: skip
    scored, orphans = score_choices(rows, circular=True)
    assert [(m.index, s, shown.index) for m, s, shown in scored] == [
        (1, 1.0, 1), (2, 0.0, 1_000_002), (3, 1.0, 3), (None, 1.0, None)]  # fmt: skip
    assert orphans == 1
    vanilla, orphans = score_choices(rows, circular=False)
    assert [s for _, s, _ in vanilla] == [1, 1, 1, 1, 0, 1, 1, 1] and orphans == 0
    assert looks_circular(r.index for r in rows)
    assert not looks_circular([1, 2, 1_000_004])


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ("Yes", "Yes"),
        ("yes.", "Yes"),
        ("No, there is not.", "No"),
        ("Yes, there is a dog.", "Yes"),
        ("There is no dog.", "No"),
        ("Yes/No", "Unknown"),  # "/" between words becomes a space: both words
        ("yes or no", "Unknown"),
        ("I cannot tell", "Unknown"),
        ("yesterday", "Unknown"),  # words, not substrings
        (None, "Unknown"),
    ],
)
def test_yes_no_of(answer: str | None, said: str) -> None:
    assert yes_no_of(answer) == said
