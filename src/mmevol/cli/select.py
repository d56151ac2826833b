"""``mmevol select``: ABS query images on real data. From a ``mmevol weights`` plan and a seed
pool, each question type's quota of images (half the most similar to its bad cases, half at
random), written as one seeds file per type that ``mmevol evolve --focus PLAN --focus-type T``
then evolves (a thin layer over ``loop.select``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from mmevol.cli.app import app, friendly, out

SHOWN_PICKS = 8  # per type on the console; the manifest has them all


@app.command("select")
@friendly
def select_cmd(
    seeds: Annotated[Path, typer.Argument(help="Seed pool JSONL (from `mmevol seeds build`).")],
    plan: Annotated[Path, typer.Option(help="ABS plan JSON (from `mmevol weights`).")],
    out_dir: Annotated[
        Path,
        typer.Option("--out", help="Folder to write: seeds-<type>.jsonl per type, selection.json."),
    ],
    similar_share: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Share of each type's images picked by similarity."),
    ] = 0.5,
    per_image: Annotated[
        int, typer.Option(min=1, help="New samples expected per image: quota / N images per type.")
    ] = 1,
    type_: Annotated[
        list[str] | None, typer.Option("--type", help="Only this type (repeatable; default all).")
    ] = None,
    overlap: Annotated[
        bool, typer.Option(help="Let types share images (default: each image goes to one type).")
    ] = False,
    encoder: Annotated[
        Path | None,
        typer.Option(
            help="Local Hugging Face vision encoder folder (CLIP/SigLIP): compare images with the"
            " plan's bad_case_images (default: text similarity, no weights)."
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per encoder batch.")] = 16,
    seed: Annotated[int, typer.Option(help="Seed of the random half.")] = 0,
) -> None:
    """Pick each type's query images from SEEDS (half similar to its bad cases, half random)."""
    from rich.table import Table

    from mmevol.loop.select import select_query_images

    sel = select_query_images(
        plan, seeds, out_dir, seed=seed, similar_share=similar_share, per_image=per_image,
        types=type_, overlap=overlap, encoder=encoder, batch_size=batch_size,
    )  # fmt: skip
    table = Table(title=f"query images per type from {sel.pool} seeds (seed {sel.seed})")
    for col in ("type", "quota", "images", "similar", "random", "short", "by"):
        table.add_column(col, justify="left" if col in ("type", "by") else "right")
    for t in sel.types:
        table.add_row(
            escape(t.qtype), str(t.quota), str(len(t.picks)), str(t.count("similar")),
            str(t.count("random")), str(t.shortfall) if t.shortfall else "", t.measure,
        )  # fmt: skip
    out.print(table)
    for t in sel.types:
        if not t.picks:
            continue
        out.print(f"{t.qtype}:", highlight=False, markup=False)
        for p in t.picks[:SHOWN_PICKS]:
            case = f" (bad case {p.case})" if p.case is not None and p.score > 0 else ""
            out.print(f"  {p.kind:<7} {p.score:.3f}{case}  {p.seed_id}  {p.image}",
                      highlight=False, markup=False, soft_wrap=True)  # fmt: skip
        if len(t.picks) > SHOWN_PICKS:
            out.print(f"  ... {len(t.picks) - SHOWN_PICKS} more in {sel.out / 'selection.json'}",
                      highlight=False, markup=False, soft_wrap=True)  # fmt: skip
    short = [t for t in sel.types if t.shortfall > 0]
    for t in short:
        out.print(f"shortfall: {t.qtype} got {len(t.picks)} of {t.wanted} images",
                  highlight=False, markup=False, soft_wrap=True)  # fmt: skip
    if short:
        wanted = sum(t.wanted for t in sel.types)
        how = ("each type gets at most the whole pool" if sel.overlap else
               "shared out in proportion to what each type wants")  # fmt: skip
        out.print(f"  the pool holds {sel.pool} images for {wanted} wanted ({how}); add seeds "
                  "or lower the budget", highlight=False, markup=False, soft_wrap=True)  # fmt: skip
    for note in sel.notes:
        out.print(f"note: {note}", highlight=False, markup=False, soft_wrap=True)
    chosen = [t for t in sel.types if t.picks]
    if chosen:
        out.print("next, evolve each type's images with its bad cases:", highlight=False)
        for t in chosen:
            out.print(f"  {sel.command(t)}", highlight=False, markup=False, soft_wrap=True)
    out.print(f"wrote {sel.out / 'selection.json'}", highlight=False, markup=False)
