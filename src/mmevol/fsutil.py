"""Atomic file writes: outputs appear whole or not at all.

Every file a run or an export produces is written to a temporary sibling and moved into place
with ``os.replace`` once complete, so a crash or a full disk never leaves a truncated output.
A folder is built the same way (``temp_dir``): it carries the writer's pid until it is moved
into place, so the leftovers of a killed writer are recognised and removed
(``remove_stale_temp_dirs``) while another live writer's are not touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@contextlib.contextmanager
def atomic_writer(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temp file beside ``path``; on clean exit fsync and rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file ordinary permissions
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not exc.filename and exc.errno is not None:
            # a failed write or fsync (disk full) names no file: name the output it was for
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise


def write_jsonl(path: Path, rows: Iterable[BaseModel | dict[str, Any]]) -> int:
    """Atomically write one JSON object per line; returns the number of rows."""
    n = 0
    with atomic_writer(path) as fh:
        for row in rows:
            if isinstance(row, BaseModel):
                fh.write(row.model_dump_json(exclude_none=True))
            else:
                fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True))
            fh.write("\n")
            n += 1
    return n


def write_json(path: Path, value: Any) -> None:
    """Atomically write pretty JSON."""
    with atomic_writer(path) as fh:
        json.dump(value, fh, indent=2, ensure_ascii=False, sort_keys=True)
        fh.write("\n")


WRITER_MARK = ".mmevol-writer"


def temp_dir(parent: Path, prefix: str) -> Path:
    """A new folder in ``parent`` (ordinary permissions, not mkdtemp's 0700) marked with this
    process's pid; call ``finish_temp_dir`` before moving it into place."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    tmp.chmod(0o777 & ~_UMASK)
    (tmp / WRITER_MARK).write_text(str(os.getpid()))
    return tmp


def finish_temp_dir(tmp: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (tmp / WRITER_MARK).unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temp_dirs(parent: Path, prefix: str) -> int:
    """Remove the ``temp_dir`` folders with ``prefix`` in ``parent`` whose writer is dead."""
    removed = 0
    for tmp in parent.glob(f"{glob_escape(prefix)}*"):
        mark = tmp / WRITER_MARK
        if tmp.is_symlink() or not tmp.is_dir() or not mark.is_file():
            continue
        try:
            pid = int(mark.read_text().strip())
        except (OSError, ValueError):
            continue
        if pid != os.getpid() and not _alive(pid):
            shutil.rmtree(tmp, ignore_errors=True)
            removed += 1
    return removed


def glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in text)


def remove_stale_temps(folder: Path, names: Iterable[str]) -> int:
    """Delete temp files that a killed writer left beside ``names`` in ``folder`` (the
    ``.NAME.*.tmp`` siblings of ``atomic_writer``); returns how many were removed."""
    removed = 0
    for name in names:
        for tmp in Path(folder).glob(f".{name}.*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
                removed += 1
    return removed
