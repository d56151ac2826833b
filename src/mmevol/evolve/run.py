"""A run directory end to end: validate inputs, open or resume the run, evolve, write outputs.

Layout of ``RUN_DIR``:
    config.json          resolved config, backend description, version, git commit
    seeds.jsonl          the seeds this run evolves (validated copy of the input)
    run.sqlite           journal: calls (request cache), units, samples, failures
    rounds/round_K.jsonl every candidate of round K, kept or dropped, with its verdict and reason
    dataset.jsonl        the final dataset: seeds + every kept evolution (sorted by id)
    failures.jsonl       open failure records (a re-run retries them)
    stats.json           the numbers ``mmevol stats`` prints
    batches/             --mode batch|hybrid: batch input files until uploaded (then removed)
Inputs are validated before anything is created, so bad input leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import os
import shutil
import sqlite3
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmevol.backends.base import Backend, make_backend
from mmevol.backends.batch import check_mode, with_mode
from mmevol.errors import DAMAGED_SQLITE, ConfigError, InputError, MmevolError, sqlite_error
from mmevol.evolve.config import LATER_DEFAULTS, OPERATIONAL, EvolveConfig, config_record
from mmevol.evolve.engine import Engine
from mmevol.evolve.invariants import check_run
from mmevol.evolve.progress import live_progress
from mmevol.evolve.stats import compute_stats
from mmevol.fsutil import atomic_writer, remove_stale_temps, write_json, write_jsonl
from mmevol.io.safeio import open_regular, read_regular
from mmevol.outputs import check_run_dir, check_seeds_place, run_lock
from mmevol.prompts.registry import check_directions, use_directions
from mmevol.prompts.versions import active_templates
from mmevol.schema import Seed
from mmevol.seeds import read_seeds
from mmevol.store import Store, check_journal


@dataclass
class RunResult:
    run_dir: Path
    complete: bool
    stop_reason: str | None
    stats: dict[str, object]


def validate_seeds(path: Path) -> tuple[int, int, str]:
    """Read every seed once (raising a one-line InputError on the first bad one).

    Returns (number of seeds, number of items, sha256 of the file)."""
    open_regular(path, what="seeds file").close()  # missing, a folder, a FIFO: said so
    n_seeds = n_items = 0
    for n, seed in enumerate(read_seeds(path), start=1):
        n_seeds += 1
        n_items += len(seed.items)
        _check_image_file(path, n, seed.image.path)
    if n_seeds == 0:
        raise InputError(path, None, "no seeds in file (expected one seed JSON per line)")
    digest = hashlib.sha256(read_regular(path, what="seeds file")).hexdigest()
    return n_seeds, n_items, digest


def _check_image_file(path: Path, line: int, image: str) -> None:
    """A seed's image, when present, must be a regular file (not a device, pipe or folder);
    a missing one is the engine's business (seeds keyed by path have none)."""
    try:
        mode = os.stat(image).st_mode
    except (OSError, ValueError):
        return
    if not stat.S_ISREG(mode):
        raise InputError(f"{path}:{line}", "image.path", f"{image} is not a regular file "
                         "(expected an image file)")  # fmt: skip


