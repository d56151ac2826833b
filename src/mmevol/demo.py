"""``mmevol demo``: the main job end to end on bundled data, offline, in well under two minutes.

Renders scenes with exact scene graphs (generated here, so free to redistribute), builds seeds,
evolves them for three rounds with the *grounded* backend — a programmatic generator and judge
that computes answers from the annotations; it is not a language model — and exports LLaVA JSON.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console

from mmevol.evolve.config import EvolveConfig
from mmevol.evolve.export import export_run
from mmevol.evolve.run import run_evolve
from mmevol.evolve.stats_view import stats_tables
from mmevol.seeds import write_seeds
from mmevol.world.scenes import write_demo_set


def run_demo(out_dir: Path, *, scenes: int = 24, console: Console | None = None) -> Path:
    console = console or Console()
    started = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)
    console.print(f"[bold]1/4[/bold] rendering {scenes} scenes with exact scene graphs")
    seeds = write_demo_set(out_dir / "scenes", n=scenes, seed=0)
    seeds_path = out_dir / "seeds.jsonl"
    write_seeds(seeds, seeds_path)
    console.print(
        "[bold]2/4[/bold] evolving 3 rounds with the grounded backend "
        "(offline programmatic generator + rule judge, not an LLM)"
    )
    run_dir = out_dir / "run"
    result = run_evolve(EvolveConfig(seeds=str(seeds_path), out=str(run_dir), rounds=3))
    console.print("[bold]3/4[/bold] exporting")
    llava = export_run(run_dir, "llava", out_dir / "export" / "llava.json")
    console.print("[bold]4/4[/bold] summary")
    for table in stats_tables(result.stats):
        console.print(table)
    took = time.monotonic() - started
    console.print(
        f"\n[green]done in {took:.1f}s[/green]\n"
        f"  run directory : {run_dir}  (config.json, run.sqlite, rounds/, dataset.jsonl)\n"
        f"  dataset       : {run_dir / 'dataset.jsonl'}\n"
        f"  LLaVA export  : {llava}\n"
        f"  images        : {out_dir / 'scenes'}\n"
        "next:\n"
        f"  mmevol stats {run_dir}\n"
        f"  mmevol report {run_dir}        (HTML analyses: {run_dir / 'report.html'})\n"
        f"  mmevol view {run_dir}          (browse and review in a local web app)\n"
        f"  mmevol export {run_dir} --format llamafactory --out {out_dir / 'export' / 'llamafactory'}\n"
        f"  mmevol evolve {seeds_path} --out {out_dir / 'run-llm'} --backend openai "
        "--model gpt-4o-mini --max-cost 1 --estimate",
        highlight=False,
        soft_wrap=True,
    )
    return run_dir
