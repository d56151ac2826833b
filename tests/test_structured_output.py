"""Structured output per server family (``backends.structured``), local-server defaults,
readable failures and honest text-only prompts.

The ``GET /models`` bodies below are written as each server writes them: llama-cpp-python 0.3.x
(``llama_cpp/server/app.py``, ``get_models``: ``owned_by: "me"``, ``permissions: []``), llama.cpp's
``llama-server`` (``owned_by: "llamacpp"``, ``meta``; ``Server: llama.cpp`` header), vLLM 0.6+
(``owned_by: "vllm"``, ``root``, ``max_model_len``), SGLang (``owned_by: "sglang"``), Ollama's
OpenAI layer (``owned_by: "library"``) and OpenAI (``owned_by: "system"``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from mmevol.backends import openai_compat
from mmevol.backends.openai_compat import OpenAIBackend
from mmevol.backends.structured import LADDERS, EndpointFormat, detect_family
from mmevol.calls import CallTimeout, ModelCall
from mmevol.evolve.calls import evolve_call, judge_call
from mmevol.schema import EvolveOutput
from mmevol.seeds import read_seeds, write_seeds
from mmevol.testing.server import FakeServerConfig, running_server
from mmevol.world import write_demo_set
from test_openai_backend import make_call


def _models(owner: str, **extra: Any) -> dict[str, Any]:
    return {"object": "list", "data": [{"id": "m", "object": "model", "owned_by": owner, **extra}]}


@pytest.mark.parametrize(
    ("body", "server", "family"),
    [
        (_models("me", permissions=[]), None, "llama-cpp-python"),
        (_models("llamacpp", created=0, meta={"n_ctx_train": 8192}), "llama.cpp", "llama.cpp"),
        ({"object": "list", "data": []}, "llama.cpp", "llama.cpp"),
        (_models("vllm", root="m", max_model_len=4096), "uvicorn", "vllm"),
        (_models("sglang"), None, "sglang"),
        (_models("library", created=0), None, "ollama"),
        (_models("system", created=0), None, "openai"),
        (_models("mmevol-fake"), None, "unknown"),
        ({"error": "not found"}, None, "unknown"),
        ("<html>", None, "unknown"),
        (None, None, "unknown"),
    ],
)
def test_the_family_is_read_from_models_and_the_server_header(
    body: Any, server: str | None, family: str
) -> None:
    assert detect_family(body, server) == family


def _call(max_tokens: int = 512, tag: str = "") -> ModelCall:
    return make_call(tag=tag).model_copy(update={"max_tokens": max_tokens})


def test_each_mode_is_spelt_as_its_servers_read_it() -> None:
    b = OpenAIBackend("m", base_url="http://127.0.0.1:9/v1")
    schema = EvolveOutput.model_json_schema()
    body = b.build_body(_call(), "schema")
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == schema
    assert b.build_body(_call(), "object_schema")["response_format"] == {
        "type": "json_object",
        "schema": schema,
    }
    guided = b.build_body(_call(), "guided")
    assert guided["guided_json"] == schema and "response_format" not in guided
    ollama = b.build_body(_call(), "format")
    assert ollama["format"] == schema and "response_format" not in ollama
    assert b.build_body(_call(), "object")["response_format"] == {"type": "json_object"}
    plain = b.build_body(_call(), "none")
    assert not {"response_format", "guided_json", "format"} & set(plain)


def test_a_refusal_steps_down_once_however_many_calls_were_in_flight(
    caplog: pytest.LogCaptureFixture,
) -> None:
    state = EndpointFormat("http://x/v1")
    state.settle_family("unknown")
    with caplog.at_level(logging.WARNING):
        moved = [state.step_down("schema", "HTTP 500") for _ in range(15)]
    assert moved == [True] * 15  # each in-flight call goes again, in the new mode
    assert state.mode == "object_schema" and state.refused == ["schema"]
    assert len([r for r in caplog.records if "does not take" in r.getMessage()]) == 1
    for mode in LADDERS["unknown"][1:]:
        state.step_down(mode, "refused")
    assert state.mode == "none"


@pytest.fixture
def llama_like() -> FakeServerConfig:
    """The fake server answering as llama-cpp-python does: ``owned_by: "me"``, a 500 for a
    ``json_schema`` response format, ``json_object`` with a ``schema`` constraining decoding."""
    return FakeServerConfig(
        port=0,
        owned_by="me",
        response_formats=["json_object"],
        response_format_status=500,
        broken_json_rate=0,
        bad_rate=0,
    )


def _stats(url: str) -> dict[str, Any]:
    return httpx.get(url.replace("/v1", "/_fake/stats"), timeout=5).json()


async def test_a_llama_cpp_python_server_gets_its_constrained_mode_from_the_first_call(
    llama_like: FakeServerConfig, caplog: pytest.LogCaptureFixture
) -> None:
    with running_server(llama_like) as url:
        b = OpenAIBackend("m", base_url=url, concurrency=16, timeout_s=30)
        with caplog.at_level(logging.WARNING):
            await asyncio.gather(*(b.complete(_call(tag=str(i))) for i in range(6)))
        st = _stats(url)
        await b.aclose()
    assert st["by_status"] == {"200": 6}  # nothing refused: the family said which mode
    assert st["response_formats"] == {"json_object": 6}
    assert b.structured_mode == "object_schema"
    assert b.admission.concurrency == 1  # one process, one request at a time
    record = b.runtime_record()
    assert record["family"] == "llama-cpp-python" and record["slots"] == 1
    assert not [r for r in caplog.records if "structured mode" in r.getMessage()]
    with running_server(llama_like) as url:
        fixed = OpenAIBackend("m", base_url=url, json_mode="object", timeout_s=30)
        await fixed.complete(_call())
        await fixed.aclose()
    assert fixed.structured_mode == "object"  # --json-mode is kept, whatever the family
    assert fixed.runtime_record()["family"] == "llama-cpp-python"


async def test_an_unknown_server_that_refuses_json_schema_warns_once(
    llama_like: FakeServerConfig, caplog: pytest.LogCaptureFixture
) -> None:
    config = llama_like.model_copy(update={"owned_by": "someone", "rpm": None})
    with running_server(config) as url:
        b = OpenAIBackend("m", base_url=url, concurrency=16, rpm=6000, tpm=10**9, timeout_s=30)
        with caplog.at_level(logging.WARNING):
            await asyncio.gather(*(b.complete(_call(tag=str(i))) for i in range(16)))
        st = _stats(url)
        await b.aclose()
    warnings = [r for r in caplog.records if "does not take structured mode" in r.getMessage()]
    assert len(warnings) == 1
    assert b.structured_mode == "object_schema" and st["by_status"]["200"] == 16


async def test_a_local_server_waits_by_max_tokens_and_never_resends_a_timed_out_call(
    llama_like: FakeServerConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(openai_compat, "LOCAL_BASE_S", 0.2)
    monkeypatch.setattr(openai_compat, "LOCAL_S_PER_TOKEN", 0.001)
    config = llama_like.model_copy(
        update={"fault_rate": 1.0, "faults": ["timeout"], "timeout_sleep_s": 5.0}
    )
    with running_server(config) as url:
        b = OpenAIBackend("m", base_url=url, timeout_s=0.1, max_attempts=5)
        with pytest.raises(CallTimeout) as info:
            await b.complete(_call(max_tokens=300))
        st = _stats(url)
        await b.aclose()
    assert info.value.attempts == 1 and st["received"] == 1
    assert b.call_timeout(_call(max_tokens=300)) == pytest.approx(0.5)
    assert b.call_timeout(_call(max_tokens=3000)) == pytest.approx(3.2)
    remote = OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", timeout_s=7)
    assert remote.call_timeout(_call(max_tokens=3000)) == 7  # not detected as local


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "mmevol.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    path = tmp_path / "seeds.jsonl"
    write_seeds(write_demo_set(tmp_path / "scenes", n=3, seed=2), path)
    return path


def test_a_run_records_the_family_and_mode_it_used(
    seeds: Path, tmp_path: Path, llama_like: FakeServerConfig
) -> None:
    run = tmp_path / "run"
    with running_server(llama_like) as url:
        got = _cli("evolve", str(seeds), "--out", str(run), "--backend", "openai", "--model",
                   "m", "--base-url", url, "--rounds", "1")  # fmt: skip
    assert got.returncode == 0, got.stderr[-2000:]
    backend = json.loads((run / "stats.json").read_text())["backend"]
    assert backend["family"] == "llama-cpp-python"
    assert backend["structured_mode"] == "object_schema" and backend["refused_modes"] == []
    assert "structured mode" not in got.stderr


def test_a_run_whose_replies_stop_at_the_token_limit_says_so(
    seeds: Path, tmp_path: Path, llama_like: FakeServerConfig
) -> None:
    run = tmp_path / "run"
    with running_server(llama_like) as url:
        got = _cli("evolve", str(seeds), "--out", str(run), "--backend", "openai", "--model",
                   "m", "--base-url", url, "--rounds", "1", "--max-tokens",
                   "24", "--max-error-rate", "1")  # fmt: skip
    assert got.returncode == 1, got.stderr[-2000:]
    err = " ".join(got.stderr.split())
    assert "3 unit(s) failed" in err  # units, not failure records
    assert "parse_failed x3" in err and "evolve:cut_off x3" in err
    assert "raise --max-tokens" in err
    causes = json.loads((run / "stats.json").read_text())["failure_causes"]
    assert causes["units"] == 3 and causes["parse"]["by_kind"] == {"evolve:cut_off": 3}
    example = causes["parse"]["examples"]["evolve:cut_off"]
    assert example.startswith("{") and len(example) <= 300
    assert sum(causes["parse"]["rungs"].values()) == 3
    shown = _cli("stats", str(run))
    assert shown.returncode == 0 and "evolve:cut_off x3" in shown.stdout
    assert "units failed" in shown.stdout and "llama-cpp-python / object_schema" in shown.stdout


def test_reply_text_shown_in_failure_causes_cannot_drive_the_terminal() -> None:
    from mmevol.evolve.diagnose import failure_lines

    hostile = "\x1b[2J\x1b]0;owned\x07[bold red]x[/]\r\nnext"
    stats = {
        "failures": {"by_class": {"parse_failed": 1}},
        "failure_causes": {
            "first_message": {"parse_failed": hostile},
            "parse": {"by_kind": {"evolve:not_json": 1}, "examples": {"evolve:not_json": hostile}},
        },
    }
    lines = failure_lines(stats)
    assert lines and all(line.isprintable() for line in lines)


def test_text_only_prompts_say_the_model_sees_only_captions_and_boxes(seeds: Path) -> None:
    seed = next(iter(read_seeds(seeds)))
    pairs = [(seed.items[0], seed.items[0])]
    for vision in (True, False):
        ev = evolve_call(seed, seed.items, "reasoning", 1, temperature=0, max_tokens=9,
                         vision=vision)  # fmt: skip
        ju = judge_call(seed, pairs, "perception", 1, temperature=0, max_tokens=9, vision=vision)
        system = ev.messages[0].content + ju.messages[0].content
        blind = "You do not see the image" in system
        assert blind is not vision
        assert ("clearly visible" in system) is vision
    assert "grounding_i(" not in ev.messages[0].content  # one spelling: the name in the field
    assert '"manipulation": "grounding"' in ev.messages[0].content
    assert "perception direction" in ju.messages[1].content


def test_the_schema_sent_is_this_calls_exact_shape_and_its_replies_parse(seeds: Path) -> None:
    from mmevol.parse import parse_reply
    from mmevol.schema import JudgeOutput
    from mmevol.vocab import FORMATS, MANIPULATIONS, SKILLS

    seed = next(iter(read_seeds(seeds)))
    n = len(seed.items)
    ev = evolve_call(seed, seed.items, "reasoning", 1, temperature=0, max_tokens=9)
    items = ev.json_schema["properties"]["items"]  # type: ignore[index]
    assert items["minItems"] == items["maxItems"] == n
    item = items["items"]
    assert item["properties"]["source"]["enum"] == list(range(n))
    assert item["properties"]["format"]["enum"] == list(FORMATS)
    assert item["properties"]["skills"]["items"]["enum"] == list(SKILLS)
    step = item["properties"]["steps"]["items"]
    assert step["properties"]["manipulation"]["enum"] == list(MANIPULATIONS)
    assert item["additionalProperties"] is False and set(item["required"]) == set(
        item["properties"]
    )
    reply = {"items": [{"source": i, "question": "q?", "answer": "a", "objects": [], "skills":
             [SKILLS[0]], "format": FORMATS[0], "steps": [{"manipulation": MANIPULATIONS[0],
             "description": "grounding(x) -> [0.1, 0.1, 0.2, 0.2]"}]} for i in range(n)]}  # fmt: skip
    assert len(parse_reply(json.dumps(reply), EvolveOutput).value.items) == n
    pairs = [(seed.items[0], seed.items[0])] * 2
    ju = judge_call(seed, pairs, "perception", 1, temperature=0, max_tokens=9)
    verdicts = ju.json_schema["properties"]["verdicts"]  # type: ignore[index]
    assert verdicts["minItems"] == verdicts["maxItems"] == 2
    answer = {"verdicts": [{"index": 1, "improved": "no", "score": 0, "reason": "r"},
                           {"index": 0, "improved": "yes", "score": 7, "reason": "r"}]}  # fmt: skip
    got = parse_reply(json.dumps(answer), JudgeOutput).value.verdicts
    assert [(v.index, v.improved, v.score) for v in got] == [(1, False, 0), (0, True, 7)]


@pytest.mark.parametrize("props", ["[]", "null", '"x"', "42", '{"total_slots": true}'])
async def test_a_llama_cpp_props_body_of_any_shape_leaves_slots_unknown(props: str) -> None:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def props_route(request: Any) -> Response:
        return Response(props, media_type="application/json")

    async def models(request: Any) -> Response:
        return JSONResponse(_models("llamacpp"))

    app = Starlette(routes=[Route("/props", props_route), Route("/v1/models", models)])
    transport = httpx.ASGITransport(app=app)
    b = OpenAIBackend("m", base_url="http://test/v1")
    b._client, b._client_loop = httpx.AsyncClient(transport=transport), asyncio.get_running_loop()
    await b.detect()
    await b.aclose()
    assert b.format.family == "llama.cpp" and b.format.slots is None


async def test_calls_queued_behind_a_refusal_go_out_in_the_lower_mode(
    llama_like: FakeServerConfig,
) -> None:
    config = llama_like.model_copy(update={"owned_by": "someone"})
    with running_server(config) as url:
        b = OpenAIBackend("m", base_url=url, concurrency=16, timeout_s=30)  # slow start: 1 first
        await asyncio.gather(*(b.complete(_call(tag=str(i))) for i in range(12)))
        st = _stats(url)
        await b.aclose()
    assert st["by_status"].get("400", 0) + st["by_status"].get("500", 0) == 1
    assert st["by_status"]["200"] == 12
