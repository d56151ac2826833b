"""The admission controller: concurrency, buckets, limits learned from the server, the pause for
a long Retry-After, retries (429s never use up attempts), rpm pacing."""

from __future__ import annotations

import asyncio
import random
import time

import httpx
import pytest

from mmevol.backends.admission import (
    TOKEN_PACE,
    AdmissionController,
    Limits,
    TokenBucket,
    controller_for,
)
from mmevol.backends.openai_compat import OpenAIBackend
from mmevol.backends.ratelimits import Signals
from mmevol.calls import CallTimeout, ClientError, Message, ModelCall, Reply, ServerError, Usage
from mmevol.calls import RateLimited as RL
from mmevol.prompts import embed_context
from mmevol.testing.server import FakeServerConfig, running_server
from virtual_clock import VirtualClockLoop, run_virtual

FAST = {"backoff_base_s": 0.01, "backoff_cap_s": 0.05}


def make_call(tag: str) -> ModelCall:
    ctx = {
        "task": "evolve",
        "direction": "perception",
        "round": 1,
        "image": {"width": 64, "height": 48},
        "captions": [f"a dog {tag}"],
        "objects": [{"category": "dog", "bbox": [0.1, 0.2, 0.3, 0.5]}],
        "items": [{"index": 0, "question": "What is it?", "answer": "A dog."}],
    }
    msgs = [Message(role="user", content=embed_context(ctx))]
    return ModelCall(
        task="evolve", template="t", template_version="t@1", messages=msgs, context=ctx
    )


async def test_concurrency_cap_is_never_exceeded() -> None:
    ctl = AdmissionController(Limits(max_concurrency=3))
    live = peak = 0

    async def work() -> int:
        nonlocal live, peak
        live += 1
        peak = max(peak, live)
        await asyncio.sleep(0.01)
        live -= 1
        return 7

    results = await asyncio.gather(*(ctl.run(work) for _ in range(20)))
    assert peak == 3
    assert results == [(7, 1)] * 20
    assert ctl.counters.sent == ctl.counters.ok == 20 and ctl.counters.in_flight == 0


async def test_a_429_without_a_stated_limit_learns_one_and_creeps_back_up() -> None:
    ctl = AdmissionController(Limits(max_concurrency=8, **FAST))
    now = time.monotonic()
    for k in range(60):  # the server accepted 60 requests over the last 10 s: 6/s
        ctl.accepted.add(100, now - 10 + k / 6)
    ctl._on_rate_limited(RL("slow down"), now)
    assert ctl.rate_source("requests") == "learned"
    learned = ctl.rate("requests")
    assert learned is not None and 0.9 * 360 <= learned <= 360  # just under 6/s
    assert ctl.concurrency == 8  # a rate limit is answered with a rate, not with concurrency
    ctl._last_429 = ctl._last_probe = time.monotonic() - 10  # quiet for a while
    ctl._on_success(100)
    assert ctl.rate("requests") == pytest.approx(learned * 1.01)


async def test_a_stated_limit_replaces_a_higher_configured_one() -> None:
    from mmevol.backends.ratelimits import Signals

    ctl = AdmissionController(Limits(rpm=600, tpm=100_000, **FAST))
    ctl.observe(Signals(limit_requests=300, limit_tokens=200_000))
    assert (ctl.rate("requests"), ctl.rate_source("requests")) == (300, "server")
    assert (ctl.rate("tokens"), ctl.rate_source("tokens")) == (100_000, "config")  # ours is lower
    ctl._on_rate_limited(RL("TPM", kind="tokens", limit=50_000), time.monotonic())
    assert (ctl.rate("tokens"), ctl.rate_source("tokens")) == (50_000, "server")


# Tests of timing run on a virtual clock (virtual_clock.py): "at 0.05 s" is the limiter's own
# time, exact on any machine, so they assert when calls went out rather than how long they took.
def test_429s_never_use_up_attempts_and_a_short_retry_after_holds_only_its_call() -> None:
    async def main(loop: VirtualClockLoop) -> tuple[float, int, float, int]:
        ctl = AdmissionController(Limits(max_concurrency=4, max_attempts=2, **FAST))
        limited = 0

        async def limited_five_times() -> float:
            nonlocal limited
            limited += 1
            if limited <= 5:
                raise RL("wait", retry_after=0.2)
            return loop.time()

        async def plain() -> float:
            return loop.time()

        task = asyncio.ensure_future(ctl.run(limited_five_times))
        await asyncio.sleep(0.05)
        other, attempts = await ctl.run(plain)  # not held by the other call's short Retry-After
        done, tries = await task
        assert ctl.counters.rate_limited == 5
        return other, attempts, done, tries

    other, attempts, done, tries = run_virtual(main)
    assert attempts == 1 and tries == 6
    assert other == pytest.approx(0.05)  # went at once
    assert done >= 5 * 0.2  # while the limited call waited out each of its five Retry-Afters


