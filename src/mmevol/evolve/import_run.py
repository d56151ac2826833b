"""``mmevol import``: turn someone else's evolved data into a run directory.

An importer (registered by format name in ``IMPORTERS``) yields seeds and, per seed, the samples
of every round. ``import_run`` writes them as a complete run directory, the same layout
``mmevol evolve`` writes (config.json, seeds.jsonl, run.sqlite, rounds/, dataset.jsonl,
stats.json), so ``stats``, ``report``, ``view`` and ``export`` work on it. The directory is
built beside the target and renamed into place at the end: an interrupted import leaves nothing.
Files that cannot be read are skipped and listed (``strict=True`` stops at the first one).
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mmevol import __version__
from mmevol.errors import InputError, MmevolError
from mmevol.evolve.normalize import normalize_item
from mmevol.evolve.run import write_outputs
from mmevol.fsutil import write_json
from mmevol.io.official import official_samples, read_official_file
from mmevol.schema import Sample, Seed, Verdict
from mmevol.seeds import write_seeds
from mmevol.store import Store

IMPORTED_JUDGE = "imported (score from the source files)"


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


Records = Iterator[tuple[Seed, list[Sample]]]


def _mmevol_records(
    src: Path, opts: ImportOptions, counts: Counter[str], skipped: list[str]
) -> Records:
    """The MMEvol authors' per-image files: one seed and its rounds per ``*.json``."""
    if not src.is_dir():
        raise InputError(src, None, "not a folder (expected the per-image JSON files)")
    root = opts.images or src
    for path in sorted(src.rglob("*.json")):
        try:
            record = read_official_file(
                path, root, allow_missing_images=opts.allow_missing_images, counts=counts
            )
        except InputError as err:
            if opts.strict:
                raise
            skipped.append(str(err))
            continue
        yield record.seed, official_samples(record)


IMPORTERS: dict[str, Callable[[Path, ImportOptions, Counter[str], list[str]], Records]] = {
    "mmevol": _mmevol_records,
}


def _prepare(sample: Sample, stats: Counter[str]) -> Sample:
    """Normalise an imported evolution's vocabulary and turn its score into a verdict."""
    qa = normalize_item(sample.qa, stats)
    lineage = sample.lineage
    if qa.score is not None:
        verdict = Verdict(improved=True, score=qa.score, reason="kept in the source data",
                          judge=IMPORTED_JUDGE)  # fmt: skip
        lineage = lineage.model_copy(update={"verdict": verdict})
    return sample.model_copy(update={"qa": qa, "lineage": lineage})


def import_run(src: Path, fmt: str, out: Path, opts: ImportOptions | None = None) -> ImportResult:
    """Import ``src`` (in format ``fmt``) into the new run directory ``out``."""
    opts = opts or ImportOptions()
    if fmt not in IMPORTERS:
        raise MmevolError(
            f"--format: unknown format {fmt!r}; known: {', '.join(sorted(IMPORTERS))}"
        )
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise MmevolError(f"{out}: already exists and is not empty; choose a new --out directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.importing-", dir=out.parent))
    counts: Counter[str] = Counter()
    skipped: list[str] = []
    try:
        store = Store(tmp / "run.sqlite")
        seeds: list[Seed] = []
        n_samples, rounds = 0, 0
        try:
            for seed, samples in IMPORTERS[fmt](src, opts, counts, skipped):
                seeds.append(seed)
                store.add_seed_samples([s for s in samples if s.round == 0])
                by_round: dict[int, list[Sample]] = {}
                for s in samples:
                    if s.round > 0:
                        by_round.setdefault(s.round, []).append(s)
                for k, group in sorted(by_round.items()):
                    stats: Counter[str] = Counter()
                    kept = [_prepare(s, stats) for s in group]
                    stats.update(candidates=len(kept), kept=len(kept))
                    store.commit_unit(f"{seed.id}@r{k}", seed.id, k, None, kept, dict(stats))
                    counts.update({k2: v for k2, v in stats.items() if "_" in k2})
                    rounds = max(rounds, k)
                n_samples += len(samples)
            if not seeds:
                why = f" (first problem: {skipped[0]})" if skipped else ""
                raise InputError(src, None, f"no file could be imported{why}")
            write_seeds(seeds, tmp / "seeds.jsonl")
            record = {
                "imported_from": str(src),
                "format": fmt,
                "mmevol_version": __version__,
                "config": {"rounds": max(rounds, 1), "backend": "imported", "seed": 0},
                "backend": {"name": "imported", "kind": f"{fmt} files"},
                "counts": dict(sorted(counts.items())),
                "skipped": skipped,
            }
            write_json(tmp / "config.json", record)
            store.set_meta("complete", "1")
            write_outputs(store, tmp, max(rounds, 1))
        finally:
            store.close()
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ImportResult(out, len(seeds), n_samples, rounds, skipped, dict(counts))
