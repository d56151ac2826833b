"""Where a command may write: output paths that never clobber, and one writer per run directory.

* ``check_output_file``: an ``--out`` file must be absent or a regular file (never a folder, a
  device, a pipe or a link), and never one of the command's inputs or one of a run
  directory's own files (``RUN_FILES``), whatever spelling leads there.
  A file that holds an image or a database is never replaced either, and a path inside any
  run folder (found by walking up from it) is checked against that run's files.
* ``check_run_dir``: ``evolve --out`` must be absent, an empty folder, an mmevol run (its
  ``config.json`` says so) or hold only what mmevol puts there before a run (a prompt store);
  a folder holding anything else, even files named like a run's, is not written into.
* ``check_seeds_place``: the seeds ``evolve`` reads are not one of the files it will write.
* ``run_lock``: an exclusive OS lock (``flock``) on ``RUN_DIR/.mmevol.lock`` for as long as a
  process writes the run; a second writer stops at once with one line naming the holder.
  The lock is released by the OS when the process dies, so a killed run never blocks the next.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from mmevol.errors import InputError, MmevolError

LOCK_FILE = ".mmevol.lock"
RUN_FILES = frozenset(
    {
        "config.json", "seeds.jsonl", "run.sqlite", "run.sqlite-wal", "run.sqlite-shm",
        "run.sqlite-journal", "dataset.jsonl", "failures.jsonl", "stats.json", "rounds",
        "batches", "reviews.sqlite", "reviews.sqlite-wal", "reviews.sqlite-shm", "prompts",
        LOCK_FILE,
    }
)  # fmt: skip

BEFORE_A_RUN = frozenset({"prompts", LOCK_FILE})

try:  # POSIX; elsewhere there is no lock and a second writer is not detected
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class RunBusy(MmevolError):
    """Another process is writing the same run directory."""


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def check_output_file(
    out: Path, *, inputs: Iterable[Path] = (), runs: Iterable[Path] = (), own: Iterable[str] = ()
) -> None:
    """Refuse an ``--out`` file that would destroy something (see the module doc). ``own``:
    names inside a run that this command itself writes (``report.html``)."""
    if out.is_symlink():
        raise InputError(out, None, "is a link; expected a regular file or a new path for --out")
    if out.exists() and not out.is_file():
        raise InputError(
            out, None, "is not a regular file (a folder, device or pipe); expected a regular "
            "file or a new path for --out",
        )  # fmt: skip
    for source in inputs:
        if _same(out, Path(source)):
            raise InputError(out, None, "is also an input of this command; choose another --out")
    if out.is_file() and (kind := _precious(out)):
        raise InputError(out, None, f"holds {kind}, not an earlier output; choose another --out")
    resolved = out.resolve()
    allowed = set(own)
    # the run folders named, and any run folder the path lies in (a run's own files are never
    # an output of another command, whichever command it is)
    runs = [*runs, *(p for p in resolved.parents[:3] if is_run_dir(p))]
    for run in runs:
        try:
            inside = resolved.relative_to(Path(run).resolve()).parts
        except ValueError:
            continue
        if inside and inside[0] in RUN_FILES and inside[0] not in allowed:
            raise InputError(
                out, None, f"is one of the files of run {run}; choose a path outside it for --out"
            )


_MAGIC = (
    (b"\xff\xd8\xff", "an image (JPEG)"), (b"\x89PNG", "an image (PNG)"),
    (b"GIF8", "an image (GIF)"), (b"BM", "an image (BMP)"), (b"II*\x00", "an image (TIFF)"),
    (b"MM\x00*", "an image (TIFF)"), (b"SQLite format 3\x00", "a SQLite database"),
)  # fmt: skip


def _precious(path: Path) -> str | None:
    """What an existing file holds when it is something no command of ours writes as an
    output (an image, a database): overwriting it would destroy data, not an earlier output."""
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "an image (WebP)"
    return next((kind for magic, kind in _MAGIC if head.startswith(magic)), None)


def is_run_dir(path: Path) -> bool:
    """True when ``path`` holds an mmevol run (made by evolve, demo or import)."""
    cfg = path / "config.json"
    try:
        record = json.loads(cfg.read_text("utf-8")) if cfg.is_file() else None
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(record, dict) and "mmevol_version" in record


def check_run_dir(out: Path) -> None:
    """``evolve --out``: absent, empty, or an mmevol run; anything else is refused."""
    if out.is_symlink() and not out.is_dir():
        raise InputError(out, None, "is a link to no folder; expected a run directory")
    if not out.exists():
        return
    if not out.is_dir():
        raise InputError(out, None, "is not a folder (expected a new or existing run directory)")
    if is_run_dir(out):
        return
    # only what mmevol itself puts in a folder before a run (``prompts init --run``) may be
    # there: anything else, even named like a run's file, is someone's data
    foreign = sorted(p.name for p in out.iterdir() if p.name not in BEFORE_A_RUN)
    if foreign:
        shown = ", ".join(foreign[:3]) + (" ..." if len(foreign) > 3 else "")
        raise InputError(
            out, None, f"holds files that are not an mmevol run ({shown}); choose a new --out"
        )


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold the run's writer lock; a folder this call created is removed again when the
    body fails before writing anything but the lock (bad input leaves nothing behind)."""
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_FILE
    fd = _acquire(path)
    failed = False
    try:
        yield
    except BaseException:
        failed = True
        raise
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)
        if failed and created and not any(p.name != LOCK_FILE for p in run_dir.iterdir()):
            shutil.rmtree(run_dir, ignore_errors=True)


def _acquire(path: Path) -> int:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is None:  # pragma: no cover
            return fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_holder(fd)
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise RunBusy(
                f"{path.parent}: another mmevol process{holder} is writing this run; wait for "
                "it to finish, or use another --out"
            ) from None
        try:  # the file we locked may have been removed by the holder releasing it
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                os.ftruncate(fd, 0)
                os.write(fd, str(os.getpid()).encode())
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return f" (pid {text})" if text.isdigit() else ""


def check_seeds_place(seeds: Path, run_dir: Path) -> None:
    """``evolve SEEDS --out RUN``: SEEDS must not be a file the run writes (its own
    ``seeds.jsonl`` is fine: an imported run is continued from it)."""
    try:
        inside = seeds.resolve().relative_to(run_dir.resolve()).parts
    except (ValueError, OSError):
        return
    if inside and inside[0] in RUN_FILES and inside != ("seeds.jsonl",):
        raise InputError(seeds, None, f"is one of the files run {run_dir} writes; keep the "
                         "seeds outside the run folder")  # fmt: skip
