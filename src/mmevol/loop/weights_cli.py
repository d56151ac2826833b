"""``mmevol weights``: real-model evaluation results -> per-type accuracy -> ABS weights, quotas.

Reads lmms-eval per-sample logs and/or VLMEvalKit result sheets (``loop.eval_import``), prints
accuracy per question type with the ABS weights and quotas (``loop.abs``), and writes them as one
JSON file (``AbsPlan``) for the next generation round. When every type is an evolution
direction, the plan also carries the ``--weights`` string for ``mmevol evolve``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import typer
from pydantic import BaseModel, ConfigDict

from mmevol.errors import MmevolError
from mmevol.fsutil import write_json
from mmevol.loop.eval_import import Imported, load_mapping, read_lmms_eval, read_vlmevalkit
from mmevol.schema import DIRECTIONS

F = TypeVar("F", bound=Callable[..., Any])


class TypeResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int
    correct: float
    accuracy: float
    error_rate: float


class AbsPlan(BaseModel):
    """What the next generation round needs: error rates, weights and quotas per type."""

    model_config = ConfigDict(extra="forbid")

    sources: list[str]
    metrics: dict[str, int]
    per_type: dict[str, TypeResult]
    skipped: dict[str, int]
    weighting: Literal["linear", "sqrt", "uniform"]
    floor: float
    weights: dict[str, float]
    budget: int
    quotas: dict[str, int]
    evolve_weights: str | None = None
    # per type, the first wrongly answered rows: ``mmevol evolve --focus PLAN --focus-type T``
    bad_cases: dict[str, list[dict[str, str]]] = {}


def plan(
    got: Imported, weighting: Literal["linear", "sqrt", "uniform"], floor: float, budget: int
) -> AbsPlan:
    """ABS weights and quotas from the per-type tallies (types in first-seen order)."""
    from mmevol.loop.abs import quotas, type_weights

    if not got.per_type:
        shown = ", ".join(f"{k} ({n})" for k, n in got.skipped.most_common(8))
        raise MmevolError(
            "no row was given a question type" + (f"; unmapped: {shown}" if shown else "")
        )
    per = {
        t: TypeResult(
            n=x.n, correct=round(x.correct, 4), accuracy=round(x.accuracy, 4),
            error_rate=round(1 - x.accuracy, 4),
        )
        for t, x in got.per_type.items()
    }  # fmt: skip
    weights = type_weights({t: r.error_rate for t, r in per.items()}, weighting, floor)
    evolve = None
    if set(per) <= set(DIRECTIONS):
        evolve = ",".join(f"{weights.get(d, 0.0):.4f}" for d in DIRECTIONS)
    return AbsPlan(
        sources=got.files,
        metrics=dict(got.metrics),
        per_type=per,
        skipped=dict(got.skipped.most_common()),
        weighting=weighting,
        floor=floor,
        weights={t: round(w, 6) for t, w in weights.items()},
        budget=budget,
        quotas=quotas(weights, budget),
        evolve_weights=evolve,
        bad_cases=got.bad_cases,
    )


def load_plan(path: Path) -> AbsPlan:
    """Read a plan written by ``mmevol weights`` (for the next round's generator)."""
    return AbsPlan.model_validate_json(path.read_text("utf-8"))


def _friendly(fn: F) -> F:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from mmevol.cli import friendly  # late: mmevol.cli imports this module

        return friendly(fn)(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


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
    metric: Annotated[str | None, typer.Option(help="lmms-eval metric key to read.")] = None,
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

    from mmevol.cli import out

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
    if result.skipped:
        shown = ", ".join(f"{k} ({n})" for k, n in list(result.skipped.items())[:6])
        out.print(f"skipped rows the mapping does not cover: {shown}", highlight=False)
    write_json(out_path, result.model_dump(mode="json"))
    if result.evolve_weights:
        out.print(f"for mmevol evolve: --weights {result.evolve_weights}", highlight=False)
    out.print(f"wrote {out_path}")
