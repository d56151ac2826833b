"""Exporting a run directory: its seeds + kept evolutions, through the io exporters by name."""

from __future__ import annotations

from pathlib import Path

from mmevol.errors import MmevolError
from mmevol.io.export import EXPORTERS, export
from mmevol.io.tabular import read_samples
from mmevol.seeds import read_seeds


def export_run(run_dir: Path, fmt: str, out: Path) -> Path:
    """Write the run's final dataset (``dataset.jsonl``) in format ``fmt`` at ``out``."""
    if fmt not in EXPORTERS:
        raise MmevolError(
            f"--format: unknown format {fmt!r}; use one of {', '.join(sorted(EXPORTERS))}"
        )
    dataset = run_dir / "dataset.jsonl"
    if not dataset.is_file():
        raise MmevolError(
            f"{run_dir}: no dataset.jsonl (not a run directory, or the run has not finished)"
        )
    seeds = {s.id: s for s in read_seeds(run_dir / "seeds.jsonl")}
    return export(fmt, read_samples(dataset), seeds, out)