def open_run(config: EvolveConfig, backend: Backend, digest: str) -> Store:
    """Create the run directory, or check that an existing one was made with this config
    (``digest``: the seeds file's sha256, from ``validate_seeds``)."""
    run_dir = Path(config.out)
    src = Path(config.seeds)
    record = config_record(config, backend.describe())
    record["seeds_sha256"] = digest
    cfg_path = run_dir / "config.json"
    if cfg_path.exists():
        check_journal(run_dir)  # a damaged journal: refused before anything is rewritten
        old = json.loads(cfg_path.read_text("utf-8"))
        if "imported_from" in old and "seeds_sha256" not in old:
            _check_continuation(run_dir, old, digest, config.rounds)
            old = {**old, "seeds_sha256": digest, "identity_hash": record["identity_hash"]}
        if "import" in old or "imported_from" in old:  # what the run was imported from
            record["import"] = old.get("import") or {k: v for k, v in old.items()
                                                     if k not in ("config", "backend")}  # fmt: skip
            record["imported_from"] = old.get("imported_from")
        if old.get("seeds_sha256") != digest:
            raise ConfigError(
                f"{run_dir}: was created from different seeds; use a new --out directory"
            )
        if old.get("identity_hash") != record["identity_hash"] and _nothing_done(run_dir):
            # every call of the earlier attempt failed (a wrong URL, key or model name): the
            # folder holds nothing worth keeping, so it takes the new settings
            print(f"note: {run_dir}: no call of the earlier attempt succeeded; starting over "
                  "with these settings", file=sys.stderr)  # fmt: skip
        elif old.get("identity_hash") != record["identity_hash"]:
            old_cfg = {**LATER_DEFAULTS, **old.get("config", {})}
            new_cfg = config.public_dump()
            keys = sorted((set(config.identity()) | set(old_cfg)) - OPERATIONAL)
            diff = [
                f"{k}: {old_cfg.get(k)!r} then, {new_cfg.get(k)!r} now"
                for k in keys
                if k in new_cfg and old_cfg.get(k) != new_cfg.get(k) and k != "out"
            ]
            raise ConfigError(
                f"{run_dir}: was created with other settings ({'; '.join(diff)}); "
                "re-run with the same settings to resume, or use a new --out directory"
            )
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        with atomic_writer(run_dir / "seeds.jsonl", "wb") as fh, src.open("rb") as inp:
            shutil.copyfileobj(inp, fh)
    record["config"]["out"] = str(run_dir)
    write_json(cfg_path, record)
    return Store(run_dir / "run.sqlite")


def _nothing_done(run_dir: Path) -> bool:
    """No call answered, unit finished or batch sent in this run (its old failures are dropped)."""
    store = Store(run_dir / "run.sqlite")
    try:
        if store.work_done():
            return False
        store.forget_failures()
        return True
    finally:
        store.close()


def _check_continuation(run_dir: Path, imported: dict[str, Any], digest: str, rounds: int) -> None:
    """An imported run is continued from the seeds it was imported with, for more rounds."""
    own = run_dir / "seeds.jsonl"
    if not own.is_file() or hashlib.sha256(own.read_bytes()).hexdigest() != digest:
        raise ConfigError(f"{run_dir}: an imported run is continued from its own seeds; "
                          f"pass {own} as SEEDS")  # fmt: skip
    done = int(imported.get("config", {}).get("rounds", 0))
    if rounds <= done:
        raise ConfigError(f"{run_dir}: the imported run already has {done} round(s); "
                          f"continue it with --rounds {done + 1} or more")  # fmt: skip


def write_outputs(store: Store, run_dir: Path, rounds: int) -> dict[str, object]:
    """Check the run's invariants, then write the final files from the journal (atomically,
    deterministic order). A violation raises ``InvariantError`` before any file is written."""
    check_run(store)
    names = ["dataset.jsonl", "failures.jsonl", "stats.json", "config.json", "seeds.jsonl"]
    rounds_names = [f"round_{k}.jsonl" for k in range(1, rounds + 1)]
    remove_stale_temps(run_dir, names)  # left by a run killed while writing them
    remove_stale_temps(run_dir / "rounds", rounds_names)
    write_jsonl(run_dir / "dataset.jsonl", store.iter_samples(kept_only=True))
    for k in range(1, rounds + 1):
        write_jsonl(
            run_dir / "rounds" / f"round_{k}.jsonl", store.iter_samples(kept_only=False, round_=k)
        )
    write_jsonl(run_dir / "failures.jsonl", store.failures(open_only=True))
    stats = compute_stats(store, rounds)
    write_json(run_dir / "stats.json", stats)
    return stats


def run_evolve(config: EvolveConfig) -> RunResult:
    """Run (or resume) the evolve stage and write the outputs when every unit is done.

    A journal that cannot be written (disk full, read-only) is a one-line ``MmevolError``; what
    was committed before stays valid and a re-run resumes from it."""
    try:
        return _run_evolve(config)
    except sqlite3.Error as exc:
        db = Path(config.out) / "run.sqlite"
        if any(word in str(exc) for word in DAMAGED_SQLITE):
            raise sqlite_error(exc, db) from exc
        raise MmevolError(
            f"{db}: cannot write the run journal ({exc}); free disk space or fix permissions,"
            " then re-run the same command to resume"
        ) from exc


