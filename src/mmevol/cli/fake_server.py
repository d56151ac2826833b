"""``mmevol fake-server``: serve the test model (``mmevol.testing``) over OpenAI-compatible HTTP."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mmevol.cli.app import app, friendly
from mmevol.errors import MmevolError


@app.command("fake-server")
@friendly
def fake_server(
    port: Annotated[int, typer.Option()] = 8765,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    latency: Annotated[str, typer.Option(help="Seconds, or MIN,MAX for a uniform range.")] = "0",
    fault_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.0,
    rpm: Annotated[int | None, typer.Option()] = None,
    bad_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.2,
    broken_json_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.05,
    judge_error_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of judge verdicts flipped.")
    ] = 0.0,
    faults: Annotated[
        str | None,
        typer.Option(help="Comma list of fault kinds to inject (default: all kinds)."),
    ] = None,
    retry_after: Annotated[float, typer.Option(min=0.0, help="Retry-After of 429s (s).")] = 1.0,
    timeout_sleep: Annotated[
        float, typer.Option(min=0.0, help="How long a 'timeout' fault hangs (s).")
    ] = 30.0,
    seed: Annotated[int, typer.Option()] = 0,
    adversary: Annotated[
        str | None,
        typer.Option(
            help="Serve the adversarial model instead, with this judge: lenient (approves "
            "everything) or noisy (rejects most false items and a few true ones)."
        ),
    ] = None,
    true_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="With --adversary: share of true items.")
    ] = 0.5,
    provider_rpm: Annotated[
        int | None,
        typer.Option(min=1, help="Provider mode: requests per minute, refilled continuously."),
    ] = None,
    provider_tpm: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Provider mode: tokens per minute; each request is charged text/4 + image "
            "tokens + its max_tokens at arrival, never refunded.",
        ),
    ] = None,
    provider_burst: Annotated[
        float | None,
        typer.Option(min=0.001, help="Provider mode: bucket size in seconds of rpm/tpm [1]."),
    ] = None,
    image_tokens: Annotated[
        int | None, typer.Option(min=0, help="Provider mode: tokens charged per image [255].")
    ] = None,
    default_max_tokens: Annotated[
        int | None,
        typer.Option(
            min=0, help="Provider mode: tokens charged when a request names no max_tokens [1024]."
        ),
    ] = None,
    latency_median: Annotated[
        float | None,
        typer.Option(min=0.0, help="Provider mode: median of the lognormal latency (s)."),
    ] = None,
    latency_p99: Annotated[
        float | None,
        typer.Option(min=0.0, help="Provider mode: 99th percentile of the latency (s)."),
    ] = None,
    error_rate: Annotated[
        float | None,
        typer.Option(
            min=0.0, max=1.0, help="Provider mode: share of charged requests answered 5xx."
        ),
    ] = None,
    no_ratelimit_headers: Annotated[
        bool,
        typer.Option(
            "--no-ratelimit-headers", help="Provider mode: send no x-ratelimit-* headers."
        ),
    ] = False,
    no_retry_after: Annotated[
        bool,
        typer.Option("--no-retry-after", help="Provider mode: send no Retry-After header on 429s."),
    ] = False,
    like: Annotated[
        str | None,
        typer.Option(
            help="Answer GET /models and structured-output modes as this server family does: "
            "openai, llama-cpp-python, vllm or ollama."
        ),
    ] = None,
) -> None:
    """A local OpenAI-compatible fake multimodal model with fault injection (for tests).

    Its evolutions come with a ledger of which ones were made bad on purpose (GET /_fake/stats).
    Any --provider-*/--image-tokens/--default-max-tokens/--latency-median/--latency-p99/
    --error-rate/--no-* option turns on the provider mode: a rate-limited hosted API with
    OpenAI's 429s and headers; its counters and timeline are under "limits" in the stats.
    """
    from mmevol.testing.server import FAULT_KINDS, SERVER_LIKE, serve

    more: dict[str, Any] = {"retry_after_s": retry_after, "timeout_sleep_s": timeout_sleep}
    provider = {
        "rpm": provider_rpm, "tpm": provider_tpm, "burst_s": provider_burst,
        "image_tokens": image_tokens, "default_max_tokens": default_max_tokens,
        "latency_median_s": latency_median, "latency_p99_s": latency_p99,
        "error_rate": error_rate, "headers": False if no_ratelimit_headers else None,
        "retry_after": False if no_retry_after else None,
    }  # fmt: skip
    if any(v is not None for v in provider.values()):
        more["limits"] = {k: v for k, v in provider.items() if v is not None} | {"seed": seed}
    if like is not None:
        if like not in SERVER_LIKE:
            raise MmevolError(f"--like: use one of {', '.join(SERVER_LIKE)}, not {like!r}")
        more |= SERVER_LIKE[like]
    if adversary is not None:
        if adversary not in ("lenient", "noisy"):
            raise MmevolError(f"--adversary: use lenient or noisy, not {adversary!r}")
        more["adversary"] = {"judge": adversary, "true_rate": true_rate, "seed": seed}
    if faults is not None:
        kinds = [k.strip() for k in faults.split(",") if k.strip()]
        unknown = sorted(set(kinds) - set(FAULT_KINDS))
        if unknown:
            raise MmevolError(
                f"--faults: unknown kind(s) {', '.join(unknown)}; known: {', '.join(FAULT_KINDS)}"
            )
        more["faults"] = kinds
    serve(
        port=port,
        host=host,
        latency=latency,
        fault_rate=fault_rate,
        rpm=rpm,
        bad_rate=bad_rate,
        broken_json_rate=broken_json_rate,
        judge_error_rate=judge_error_rate,
        seed=seed,
        **more,
    )
