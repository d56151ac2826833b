"""The vocabularies map the MMEvol authors' labels and typical model drift instead of deleting them.

The fixture lists are the strings the authors' released files use (the nine "... Ability" skill
names, "Norm", "Complex Reasoning", "Detailed Description" and the seventeen interactive forms)
plus realistic spelling drift; the test measures the share that lands on a vocabulary entry
and checks that normalisation loses none of them.
"""

from __future__ import annotations

from collections import Counter

import pytest

from mmevol.evolve.calls import _fills
from mmevol.io.official import item_dict
from mmevol.schema import QA
from mmevol.vocab import (
    FORMAT_HELP,
    FORMATS,
    MANIPULATIONS,
    SKILL_HELP,
    SKILLS,
    canonical_format,
    canonical_manipulation,
    canonical_skill,
    core_words,
    fold,
    stem,
)
from mmevol.vocab.normalize import normalize_item
from mmevol.vocab.terms import FORMAT_SYNONYMS, SKILL_SYNONYMS

AUTHOR_SKILLS = {
    "Grounding Ability": "grounding",
    "Referencing Ability": "referencing",
    "Calculating Ability": "calculating",
    "OCR Ability": "ocr",
    "Existence Ability": "existence",
    "Relationship Description Ability": "relationship_description",
    "Context Understanding Ability": "context_understanding",
    "Behavior Prediction Ability": "behavior_prediction",
    "Knowledge Integration Ability": "knowledge_integration",
}
SKILL_DRIFT = {
    "grounding_ability": "grounding",
    "Grounding Abilities": "grounding",
    "Referencing abilities": "referencing",
    "Calculation Ability": "calculating",
    "Counting Ability": "calculating",
    "numerical reasoning": "calculating",
    "visual counting": "calculating",
    "Object Counting": "calculating",
    "spatial grounding": "grounding",
    "object localization": "grounding",
    "Object Detection": "grounding",
    "attribute recognition": "referencing",
    "Color Recognition": "referencing",
    "scene understanding": "context_understanding",
    "Contextual Understanding": "context_understanding",
    "Relationship Descriptions": "relationship_description",
    "Spatial Relationship Ability": "relationship_description",
    "Behaviour Prediction Ability": "behavior_prediction",
    "action recognition": "behavior_prediction",
    "Knowledge Integration Abilities": "knowledge_integration",
    "Commonsense Reasoning": "knowledge_integration",
    "Text Recognition": "ocr",
    "Scene Text Recognition": "ocr",
    "OCR": "ocr",
    "Object Recognition": "existence",
    "ContextUnderstanding": "context_understanding",
}
AUTHOR_FORMATS = {
    "Norm": "open_ended",
    "Complex Reasoning": "step_by_step",
    "Detailed Description": "detailed_description",
    "region_selection": "region_selection",
    "missing_object_selection": "missing_object_selection",
    "text_image_matching": "matching",
    "object_region_matching": "matching",
    "completeness_of_response": "completeness_check",
    "fill_in_the_blank": "fill_in_blank",
    "image_style_classification": "style_classification",
    "art_type": "style_classification",
    "rationales_generation": "rationale_generation",
    "text_detection": "text_detection",
    "text_translation": "text_translation",
    "coreference_resolution": "coreference_resolution",
    "instruction_following": "constrained_instruction",
    "depth_order": "depth_order",
    "relative_distance": "relative_distance",
    "creative_content_generation": "creative_writing",
    "multi_choice": "multiple_choice",
}
FORMAT_DRIFT = {
    "Multi-choice": "multiple_choice",
    "Multi-Choice": "multiple_choice",
    "multiple-choice question": "multiple_choice",
    "multiple choice question": "multiple_choice",
    "Multiple Choice": "multiple_choice",
    "MCQ": "multiple_choice",
    "Fill-in-the-blank": "fill_in_blank",
    "fill in the blanks": "fill_in_blank",
    "Relative Distance": "relative_distance",
    "Depth Order": "depth_order",
    "Depth Ordering": "depth_order",
    "Image Style Classification": "style_classification",
    "Art Type": "style_classification",
    "Rationale Generation": "rationale_generation",
    "Text-Image Matching": "matching",
    "Object-Region Matching": "matching",
    "Missing Object Selection": "missing_object_selection",
    "Completeness of Response": "completeness_check",
    "Creative Content Generation": "creative_writing",
    "Instruction Following": "constrained_instruction",
    "Yes/No": "yes_no",
    "Yes-No question": "yes_no",
    "True or False": "true_false_justify",
    "True/False with justification": "true_false_justify",
    "open-ended": "open_ended",
    "Open Ended Question": "open_ended",
    "Step-by-step reasoning": "step_by_step",
    "complex_reasoning": "step_by_step",
    "role-play": "dialogue",
    "Visual Question Answering": "open_ended",
}


