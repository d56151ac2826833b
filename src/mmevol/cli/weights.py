"""``mmevol weights``: real-model evaluation results -> per-type accuracy -> ABS weights, quotas.

Reads lmms-eval per-sample logs (``loop.eval_lmms``) and/or VLMEvalKit result sheets
(``loop.eval_vlmevalkit``), prints accuracy per question type with the ABS weights and quotas
(``loop.abs``), and writes them as one JSON file (``AbsPlan``) for the next generation round.
A task that cannot be read or scored is skipped with its reason, printed; the command fails only
when no task was usable. When every type is an evolution direction, the plan also carries the
``--weights`` string for ``mmevol evolve``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mmevol.cli.app import app, out
from mmevol.cli.app import friendly as _friendly
from mmevol.errors import MmevolError
from mmevol.fsutil import write_json
from mmevol.loop.eval_import import Imported, load_mapping, require_usable
from mmevol.loop.eval_lmms import read_lmms_eval
from mmevol.loop.eval_vlmevalkit import read_vlmevalkit
from mmevol.loop.plan import plan


@_friendly
def weights_cmd(
    out_path: Annotated[Path, typer.Option("--out", help="JSON plan to write.")],
    from_lmms_eval: Annotated[
        list[Path] | None,
        typer.Option("--from-lmms-eval", help="lmms-eval output folder or samples_<task>.jsonl."),
    ] = None,
    from_vlmevalkit: Annotated[
        list[Path] | None,
        typer.Option("--from-vlmevalkit", help="VLMEvalKit result sheet (.xlsx, .csv, .tsv)."),
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option("--map", help="JSON {task:category | category | task: question type}."),
    ] = None,
    metric: Annotated[
        str | None, typer.Option(help="lmms-eval metric key to read (default: found per task).")
    ] = None,
    filter_name: Annotated[
        str | None, typer.Option("--filter", help="lmms-eval filter to keep.")
    ] = None,
    category_field: Annotated[str, typer.Option(help="Field holding the category.")] = "category",
    weighting: Annotated[str, typer.Option(help="linear, sqrt or uniform.")] = "linear",
    floor: Annotated[float, typer.Option(min=0.0, max=1.0, help="Least weight per type.")] = 0.03,
    budget: Annotated[int, typer.Option(min=1, help="New samples next round.")] = 600,
) -> None:
    """Per-type accuracy of a real model -> ABS weights and quotas (printed and written)."""
    from rich.table import Table

    if weighting not in ("linear", "sqrt", "uniform"):
        raise MmevolError(f"--weighting: {weighting!r} is not linear, sqrt or uniform")
    if not from_lmms_eval and not from_vlmevalkit:
        raise MmevolError("give --from-lmms-eval DIR|FILE and/or --from-vlmevalkit FILE")
    table_map = load_mapping(mapping) if mapping else None
    got = Imported()
    for src in from_lmms_eval or []:
        read_lmms_eval(
            src, got, table_map, metric=metric, filter_name=filter_name,
            category_field=category_field,
        )  # fmt: skip
    for src in from_vlmevalkit or []:
        read_vlmevalkit(src, got, table_map, category_field=category_field)
    require_usable(got)  # nothing read: one line naming the skipped tasks and why
    for skip in got.task_skips:
        out.print(f"skipped task {skip}", highlight=False, soft_wrap=True)
    result = plan(got, weighting, floor, budget)  # type: ignore[arg-type]
    table = Table(title=f"accuracy per question type -> ABS ({weighting}, floor {floor})")
    for col in ("type", "n", "accuracy %", "error %", "weight", "quota"):
        table.add_column(col, justify="left" if col == "type" else "right")
    for t, r in result.per_type.items():
        table.add_row(
            t, str(r.n), f"{100 * r.accuracy:.1f}", f"{100 * r.error_rate:.1f}",
            f"{result.weights[t]:.3f}", str(result.quotas[t]),
        )  # fmt: skip
    out.print(table)
    if got.superseded:
        out.print(
            f"read only the newest log of each task; older runs left out: {', '.join(got.superseded)}",
            highlight=False,
            soft_wrap=True,
        )
    for note in got.notes:
        out.print(note, highlight=False, soft_wrap=True)
    if result.skipped:
        shown = ", ".join(f"{k} ({n})" for k, n in list(result.skipped.items())[:6])
        out.print(f"skipped rows the mapping does not cover: {shown}", highlight=False)
    write_json(out_path, result.model_dump(mode="json"))
    if result.evolve_weights:
        out.print(f"for mmevol evolve: --weights {result.evolve_weights}", highlight=False)
    out.print(f"wrote {out_path}")


app.command("weights")(weights_cmd)
