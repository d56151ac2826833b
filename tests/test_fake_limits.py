"""The fake server's provider mode (``backends.fakelimits``): buckets, token charge, OpenAI's
429s and headers, 5xx rate and lognormal latency, over real HTTP to ``running_server``.

Limits are chosen so that the bucket refills at most one unit over the seconds a test could
take on a busy machine: the assertions count answers, never time them."""

from __future__ import annotations

import asyncio
import math
import random
import statistics
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from mmevol.testing.limits import Bucket, ProviderLimits, format_reset, lognormal_latency
from mmevol.testing.server import FakeServerConfig, running_server

SIX = [
    f"x-ratelimit-{what}-{kind}"
    for what in ("limit", "remaining", "reset")
    for kind in ("requests", "tokens")
]
TEXT = "Describe the picture in one sentence."  # 37 characters: ceil(37 / 4) = 10 tokens
PIXEL = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGAAAAAFAAGKM+MAAAAASUVORK5CYII="


def body(image: bool = False, max_tokens: int | None = 50, tag: str = "") -> dict[str, Any]:
    content: Any = TEXT + tag
    if image:
        content = [
            {"type": "text", "text": TEXT + tag},
            {"type": "image_url", "image_url": {"url": PIXEL}},
        ]
    out: dict[str, Any] = {"model": "fake-mllm", "messages": [{"role": "user", "content": content}]}
    if max_tokens is not None:
        out["max_tokens"] = max_tokens
    return out


def config(**limits: Any) -> FakeServerConfig:
    return FakeServerConfig(port=0, limits=ProviderLimits(**limits))


async def burst(base: str, n: int, **kw: Any) -> list[httpx.Response]:
    """``n`` requests sent at once (distinct texts, so no answer is a repeat)."""
    pool = httpx.Limits(max_connections=n)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=pool) as client:
        sends = [client.post("/chat/completions", json=body(tag=f" #{i}", **kw)) for i in range(n)]
        return list(await asyncio.gather(*sends))


def stats(base: str) -> dict[str, Any]:
    return httpx.get(base.removesuffix("/v1") + "/_fake/stats").json()


def test_rpm_bucket_answers_the_excess_with_openai_429s() -> None:
    # 6 rpm with a 100 s bucket: 10 requests at once, then one more every 10 s
    with running_server(config(rpm=6, burst_s=100)) as base:
        replies = asyncio.run(burst(base, 30))
        got = stats(base)["limits"]
    ok = [r for r in replies if r.status_code == 200]
    limited = [r for r in replies if r.status_code == 429]
    assert len(ok) + len(limited) == 30
    assert 10 <= len(ok) <= 11  # 11 only when sending took over 10 s
    for r in limited:
        assert r.json()["error"]["type"] == "requests"
        assert "Limit 6" in r.json()["error"]["message"]
        assert r.headers["retry-after"].isdigit() and 1 <= int(r.headers["retry-after"]) <= 10
        assert "retry-after-ms" not in r.headers
        assert r.headers["x-ratelimit-limit-requests"] == "6"
        assert r.headers["x-ratelimit-remaining-requests"] == "0"
    for r in ok:
        assert "retry-after" not in r.headers
        assert r.headers["x-ratelimit-limit-requests"] == "6"
        assert int(r.headers["x-ratelimit-remaining-requests"]) <= 9
    # without a tpm, only the request headers are sent
    assert all(h not in replies[0].headers for h in SIX if h.endswith("tokens"))
    assert got["received"] == 30
    assert got["rejected_429"] == {"requests": len(limited), "tokens": 0}
    assert got["completed"] == len(ok)
    assert got["first_arrival_s"] <= got["last_completion_s"]


def test_tokens_charged_text_images_and_max_tokens() -> None:
    # a 60 000-token bucket refilled at 1 token/s: remaining drops by what each request costs
    with running_server(config(rpm=1000, tpm=60, burst_s=60_000)) as base:
        with httpx.Client(base_url=base, timeout=30) as client:
            text = client.post("/chat/completions", json=body())
            image = client.post("/chat/completions", json=body(image=True))
            default = client.post("/chat/completions", json=body(max_tokens=None))
        got = stats(base)["limits"]
    for r in (text, image, default):
        assert r.status_code == 200
        assert set(SIX) <= set(r.headers)
        assert r.headers["x-ratelimit-limit-tokens"] == "60"
    assert text.json()["usage"]["prompt_tokens"] == 10
    assert image.json()["usage"]["prompt_tokens"] == 10 + 255
    assert image.json()["usage"]["completion_tokens"] >= 1

    def left(r: httpx.Response) -> int:
        return int(r.headers["x-ratelimit-remaining-tokens"])

    assert left(text) == 60_000 - (10 + 50)
    # the refill adds 1 token per second between requests
    assert 0 <= left(image) - (left(text) - (10 + 255 + 50)) <= 5
    assert 0 <= left(default) - (left(image) - (10 + 1024)) <= 5
    assert got["tokens_charged"] == (10 + 50) + (10 + 255 + 50) + (10 + 1024)
    assert text.headers["x-ratelimit-reset-tokens"].endswith(("s", "ms"))