def _measure(cases: dict[str, str], canon: object) -> tuple[float, list[str]]:
    """Share of ``cases`` that land on their intended entry, and the ones that did not."""
    assert callable(canon)
    wrong = [text for text, want in cases.items() if canon(text) != want]
    return 1 - len(wrong) / len(cases), wrong


def test_authors_strings_land_on_entries() -> None:
    skills = AUTHOR_SKILLS | SKILL_DRIFT
    formats = AUTHOR_FORMATS | FORMAT_DRIFT
    skill_share, skill_wrong = _measure(skills, canonical_skill)
    format_share, format_wrong = _measure(formats, canonical_format)
    share = (skill_share * len(skills) + format_share * len(formats)) / (len(skills) + len(formats))
    assert share >= 0.95, (skill_wrong, format_wrong)
    # the authors' own labels, every one of them
    assert [canonical_skill(s) for s in AUTHOR_SKILLS] == list(AUTHOR_SKILLS.values())
    assert [canonical_format(f) for f in AUTHOR_FORMATS] == list(AUTHOR_FORMATS.values())


def test_normalisation_drops_no_string() -> None:
    texts = [*AUTHOR_SKILLS, *SKILL_DRIFT, "Visual Reasoning", "vibes", "Temporal reasoning"]
    counts: Counter[str] = Counter()
    out = normalize_item(QA(question="q", answer="a", skills=texts), counts)
    assert out.raw_skills == texts
    assert counts["skills_total"] == len(texts)
    assert counts["skill_unknown"] == 3  # kept, not dropped
    assert {"other:Visual Reasoning", "other:vibes", "other:Temporal reasoning"} <= set(out.skills)
    assert set(out.skills) - {s for s in out.skills if s.startswith("other:")} == set(SKILLS)
    for fmt in [*AUTHOR_FORMATS, *FORMAT_DRIFT, "journey_mapping"]:
        done = normalize_item(QA(question="q", answer="a", format=fmt), counts)
        assert done.format in FORMATS or done.format == f"other:{fmt}"
        assert done.raw_format == (None if done.format == fmt else fmt)


@pytest.mark.parametrize(
    ("text", "skill", "fmt"),
    [
        ("Visual Reasoning", None, "step_by_step"),  # no skill fits honestly: kept as other:
        ("journey_mapping", None, None),
        ("other:counting", None, None),  # already declared unknown: never re-mapped
        ("", None, None),
        ("Texture recognition", "referencing", None),  # 'texture' is not OCR
        ("text localization", "grounding", "text_detection"),
        ("Spot the difference", None, "comparison"),
    ],
)
def test_edges(text: str, skill: str | None, fmt: str | None) -> None:
    assert (canonical_skill(text), canonical_format(text)) == (skill, fmt)


def test_folding_helpers() -> None:
    assert fold("Multi-Choice") == "multichoice"
    assert core_words("Multiple-Choice question") == ["multiple", "choice"]
    assert core_words("OCR Ability") == ["ocr"]
    assert core_words("question") == ["question"]  # nothing left: keep what there is
    assert [stem(w) for w in ("counting", "counts", "boxes", "descriptions", "relations")] == [
        "count",
        "count",
        "box",
        "description",
        "relation",
    ]


def test_synonyms_are_consistent() -> None:
    for phrase, target in SKILL_SYNONYMS.items():
        assert canonical_skill(phrase) == target, phrase
    for phrase, target in FORMAT_SYNONYMS.items():
        assert canonical_format(phrase) == target, phrase
    assert canonical_manipulation("Counts") == "calculate"
    assert canonical_manipulation("Step 1") is None  # no keyword guessing for manipulations
    assert set(MANIPULATIONS) == {canonical_manipulation(m) for m in MANIPULATIONS}


def test_every_entry_has_help_in_the_prompts() -> None:
    assert set(SKILL_HELP) == set(SKILLS) and set(FORMAT_HELP) == set(FORMATS)
    listed = _fills()["formats"]
    for fmt in ("missing_object_selection", "depth_order", "completeness_check"):
        assert f"{fmt} ({FORMAT_HELP[fmt]})" in listed


def test_authors_layout_writes_the_producers_strings() -> None:
    mapped = normalize_item(
        QA(question="q", answer="a", skills=["Grounding Ability", "Vibes"], format="Norm"),
        Counter(),
    )
    d = item_dict(mapped)
    assert (d["skills"], d["format"]) == (["Grounding Ability", "Vibes"], "Norm")
    bare = QA(question="q", answer="a", skills=["ocr", "other:vibes"], format="other:x")
    assert (item_dict(bare)["skills"], item_dict(bare)["format"]) == (["ocr", "vibes"], "x")
