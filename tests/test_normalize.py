"""Vocabulary normalisation: synonyms map, unknowns are counted, nothing is silently invented."""

from __future__ import annotations

from collections import Counter

from mmevol.evolve.normalize import normalize_item
from mmevol.schema import QA, Step
from mmevol.vocab import FORMATS, SKILLS, canonical_format, canonical_manipulation, canonical_skill


def test_synonyms_map_to_vocabulary() -> None:
    assert canonical_skill("Object Detection") == "grounding"
    assert canonical_skill("counting") == "calculating"
    assert canonical_skill("OCR") == "ocr"
    assert canonical_skill("Spatial reasoning") == "relationship_description"
    assert canonical_format("Multiple-Choice") == "multiple_choice"
    assert canonical_format("fill in the blank") == "fill_in_blank"
    assert canonical_format("journey_mapping") is None
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
    assert out.skills == ["calculating", "grounding"]
    assert set(out.skills) <= set(SKILLS)
    assert out.format == "multiple_choice" and out.format in FORMATS
    assert [s.manipulation for s in out.steps] == [
        "grounding",
        "calculate(1+1) -> res_1",
        "teleport",
    ]
    assert out.question == "How many dogs?" and out.answer == "Two."
    assert counts == Counter(
        skill_mapped=2, skill_dropped=1, format_mapped=1, manipulation_mapped=1,
        manipulation_unknown=1,
    )  # fmt: skip


def test_unknown_format_becomes_open_ended() -> None:
    counts: Counter[str] = Counter()
    out = normalize_item(QA(question="q", answer="a", format="journey_mapping"), counts)
    assert out.format == "open_ended" and counts["format_unknown"] == 1
