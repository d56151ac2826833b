"""``mmevol import``: someone else's evolved data becomes an ordinary run directory.

This module owns the import step only. An importer, registered by format name in
``IMPORTERS``, turns a source into ``Imported`` records (a seed, the samples of every round,
kept and dropped, and one unit per round with its direction and counts); ``import_run`` writes
them in the layout ``mmevol evolve`` produces (config.json, seeds.jsonl, run.sqlite,
rounds/, dataset.jsonl, stats.json), so ``stats``, ``report``, ``view`` and ``export`` work on
imported data unchanged. What the importer read with trouble is counted and listed in
config.json (``file_problems``).

The directory is built beside the target and renamed into place at the end, so an interrupted
or failed import leaves nothing. A file that cannot be read is skipped, counted and listed
(``strict=True`` stops at the first one instead).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mmevol import __version__
from mmevol.errors import InputError, MmevolError
from mmevol.evolve.import_official import Imported, official_records
from mmevol.evolve.run import write_outputs
from mmevol.fsutil import write_json
from mmevol.io.official_run import Problems
from mmevol.schema import Seed
from mmevol.seeds import write_seeds
from mmevol.store import Store

SKIPPED_LISTED = 100  # config.json lists this many skip messages; the count covers all
ADJUSTMENT_PREFIXES = (
    "skill_",
    "format_",
    "manipulation_",
    "import_",
    "official_boxes",
    "official_items_dropped",
    "official_rounds",
    "official_seed_",
)


@dataclass
class ImportOptions:
    images: Path | None = None
    allow_missing_images: bool = False
    strict: bool = False


@dataclass
class ImportResult:
    run_dir: Path
    seeds: int
    samples: int
    rounds: int
    skipped: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    problems: dict[str, int] = field(default_factory=dict)

    def adjustments(self) -> dict[str, int]:
        """The non-zero counts of what the import changed or doubted (vocabulary mapped,
        scores dropped or missing, images shared), for a one-line summary."""
        return {
            k: v
            for k, v in sorted(self.counts.items())
            if v and k.startswith(ADJUSTMENT_PREFIXES) and k != "import_files_skipped"
        }


Records = Iterator[Imported]
Importer = Callable[[Path, ImportOptions, Counter[str], list[str], Problems], Records]


def _mmevol(src: Path, opts: ImportOptions, counts: Counter[str], skipped: list[str],
            problems: Problems) -> Records:  # fmt: skip
    return official_records(src, images=opts.images, allow_missing_images=opts.allow_missing_images,
                            strict=opts.strict, counts=counts, skipped=skipped, problems=problems)  # fmt: skip


IMPORTERS: dict[str, Importer] = {"mmevol": _mmevol}


# --- writing the run directory ---------------------------------------------------------------


def _fill(store: Store, records: Records, counts: Counter[str]) -> tuple[list[Seed], int, int]:
    """Journal every record; returns (seeds, samples written, highest round)."""
    seeds: list[Seed] = []
    n_samples = rounds = 0
    units: dict[str, set[int]] = {}
    for rec in records:
        seeds.append(rec.seed)
        units[rec.seed.id] = set(rec.units)
        store.add_seed_samples([s for s in rec.samples if s.round == 0])
        for k, unit in sorted(rec.units.items()):
            group = [s for s in rec.samples if s.round == k]
            store.commit_unit(f"{rec.seed.id}@r{k}", rec.seed.id, k, unit.direction, group,
                              dict(unit.stats))  # fmt: skip
            counts.update({key: v for key, v in unit.stats.items() if "_" in key})
            rounds = max(rounds, k)
        n_samples += len(rec.samples)
    for seed in seeds:  # every image went through every round, with or without survivors
        for k in sorted(set(range(1, rounds + 1)) - units[seed.id]):
            store.commit_unit(f"{seed.id}@r{k}", seed.id, k, None, [], {})
    return seeds, n_samples, rounds


def import_run(
    src: Path,
    fmt: str,
    out: Path,
    *,
    images: Path | None = None,
    allow_missing_images: bool = False,
    strict: bool = False,
) -> ImportResult:
    """Import ``src`` (in format ``fmt``) into the new run directory ``out``.

    ``images``: the folder the source's image paths are relative to (default ``src``)."""
    if fmt not in IMPORTERS:
        raise MmevolError(
            f"--format: unknown format {fmt!r}; known: {', '.join(sorted(IMPORTERS))}"
        )
    if out.resolve().is_relative_to(src.resolve()):
        raise MmevolError(f"--out: {out} lies inside the folder imported ({src}); choose a "
                          "directory outside it")  # fmt: skip
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise MmevolError(f"{out}: already exists and is not empty; choose a new --out directory")
    opts = ImportOptions(images=images, allow_missing_images=allow_missing_images, strict=strict)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.importing-", dir=out.parent))
    counts: Counter[str] = Counter()
    skipped: list[str] = []
    problems = Problems()
    try:
        store = Store(tmp / "run.sqlite")
        try:
            records = IMPORTERS[fmt](src, opts, counts, skipped, problems)
            seeds, n_samples, rounds = _fill(store, records, counts)
            if not seeds:
                why = f" (first problem: {skipped[0]})" if skipped else ""
                raise InputError(src, None, f"no file could be imported{why}")
            counts["import_files_skipped"] = len(skipped)
            write_seeds(seeds, tmp / "seeds.jsonl")
            record = {
                "imported_from": str(src),
                "format": fmt,
                "images": None if images is None else str(images),
                "mmevol_version": __version__,
                "config": {"rounds": max(rounds, 1), "backend": "imported", "seed": 0},
                "backend": {"name": "imported", "kind": f"{fmt} files"},
                "counts": dict(sorted(counts.items())),
                "skipped": skipped[:SKIPPED_LISTED],
                "file_problems": dict(sorted(problems.counts.items())),
                "file_problems_listed": problems.listed,
            }
            write_json(tmp / "config.json", record)
            store.set_meta("complete", "1")
            write_outputs(store, tmp, max(rounds, 1))
        finally:
            store.close()
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; a run dir is an ordinary folder
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ImportResult(out, len(seeds), n_samples, rounds, skipped, dict(counts),
                        dict(problems.counts))  # fmt: skip