def test_a_long_retry_after_pauses_all_callers() -> None:
    async def main(loop: VirtualClockLoop) -> tuple[float, int, float, int]:
        ctl = AdmissionController(Limits(max_concurrency=4, pause_all_after_s=0.1, **FAST))
        first = True

        async def once_limited() -> float:
            nonlocal first
            if first:
                first = False
                raise RL("quota window", retry_after=0.5)
            return loop.time()

        async def plain() -> float:
            return loop.time()

        task = asyncio.ensure_future(ctl.run(once_limited))
        await asyncio.sleep(0.05)
        other, attempts = await ctl.run(plain)  # did not fail, but must wait out the pause
        done, tries = await task
        return other, attempts, done, tries

    other, attempts, done, tries = run_virtual(main)
    assert attempts == 1 and tries == 2
    # the 429 came at 0: both go at the end of its 0.5 s (+ up to 10 % jitter), not before
    assert 0.5 <= other <= 0.56 and 0.5 <= done <= 0.56


def test_only_429s_for_longer_than_the_patience_fail_the_call() -> None:
    async def main(loop: VirtualClockLoop) -> tuple[int, float]:
        ctl = AdmissionController(Limits(rate_limit_patience_s=0.2, **FAST))

        async def always_limited() -> str:
            raise RL("no", retry_after=0.05)

        with pytest.raises(RL) as info:
            await ctl.run(always_limited)
        return info.value.attempts, loop.time()

    attempts, gave_up_at = run_virtual(main)
    # 429s every 0.05 s (+ jitter) for the 0.2 s of patience, then it gives up
    assert 4 <= attempts <= 6 and 0.2 < gave_up_at < 0.3


async def test_by_default_no_number_of_429s_fails_a_call() -> None:
    ctl = AdmissionController(Limits(max_attempts=2, **FAST))
    assert ctl.limits.rate_limit_patience_s is None
    calls = 0

    async def limited_fifty_times() -> str:
        nonlocal calls
        calls += 1
        if calls <= 50:
            raise RL("slow down", retry_after=0.001)
        return "answer"

    result, attempts = await ctl.run(limited_fifty_times)
    assert result == "answer" and attempts == 51


async def test_gives_up_after_max_attempts_with_attempts_set() -> None:
    ctl = AdmissionController(Limits(max_attempts=3, **FAST))

    async def broken() -> None:
        raise ServerError("boom", status=502)

    with pytest.raises(ServerError) as info:
        await ctl.run(broken)
    assert info.value.attempts == 3 and ctl.counters.sent == 3 and ctl.counters.retries == 2


async def test_non_retryable_error_is_raised_at_once() -> None:
    ctl = AdmissionController(Limits(max_attempts=5, **FAST))

    async def refused() -> None:
        raise ClientError("HTTP 401")

    with pytest.raises(ClientError) as info:
        await ctl.run(refused)
    assert info.value.attempts == 1 and ctl.counters.sent == 1


async def test_timeout_becomes_call_timeout() -> None:
    ctl = AdmissionController(Limits(timeout_s=0.05, max_attempts=2, **FAST))

    async def hangs() -> None:
        await asyncio.sleep(5)

    with pytest.raises(CallTimeout) as info:
        await ctl.run(hangs)
    assert info.value.attempts == 2


