"""The ``openai`` backend against the fake server over real loopback HTTP; payloads; prices."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import socket
import time
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from mmevol.backends import payload, pricing
from mmevol.backends.base import make_backend
from mmevol.backends.openai_compat import OpenAIBackend, parse_retry_after
from mmevol.calls import (
    BadResponse,
    CallError,
    CallTimeout,
    ClientError,
    ConnectionFailed,
    Message,
    ModelCall,
    RateLimited,
    ServerError,
    Usage,
)
from mmevol.parse import parse_reply
from mmevol.prompts import embed_context
from mmevol.schema import EvolveOutput, ImageRef
from mmevol.testing.server import FakeServerConfig, running_server
from synthetic_data import DataSet

SECRET = "sk-test-DO-NOT-LEAK-0123456789"


def make_call(image: ImageRef | None = None, tag: str = "") -> ModelCall:
    ctx = {
        "task": "evolve",
        "direction": "perception",
        "round": 1,
        "image": {"width": 64, "height": 48},
        "captions": [f"a dog {tag}".strip()],
        "objects": [{"category": "dog", "bbox": [0.1, 0.2, 0.3, 0.5]}],
        "items": [{"index": 0, "question": "What is it?", "answer": "A dog."}],
    }
    return ModelCall(
        task="evolve",
        template="perception",
        template_version="perception@test",
        messages=[
            Message(role="system", content="Reply with JSON."),
            Message(role="user", content=f"Evolve.\n{embed_context(ctx)}"),
        ],
        context=ctx,
        image=image,
        json_schema=EvolveOutput.model_json_schema(),
        max_tokens=1024,
    )


def backend(url: str, **kw: Any) -> OpenAIBackend:
    settings: dict[str, Any] = {"timeout_s": 5, "backoff_base_s": 0.01, "max_attempts": 4}
    settings.update(kw)
    return OpenAIBackend("fake-mllm", base_url=url, **settings)


def stats(url: str) -> dict[str, Any]:
    return httpx.get(url.replace("/v1", "/_fake/stats"), timeout=5).json()


@pytest.fixture
def image(tmp_path: Path) -> ImageRef:
    path = tmp_path / "img.png"
    Image.new("RGB", (800, 400), (200, 10, 10)).save(path)
    return ImageRef(path=str(path), digest=f"test-{tmp_path.name}", width=800, height=400)


async def test_success_reply_usage_cost_and_image(image: ImageRef) -> None:
    cfg = FakeServerConfig(bad_rate=0.0, broken_json_rate=0.0)
    with running_server(cfg) as url:
        b = backend(url, prices={"fake-mllm": {"input": 1.0, "output": 2.0}})
        reply = await b.complete(make_call(image))
        await b.aclose()
        st = stats(url)
    assert reply.attempts == 1 and reply.finish_reason == "stop" and reply.latency_s > 0
    assert parse_reply(reply.text, EvolveOutput).value.items[0].source == 0
    assert reply.usage.output_tokens == len(reply.text) // 4
    assert reply.usage.input_tokens > 85  # the text plus one low-detail image
    expected = (reply.usage.input_tokens * 1.0 + reply.usage.output_tokens * 2.0) / 1e6
    assert reply.cost_usd == pytest.approx(expected)
    assert st["with_image"] == 1 and st["response_formats"] == {"json_schema": 1}
    assert b.identity() == f"openai:{url}:fake-mllm"


async def test_text_only_mode_sends_no_image(image: ImageRef) -> None:
    with running_server(FakeServerConfig(broken_json_rate=0.0)) as url:
        b = backend(url, vision=False)
        body = b.build_body(make_call(image))
        assert all(isinstance(m["content"], str) for m in body["messages"])
        await b.complete(make_call(image))
        await b.aclose()
        assert stats(url)["with_image"] == 0


def test_vision_body_has_image_part_in_first_user_message(image: ImageRef) -> None:
    b = OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", detail="high")
    parts = b.build_body(make_call(image))["messages"][1]["content"]
    assert parts[0]["type"] == "text" and "<context>" in parts[0]["text"]
    assert parts[1]["image_url"]["detail"] == "high"
    assert parts[1]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert b.build_body(make_call(image), "none").get("response_format") is None
    assert b.build_body(make_call(image), "object")["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize(
    "kind",
    ["rate_limit", "server_error", "unavailable", "timeout", "drop", "truncated", "non_json"],
)
async def test_each_fault_is_retried_to_success(kind: str) -> None:
    cfg = FakeServerConfig(
        faults=[kind], fault_first_n=2, retry_after_s=0.05, timeout_sleep_s=5, broken_json_rate=0
    )
    with running_server(cfg) as url:
        b = backend(url, timeout_s=0.5)
        reply = await b.complete(make_call())
        await b.aclose()
        st = stats(url)
    assert reply.attempts == 3
    assert st["faults"] == {kind: 2} and st["completed"] == 1


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("server_error", ServerError),
        ("unavailable", ServerError),
        ("timeout", CallTimeout),
        ("drop", ConnectionFailed),
        ("truncated", BadResponse),
        ("non_json", BadResponse),
        ("slow_drip", CallTimeout),
    ],
)
async def test_persistent_fault_ends_in_typed_error(kind: str, error: type[CallError]) -> None:
    cfg = FakeServerConfig(
        faults=[kind], fault_rate=1.0, retry_after_s=0.05, timeout_sleep_s=5, drip_s=2.0
    )
    with running_server(cfg) as url:
        b = backend(url, timeout_s=0.4, max_attempts=2)
        with pytest.raises(error) as info:
            await b.complete(make_call())
        await b.aclose()
    assert type(info.value) is error and info.value.attempts == 2
    if kind == "unavailable":
        assert isinstance(info.value, ServerError) and info.value.status == 503


async def test_slow_drip_within_timeout_succeeds() -> None:
    cfg = FakeServerConfig(faults=["slow_drip"], fault_rate=1.0, drip_s=0.3, broken_json_rate=0)
    with running_server(cfg) as url:
        b = backend(url, timeout_s=3)
        reply = await b.complete(make_call())
        await b.aclose()
    assert reply.attempts == 1 and reply.latency_s >= 0.25
    assert parse_reply(reply.text, EvolveOutput).value.items


async def test_a_429_holds_only_its_own_call() -> None:
    """A 429 whose Retry-After is under ``pause_all_after_s`` holds its own call only; with the
    one attempt it has, it waits instead of failing. The Retry-After is 30 s (the threshold
    raised to 60 s), so the other call going on at once is told from being held by order, and
    the 20 s around it only guards against hanging."""
    cfg = FakeServerConfig(faults=["rate_limit"], fault_first_n=1, retry_after_s=30.0)
    with running_server(cfg) as url:
        b = backend(url, max_attempts=1)  # a 429 does not use up the one attempt
        b.admission.update(b.admission.limits.model_copy(update={"pause_all_after_s": 60.0}))
        task = asyncio.ensure_future(b.complete(make_call(tag="a")))
        deadline = time.monotonic() + 60  # only against hanging
        while stats(url)["by_status"].get("429") != 1:  # the 429 has arrived ...
            assert time.monotonic() < deadline, "the first call never got its 429"
            await asyncio.sleep(0.02)
        # ... and another call goes on at once (held, it would wait the 30 s out)
        second = await asyncio.wait_for(b.complete(make_call(tag="b")), timeout=20)
        assert not task.done()  # still waiting its Retry-After: neither failed nor sent again
        st = stats(url)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await b.aclose()
    assert second.attempts == 1
    assert st["by_status"] == {"429": 1, "200": 1} and st["received"] == 2
    assert b.admission.counters.rate_limited == 1


def test_a_429_says_which_limit_or_that_the_quota_is_gone() -> None:
    from mmevol.backends.openai_compat import _error_text, _rate_error
    from mmevol.calls import QuotaExceeded

    body = {"error": {"message": "Rate limit reached for m in organization o on tokens per min"
                      " (TPM): Limit 30000, Used 29500, Requested 900.", "type": "tokens",
                      "code": "rate_limit_exceeded"}}  # fmt: skip
    resp = httpx.Response(429, json=body, headers={"retry-after": "2"})
    err = _rate_error(resp, _error_text(resp))
    assert isinstance(err, RateLimited)
    assert (err.kind, err.limit, err.retry_after) == ("tokens", 30000, 2.0)
    quota = {"error": {"message": "You exceeded your current quota.", "type": "insufficient_quota",
                       "code": "insufficient_quota"}}  # fmt: skip
    gone = _rate_error(httpx.Response(429, json=quota), "quota")
    assert isinstance(gone, QuotaExceeded) and not gone.retryable


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after(httpx.Headers({"retry-after": "3"})) == 3.0
    assert parse_retry_after(httpx.Headers({"retry-after-ms": "250", "retry-after": "1"})) == 0.25
    date = formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (parse_retry_after(httpx.Headers({"retry-after": date})) or 0) <= 31
    assert parse_retry_after(httpx.Headers({"retry-after": "soon"})) is None
    assert parse_retry_after(httpx.Headers({})) is None


@pytest.mark.parametrize("status", [400, 500])
async def test_json_mode_auto_steps_down_and_remembers(status: int) -> None:
    cfg = FakeServerConfig(
        response_formats=["json_object"], response_format_status=status, broken_json_rate=0
    )
    with running_server(cfg) as url:
        b = backend(url)
        await b.complete(make_call(tag="1"))
        # a server of no known family: schema, then json_object carrying the schema
        assert b.structured_mode == "object_schema"
        await b.complete(make_call(tag="2"))
        st = stats(url)
        await b.aclose()
    assert st["by_status"] == {str(status): 1, "200": 2}
    assert st["response_formats"] == {"json_object": 2}


async def test_json_mode_falls_to_none_and_fixed_modes_raise() -> None:
    with running_server(FakeServerConfig(response_formats=[], broken_json_rate=0)) as url:
        b = backend(url)
        await b.complete(make_call())
        assert b.structured_mode == "none"
        assert stats(url)["response_formats"] == {"text": 1}
        strict = backend(url, json_mode="schema")
        with pytest.raises(ClientError, match="response_format"):
            await strict.complete(make_call())
        await b.aclose()
        await strict.aclose()


async def test_api_key_sent_but_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMEVOL_TEST_KEY", SECRET)
    with running_server(FakeServerConfig(api_key=SECRET, broken_json_rate=0)) as url:
        b = backend(url, api_key_env="MMEVOL_TEST_KEY")
        reply = await b.complete(make_call())  # the server demands the bearer header
        assert reply.text
        shown = json.dumps(b.describe()) + repr(b) + str(b) + repr(vars(b))
        assert SECRET not in shown and b.describe()["api_key_set"] is True
        await b.aclose()
    monkeypatch.setenv("MMEVOL_TEST_KEY", SECRET + "-wrong")
    with running_server(FakeServerConfig(api_key="another")) as url:
        wrong = backend(url, api_key_env="MMEVOL_TEST_KEY")
        with pytest.raises(ClientError) as info:
            await wrong.complete(make_call())
        await wrong.aclose()
    assert "401" in str(info.value) and "API key" in str(info.value)
    assert SECRET not in str(info.value) and info.value.attempts == 1


async def test_missing_key_sends_no_header_and_refused_connection() -> None:
    b = OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", api_key_env="MMEVOL_NO_SUCH_KEY")
    assert "Authorization" not in b._headers()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = backend(f"http://127.0.0.1:{port}/v1", max_attempts=2)
    with pytest.raises(ConnectionFailed) as info:
        await dead.complete(make_call())
    assert info.value.attempts == 2
    await dead.aclose()


def test_registry_builds_openai_backend() -> None:
    b = make_backend("openai", model="gpt-4o-mini", base_url="http://127.0.0.1:9/v1")
    assert isinstance(b, OpenAIBackend) and b.describe()["model"] == "gpt-4o-mini"
    with pytest.raises(ValueError, match="json_mode"):
        OpenAIBackend("m", json_mode="xml")


# --- payload: images to data URLs ---------------------------------------------------------------
def _decode(url: str) -> Image.Image:
    assert url.startswith("data:image/jpeg;base64,")
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


@pytest.mark.parametrize(
    "make",
    [
        lambda: Image.new("CMYK", (1024, 300), (0, 120, 120, 0)),
        lambda: Image.new("RGBA", (300, 900), (0, 0, 255, 0)),
        lambda: Image.new("P", (600, 600), 3),
        lambda: Image.new("LA", (700, 100), (20, 128)),
        lambda: Image.new("I;16", (520, 520), 40000),
        lambda: Image.new("L", (100, 50), 80),
    ],
)
def test_payload_modes_become_small_rgb_jpegs(tmp_path: Path, make: Any) -> None:
    img = make()
    path = tmp_path / ("x.tif" if img.mode in {"CMYK", "I;16"} else "x.png")
    if img.mode == "P":
        img.info["transparency"] = 3
    img.save(path)
    ref = ImageRef(path=str(path), digest=f"mode-{img.mode}-{tmp_path.name}")
    out = _decode(payload.image_data_url(ref, long_side=512))
    assert out.mode == "RGB" and out.format == "JPEG"
    assert max(out.size) == min(512, max(img.size))
    if img.mode == "RGBA":  # fully transparent pixels come out white
        assert min(out.getpixel((10, 10))) > 240  # type: ignore[arg-type]


def test_payload_cache_encodes_once_per_digest_and_size(image: ImageRef) -> None:
    cache = payload.DataUrlCache(maxsize=2)
    first = cache.get(image, 512)
    assert cache.get(image, 512) == first and cache.encodes == 1 and cache.hits == 1
    assert cache.get(image, 256) != first and cache.encodes == 2
    assert max(_decode(cache.get(image, 256)).size) == 256


def test_payload_real_coco_photo(data_set: DataSet) -> None:
    path = sorted((data_set.coco / "val2017").glob("*.jpg"))[0]
    out = _decode(payload.image_data_url(ImageRef(path=str(path), digest=f"coco-{path.stem}")))
    assert max(out.size) == 512


def test_payload_missing_file_is_one_line_error(tmp_path: Path) -> None:
    ref = ImageRef(path=str(tmp_path / "nope.jpg"), digest="missing")
    with pytest.raises(ValueError, match="cannot encode image"):
        payload.image_data_url(ref)


# --- prices ---------------------------------------------------------------------------------------
def test_prices_builtin_prefix_unknown_and_file(tmp_path: Path) -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    assert pricing.cost("gpt-4o-mini", usage) == pytest.approx(0.75)
    assert pricing.cost("gpt-4o-mini-2024-07-18", usage) == pytest.approx(0.75)
    assert pricing.cost("openai/gpt-4.1", usage) == pytest.approx(10.0)
    table = pricing.PriceTable()
    assert table.cost("my-model", usage) == 0.0 and "my-model" in table.unknown_models
    price_file = tmp_path / "prices.json"
    price_file.write_text(json.dumps({"my-model": {"input": 1, "output": 3}}))
    assert pricing.PriceTable(price_file).cost("my-model", usage) == pytest.approx(4.0)
    price_file.write_text(json.dumps({"bad": 3}))
    with pytest.raises(ValueError, match="bad"):
        pricing.PriceTable(price_file)
