"""``mmevol evolve``: the run settings from flags into ``EvolveConfig``, then ``run_evolve`` (or
``--estimate``), and the run's summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.markup import escape

from mmevol.cli.app import CONFIG_FLAGS, app, err, friendly, out
from mmevol.errors import MmevolError


@app.command()
@friendly
def evolve(
    seeds: Annotated[Path, typer.Argument(help="Seeds JSONL (from `mmevol seeds build`).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Run directory (created or resumed).")],
    rounds: Annotated[int, typer.Option(min=1, max=20)] = 3,
    backend: Annotated[
        str,
        typer.Option(
            help="grounded = offline programmatic generator (not an LLM); openai = any "
            "OpenAI-compatible endpoint; hf / vllm = a local model folder run in-process "
            "(transformers / vLLM); fake = test model."
        ),
    ] = "grounded",
    model: Annotated[
        str | None, typer.Option(help="Model name at the endpoint (hf/vllm: a local folder).")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help="Endpoint base URL (usually ends in /v1).")
    ] = None,
    api_key_env: Annotated[
        str, typer.Option(help="Env var holding the API key.")
    ] = "OPENAI_API_KEY",
    text_only: Annotated[
        bool, typer.Option(help="Send no images (models without vision).")
    ] = False,
    detail: Annotated[str, typer.Option(help="Image detail: low|high|auto.")] = "low",
    image_long_side: Annotated[int, typer.Option(min=64)] = 512,
    json_mode: Annotated[
        str,
        typer.Option(
            help="Structured output: auto (by server family) or one of "
            "schema|object_schema|guided|format|object|none."
        ),
    ] = "auto",
    concurrency: Annotated[int, typer.Option(min=1)] = 16,
    rpm: Annotated[int | None, typer.Option(help="Requests/min limit.")] = None,
    tpm: Annotated[int | None, typer.Option(help="Tokens/min limit.")] = None,
    timeout: Annotated[float, typer.Option(help="Per-request timeout (s).")] = 120.0,
    max_cost: Annotated[float | None, typer.Option(help="Stop (resumably) past this USD.")] = None,
    max_error_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.2,
    prices: Annotated[Path | None, typer.Option(help="JSON price table to add.")] = None,
    weights: Annotated[
        str,
        typer.Option(
            metavar="WEIGHTS",
            help="Direction weights: three numbers perception,reasoning,interactive, or NAME=W"
            " pairs that may name custom directions (`mmevol prompts new-direction`).",
        ),
    ] = "0.5,0.25,0.25",
    temperature: Annotated[float, typer.Option(min=0.0, max=2.0)] = 1.0,
    max_tokens: Annotated[int, typer.Option(min=16, help="Reply length limit per call.")] = 2048,
    seed: Annotated[int, typer.Option(help="Seed of every random choice.")] = 0,
    estimate: Annotated[bool, typer.Option(help="Print expected calls/tokens/cost only.")] = False,
    preflight: Annotated[
        bool,
        typer.Option(
            help="Check the endpoint first: URL form, key, one cheap request (GET /models, else"
            " a 1-token completion); a failure stops before anything is written."
        ),
    ] = True,
    backend_option: Annotated[
        list[str] | None, typer.Option(help="Extra backend setting KEY=JSON (repeatable).")
    ] = None,
    engine: Annotated[
        str, typer.Option(help="local = this process (asyncio); ray = a Ray cluster.")
    ] = "local",
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster to join (default: start a local one).")
    ] = None,
    ray_workers: Annotated[
        int | None, typer.Option(min=1, help="Ray workers (default: the cluster's CPUs).")
    ] = None,
    mode: Annotated[
        str,
        typer.Option(
            help="online = one request per call; batch = the provider's Batch API (typically"
            " half price, hours); hybrid = batch, stragglers and failures finished online."
        ),
    ] = "online",
    batch_poll: Annotated[
        float, typer.Option(min=0.01, help="Seconds between batch status polls (grows 1.5x).")
    ] = 10.0,
    batch_deadline: Annotated[
        float, typer.Option(min=0.01, help="hybrid: seconds before a batch is cut short.")
    ] = 3600.0,
    focus: Annotated[
        Path | None,
        typer.Option(
            help="Aim at a question type: a `mmevol weights` plan (with --focus-type) or a JSON"
            " {question_type, bad_cases}; its bad cases go to the model as examples."
        ),
    ] = None,
    focus_type: Annotated[
        str | None, typer.Option(help="With --focus PLAN: the type whose bad cases to use.")
    ] = None,
    fact_check: Annotated[
        bool,
        typer.Option(
            help="Check each evolved item's claims (counts, classes at boxes, relations, "
            "presence, steps, options) against the annotations before the judge."
        ),
    ] = True,
) -> None:
    """Evolve seeds for N rounds (evolve -> eliminate -> dedup); re-running resumes."""
    from mmevol.evolve.config import RUN_WIDE, EngineName, EvolveConfig, ModeName, load_focus
    from mmevol.evolve.estimate import estimate_run, render_estimate

    if focus_type and not focus:
        raise MmevolError("--focus-type: needs --focus PLAN.json (a `mmevol weights` plan)")
    options: dict[str, Any] = {}
    for kv in backend_option or []:
        key, eq, raw = kv.partition("=")
        if not eq or not key.strip():
            raise MmevolError(f"--backend-option: expected KEY=VALUE (VALUE read as JSON when it "
                              f"parses), got {kv[:60]!r}")  # fmt: skip
        if key in RUN_WIDE:  # one setting, one place: the flag is what config.json records
            flag = CONFIG_FLAGS.get(RUN_WIDE[key], RUN_WIDE[key].replace("_", "-"))
            raise MmevolError(f"--backend-option {key}: set it with --{flag}")
        try:
            options[key] = json.loads(raw)
        except json.JSONDecodeError:
            options[key] = raw
    config = EvolveConfig(
        seeds=str(seeds),
        out=str(out_dir),
        rounds=rounds,
        seed=seed,
        backend=backend,
        model=model,
        base_url=base_url,
        api_key_env=api_key_env,
        vision=not text_only,
        detail=detail,
        image_long_side=image_long_side,
        json_mode=json_mode,
        concurrency=concurrency,
        rpm=rpm,
        tpm=tpm,
        timeout_s=timeout,
        temperature=temperature,
        max_tokens=max_tokens,
        direction_weights=parse_weights(weights),
        max_cost=max_cost,
        max_error_rate=max_error_rate,
        prices_file=str(prices) if prices else None,
        backend_options=options,
        engine=cast(EngineName, engine),  # checked by the model
        ray_address=ray_address,
        ray_workers=ray_workers,
        mode=cast(ModeName, mode),  # checked by the model
        batch_poll_s=batch_poll,
        batch_deadline_s=batch_deadline,
        focus=load_focus(focus, focus_type) if focus else None,
        fact_check=fact_check,
        preflight=preflight,
    )
    if estimate:
        out.print(render_estimate(estimate_run(config)))
        return
    from mmevol.api import run_config
    from mmevol.evolve.diagnose import printable

    result = run_config(config)
    calls = cast(dict[str, Any], result.stats.get("calls") or {})
    if calls.get("total") or result.complete:  # a run whose every call failed: no empty tables
        print_summary(result.stats)
    if result.stop_reason:
        err.print(
            f"[yellow]stopped:[/yellow] {result.stop_reason}", highlight=False, soft_wrap=True
        )
        _print_causes(result.stats)
        raise typer.Exit(3)
    if not result.complete:
        causes = cast(dict[str, Any], result.stats.get("failure_causes") or {})
        by_class = cast(dict[str, Any], result.stats.get("failures") or {}).get("by_class") or {}
        n = causes.get("units", 0)
        if len(by_class) == 1 and not calls.get("total"):  # one cause, nothing went through
            ((cls, _),) = by_class.items()
            first = cast(dict[str, str], causes.get("first_message") or {}).get(cls, "")
            err.print(f"[red]every unit ({n}) failed for the same reason[/red]: {cls}: "
                      f"{escape(printable(first))}", highlight=False, soft_wrap=True)  # fmt: skip
            err.print(f"fix that and re-run the same command (see {out_dir}/failures.jsonl)",
                      highlight=False, soft_wrap=True)  # fmt: skip
            raise typer.Exit(1)
        err.print(
            f"[yellow]{n} unit(s) failed[/yellow] (see "
            f"{out_dir}/failures.jsonl); re-run the same command to retry them.",
            highlight=False,
            soft_wrap=True,
        )
        _print_causes(result.stats)
        raise typer.Exit(1)
    dataset = cast(dict[str, Any], result.stats.get("dataset") or {})
    if not dataset.get("evolved"):
        err.print("[yellow]nothing evolved was kept[/yellow]: see the warnings above and the "
                  f"drop reasons in `mmevol stats {out_dir}`", highlight=False, soft_wrap=True)  # fmt: skip
    out.print(f"dataset: {out_dir / 'dataset.jsonl'}")


def parse_weights(text: str) -> dict[str, float]:
    """``0.5,0.25,0.25`` (the built-in directions in order) or ``perception=1,counting=2``."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        if parts and all("=" not in p for p in parts):
            if len(parts) != 3:
                raise ValueError
            return dict(
                zip(("perception", "reasoning", "interactive"), map(float, parts), strict=True)
            )
        pairs = [p.partition("=") for p in parts]
        if not pairs or any(not eq or not k.strip() for k, eq, _ in pairs):
            raise ValueError
        return {k.strip(): float(v) for k, _, v in pairs}
    except ValueError:
        raise MmevolError(f"--weights: expected three numbers perception,reasoning,interactive "
                          f"or NAME=WEIGHT pairs, got {text[:60]!r}") from None  # fmt: skip


def _print_causes(stats: dict[str, Any]) -> None:
    from mmevol.evolve.diagnose import failure_lines

    for line in failure_lines(stats):
        err.print(line, highlight=False, soft_wrap=True, markup=False)


def print_summary(stats: dict[str, Any]) -> None:
    from mmevol.evolve.stats_view import stats_tables

    for table in stats_tables(stats):
        out.print(table)
