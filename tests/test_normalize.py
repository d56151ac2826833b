"""Vocabulary normalisation: synonyms map, unknowns are kept as other: and counted, nothing is
silently invented or dropped."""

from __future__ import annotations

from collections import Counter

from mmevol.schema import QA, Step
from mmevol.vocab import FORMATS, SKILLS, canonical_format, canonical_manipulation, canonical_skill
from mmevol.vocab.normalize import normalize_item


def test_synonyms_map_to_vocabulary() -> None:
    assert canonical_skill("Object Detection") == "grounding"
    assert canonical_skill("counting") == "calculating"
    assert canonical_skill("OCR") == "ocr"
    assert canonical_skill("Spatial reasoning") == "relationship_description"
    assert canonical_format("Multiple-Choice") == "multiple_choice"
    assert canonical_format("fill in the blank") == "fill_in_blank"
    assert canonical_format("journey_mapping") is None
    assert canonical_skill("other:counting") is None  # an other: label is never re-mapped
    assert canonical_manipulation("grounding_1(red circle) -> bbx_1") == "grounding"
    assert canonical_manipulation("Locate") == "grounding"
    assert canonical_manipulation("calculate(3 + 4) -> res_1") == "calculate"
    assert canonical_manipulation("teleport_2(x)") is None


def test_normalize_item_counts_every_change() -> None:
    qa = QA(
        question=" How many dogs? ",
        answer="Two. ",
        skills=["Counting", "object detection", "vibes", "calculating"],
        format="MCQ",
        steps=[
            Step(manipulation="Locate", description="find the dogs"),
            Step(manipulation="calculate(1+1) -> res_1", description="add"),
            Step(manipulation="teleport", description="?"),
        ],
    )
    counts: Counter[str] = Counter()
    out = normalize_item(qa, counts)
    assert out.skills == ["calculating", "grounding", "other:vibes"]
    assert set(out.skills) - {"other:vibes"} <= set(SKILLS)
    assert out.raw_skills == ["Counting", "object detection", "vibes", "calculating"]
    assert out.format == "multiple_choice" and out.format in FORMATS and out.raw_format == "MCQ"
    assert [s.manipulation for s in out.steps] == [
        "grounding",
        "calculate(1+1) -> res_1",
        "teleport",
    ]
    assert out.question == "How many dogs?" and out.answer == "Two."
    assert counts == Counter(
        skills_total=4, skill_mapped=2, skill_unknown=1, formats_total=1, format_mapped=1,
        manipulation_mapped=1, manipulation_unknown=1,
    )  # fmt: skip


def test_unknown_format_is_kept_as_other() -> None:
    counts: Counter[str] = Counter()
    out = normalize_item(QA(question="q", answer="a", format=" journey_mapping "), counts)
    assert out.format == "other:journey_mapping" and out.raw_format == " journey_mapping "
    assert counts["format_unknown"] == 1 and counts["format_mapped"] == 0


def test_unchanged_item_serialises_as_before_and_twice_is_stable() -> None:
    qa = QA(question="q", answer="a", skills=["grounding", "ocr"], format="yes_no")
    counts: Counter[str] = Counter()
    out = normalize_item(qa, counts)
    assert out.raw_skills is None and out.raw_format is None
    assert out.model_dump_json(exclude_none=True) == qa.model_dump_json(exclude_none=True)
    assert counts == Counter(skills_total=2, formats_total=1)
    # a second pass over a mapped item keeps the first producer's strings and maps nothing
    first = normalize_item(QA(question="q", answer="a", skills=["OCR Ability", "x"],
                              format="Norm"), Counter())  # fmt: skip
    again: Counter[str] = Counter()
    second = normalize_item(first, again)
    assert second == first and second.raw_skills == ["OCR Ability", "x"]
    assert (second.skills, second.format, second.raw_format) == (["ocr", "other:x"], "open_ended",
                                                                 "Norm")  # fmt: skip
    assert again["skill_mapped"] == 0 and again["skill_unknown"] == 1


def test_the_authors_labels_map() -> None:
    counts: Counter[str] = Counter()
    qa = QA(question="q", answer="a", format="Complex Reasoning",
            skills=["Grounding Ability", "Relationship Description Ability", "visual counting"])  # fmt: skip
    out = normalize_item(qa, counts)
    assert out.skills == ["grounding", "relationship_description", "calculating"]
    assert out.format == "step_by_step" and counts["skill_mapped"] == 3
