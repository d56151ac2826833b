"""``mmevol import``: someone else's evolved data becomes an ordinary run directory.

This module owns the import step only. An importer, registered by format name in
``IMPORTERS``, turns a source into ``(seed, samples)`` pairs (the samples of every round of that
seed); ``import_run`` writes them in the layout ``mmevol evolve`` produces (config.json,
seeds.jsonl, run.sqlite with one unit per seed and round, rounds/, dataset.jsonl, stats.json),
so ``stats``, ``report``, ``view`` and ``export`` work on imported data unchanged.

Released data is what survived the authors' elimination, so every imported evolution is kept;
its score (on the item, or in a per-round score list beside the items) becomes the verdict.
The files do not say which direction made an evolution, so ``direction`` stays empty (stats
show it as "unknown"), nor which item it came from, so parents are matched by position.

The directory is built beside the target and renamed into place at the end, so an interrupted
or failed import leaves nothing. A file that cannot be read is skipped, counted and listed
(``strict=True`` stops at the first one instead).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mmevol import __version__
from mmevol.errors import InputError, MmevolError
from mmevol.evolve.normalize import normalize_item
from mmevol.evolve.run import write_outputs
from mmevol.fsutil import write_json
from mmevol.io.official import official_samples, parse_score, read_official_file
from mmevol.io.tabular import load_json
from mmevol.schema import Sample, Seed, Verdict
from mmevol.seeds import write_seeds
from mmevol.store import Store
from mmevol.textsim import similarity

IMPORTED_JUDGE = "imported (score from the source files)"
SCORE_LIST_KEY = re.compile(r"^scores?_v(\d+)$")
# a positional parent is doubted when another item of the previous round is this similar to the
# child's question and beats the positional one by the margin
DOUBT_SIMILARITY, DOUBT_MARGIN = 0.4, 0.15
SKIPPED_LISTED = 100
ADJUSTMENT_PREFIXES = (
    "skill_",
    "format_",
    "manipulation_",
    "import_",
    "official_boxes",
    "official_items_dropped",
    "official_rounds",
    "official_seed_",
)  # config.json lists this many skip messages; the count covers all


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

    def adjustments(self) -> dict[str, int]:
        """The non-zero counts of what the import changed or doubted (vocabulary mapped,
        scores dropped or missing, positional parents doubted), for a one-line summary."""
        return {
            k: v
            for k, v in sorted(self.counts.items())
            if v and k.startswith(ADJUSTMENT_PREFIXES) and k != "import_files_skipped"
        }


Records = Iterator[tuple[Seed, list[Sample]]]
Importer = Callable[[Path, ImportOptions, Counter[str], list[str]], Records]


# --- format "mmevol": the MMEvol authors' per-image files ----------------------------------


def _by_round(samples: list[Sample]) -> dict[int, list[Sample]]:
    out: dict[int, list[Sample]] = {}
    for s in samples:
        out.setdefault(s.round, []).append(s)
    return out


def _apply_score_lists(raw: dict[str, Any], samples: list[Sample], counts: Counter[str]) -> None:
    """``score_vK`` / ``scores_vK`` lists give item i of round K its score (unless it has one)."""
    rounds = _by_round(samples)
    for key, value in raw.items():
        m = SCORE_LIST_KEY.match(key)
        if not m or int(m.group(1)) == 0:
            continue
        items = rounds.get(int(m.group(1)), [])
        scores = value if isinstance(value, list) else [value]
        counts["import_scores_extra"] += max(0, len(scores) - len(items))
        counts["import_scores_missing"] += max(0, len(items) - len(scores))
        for s, v in zip(items, scores, strict=False):
            if s.qa.score is None:
                s.qa.score = parse_score(v)


def _with_reason(s: Sample, reason: str) -> Sample:
    return s.model_copy(update={"lineage": s.lineage.model_copy(update={"reason": reason})})


def _check_parents(samples: list[Sample], counts: Counter[str]) -> list[Sample]:
    """Parents stay positional; where a round's length differs from the previous one, say so
    on the samples whose question is clearly closer to another item of the previous round."""
    rounds = _by_round(samples)
    out = []
    for k in sorted(rounds):
        here, prev = rounds[k], rounds.get(k - 1, [])
        for i, s in enumerate(here):
            if k == 0:
                out.append(s)
            elif i >= len(prev):
                counts["import_parent_missing"] += 1
                out.append(_with_reason(s, f"imported; round {k - 1} has no item {i}"))
            elif len(prev) != len(here):
                sims = [similarity(s.qa.question, p.qa.question) for p in prev]
                best = max(range(len(prev)), key=sims.__getitem__)
                if sims[best] >= DOUBT_SIMILARITY and sims[best] - sims[i] >= DOUBT_MARGIN:
                    counts["import_parent_doubtful"] += 1
                    why = f"parent by position, but the question is closer to item {best}"
                    out.append(_with_reason(s, f"imported; {why} of round {k - 1}"))
                else:
                    out.append(s)
            else:
                out.append(s)
    return out


def _data_error(path: Path, exc: ValidationError) -> InputError:
    first = exc.errors()[0]
    where = ".".join(str(x) for x in first["loc"]) or "(record)"
    return InputError(path, where, first["msg"])


def _mmevol_records(
    src: Path, opts: ImportOptions, counts: Counter[str], skipped: list[str]
) -> Records:
    """One seed and its rounds per ``*.json`` under ``src`` (sorted, subfolders included)."""
    if not src.is_dir():
        raise InputError(src, None, "not a folder (expected the per-image JSON files)")
    root = opts.images or src
    for path in sorted(src.rglob("*.json")):
        try:
            try:
                record = read_official_file(
                    path, root, allow_missing_images=opts.allow_missing_images, counts=counts
                )
                samples = official_samples(record)
                raw = load_json(path)  # again, for what the record model has no place for
            except ValidationError as exc:
                raise _data_error(path, exc) from exc
        except InputError as exc:
            if opts.strict:
                raise
            skipped.append(str(exc))
            continue
        _apply_score_lists(raw, samples, counts)
        yield record.seed, _check_parents(samples, counts)


IMPORTERS: dict[str, Importer] = {"mmevol": _mmevol_records}


# --- writing the run directory ---------------------------------------------------------------


def _prepare(sample: Sample, stats: Counter[str], counts: Counter[str]) -> Sample:
    """Normalise an imported evolution's vocabulary; its score in 0..10 becomes its verdict."""
    qa = normalize_item(sample.qa, stats)
    lineage = sample.lineage
    if qa.score is not None and not 0 <= qa.score <= 10:
        counts["import_scores_out_of_range"] += 1
        qa = qa.model_copy(update={"score": None})
    if qa.score is not None:
        verdict = Verdict(improved=True, score=qa.score, reason="kept in the source data",
                          judge=IMPORTED_JUDGE)  # fmt: skip
        lineage = lineage.model_copy(update={"verdict": verdict})
    return sample.model_copy(update={"qa": qa, "lineage": lineage})


