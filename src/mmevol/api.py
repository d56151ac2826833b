"""The Python API: what the ``mmevol`` command does, callable from a script or a notebook.

    from mmevol import Run, build_seeds, demo_seeds, evolve, export

    seeds = demo_seeds("work/seeds.jsonl", n=8)        # or build_seeds("seeds.jsonl", coco_...=)
    run = evolve(seeds, out="work/run", rounds=2)      # backend="grounded" (offline, not an LLM)
    for sample in run:                                 # pydantic ``Sample``s
        ...
    frame = run.to_pandas()                            # or run.to_dataset() (Hugging Face)
    export(run, "llava", "work/llava.json")

The command line is a thin layer over these functions: ``mmevol seeds build`` calls
``build_seeds``, ``mmevol evolve`` calls ``evolve``, ``mmevol export`` calls ``export``. Every
setting of a run is a field of ``EvolveConfig`` and is passed to ``evolve`` by that name;
an unknown name is refused. A run directory is resumable from either side: re-running
``evolve`` with the same settings (or the same command) finishes it without repeating
completed model calls.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from mmevol.errors import MmevolError
from mmevol.evolve.config import EvolveConfig
from mmevol.evolve.run import RunResult, run_evolve
from mmevol.io.safeio import parse_json, read_regular
from mmevol.prompts.registry import register_direction
from mmevol.schema import Sample, Seed
from mmevol.seeds import SeedStats, read_seeds

if TYPE_CHECKING:
    import datasets
    import pandas

PathLike = str | Path
MAX_CONFIG_BYTES = 4 * 1024 * 1024
__all__ = ["Run", "SeedSet", "build_seeds", "demo_seeds", "evolve", "export", "register_direction"]


@dataclass(frozen=True)
class SeedSet:
    """A seeds JSONL file (what ``evolve`` reads) and, when it was just built, its counts."""

    path: Path
    stats: SeedStats | None = None

    def __iter__(self) -> Iterator[Seed]:
        return read_seeds(self.path)

    def __len__(self) -> int:
        return sum(1 for _ in read_seeds(self.path))


def build_seeds(
    out: PathLike,
    *,
    coco_captions: Sequence[PathLike] = (),
    coco_instances: Sequence[PathLike] = (),
    images: Sequence[PathLike] = (),
    llava: Sequence[PathLike] = (),
    sharegpt: Sequence[PathLike] = (),
    mmevol_official: PathLike | None = None,
    allow_missing_images: bool = False,
    max_items_per_image: int = 8,
    near_dup_threshold: float = 0.9,
    caption_items: bool = True,
    skip_bad: bool = False,
) -> SeedSet:
    """Read the sources, merge them by image content, split, dedup and cap the Q&A items and
    write the seeds to ``out`` (JSONL); as ``mmevol seeds build``."""
    from mmevol.outputs import check_output_file
    from mmevol.seeds import SourceSpec, build_from_specs

    out_path = Path(out)
    paths = [Path(p) for p in (*coco_captions, *coco_instances, *llava, *sharegpt)]
    official = Path(mmevol_official) if mmevol_official is not None else None
    sources = [*paths, *([official] if official else [])]
    check_output_file(out_path, inputs=sources)
    check_output_file(out_path.with_name(out_path.stem + ".rejected.jsonl"), inputs=sources)
    specs = SourceSpec.from_cli(
        coco_captions=[Path(p) for p in coco_captions],
        coco_instances=[Path(p) for p in coco_instances],
        images=[Path(p) for p in images],
        llava=[Path(p) for p in llava],
        sharegpt=[Path(p) for p in sharegpt],
        mmevol_official=official,
        allow_missing_images=allow_missing_images,
    )
    stats = build_from_specs(
        specs,
        out_path,
        max_items_per_image=max_items_per_image,
        near_dup_threshold=near_dup_threshold,
        caption_items=caption_items,
        skip_bad=skip_bad,
    )
    return SeedSet(out_path, stats)


def demo_seeds(out: PathLike, *, n: int = 8, seed: int = 0) -> SeedSet:
    """Render ``n`` scenes with exact scene graphs beside ``out`` and write them as seeds: free
    data to try the engine on (the ``mmevol demo`` source)."""
    from mmevol.seeds import write_seeds
    from mmevol.world.scenes import write_demo_set

    out_path = Path(out)
    if not 1 <= n <= 1000:
        raise MmevolError(f"demo_seeds: n must be 1..1000, got {n}")
    scenes = write_demo_set(out_path.parent / "scenes", n=n, seed=seed)
    write_seeds(scenes, out_path)
    return SeedSet(out_path)


@dataclass
class Run:
    """A run directory: its settings, counts, failures and dataset.

    Iterating yields the final dataset's samples (seed items and kept evolutions) as pydantic
    ``Sample``s; ``to_pandas`` / ``to_dataset`` give one row per sample."""

    path: Path
    result: RunResult | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not (self.path / "config.json").is_file():
            raise MmevolError(f"{self.path}: not a run directory (no config.json)")
        self.config  # noqa: B018 - a damaged config.json is said now, not at first use

    @property
    def config(self) -> EvolveConfig:
        """The settings the run was made with (``config.json``'s ``config``; an imported run
        records only a few, the rest are the defaults)."""
        path = self.path / "config.json"
        record = parse_json(
            read_regular(path, limit=MAX_CONFIG_BYTES).decode("utf-8", "replace"), path
        )
        where = {"seeds": str(self.path / "seeds.jsonl"), "out": str(self.path)}
        try:
            return EvolveConfig.model_validate({**where, **record["config"]})
        except (ValidationError, TypeError, KeyError):
            raise MmevolError(f"{path}: config: expected the run's settings (a damaged or "
                              "foreign config.json)") from None  # fmt: skip

    @property
    def stats(self) -> dict[str, Any]:
        path = self.path / "stats.json"
        return dict(json.loads(path.read_text("utf-8"))) if path.is_file() else {}

    @property
    def complete(self) -> bool:
        """Every unit of every round done and nothing left to retry."""
        return bool(self.stats.get("complete"))

    def failures(self) -> list[dict[str, Any]]:
        """The open failure records (what a re-run retries), as in ``failures.jsonl``."""
        path = self.path / "failures.jsonl"
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]

    def samples(self) -> Iterator[Sample]:
        from mmevol.io.tabular import read_samples

        dataset = self.path / "dataset.jsonl"
        if not dataset.is_file():
            raise MmevolError(f"{self.path}: no dataset.jsonl yet (the run has not finished)")
        return read_samples(dataset)

    def __iter__(self) -> Iterator[Sample]:
        return self.samples()

    def __len__(self) -> int:
        return sum(1 for _ in self.samples())

    def records(self) -> list[dict[str, Any]]:
        """One flat row per sample: id, image, round, direction, question, answer, skills, ..."""
        return [flat_record(s) for s in self.samples()]

    def to_pandas(self) -> pandas.DataFrame:
        pandas = _optional("pandas", "pandas")
        return pandas.DataFrame.from_records(self.records())

    def to_dataset(self) -> datasets.Dataset:
        """A Hugging Face ``datasets.Dataset`` (one row per sample, image as its path)."""
        datasets = _optional("datasets", "datasets")
        return datasets.Dataset.from_list(self.records())

    def export(self, fmt: str, out: PathLike, **options: Any) -> Path:
        """Write the dataset in ``fmt`` (as ``mmevol export``; options by their flag names)."""
        return export(self, fmt, out, **options)


def flat_record(s: Sample) -> dict[str, Any]:
    """A sample as one table row (lists of strings stay lists; steps as JSON text)."""
    lineage = s.lineage
    return {
        "id": s.id,
        "seed_id": s.seed_id,
        "image": s.image.path,
        "round": lineage.round,
        "direction": lineage.direction or "seed",
        "parent_id": lineage.parent_id,
        "question": s.qa.question,
        "answer": s.qa.answer,
        "skills": list(s.qa.skills),
        "format": s.qa.format,
        "steps": json.dumps([st.model_dump(mode="json") for st in s.qa.steps]),
        "judge_score": lineage.verdict.score if lineage.verdict else None,
    }


def _optional(module: str, package: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MmevolError(f"this needs {package}: pip install {package}") from None


def evolve(seeds: SeedSet | PathLike, *, out: PathLike, **settings: Any) -> Run:
    """Evolve ``seeds`` into the run directory ``out`` (created, or resumed when it exists).

    ``settings`` are ``EvolveConfig`` fields by name (``backend``, ``rounds``, ``model``,
    ``base_url``, ``direction_weights``, ``concurrency``, ...); ``progress`` defaults to off
    here. Returns the ``Run``; when units failed or the run stopped, it warns with the causes
    and ``run.complete`` is False (call ``evolve`` again to retry them)."""
    seeds_path = seeds.path if isinstance(seeds, SeedSet) else Path(seeds)
    unknown = set(settings) - set(EvolveConfig.model_fields) - {"seeds", "out"}
    if unknown:
        names = ", ".join(sorted(EvolveConfig.model_fields))
        raise MmevolError(f"evolve: unknown setting(s) {sorted(unknown)}; known: {names}")
    settings.setdefault("progress", False)
    try:
        config = EvolveConfig(seeds=str(seeds_path), out=str(out), **settings)
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "settings"
        msg = str(first["msg"]).removeprefix("Value error, ")
        raise MmevolError(f"evolve: {field}: {msg} (got {first.get('input')!r:.60})") from None
    result = run_config(config)
    if not result.complete:
        from mmevol.evolve.diagnose import failure_lines

        why = result.stop_reason or f"{len(Run(result.run_dir).failures())} unit(s) failed"
        lines = "; ".join(failure_lines(result.stats))
        warnings.warn(f"{result.run_dir}: incomplete: {why}. {lines}".strip(), stacklevel=2)
    return Run(result.run_dir, result)


def run_config(config: EvolveConfig) -> RunResult:
    """``run_evolve`` from anywhere: inside a running event loop (a notebook), on a thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run_evolve(config)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(run_evolve, config).result()


def export(run: Run | PathLike, fmt: str, out: PathLike, **options: Any) -> Path:
    """Write a run's dataset in ``fmt`` (``llava``, ``trl``, ``parquet``, ...) at ``out``."""
    from mmevol.evolve.export import export_run
    from mmevol.outputs import check_output_file

    run_dir = run.path if isinstance(run, Run) else Path(run)
    known = set(inspect.signature(export_run).parameters) - {"run_dir", "fmt", "out"}
    if unknown := sorted(set(options) - known):
        raise MmevolError(f"export: unknown option(s) {unknown}; known: {', '.join(sorted(known))}")
    out_path = Path(out)
    if not out_path.is_dir():  # a folder (an earlier export) is checked where it is replaced
        check_output_file(out_path, runs=[run_dir])
    return export_run(run_dir, fmt, out_path, **options)
