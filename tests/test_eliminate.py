"""Rule checks of elimination: each defect the authors' data showed is caught, good items pass."""

from __future__ import annotations

import pytest

from mmevol.evolve.eliminate import rule_problems
from mmevol.schema import QA, ImageRef, Obj, Seed, Step

SEED = Seed(
    id="img-1",
    image=ImageRef(path="x.png", digest="sha256:00", width=100, height=100),
    captions=["A brown dog sits next to a red bicycle on a street."],
    objects=[
        Obj(category="dog", bbox=[0.1, 0.2, 0.4, 0.6]),
        Obj(category="bicycle", bbox=[0.5, 0.3, 0.9, 0.8]),
    ],
    items=[QA(question="What animal is in the picture?", answer="A dog.")],
)
PARENT = SEED.items[0]


def good() -> QA:
    return QA(
        question="Where is the dog relative to the bicycle?",
        answer="The dog [0.1, 0.2, 0.4, 0.6] is left of the bicycle [0.5, 0.3, 0.9, 0.8].",
        steps=[
            Step(
                manipulation="grounding_1(dog) -> bbx_1", description="dog at [0.1, 0.2, 0.4, 0.6]"
            ),
            Step(manipulation="calculate(x centres) -> res_1", description="0.25 < 0.7"),
        ],
    )


def test_good_item_passes() -> None:
    assert rule_problems(good(), PARENT, SEED) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"answer": ""}, "placeholder answer"),
        ({"answer": "N/A"}, "placeholder answer"),
        ({"answer": "[insert answer here]"}, "placeholder answer"),
        ({"answer": "The dog is at [Coordinates for the dog]."}, "placeholder box"),
        ({"answer": "The dog is at [0.6, 0.6, 0.95, 0.95]."}, "matches no annotated object"),
        ({"answer": "The dog is at [10, 20, 40, 60]."}, "not normalised"),
        ({"answer": "The dog is at [0.4, 0.2, 0.1, 0.6]."}, "inverted"),
        ({"question": "What is 17 + 25?", "steps": []}, "without the image"),
        ({"question": "What is the capital of France?", "steps": []}, "without the image"),
        ({"question": PARENT.question, "answer": PARENT.answer, "steps": []}, "unchanged"),
    ],
)
def test_each_defect_is_caught(change: dict[str, object], expected: str) -> None:
    qa = good().model_copy(update=change)
    problems = rule_problems(qa, PARENT, SEED)
    assert any(expected in p for p in problems), problems


def test_unknown_manipulation_is_caught() -> None:
    qa = good().model_copy(update={"steps": [Step(manipulation="teleport_1(x)", description="")]})
    assert any("unknown manipulation" in p for p in rule_problems(qa, PARENT, SEED))