def _source_of(seed: Seed) -> str:
    return seed.provenance[0].file if seed.provenance else seed.id


def _fill(store: Store, records: Records, counts: Counter[str], skipped: list[str],
          strict: bool) -> tuple[list[Seed], int, int]:  # fmt: skip
    """Journal every record; returns (seeds, samples written, highest round)."""
    seeds: dict[str, Seed] = {}
    n_samples = rounds = 0
    for seed, samples in records:
        if seed.id in seeds:
            exc = InputError(_source_of(seed), "image",
                             f"same image as {_source_of(seeds[seed.id])} (imported once)")  # fmt: skip
            if strict:
                raise exc
            counts["import_duplicate_images"] += 1
            skipped.append(str(exc))
            continue
        seeds[seed.id] = seed
        store.add_seed_samples([s for s in samples if s.round == 0])
        for k, group in sorted(_by_round(samples).items()):
            if k == 0:
                continue
            stats: Counter[str] = Counter()
            kept = [_prepare(s, stats, counts) for s in group]
            stats.update(candidates=len(kept), kept=len(kept))
            store.commit_unit(f"{seed.id}@r{k}", seed.id, k, None, kept, dict(stats))
            counts.update({key: v for key, v in stats.items() if "_" in key})
            rounds = max(rounds, k)
        n_samples += len(samples)
    return list(seeds.values()), n_samples, rounds


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
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise MmevolError(f"{out}: already exists and is not empty; choose a new --out directory")
    opts = ImportOptions(images=images, allow_missing_images=allow_missing_images, strict=strict)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.importing-", dir=out.parent))
    counts: Counter[str] = Counter()
    skipped: list[str] = []
    try:
        store = Store(tmp / "run.sqlite")
        try:
            records = IMPORTERS[fmt](src, opts, counts, skipped)
            seeds, n_samples, rounds = _fill(store, records, counts, skipped, strict)
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
    return ImportResult(out, len(seeds), n_samples, rounds, skipped, dict(counts))
