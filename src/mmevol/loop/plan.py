"""An ABS plan: per-type accuracy of a real evaluation -> weights, quotas and bad cases, as the
JSON file ``mmevol weights`` writes and ``mmevol evolve --focus`` reads."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from mmevol.errors import MmevolError
from mmevol.loop.eval_import import Imported
from mmevol.schema import DIRECTIONS


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
    # per type, images of its bad cases (paths, absolute or relative to the plan's folder), when
    # the evaluation knows them (lmms-eval logs carry none): ``mmevol select --encoder`` compares
    # seed images with them; kept apart from ``bad_cases``, which ``evolve --focus`` reads as is
    bad_case_images: dict[str, list[str]] = {}
    # tasks left out whole ("task (file)" -> why): unscorable metrics, damaged files
    skipped_tasks: dict[str, str] = {}


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
        skipped_tasks={f"{s.task} ({s.file})": s.reason for s in got.task_skips},
    )


def load_plan(path: Path) -> AbsPlan:
    """Read a plan written by ``mmevol weights`` (for the next round's generator)."""
    return AbsPlan.model_validate_json(path.read_text("utf-8"))
