"""The repair ladder: each rung, the coercions, the failures and the re-ask conversation."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmevol.calls import Message, ParseFailed
from mmevol.parse import coerce, looks_cut, parse_reply, reask_messages
from mmevol.prompts import embed_context, extract_context
from mmevol.schema import EvolvedItem, EvolveOutput, JudgeOutput, Step
from mmevol.testing.fake import FakeLLM

ITEM = {
    "source": 0,
    "question": "Where is the dog in the image?",
    "answer": "The dog is at [0.100, 0.200, 0.300, 0.500].",
    "objects": ["dog"],
    "skills": ["grounding"],
    "format": "open_ended",
    "steps": [{"manipulation": "grounding_1(dog) -> bbx_1", "description": "Locate the dog."}],
}
CLEAN = json.dumps({"items": [ITEM]})


def test_clean_json_is_direct() -> None:
    parsed = parse_reply(CLEAN, EvolveOutput)
    assert parsed.rungs == ["direct"]
    assert parsed.value.items[0].question == ITEM["question"]


def test_fenced_with_prose_uses_fences() -> None:
    text = f"Sure, here it is:\n```json\n{CLEAN}\n```\nLet me know if you need more {{help}}."
    parsed = parse_reply(text, EvolveOutput)
    assert parsed.rungs == ["fences"]
    assert parsed.value.items[0].answer == ITEM["answer"]


def test_prose_around_json_without_fences() -> None:
    parsed = parse_reply(f"Result [final]: {CLEAN} -- done [ok]", EvolveOutput)
    assert parsed.rungs == ["fences"]


def test_trailing_commas_need_repair() -> None:
    text = CLEAN.replace('"open_ended"', '"open_ended",').replace("]}", ",]}")
    parsed = parse_reply(text, EvolveOutput)
    assert "repair" in parsed.rungs
    assert parsed.value == EvolveOutput.model_validate_json(CLEAN)


def test_fenced_and_broken_uses_fences_then_repair() -> None:
    text = "```json\n" + CLEAN[:-1] + ",}\n```"
    parsed = parse_reply(text, EvolveOutput)
    assert parsed.rungs == ["fences", "repair"]


def test_bare_list_is_wrapped_by_coerce() -> None:
    parsed = parse_reply(json.dumps([ITEM]), EvolveOutput)
    assert parsed.rungs[-1] == "coerce"
    assert len(parsed.value.items) == 1
    verdicts = parse_reply('[{"index": 0, "improved": "yes", "score": 8}]', JudgeOutput)
    assert verdicts.value.verdicts[0].improved is True
    assert verdicts.rungs == ["coerce"]


def test_coerce_scores_flags_and_steps() -> None:
    text = json.dumps(
        {"verdicts": [{"improved": "No.", "score": "3/10", "reason": "text only"}, {"score": "7"}]}
    )
    with pytest.raises(ParseFailed):  # the second verdict has no decision at all
        parse_reply(text, JudgeOutput)
    text = json.dumps(
        {
            "verdicts": [
                {"improved": "No.", "score": "3/10"},
                {"improved": "TRUE", "score": "4 out of 5"},
            ]
        }
    )
    parsed = parse_reply(text, JudgeOutput)
    first, second = parsed.value.verdicts
    assert (first.index, first.improved, first.score) == (0, False, 3.0)
    assert (second.index, second.improved, second.score) == (1, True, 8.0)

    item = dict(ITEM, steps=["grounding_1(dog) -> bbx_1: find the dog", "calculate: 2 + 2"])
    item["skills"] = "grounding, calculating"
    item["answer"] = 4
    parsed_items = parse_reply(json.dumps({"items": [item]}), EvolveOutput)
    evolved = parsed_items.value.items[0]
    assert evolved.steps[0] == Step(
        manipulation="grounding_1(dog) -> bbx_1", description="find the dog"
    )
    assert evolved.steps[1].manipulation == "calculate"
    assert evolved.skills == ["grounding", "calculating"]
    assert evolved.answer == "4"
    assert parsed_items.rungs == ["coerce"]


def test_coerce_single_item_and_renamed_list() -> None:
    assert coerce(ITEM, EvolveOutput)["items"][0]["question"] == ITEM["question"]
    assert len(coerce({"evolved": [ITEM, ITEM]}, EvolveOutput)["items"]) == 2
    no_source = {k: v for k, v in ITEM.items() if k != "source"}
    parsed = parse_reply(json.dumps({"items": [no_source, no_source]}), EvolveOutput)
    assert [i.source for i in parsed.value.items] == [0, 1]


def test_failure_message_names_fields() -> None:
    with pytest.raises(ParseFailed) as info:
        parse_reply('{"items": [{"source": 0, "question": "q"}]}', EvolveOutput)
    message = str(info.value)
    assert "\n" not in message
    assert "items.0.answer" in message and "EvolveOutput" in message


def test_no_json_at_all() -> None:
    with pytest.raises(ParseFailed, match="no JSON"):
        parse_reply("I cannot help with that.", EvolveOutput)


def test_cut_off_reply_is_left_to_reask() -> None:
    two = json.dumps({"items": [ITEM, dict(ITEM, source=1, question="Where is the cat?")]})
    cut = two[: two.index('"Where is the cat')] + '"Where is'  # stops inside a string
    assert looks_cut(cut)
    with pytest.raises(ParseFailed, match="cut off"):
        parse_reply(cut, EvolveOutput)
    # cut right after the first item: repairing would silently drop the second one
    after_first = two[: two.index("}, {") + 1]
    assert looks_cut(after_first)
    with pytest.raises(ParseFailed):
        parse_reply(after_first, EvolveOutput)


def test_reask_conversation_and_fake_answer() -> None:
    ctx = {
        "task": "evolve",
        "direction": "perception",
        "round": 1,
        "image": {"width": 10, "height": 10},
        "captions": ["a dog"],
        "objects": [{"category": "dog", "bbox": [0.1, 0.2, 0.3, 0.5]}],
        "items": [{"index": 0, "question": "What is it?", "answer": "A dog."}],
    }
    call = [Message(role="system", content="s"), Message(role="user", content=embed_context(ctx))]
    msgs = reask_messages(
        call, "{broken", "reply does not match EvolveOutput: items: Field required"
    )
    assert [m.role for m in msgs] == ["system", "user", "assistant", "user"]
    assert msgs[2].content == "{broken"
    assert "items: Field required" in msgs[3].content and "JSON" in msgs[3].content
    assert extract_context(msgs[3].content) is None
    assert call[1].content == msgs[1].content  # the original turns are unchanged
    llm = FakeLLM(bad_rate=0.0, broken_json_rate=1.0)
    assert parse_reply(llm.respond(msgs), EvolveOutput).rungs == ["direct"]


# --- property: any valid EvolveOutput survives fences, trailing commas and a lost last brace ----
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
_item = st.builds(
    EvolvedItem,
    source=st.integers(0, 50),
    question=_text,
    answer=_text,
    objects=st.lists(_text, max_size=3),
    skills=st.lists(_text, max_size=3),
    format=_text,
    steps=st.lists(st.builds(Step, manipulation=_text, description=_text), max_size=3),
)
_outputs = st.builds(EvolveOutput, items=st.lists(_item, min_size=1, max_size=4))


def _trailing_commas(text: str) -> str:
    lines = text.split("\n")
    out = []
    for i, line in enumerate(lines):
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        closing = nxt[:1] in {"]", "}"}
        if closing and not line.rstrip().endswith(("[", "{")):
            line += ","
        out.append(line)
    return "\n".join(out)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_outputs, st.sampled_from(["fenced", "commas", "truncated", "all"]), st.booleans())
def test_property_damaged_json_parses_back(
    value: EvolveOutput, damage: str, ascii_only: bool
) -> None:
    compact = value.model_dump_json()
    if damage == "fenced":
        text = f"Here is the JSON you asked for:\n```json\n{compact}\n```\nThanks!"
    elif damage == "commas":
        text = _trailing_commas(
            json.dumps(value.model_dump(mode="json"), indent=2, ensure_ascii=ascii_only)
        )
    elif damage == "truncated":
        text = json.dumps(value.model_dump(mode="json"), ensure_ascii=ascii_only)[:-1]
    else:
        body = _trailing_commas(json.dumps(value.model_dump(mode="json"), indent=1))
        text = "```json\n" + body[:-1] + "\n```"
    parsed = parse_reply(text, EvolveOutput)
    assert parsed.value == value
    assert parsed.rungs != ["direct"]
