"""The fake model (ground truth, determinism, judge) and its OpenAI-compatible HTTP server."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from mmevol.backends.base import make_backend
from mmevol.calls import Message, ModelCall
from mmevol.parse import parse_reply
from mmevol.prompts import embed_context
from mmevol.schema import EvolveOutput, JudgeOutput
from mmevol.testing.fake import PLACEHOLDER_RE, VISUAL_WORDS, FakeBackend, FakeLLM, boxes_in, iou
from mmevol.testing.server import FakeServerConfig, running_server

OBJECTS = [
    {"category": "dog", "bbox": [0.1, 0.2, 0.3, 0.5]},
    {"category": "car", "bbox": [0.5, 0.4, 0.9, 0.8]},
    {"category": "person", "bbox": [0.35, 0.1, 0.45, 0.6]},
]
SEED_ITEMS = [
    {"index": 0, "question": "What animal is this?", "answer": "A dog."},
    {"index": 1, "question": "What colour is the car?", "answer": "Red."},
]


def evolve_messages(direction: str = "perception", round_: int = 1, tag: str = "") -> list[Message]:
    ctx = {
        "task": "evolve",
        "direction": direction,
        "round": round_,
        "image": {"width": 640, "height": 480},
        "captions": [f"A dog near a red car {tag}".strip()],
        "objects": OBJECTS,
        "items": SEED_ITEMS,
    }
    return [
        Message(role="system", content="You evolve questions. Reply with JSON."),
        Message(role="user", content=f"Evolve these items.\n{embed_context(ctx)}"),
    ]


def judge_messages(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[Message]:
    ctx = {
        "task": "judge",
        "round": 1,
        "direction": "perception",
        "image": {"width": 640, "height": 480},
        "captions": ["A dog near a red car"],
        "objects": OBJECTS,
        "pairs": [{"index": i, "parent": p, "evolved": e} for i, (p, e) in enumerate(pairs)],
    }
    return [Message(role="user", content=f"Judge.\n{embed_context(ctx)}")]


def run_many(llm: FakeLLM, n: int) -> list[tuple[str, dict[str, Any]]]:
    """(kind, item) for every evolved item of ``n`` distinct evolve calls."""
    out = []
    for k in range(n):
        direction = ("perception", "reasoning", "interactive")[k % 3]
        text = llm.respond(evolve_messages(direction, 1, tag=str(k)), json_mode="object")
        for item in json.loads(text)["items"]:
            out.append((llm.ledger[item["question"]], item))
    return out


def test_same_messages_same_text_and_seed_matters() -> None:
    a, b = FakeLLM(seed=3), FakeLLM(seed=3)
    msgs = evolve_messages()
    assert a.respond(msgs) == b.respond(msgs) == a.respond(msgs)
    others = {FakeLLM(seed=s, bad_rate=0.5).respond(msgs) for s in range(8)}
    assert len(others) > 1


def test_good_evolutions_quote_exact_boxes_and_add_a_step() -> None:
    results = run_many(FakeLLM(bad_rate=0.0, broken_json_rate=0.0), 9)
    assert results and all(kind == "good" for kind, _ in results)
    annotated = [o["bbox"] for o in OBJECTS]
    for _, item in results:
        assert item["steps"], "a good evolution adds at least one step"
        assert re.match(r"grounding_\d+\(\w+\) -> bbx_\d+", item["steps"][0]["manipulation"])
        assert item["answer"]
        boxes = boxes_in(item["answer"] + " ".join(s["description"] for s in item["steps"]))
        assert boxes and all(max(iou(b, k) for k in annotated) > 0.99 for b in boxes)
        assert any(o in item["question"] for o in ("dog", "car", "person"))


def test_bad_kinds_have_their_defects_and_rate_is_close() -> None:
    llm = FakeLLM(bad_rate=0.4, broken_json_rate=0.0, seed=1)
    results = run_many(llm, 150)
    kinds = [k for k, _ in results]
    bad_share = sum(k != "good" for k in kinds) / len(kinds)
    assert 0.3 < bad_share < 0.5
    assert {"wrong_box", "text_only", "placeholder", "empty_answer"} <= set(kinds)
    annotated = [o["bbox"] for o in OBJECTS]
    for kind, item in results:
        claimed = item["answer"] + " ".join(s["description"] for s in item["steps"])
        if kind == "wrong_box":
            boxes = boxes_in(claimed)
            assert boxes and all(max(iou(b, k) for k in annotated) < 0.1 for b in boxes)
        elif kind == "placeholder":
            assert PLACEHOLDER_RE.search(claimed) and "Coordinates for" in claimed
        elif kind == "text_only":
            q = item["question"].lower()
            assert not any(re.search(rf"\b{o['category']}", q) for o in OBJECTS)
            assert not any(w in q for w in VISUAL_WORDS)
        elif kind == "empty_answer":
            assert item["answer"] == ""
    assert set(llm.ledger.values()) == set(kinds)


def test_judge_agrees_with_the_ledger_when_exact() -> None:
    llm = FakeLLM(bad_rate=0.5, broken_json_rate=0.0, seed=2)
    results = run_many(llm, 30)
    parents = {s["index"]: {**s, "steps": [], "format": "open_ended"} for s in SEED_ITEMS}
    pairs = [(parents[item["source"]], item) for _, item in results]
    verdicts = parse_reply(llm.respond(judge_messages(pairs)), JudgeOutput).value.verdicts
    assert len(verdicts) == len(results)
    for (kind, _), v in zip(results, verdicts, strict=True):
        assert v.improved == (kind == "good"), kind
        assert (6 <= v.score <= 9) if v.improved else (v.score <= 4)
    # no gain: the parent unchanged
    same = parse_reply(llm.respond(judge_messages([(parents[0], parents[0])])), JudgeOutput)
    assert same.value.verdicts[0].improved is False


def test_judge_error_rate_flips_some_decisions() -> None:
    llm = FakeLLM(bad_rate=0.0, broken_json_rate=0.0, judge_error_rate=0.3, seed=4)
    results = run_many(llm, 40)
    parents = {s["index"]: {**s, "steps": [], "format": "open_ended"} for s in SEED_ITEMS}
    pairs = [(parents[item["source"]], item) for _, item in results]
    verdicts = parse_reply(llm.respond(judge_messages(pairs)), JudgeOutput).value.verdicts
    wrong = sum(not v.improved for v in verdicts)
    assert wrong == llm.judge_flips
    assert 0.15 * len(verdicts) < wrong < 0.45 * len(verdicts)


def test_broken_json_only_without_json_mode() -> None:
    llm = FakeLLM(bad_rate=0.0, broken_json_rate=1.0)
    broken = llm.respond(evolve_messages())
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken)
    assert sum(llm.broken.values()) == 1
    assert json.loads(llm.respond(evolve_messages(), json_mode="schema"))["items"]


def test_no_context_gets_plain_text() -> None:
    assert "context" in FakeLLM().respond([Message(role="user", content="hello")])


async def test_fake_backend_in_process() -> None:
    backend = make_backend("fake", bad_rate=0.0, broken_json_rate=0.0)
    assert isinstance(backend, FakeBackend)
    assert "bad=0.0" in backend.identity()
    call = ModelCall(
        task="evolve",
        template="perception",
        template_version="perception@x",
        messages=evolve_messages(),
        context={},
    )
    reply = await backend.complete(call)
    parsed = parse_reply(reply.text, EvolveOutput)
    assert {backend.llm.ledger[i.question] for i in parsed.value.items} == {"good"}
    assert reply.usage.input_tokens > 0 and reply.usage.output_tokens > 0


def test_latency_config_forms() -> None:
    assert FakeServerConfig(latency=0.2).latency == (0.2, 0.2)
    assert FakeServerConfig(latency="0.1,0.3").latency == (0.1, 0.3)
    with pytest.raises(ValueError):
        FakeServerConfig(latency="0.3,0.1")


# --- the HTTP server ------------------------------------------------------------------------------
def _chat_body(msgs: list[Message], **extra: Any) -> dict[str, Any]:
    return {"model": "fake-mllm", "messages": [m.model_dump() for m in msgs], **extra}


def test_server_completion_models_and_stats() -> None:
    cfg = FakeServerConfig(bad_rate=0.5, broken_json_rate=0.0, seed=5)
    with running_server(cfg) as url, httpx.Client(timeout=10) as http:
        models = http.get(f"{url}/models").json()
        assert models["data"][0]["id"] == "fake-mllm"
        body = _chat_body(evolve_messages(), response_format={"type": "json_object"})
        first = http.post(f"{url}/chat/completions", json=body).json()
        text = first["choices"][0]["message"]["content"]
        assert first["choices"][0]["finish_reason"] == "stop"
        assert first["usage"]["completion_tokens"] == len(text) // 4
        assert first["usage"]["prompt_tokens"] > 0
        again = http.post(f"{url}/chat/completions", json=body).json()
        assert again["choices"][0]["message"]["content"] == text
        stats = http.get(url.replace("/v1", "/_fake/stats")).json()
    assert stats["received"] == 2 and stats["completed"] == 2
    assert stats["repeated_completed"] == 1
    assert stats["by_status"] == {"200": 2}
    items = parse_reply(text, EvolveOutput).value.items
    assert {i.question for i in items} <= set(stats["ledger"]["items"])
    assert sum(stats["ledger"]["counts"].values()) == len(stats["ledger"]["items"])


def test_server_rpm_limit_answers_429_with_retry_after() -> None:
    with running_server(FakeServerConfig(rpm=30)) as url, httpx.Client(timeout=10) as http:
        body = _chat_body(evolve_messages())
        assert http.post(f"{url}/chat/completions", json=body).status_code == 200
        second = http.post(f"{url}/chat/completions", json=body)
        assert second.status_code == 429
        assert 1 <= int(second.headers["retry-after"]) <= 2
        assert 1500 <= int(second.headers["retry-after-ms"]) <= 2000


def test_server_rejects_bad_requests_and_unsupported_formats() -> None:
    cfg = FakeServerConfig(response_formats=["json_object"], api_key="k-123")
    with running_server(cfg) as url, httpx.Client(timeout=10) as http:
        auth = {"Authorization": "Bearer k-123"}
        body = _chat_body(evolve_messages(), response_format={"type": "json_schema"})
        assert http.post(f"{url}/chat/completions", json=body).status_code == 401
        rejected = http.post(f"{url}/chat/completions", json=body, headers=auth)
        assert rejected.status_code == 400
        assert "response_format" in rejected.json()["error"]["message"]
        malformed = http.post(f"{url}/chat/completions", content=b"{nope", headers=auth)
        assert malformed.status_code == 400


def test_server_forced_faults_come_first() -> None:
    cfg = FakeServerConfig(fault_first_n=2, faults=["server_error", "non_json"], retry_after_s=0)
    with running_server(cfg) as url, httpx.Client(timeout=10) as http:
        body = _chat_body(evolve_messages())
        statuses = [http.post(f"{url}/chat/completions", json=body) for _ in range(3)]
        stats = http.get(url.replace("/v1", "/_fake/stats")).json()
    assert statuses[0].status_code == 500
    assert statuses[1].status_code == 200 and statuses[1].text.startswith("<html>")
    assert statuses[2].json()["choices"]
    assert stats["faults"] == {"server_error": 1, "non_json": 1}
    assert stats["completed"] == 1