# ``--engine ray`` lives in ``mmevol.scale``, a room above this one: it is loaded by name, when asked for
RAY_SESSION = "mmevol.scale.cluster:ray_session"
RAY_RUN = "mmevol.scale.ray_runner:run_ray"


def _plugin(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def _run_evolve(config: EvolveConfig) -> RunResult:
    if config.engine == "ray":
        ray_session = _plugin(RAY_SESSION)
        check_mode(config)
        # joined (or started) before anything is written: a missing extra or a cluster that
        # cannot be reached is a one-line error that leaves no run directory behind
        with ray_session(config.ray_address):
            return _evolve_here(config)
    return _evolve_here(config)


def _evolve_here(config: EvolveConfig) -> RunResult:
    check_mode(config)  # a backend without a batch API: refused before anything is written
    run_dir = Path(config.out)
    check_run_dir(run_dir)  # not a folder holding someone else's files
    check_seeds_place(Path(config.seeds), run_dir)
    check_directions(run_dir, config.custom_directions())  # before anything is written
    _, _, digest = validate_seeds(Path(config.seeds))  # a bad seeds file is said first
    backend = make_backend(config.backend, **config.backend_settings())
    seeds = list(read_seeds(Path(config.seeds)))
    if backend.vision and backend.reads_images:
        check_images(Path(config.seeds), seeds)
    for line in backend.seed_warnings(seeds):
        print(f"warning: {line}", file=sys.stderr)
    if config.preflight and not _finished(run_dir, config.rounds):
        preflight(backend)
    with run_lock(run_dir):  # one writer per run; a second process stops here
        return _evolve_locked(config, run_dir, backend, digest)


def _finished(run_dir: Path, rounds: int) -> bool:
    """A run already complete for this many rounds needs no call: a re-run reads its journal."""
    try:
        stats = json.loads((run_dir / "stats.json").read_text("utf-8"))
        return bool(stats.get("complete")) and len(stats.get("rounds") or []) >= rounds
    except (OSError, ValueError, AttributeError, TypeError):
        return False


def check_images(path: Path, seeds: list[Seed]) -> None:
    """A backend that reads the images needs every seed's file: say how many are missing and
    that ``--text-only`` sends the captions and boxes instead."""
    missing = [s.image.path for s in seeds if not os.path.isfile(s.image.path)]
    if missing:
        raise InputError(path, "image.path", f"{len(missing)} seed image file(s) missing (e.g. "
                         f"{missing[0]}); fix the paths, or evolve from the captions and boxes "
                         "alone with --text-only (vision=False from Python)")  # fmt: skip


def preflight(backend: Backend) -> None:
    """The backend's pre-flight (an endpoint that cannot serve the run stops it here, before
    anything is written); its warnings go to stderr."""

    async def ask() -> list[str]:
        try:
            return await backend.preflight()
        finally:
            await backend.aclose()

    for line in asyncio.run(ask()):
        print(f"warning: {line}", file=sys.stderr)


def _evolve_locked(config: EvolveConfig, run_dir: Path, backend: Backend, digest: str) -> RunResult:
    store = open_run(config, backend, digest)
    use_directions(run_dir, config.custom_directions())  # the run keeps what it draws
    backend = with_mode(backend, store, config)
    engine = Engine(config, store, backend, templates=active_templates(run_dir))

    async def main() -> None:
        try:
            async with live_progress(engine, enabled=config.progress):
                seeds = read_seeds(run_dir / "seeds.jsonl")
                if config.engine == "ray":
                    await _plugin(RAY_RUN)(engine, seeds)
                else:
                    await engine.run(seeds)
        finally:
            await backend.aclose()

    try:
        asyncio.run(main())
        if runtime := backend.runtime_record():  # the server family and structured mode used
            store.set_meta("backend_runtime", json.dumps(runtime))
        store.settle_answered_batches()  # a hybrid cut-off's batches whose calls went online
        open_failures = store.failures(open_only=True)
        complete = engine.stop_reason is None and not open_failures and not store.open_batches()
        store.set_meta("complete", "1" if complete else "0")
        stats = write_outputs(store, run_dir, config.rounds)
    finally:
        store.close()
    return RunResult(run_dir, complete, engine.stop_reason, stats)