def test_token_bucket_reserves_estimate_and_reconciles() -> None:
    async def main(loop: VirtualClockLoop) -> list[float]:
        ctl = AdmissionController(Limits(tpm=6000, token_burst_s=1.0))  # 100 tokens/s, burst 100

        async def small() -> Reply:
            return Reply(text="x", model="m", usage=Usage(input_tokens=5, output_tokens=5))

        sent = []
        for _ in range(5):  # estimated 100 each, but really 10: the refunds keep it flowing
            await ctl.run(small, est_tokens=100)
            sent.append(loop.time())
        assert ctl.counters.tokens == 50
        return sent

    sent = run_virtual(main)
    # each call gets 90 of its 100 back: the next waits only for the 10 it used (0.1 s at
    # 100/s, paced at TOKEN_PACE of it), where without the refunds each would wait 1 s for 100
    assert sent == pytest.approx([k * 0.1 / TOKEN_PACE for k in range(5)], abs=0.001)

    bucket = TokenBucket(per_minute=600, burst_s=1.0)  # 10/s, capacity 10
    assert bucket.reserve(10) == 0.0
    assert bucket.reserve(5) == pytest.approx(0.5, abs=0.05)


def test_request_bucket_paces_requests() -> None:
    async def main(loop: VirtualClockLoop) -> list[float]:
        ctl = AdmissionController(Limits(rpm=1200, request_burst_s=0.25))  # 20/s, burst 5
        sent: list[float] = []

        async def fine() -> None:
            sent.append(loop.time())

        await asyncio.gather(*(ctl.run(fine) for _ in range(15)))
        return sent

    sent = run_virtual(main)
    # the burst of 5 at once, then the other 10 one every 1/20 s: never faster, never slower
    assert sent == pytest.approx([0.0] * 5 + [k / 20 for k in range(1, 11)], abs=0.001)


def test_controller_for_is_shared_per_endpoint() -> None:
    a = controller_for("http://127.0.0.1:1/v1", Limits(max_concurrency=4))
    assert controller_for("http://127.0.0.1:1/v1/") is a
    assert controller_for("http://127.0.0.1:2/v1") is not a
    controller_for("http://127.0.0.1:1/v1", Limits(max_concurrency=2))
    assert a.limits.max_concurrency == 2 and a.concurrency == 2


async def test_keeps_an_rpm_limited_endpoint_busy_without_hammering_it() -> None:
    """Steady state against a server that 429s above its rpm: sent/needed <= 1.02."""
    rpm, needed = 2400, 200  # 40 requests/s
    cfg = FakeServerConfig(rpm=rpm, latency="0.02,0.08", broken_json_rate=0.0)
    with running_server(cfg) as url:
        b = OpenAIBackend("fake-mllm", base_url=url, rpm=rpm, concurrency=32, timeout_s=5)
        replies = await asyncio.gather(*(b.complete(make_call(tag=str(i))) for i in range(needed)))
        ctl = b.admission
        await b.aclose()
        st = httpx.get(url.replace("/v1", "/_fake/stats"), timeout=5).json()
    sent = st["received"]
    ratio = sent / needed
    print(f"sent/needed = {sent}/{needed} = {ratio:.3f}; 429s: {ctl.counters.rate_limited}")
    assert len(replies) == needed and st["completed"] == needed
    assert ratio <= 1.02 and ctl.counters.sent == sent
    # and it stays at the limit: the pace it keeps is still the endpoint's rpm, never cut
    # below it by a 429 (how fast that pace is met is test_request_bucket_paces_requests')
    assert ctl.rate("requests") == rpm and ctl.counters.rate_limited <= sent - needed


def test_told_no_rate_one_call_goes_first_then_the_rest_ramp_up() -> None:
    """A limit not known (here: both): one call, then 2, 4, ... in flight as calls succeed,
    instead of a burst of ``max_concurrency`` into a limit nobody knows."""

    async def main(loop: VirtualClockLoop) -> tuple[list[float], list[float]]:
        ctl = AdmissionController(Limits(max_concurrency=8, **FAST))
        starts: list[float] = []

        async def work() -> None:
            starts.append(loop.time())
            await asyncio.sleep(0.2)

        await asyncio.gather(*(ctl.run(work) for _ in range(7)))
        told = AdmissionController(Limits(max_concurrency=8, rpm=6000, tpm=10**9, **FAST))
        unknown, starts = starts, []
        await asyncio.gather(*(told.run(work) for _ in range(5)))
        return unknown, starts

    unknown, told = run_virtual(main)
    waves = [round((t - min(unknown)) / 0.2, 6) for t in sorted(unknown)]
    assert waves == [0, 1, 1, 2, 2, 2, 2]
    assert max(told) == min(told)  # both rates were given: no probing, all at once