def test_tpm_binds_before_rpm() -> None:
    # each request costs 10 + 100 = 110 tokens; the 350-token bucket admits 3 of them and
    # refills 110 tokens in no less than ~12 s; the request bucket would admit 1000
    with running_server(config(rpm=1000, tpm=350, burst_s=60)) as base:
        replies = asyncio.run(burst(base, 10, max_tokens=100))
        got = stats(base)["limits"]
    limited = [r for r in replies if r.status_code == 429]
    assert 6 <= len(limited) <= 7
    for r in limited:
        assert r.json()["error"]["type"] == "tokens"
        assert "tokens per min" in r.json()["error"]["message"]
        assert int(r.headers["retry-after"]) >= 1
        assert set(SIX) <= set(r.headers)
        assert int(r.headers["x-ratelimit-remaining-requests"]) > 900
    assert got["rejected_429"] == {"requests": 0, "tokens": len(limited)}
    assert got["tokens_charged"] == 110 * (10 - len(limited))


def test_headers_switched_off() -> None:
    with (
        running_server(config(rpm=6, burst_s=10, headers=False)) as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        first = client.post("/chat/completions", json=body())
        second = client.post("/chat/completions", json=body(tag="2"))
    assert first.status_code == 200 and second.status_code == 429
    for r in (first, second):
        assert not any(h.startswith("x-ratelimit") for h in r.headers)
    assert int(second.headers["retry-after"]) >= 1
    assert second.json()["error"]["type"] == "requests"


def test_no_retry_after_switch() -> None:
    with (
        running_server(config(rpm=6, burst_s=10, retry_after=False)) as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        client.post("/chat/completions", json=body())
        second = client.post("/chat/completions", json=body(tag="2"))
    assert second.status_code == 429
    assert "retry-after" not in second.headers
    assert "x-ratelimit-reset-requests" in second.headers


def test_server_errors_at_their_rate_after_the_charge() -> None:
    with running_server(config(tpm=10**6, burst_s=60, error_rate=0.2, seed=3)) as base:
        replies = asyncio.run(burst(base, 200))
        got = stats(base)["limits"]
    errors = [r for r in replies if r.status_code >= 500]
    assert 20 <= len(errors) <= 60
    assert {r.status_code for r in errors} == {500, 502, 503}
    assert all("retry-after" not in r.headers for r in errors)
    assert all(r.json()["error"]["type"] == "server_error" for r in errors)
    assert got["server_errors"] == len(errors)
    assert got["completed"] == 200 - len(errors)
    charged = sum(math.ceil(len(f"{TEXT} #{i}") / 4) + 50 for i in range(200))
    assert got["tokens_charged"] == charged  # the failed ones were charged too


def test_lognormal_latency_median_and_p99() -> None:
    rng = random.Random(0)
    draws = sorted(lognormal_latency(0.5, 2.0, rng) for _ in range(20_000))
    assert statistics.median(draws) == pytest.approx(0.5, rel=0.05)
    assert draws[int(0.99 * len(draws))] == pytest.approx(2.0, rel=0.12)
    assert lognormal_latency(0.0, 2.0, rng) == 0.0
    assert lognormal_latency(0.3, None, rng) == pytest.approx(0.3)
    with pytest.raises(ValueError):
        ProviderLimits(latency_median_s=1.0, latency_p99_s=0.5)


def test_bucket_refill_and_wait_on_a_fake_clock() -> None:
    now = [0.0]
    b = Bucket(120, 1.0, lambda: now[0])  # 2 per second, holds 2
    assert b.wait_for(1) == 0.0
    b.level -= 2
    assert b.wait_for(1) == pytest.approx(0.5)
    now[0] = 0.25
    b.refill()
    assert b.level == pytest.approx(0.5) and b.wait_for(1) == pytest.approx(0.25)
    now[0] = 10.0
    b.refill()
    assert b.level == 2.0  # never above its capacity
    assert b.wait_for(5) == 0.0  # a charge larger than the bucket fits once it is full


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.12, "120ms"), (0.0, "0ms"), (1.0, "1s"), (2.4, "2.4s"), (360.0, "6m0s"), (90.5, "1m30.5s")],
)
def test_reset_format(seconds: float, text: str) -> None:
    assert format_reset(seconds) == text


def test_existing_mode_untouched_without_limits() -> None:
    with running_server(FakeServerConfig(port=0)) as base:
        r = httpx.post(base + "/chat/completions", json=body(image=True), timeout=30)
        got = stats(base)
    assert r.status_code == 200
    assert not any(h.startswith("x-ratelimit") for h in r.headers)
    assert r.json()["usage"]["prompt_tokens"] == len(TEXT) // 4 + 85
    assert "limits" not in got


def test_cli_options_build_the_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    from mmevol import cli
    from mmevol.testing import server as fakeserver

    seen: list[FakeServerConfig] = []
    monkeypatch.setattr(fakeserver, "run_server", seen.append)
    args = ["fake-server", "--provider-rpm", "500", "--provider-tpm", "30000", "--image-tokens",
            "85", "--latency-median", "0.5", "--latency-p99", "2", "--error-rate", "0.01",
            "--no-ratelimit-headers"]  # fmt: skip
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    limits = seen[0].limits
    assert limits is not None
    assert (limits.rpm, limits.tpm, limits.image_tokens, limits.headers) == (500, 30000, 85, False)
    assert (limits.latency_median_s, limits.latency_p99_s, limits.error_rate) == (0.5, 2.0, 0.01)
    result = CliRunner().invoke(cli.app, ["fake-server"])
    assert result.exit_code == 0 and seen[1].limits is None
