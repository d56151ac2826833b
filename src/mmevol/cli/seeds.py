"""``mmevol seeds``: build and curate seed sets from COCO, LLaVA, ShareGPT and the MMEvol
authors' files (a thin layer over ``mmevol.seeds``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mmevol.cli.app import PLAIN_HELP, app, err, friendly, out

seeds_app = typer.Typer(no_args_is_help=True, help="Build and curate seed sets.", **PLAIN_HELP)
app.add_typer(seeds_app, name="seeds")


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
    from mmevol.api import build_seeds

    built = build_seeds(
        out_path,
        coco_captions=coco_captions or [],
        coco_instances=coco_instances or [],
        images=images or [],
        llava=llava or [],
        sharegpt=sharegpt or [],
        mmevol_official=mmevol_official,
        allow_missing_images=allow_missing_images,
        max_items_per_image=max_items_per_image,
        near_dup_threshold=near_dup_threshold,
        caption_items=caption_items,
        skip_bad=skip_bad,
    )
    if built.stats is not None:  # a set just built carries its counts
        out.print(built.stats.model_dump_json(indent=2))
    out.print(f"wrote {out_path}")
    if built.stats is not None and built.stats.rejected_records:
        from mmevol.seeds import rejected_path

        err.print(
            f"[yellow]skipped {built.stats.rejected_records} bad record(s)[/yellow]: "
            f"see {rejected_path(out_path)}",
            highlight=False,
            soft_wrap=True,
        )
