"""Commands on a run directory: ``stats``, ``export``, ``view``, ``import`` (another tool's data
into a new run), ``report``, and ``demo`` (a whole run on bundled data)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from mmevol.cli.app import app, err, friendly, out
from mmevol.cli.evolve import print_summary
from mmevol.errors import MmevolError
from mmevol.io.formats import FORMATS, format_help
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


EXPORT_HELP = (
    "Export the run's dataset (seeds + kept evolutions) for a trainer.\n\n"
    "Image paths are absolute by default, so every export loads from any working directory "
    "(parquet embeds the image bytes instead); missing image files are counted, reported on "
    "stderr and left out unless --missing-images says otherwise.\n\n"
    f"Formats (--format):\n\n{format_help()}"
)


@app.command(help=EXPORT_HELP)
@friendly
def export(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help=f"One of: {', '.join(FORMATS)} (each described above; sharegpt is a deprecated "
            "name of openai-messages).",
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
    images: Annotated[
        str | None,
        typer.Option(
            help="How images are referenced: absolute (default; loads from any working "
            "directory), relative (to --image-root, else to the folder the export is written "
            "in; trl and llamafactory: to their images/ copies), embed (parquet's default: the "
            "bytes, as a Hugging Face datasets Image). Not for mmevol, mmevol-rounds.",
        ),
    ] = None,
    image_root: Annotated[
        Path | None,
        typer.Option(
            help="Write image paths relative to this folder (implies --images relative; for "
            "mmevol and mmevol-rounds: otherwise the paths the records came with).",
        ),
    ] = None,
    missing_images: Annotated[
        str | None,
        typer.Option(
            help="Samples whose image file is missing: skip (default; mmevol formats: keep), "
            "keep (written; a trainer will fail on them; not where pixels are copied or "
            "embedded) or error. Always counted and reported.",
        ),
    ] = None,
    boxes: Annotated[
        str,
        typer.Option(
            help="Boxes in question, answer and step text: norm ([x1, y1, x2, y2] in 0-1, as "
            "the run wrote them), qwen (integers 0-1000, Qwen-VL/Qwen2-VL) or pixel (integer "
            "pixels of the image). Other bracketed numbers are left alone.",
        ),
    ] = "norm",
    group: Annotated[
        str,
        typer.Option(
            help="One record per: round (a seed's items of one round), seed, or sample "
            "(conversation formats; parquet and jsonl are a row per sample).",
        ),
    ] = "round",
) -> None:
    from mmevol.evolve.export import run_export
    from mmevol.io.export import ExportRequest

    root = image_root.resolve() if image_root is not None else None
    if not out_path.is_dir():  # a folder (an earlier export) is checked where it is replaced
        check_output_file(out_path, runs=[run_dir])
    request = ExportRequest(
        group=group, images=images, image_root=root, missing_images=missing_images, boxes=boxes
    )
    summary = run_export(run_dir, fmt, out_path, request, reviewed_only=reviewed_only)
    for note in summary.notes:
        err.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False, soft_wrap=True)
    if warning := summary.missing.line():
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False, soft_wrap=True)
    out.print(summary.line(), highlight=False, soft_wrap=True)


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