def test_limits_stated_by_the_first_answer_open_every_slot() -> None:
    """The first answer's headers state both limits: no ramp after the first call."""

    async def main(loop: VirtualClockLoop) -> list[float]:
        ctl = AdmissionController(Limits(max_concurrency=8, **FAST))
        starts: list[float] = []

        async def work() -> None:
            starts.append(loop.time())
            ctl.observe(Signals(limit_requests=60000, limit_tokens=10**9))
            await asyncio.sleep(0.2)

        await asyncio.gather(*(ctl.run(work) for _ in range(6)))
        return sorted(starts)

    starts = run_virtual(main)
    assert starts[0] == 0.0 and starts[1:] == pytest.approx([0.2] * 5)  # one, then the rest


async def test_a_429_during_the_ramp_hands_pacing_to_the_learned_limit() -> None:
    ctl = AdmissionController(Limits(max_concurrency=8, **FAST))
    ctl.observe(Signals(limit_requests=60000))  # tokens/min stays unknown
    first = await ctl.admit(0)
    await ctl.settle(first, 0)
    assert ctl._cap() == 2
    second = await ctl.admit(0)
    await ctl.settle(second, 0, failure=RL("tokens", kind="tokens", limit=90000, retry_after=0))
    assert ctl._cap() == 8 and ctl.rate("tokens") == 90000


async def test_a_429_does_not_hand_its_slot_to_the_next_caller() -> None:
    """A 429'd call's reservation is not given back: the next caller keeps its own time
    instead of going out together with an already scheduled one."""
    ctl = AdmissionController(Limits(max_concurrency=8, tpm=6000, token_burst_s=1.0, **FAST))
    first = await ctl.admit(100)  # the bucket holds 100 tokens (1 s of 6000/min)
    before = ctl._tokens.level  # type: ignore[union-attr]
    await ctl.settle(first, 100, failure=RL("tokens", kind="tokens", retry_after=0.01))
    assert ctl._tokens.level <= before + 1  # type: ignore[union-attr]


async def test_the_ray_actor_adopts_what_workers_report() -> None:
    from dataclasses import asdict

    from mmevol.backends.ratelimits import Signals
    from mmevol.scale.admission_actor import AdmissionActor

    actor = AdmissionActor(Limits(rpm=600, **FAST).model_dump_json(), "t")
    actor.observe(asdict(Signals(limit_requests=300)))  # as RemoteAdmission sends them
    assert actor._ctl.rate("requests") == 300
    ticket = await actor.admit(50)
    rate = await actor.settle(ticket, 50, "rate_limited", 1.0, None, "tokens", 40_000)
    assert rate == 300 and actor._ctl.rate("tokens") == 40_000
    assert actor._ctl.rate_source("tokens") == "server"


async def test_a_5xx_is_not_a_rate_signal() -> None:
    ctl = AdmissionController(Limits(max_concurrency=4, rpm=600, tpm=10**6, **FAST))
    failed = 0

    async def flaky() -> int:
        nonlocal failed
        failed += 1
        if failed <= 3:
            raise ServerError("overloaded", status=503)
        return 1

    assert (await ctl.run(flaky))[1] == 4
    assert (ctl.rate("requests"), ctl.rate_source("requests")) == (600, "config")
    assert ctl.counters.rate_limited == 0


def test_costs_are_learned_from_usage_for_long_and_short_prompts() -> None:
    """A provider that charges 255 per image where 85 was guessed, and counts text as 1.3x
    our characters/4: after a few calls of two lengths, both are estimated within 2 %."""
    from mmevol.backends.ratelimits import CostLearner

    costs = CostLearner()
    assert costs.estimate("m|low", 1000, 85) == 1085  # nothing learned yet: the guess
    for text in (1000, 200, 1000, 200, 900, 250):
        costs.observe("m|low", text, round(1.3 * text) + 255)
    for text in (1500, 100):
        truth = 1.3 * text + 255
        assert abs(costs.estimate("m|low", text, 85) - truth) <= 0.02 * truth
    assert costs.estimate("m|text", 100, 0) == 100  # another kind of call learns apart


def test_a_call_larger_than_the_bucket_goes_when_full_and_leaves_debt() -> None:
    """As a provider counts: the next call waits for the debt as well as its own tokens."""
    bucket = TokenBucket(per_minute=60_000, burst_s=1.0)  # 1000/s, holds 1000
    assert bucket.reserve(1500) == 0.0  # full: it goes now, the bucket owes 500
    assert bucket.reserve(800) == pytest.approx(1.3, abs=0.01)  # 500 + 800 at 1000/s


