"""The whole bad-input corpus through the CLI: one line naming file and field, nothing left."""

from __future__ import annotations

from pathlib import Path

import pytest
from reliability_cases.corpus import Case, run_case, run_case_skipping
from reliability_cases.corpus_more import ALL_CASES as CASES
from reliability_cases.corpus_more import ALL_SKIPPABLE as SKIPPABLE


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 30
    assert sum(c.expect == "error" for c in CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, tmp_path: Path) -> None:
    ok, what = run_case(case, tmp_path / "case")
    assert ok, what


@pytest.mark.parametrize("case", SKIPPABLE, ids=[c.name for c in SKIPPABLE])
def test_bad_record_skipped_and_listed(case: Case, tmp_path: Path) -> None:
    ok, what = run_case_skipping(case, tmp_path / "case")
    assert ok, what
