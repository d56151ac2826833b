"""Exporting a run directory: its seeds + kept evolutions, through the io exporters by name.

With ``reviewed_only`` the export is narrowed to what a person approved in ``mmevol view``:
samples whose latest review (``reviews.sqlite``) is accept or edit, edits applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mmevol.errors import MmevolError
from mmevol.io.export import EXPORTERS, export
from mmevol.io.tabular import read_samples
from mmevol.schema import Sample
from mmevol.seeds import read_seeds


def export_run(run_dir: Path, fmt: str, out: Path, *, reviewed_only: bool = False) -> Path:
    """Write the run's final dataset (``dataset.jsonl``) in format ``fmt`` at ``out``.

    ``reviewed_only`` keeps only the samples a reviewer accepted or edited (with the edited
    question and answer); rejected and unreviewed samples are left out."""
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
    samples: Iterable[Sample] = read_samples(dataset)
    if reviewed_only:
        from mmevol.view.reviews import ReviewStore, reviewed_samples

        store = ReviewStore(run_dir, create=False)
        try:
            samples = reviewed_samples(samples, store.all_latest())
        finally:
            store.close()
    return export(fmt, samples, seeds, out)
