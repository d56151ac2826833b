"""The ``mmevol`` command: seeds build, evolve, export, stats, demo, fake-server.

Each command is a thin layer over a library function; user errors (``MmevolError``) are printed
as one line on stderr with a non-zero exit code, never as a traceback.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from mmevol.errors import MmevolError, sqlite_error
from mmevol.loop.ipo_cli import prompts_app
from mmevol.loop.weights_cli import weights_cmd
from mmevol.outputs import check_output_file

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Evolve image-instruction data (MMEvol) into a larger, harder, grounded set.",
)
seeds_app = typer.Typer(no_args_is_help=True, help="Build and curate seed sets.")
app.add_typer(seeds_app, name="seeds")
app.add_typer(prompts_app, name="prompts")
app.command("weights")(weights_cmd)
err = Console(stderr=True)
out = Console()
F = TypeVar("F", bound=Callable[..., Any])
# config fields whose CLI flag has another name
CONFIG_FLAGS = {
    "direction_weights": "weights",
    "timeout_s": "timeout",
    "prices_file": "prices",
    "batch_poll_s": "batch-poll",
    "batch_deadline_s": "batch-deadline",
}


def friendly(fn: F) -> F:
    """Turn MmevolError (and pydantic validation of options) into one line + exit code."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except KeyboardInterrupt:  # Ctrl-C: what was journalled stays; say how to go on
            err.print("[yellow]interrupted[/yellow]: completed calls are kept; re-run the same "
                      "command to resume", highlight=False, soft_wrap=True)  # fmt: skip
            raise typer.Exit(130) from None
        except (MmevolError, sqlite3.DatabaseError) as e:
            if isinstance(e, sqlite3.DatabaseError):  # a damaged run.sqlite / reviews.sqlite
                e = sqlite_error(e)
            err.print(f"[red]error:[/red] {escape(str(e))}", highlight=False, soft_wrap=True)
            raise typer.Exit(e.exit_code) from None
        except ValidationError as e:  # settings that fail the config model
            first = e.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else "settings"
            flag = CONFIG_FLAGS.get(field, field.replace("_", "-"))
            err.print(f"[red]error:[/red] --{flag}: {first['msg']}", highlight=False)
            raise typer.Exit(2) from None
        except (ValueError, OSError) as e:
            if isinstance(e, FileExistsError | NotADirectoryError) and e.filename:
                msg = f"{e.filename}: cannot create a folder there ({e.strerror}: a file is in the way)"
            elif isinstance(e, OSError) and e.filename:
                msg = f"{e.filename}: {e.strerror}"
            else:
                msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            err.print(f"[red]error:[/red] {escape(msg)}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


@seeds_app.command("build")
@friendly
def seeds_build(
    out_path: Annotated[Path, typer.Option("--out", help="Seeds JSONL to write.")],
    coco_captions: Annotated[list[Path] | None, typer.Option(help="COCO captions_*.json")] = None,
    coco_instances: Annotated[list[Path] | None, typer.Option(help="COCO instances_*.json")] = None,
    images: Annotated[
        list[Path] | None, typer.Option(help="Image folder(s) of the sources.")
    ] = None,
    llava: Annotated[list[Path] | None, typer.Option(help="LLaVA conversation JSON")] = None,
    sharegpt: Annotated[list[Path] | None, typer.Option(help="ShareGPT-style JSON/JSONL")] = None,
    mmevol_official: Annotated[
        Path | None, typer.Option(help="Folder of MMEvol authors' per-image files")
    ] = None,
    allow_missing_images: Annotated[
        bool, typer.Option(help="Accept records whose image file is absent (keyed by path).")
    ] = False,
    max_items_per_image: Annotated[int, typer.Option(min=1)] = 8,
    near_dup_threshold: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.9,
    caption_items: Annotated[
        bool,
        typer.Option(help="Give images with captions but no Q&A one caption-based item."),
    ] = True,
    skip_bad: Annotated[
        bool,
        typer.Option(
            help="Leave bad records out (listed in OUT.rejected.jsonl) instead of stopping."
        ),
    ] = False,
) -> None:
    """Read sources, merge by image content, split/dedup/cap Q&A items, write SEEDS.jsonl."""
    from mmevol.seeds import SourceSpec, build_from_specs

    sources = [*(coco_captions or []), *(coco_instances or []), *(llava or []), *(sharegpt or [])]
    if mmevol_official is not None:
        sources.append(mmevol_official)
    check_output_file(out_path, inputs=sources)
    check_output_file(out_path.with_name(out_path.stem + ".rejected.jsonl"), inputs=sources)

    specs = SourceSpec.from_cli(
        coco_captions=coco_captions or [],
        coco_instances=coco_instances or [],
        images=images or [],
        llava=llava or [],
        sharegpt=sharegpt or [],
        mmevol_official=mmevol_official,
        allow_missing_images=allow_missing_images,
    )
    stats = build_from_specs(
        specs,
        out_path,
        max_items_per_image=max_items_per_image,
        near_dup_threshold=near_dup_threshold,
        caption_items=caption_items,
        skip_bad=skip_bad,
    )
    out.print(stats.model_dump_json(indent=2))
    out.print(f"wrote {out_path}")
    if stats.rejected_records:
        from mmevol.seeds import rejected_path

        err.print(
            f"[yellow]skipped {stats.rejected_records} bad record(s)[/yellow]: "
            f"see {rejected_path(out_path)}",
            highlight=False,
            soft_wrap=True,
        )


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
    base_url: Annotated[str | None, typer.Option(help="Endpoint base URL (…/v1).")] = None,
    api_key_env: Annotated[
        str, typer.Option(help="Env var holding the API key.")
    ] = "OPENAI_API_KEY",
    text_only: Annotated[
        bool, typer.Option(help="Send no images (models without vision).")
    ] = False,
    detail: Annotated[str, typer.Option(help="Image detail: low|high|auto.")] = "low",
    image_long_side: Annotated[int, typer.Option(min=64)] = 512,
    json_mode: Annotated[str, typer.Option(help="auto|schema|object|none")] = "auto",
    concurrency: Annotated[int, typer.Option(min=1)] = 16,
    rpm: Annotated[int | None, typer.Option(help="Requests/min limit.")] = None,
    tpm: Annotated[int | None, typer.Option(help="Tokens/min limit.")] = None,
    timeout: Annotated[float, typer.Option(help="Per-request timeout (s).")] = 120.0,
    max_cost: Annotated[float | None, typer.Option(help="Stop (resumably) past this USD.")] = None,
    max_error_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.2,
    prices: Annotated[Path | None, typer.Option(help="JSON price table to add.")] = None,
    weights: Annotated[
        str, typer.Option(help="Direction weights perception,reasoning,interactive.")
    ] = "0.5,0.25,0.25",
    temperature: Annotated[float, typer.Option(min=0.0, max=2.0)] = 1.0,
    max_tokens: Annotated[int, typer.Option(min=16, help="Reply length limit per call.")] = 2048,
    seed: Annotated[int, typer.Option(help="Seed of every random choice.")] = 0,
    estimate: Annotated[bool, typer.Option(help="Print expected calls/tokens/cost only.")] = False,
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
    from mmevol.evolve.config import EngineName, EvolveConfig, ModeName, load_focus
    from mmevol.evolve.estimate import estimate_run, render_estimate
    from mmevol.evolve.run import run_evolve

    parts = [float(x) for x in weights.split(",")]
    if len(parts) != 3:
        raise MmevolError("--weights: expected three numbers perception,reasoning,interactive")
    if focus_type and not focus:
        raise MmevolError("--focus-type: needs --focus PLAN.json (a `mmevol weights` plan)")
    options: dict[str, Any] = {}
    for kv in backend_option or []:
        key, _, raw = kv.partition("=")
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
        direction_weights=dict(zip(("perception", "reasoning", "interactive"), parts, strict=True)),
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
    )
    if estimate:
        out.print(render_estimate(estimate_run(config)))
        return
    result = run_evolve(config)
    print_summary(result.stats)
    if result.stop_reason:
        err.print(
            f"[yellow]stopped:[/yellow] {result.stop_reason}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(3)
    if not result.complete:
        n = result.stats["failures"]["open"]  # type: ignore[index]
        err.print(
            f"[yellow]{n} unit(s) failed[/yellow] (see {out_dir}/failures.jsonl); "
            "re-run the same command to retry them.",
            highlight=False,
        )
        raise typer.Exit(1)
    out.print(f"dataset: {out_dir / 'dataset.jsonl'}")


def print_summary(stats: dict[str, Any]) -> None:
    from mmevol.evolve.stats_view import stats_tables

    for table in stats_tables(stats):
        out.print(table)


@app.command()
@friendly
def stats(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Per-round counts, kept share by direction, repairs, failures, tokens and cost."""
    from mmevol.evolve.stats import compute_stats
    from mmevol.store import Store

    db = run_dir / "run.sqlite"
    cfg = run_dir / "config.json"
    if not db.is_file() or not cfg.is_file():
        raise MmevolError(f"{run_dir}: not a run directory (no run.sqlite/config.json)")
    rounds = json.loads(cfg.read_text("utf-8"))["config"]["rounds"]
    store = Store(db)
    try:
        data = compute_stats(store, rounds)
        data["open_failures"] = store.failures(open_only=True)[:50]
    finally:
        store.close()
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
    else:
        print_summary(data)


@app.command()
@friendly
def export(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="llava|sharegpt|llamafactory|trl|parquet|jsonl|mmevol (the authors' per-image "
            "records)|mmevol-rounds (the authors' whole run layout: every candidate and verdict)",
        ),
    ],
    out_path: Annotated[Path, typer.Option("--out", help="File or folder to write.")],
    reviewed_only: Annotated[
        bool,
        typer.Option(
            "--reviewed-only",
            help="Only samples accepted or edited in `mmevol view` (edits applied).",
        ),
    ] = False,
    image_root: Annotated[
        Path | None,
        typer.Option(
            help="Write image paths relative to this folder (llava, sharegpt, mmevol); imported "
            "records otherwise keep the paths they came with.",
        ),
    ] = None,
) -> None:
    """Export the run's dataset (seeds + kept evolutions) for a trainer."""
    from mmevol.evolve.export import export_run

    root = image_root.resolve() if image_root is not None else None
    if not out_path.is_dir():  # a folder (an earlier export) is checked where it is replaced
        check_output_file(out_path, runs=[run_dir])
    path = export_run(run_dir, fmt, out_path, reviewed_only=reviewed_only, image_root=root)
    out.print(f"wrote {path}")


@app.command()
@friendly
def view(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    host: Annotated[
        str, typer.Option(help="Address to bind (loopback by default; others expose the run).")
    ] = "127.0.0.1",
) -> None:
    """Browse and review a run's samples in a local web app (reviews go to reviews.sqlite)."""
    from mmevol.view.serve import serve

    serve(run_dir, host=host, port=port, say=lambda line: out.print(line, highlight=False))


@app.command("import")
@friendly
def import_cmd(
    src: Annotated[
        Path,
        typer.Argument(
            help="What to import (for mmevol: the authors' run folder with round1/, round2/ ..., "
            "one round folder or its filtered_qa/, or any folder of per-image records)."
        ),
    ],
    fmt: Annotated[str, typer.Option("--format", help="mmevol = the MMEvol authors' files.")],
    out_dir: Annotated[Path, typer.Option("--out", help="New run directory to create.")],
    images: Annotated[
        Path | None, typer.Option(help="Folder the files' image paths are relative to.")
    ] = None,
    allow_missing_images: Annotated[
        bool, typer.Option(help="Accept files whose image is absent (keyed by path).")
    ] = False,
    strict: Annotated[
        bool, typer.Option(help="Stop at the first unreadable file instead of skipping it.")
    ] = False,
) -> None:
    """Turn another tool's evolved data into a run directory (stats, report, view, export)."""
    from mmevol.evolve.importer import import_run

    result = import_run(
        src, fmt, out_dir, images=images, allow_missing_images=allow_missing_images, strict=strict
    )
    out.print(
        f"imported {result.seeds} images, {result.samples} samples over {result.rounds} rounds"
        f" into {result.run_dir}"
    )
    if notes := result.adjustments():
        out.print("adjusted: " + ", ".join(f"{k} {v}" for k, v in notes.items()), highlight=False)
    if result.problems:
        listed = ", ".join(f"{k} {v}" for k, v in sorted(result.problems.items()))
        err.print(f"[yellow]read with problems[/yellow] (listed in {result.run_dir}/config.json): "
                  f"{listed}", highlight=False, soft_wrap=True)  # fmt: skip
    if result.skipped:
        err.print(f"[yellow]skipped {len(result.skipped)} file(s)[/yellow]; first: "
                  f"{result.skipped[0]}", highlight=False, soft_wrap=True)  # fmt: skip


@app.command()
@friendly
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    out_path: Annotated[
        Path | None, typer.Option("--out", help="File to write (default RUN_DIR/report.html).")
    ] = None,
    compare: Annotated[
        Path | None, typer.Option(help="A second run directory, shown side by side.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Write every figure's data as JSON instead.")
    ] = False,
) -> None:
    """The paper's analyses of a run as one self-contained HTML file (plots inline, offline)."""
    from mmevol.report import write_report

    default = run_dir / ("report.json" if as_json else "report.html")
    runs = [run_dir] if compare is None else [run_dir, compare]
    check_output_file(out_path or default, runs=runs, own=("report.html", "report.json"))
    path = write_report(run_dir, out_path or default, compare=compare, as_json=as_json)
    out.print(f"wrote {path}")


@app.command()
@friendly
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Where to put the demo.")] = Path(
        "mmevol-demo"
    ),
    scenes: Annotated[int, typer.Option(min=1, max=1000)] = 24,
) -> None:
    """Render bundled scenes, evolve them 3 rounds with the grounded (programmatic) backend,
    export LLaVA JSON. Runs offline, no model needed."""
    from mmevol.demo import run_demo

    run_demo(out_dir, scenes=scenes, console=out)


