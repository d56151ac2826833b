"""Commands on a run directory: ``stats``, ``export``, ``view``, ``import`` (another tool's data
into a new run), ``report``, and ``demo`` (a whole run on bundled data)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from mmevol.cli.app import app, err, friendly, out
from mmevol.cli.evolve import print_summary
from mmevol.errors import MmevolError
from mmevol.outputs import check_output_file


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
