"""The ``mmevol train`` command: fine-tune a local Hugging Face VLM on a run or a trl export.

A thin layer over ``train.trl_sft.train_sft`` (wrapped by ``friendly`` so user errors are one
line). Heavy libraries are imported only when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mmevol.cli.app import app, friendly, out


def train_command(
    model: Annotated[Path, typer.Option(help="Local Hugging Face VLM folder (config.json ...).")],
    data: Annotated[
        Path,
        typer.Option(help="A run directory, a `mmevol export --format trl` folder or its JSONL."),
    ],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder to write: model, metrics.json, train_config.json.")
    ],
    epochs: Annotated[float, typer.Option(min=0.01, help="Passes over the data.")] = 1.0,
    lr: Annotated[float, typer.Option(min=0.0, help="Learning rate.")] = 1e-5,
    max_steps: Annotated[
        int | None,
        typer.Option(min=1, help="Stop after this many optimizer steps (overrides --epochs)."),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Conversations per device step.")] = 1,
    grad_accum: Annotated[int, typer.Option(min=1, help="Steps accumulated per update.")] = 1,
    seed: Annotated[int, typer.Option(help="Seed of data order and initialisation.")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
) -> None:
    """Fine-tune a local vision-language model with TRL's SFTTrainer (needs the train extra)."""
    from mmevol.train.trl_sft import SFTSettings, train_sft

    settings = SFTSettings(
        model=str(model),
        data=str(data),
        out=str(out_dir),
        epochs=epochs,
        lr=lr,
        max_steps=max_steps,
        batch_size=batch_size,
        grad_accum=grad_accum,
        seed=seed,
        device=device,
    )
    metrics = train_sft(settings)
    out.print(
        f"trained {metrics['steps']} steps on {metrics['records']} conversations: "
        f"loss {metrics['final_loss']:.4f} (mean {metrics['train_loss']:.4f}), "
        f"{metrics['runtime_s']:.1f} s; wrote {out_dir}",
        highlight=False,
    )


app.command("train")(friendly(train_command))
