"""``mmevol loop``: the closed loop in the offline world (needs the ``loop`` extra: PyTorch)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mmevol.cli.app import app, friendly, out
from mmevol.errors import MmevolError


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
    engine_attempts: Annotated[
        int,
        typer.Option(
            min=1, max=6, help="Engine tries per type, each on twice as many fresh query images."
        ),
    ] = 3,
    shortfall: Annotated[
        str,
        typer.Option(
            help="A type short of its quota: report (abs.json, table) or scene_graph (also fill it)."
        ),
    ] = "report",
    world: Annotated[
        str,
        typer.Option(
            help="default (nine types), or starved (four learnable types, two rare in the base data)."
        ),
    ] = "default",
) -> None:
    """Closed loop in the offline world: train a tiny VLM, evaluate per question type, sample
    bad cases (ABS), generate targeted questions, retrain from the base; table + plot."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise MmevolError("mmevol loop needs PyTorch: pip install 'mmevol[loop]'") from None
    from mmevol.loop.run import LoopConfig, run_loop
    from mmevol.loop.splits import WORLDS, world_named
    from mmevol.loop.train import TrainConfig

    if world not in WORLDS:
        raise typer.BadParameter(f"{world!r}: choose {', '.join(WORLDS)}", param_hint="--world")
    cfg = LoopConfig.model_validate(
        {"rounds": rounds, "strategy": strategy, "budget": budget, "seed": seed,
         "weighting": weighting, "n_train": n_train, "generator": generator,
         "engine_backend": engine_backend, "engine_attempts": engine_attempts,
         "shortfall": shortfall, "world": world_named(world),
         "train": TrainConfig.model_validate({"epochs": epochs})}
    )  # fmt: skip
    run_loop(cfg, out_dir, console=out)
    out.print(f"wrote {out_dir}/ (metrics.json, table.md, accuracy.png)")