def test_a_header_never_raises_a_limit_a_429_named() -> None:
    """``x-ratelimit-limit-requests`` may count another window (a day): after a 429 named 60
    per minute, a 200 saying 10000 does not send the client back into the wall."""
    ctl = AdmissionController(Limits(max_concurrency=4, **FAST))
    ctl.observe(Signals(limit_requests=10000))
    assert ctl.rate("requests") == 10000
    ctl._on_rate_limited(RL("rpm", kind="requests", limit=60, retry_after=1), time.monotonic())
    ctl.observe(Signals(limit_requests=10000))
    assert ctl.rate("requests") == 60
    ctl.observe(Signals(limit_requests=30))  # a lower stated limit is still taken
    assert ctl.rate("requests") == 30


def test_a_limit_learned_during_a_long_refusal_does_not_collapse() -> None:
    """After a burst fills a sliding minute the server refuses for the rest of it: what it
    accepted over that minute, not over the last seconds, is the limit."""
    from mmevol.backends.ratelimits import AcceptedWindow

    window = AcceptedWindow()
    for i in range(90):  # 90 accepted in the first 9 s, then only 429s
        window.add(100.0, now=i * 0.1)
    for t in (20.0, 40.0, 59.0):
        rates = window.rates(now=t)
        assert rates is not None and rates[0] * 60 >= 90 * 60 / t * 0.99 >= 89


def test_429s_that_say_no_wait_hold_every_caller_and_probe_slowly() -> None:
    """No Retry-After: the endpoint pauses (1 s, then 2 s ...) instead of every caller
    retrying every half second into a server that refuses everything."""

    async def main(loop: VirtualClockLoop) -> tuple[list[str], int, float]:
        ctl = AdmissionController(Limits(max_concurrency=8, rpm=6000, tpm=10**9, **FAST))
        attempts = 0

        async def refused_for_2s() -> str:
            nonlocal attempts
            attempts += 1
            await asyncio.sleep(0.01)
            if loop.time() < 2.0:
                raise RL("rate limited")  # no Retry-After, no limit named
            return "ok"

        results = await asyncio.gather(*(ctl.run(refused_for_2s) for _ in range(8)))
        return [r for r, _ in results], attempts, loop.time()

    results, attempts, done = run_virtual(main)
    assert results == ["ok"] * 8
    assert attempts <= 8 + 8 + 3  # the first wave, a probe or so per pause, then the answers
    assert done < 6.0  # the pauses grew 1 s, 2 s ...: the refusals ended at 2 s, so did they


def test_random_429s_do_not_teach_a_rate() -> None:
    """A server that sheds half its calls at random (429 + a short Retry-After) has no rate to
    learn: the cut made on its first 429s is undone once refusals go on as before, so the run
    keeps its pace instead of sliding toward one call a minute."""

    async def main(loop: VirtualClockLoop) -> None:
        ctl = AdmissionController(Limits(max_concurrency=4, **FAST))
        rng = random.Random(5)

        async def flaky() -> str:
            await asyncio.sleep(0.002)
            if rng.random() < 0.5:
                raise RL("busy, try again", retry_after=0.01)
            return "ok"

        results = await asyncio.gather(*(ctl.run(flaky) for _ in range(150)))
        assert all(r == "ok" for r, _ in results)
        assert ctl.counters.rate_limited > 20
        assert ctl.trials.quiet_until > 0  # a cut was tried and undone
        assert ctl.rate("requests") is None  # back to no rate: none was ever stated or shown

    run_virtual(main)


def test_a_cut_is_kept_when_refusals_stop_or_fill_a_window() -> None:
    from mmevol.backends.ratelimits import TRIAL_SENDS, CutTrials, Trial

    def judged(after_refused: float) -> list[str]:
        trials = CutTrials()
        for i in range(40):  # before the cut: half refused
            trials.add(i * 0.25, refused=i % 2 == 0)
        trials.start("requests", Trial(10.0, None, None))
        for i in range(TRIAL_SENDS):
            trials.add(10.0 + i * 0.1, refused=i < after_refused * TRIAL_SENDS)
        return [kind for kind, _ in trials.judge(12.0)]

    assert judged(0.0) == []  # a real limit: under it, the refusals stop
    assert judged(1.0) == []  # a window refusing everything until it rolls over
    assert judged(0.5) == ["requests"]  # refusing as before: noise, the cut is undone