@app.command()
@friendly
def loop(
    out_dir: Annotated[Path, typer.Option("--out", help="Run directory to write.")] = Path(
        "mmevol-loop"
    ),
    rounds: Annotated[int, typer.Option(min=0, max=20, help="Generation rounds.")] = 3,
    strategy: Annotated[str, typer.Option(help="abs (targeted) or uniform.")] = "abs",
    budget: Annotated[int, typer.Option(min=1, help="New questions per round.")] = 600,
    seed: Annotated[int, typer.Option()] = 0,
    weighting: Annotated[
        str,
        typer.Option(
            help="ABS weights: linear or sqrt (the paper), or gain (by what more data did on dev)."
        ),
    ] = "linear",
    n_train: Annotated[int, typer.Option(min=1, help="Base training scenes.")] = 300,
    epochs: Annotated[int, typer.Option(min=1)] = 10,
    generator: Annotated[
        str, typer.Option(help="scene_graph, or engine (evolution engine on the query scenes).")
    ] = "scene_graph",
    engine_backend: Annotated[
        str, typer.Option(help="Backend of --generator engine (grounded by default).")
    ] = "grounded",
) -> None:
    """Closed loop in the offline world: train a tiny VLM, evaluate per question type, sample
    bad cases (ABS), generate targeted questions, retrain from the base; table + plot."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise MmevolError("mmevol loop needs PyTorch: pip install 'mmevol[loop]'") from None
    from mmevol.loop.run import LoopConfig, run_loop
    from mmevol.loop.train import TrainConfig

    cfg = LoopConfig.model_validate(
        {"rounds": rounds, "strategy": strategy, "budget": budget, "seed": seed,
         "weighting": weighting, "n_train": n_train, "generator": generator,
         "engine_backend": engine_backend,
         "train": TrainConfig.model_validate({"epochs": epochs})}
    )  # fmt: skip
    run_loop(cfg, out_dir, console=out)
    out.print(f"wrote {out_dir}/ (metrics.json, table.md, accuracy.png)")


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
) -> None:
    """A local OpenAI-compatible fake multimodal model with fault injection (for tests).

    Its evolutions come with a ledger of which ones were made bad on purpose (GET /_fake/stats).
    Any --provider-*/--image-tokens/--default-max-tokens/--latency-median/--latency-p99/
    --error-rate/--no-* option turns on the provider mode: a rate-limited hosted API with
    OpenAI's 429s and headers; its counters and timeline are under "limits" in the stats.
    """
    from mmevol.backends.fakeserver import FAULT_KINDS, serve

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


def _register_train() -> None:
    from mmevol.train.command import train_command

    app.command("train")(friendly(train_command))


_register_train()


if __name__ == "__main__":  # pragma: no cover
    app()
