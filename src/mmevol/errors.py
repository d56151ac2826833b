"""User-facing errors: one line that names the file and field and says what was expected.

The CLI prints ``str(error)`` for these and exits non-zero; nothing else should be needed for a
user to fix their input. Internal bugs are not wrapped here and keep their tracebacks.
"""

from __future__ import annotations

from pathlib import Path


class MmevolError(Exception):
    """Base of the errors the CLI reports as a single line (exit code ``exit_code``)."""

    exit_code = 2


class InputError(MmevolError):
    """Bad input data: ``file: field: what is wrong (expected ...)``."""

    def __init__(self, file: str | Path, field: str | None, problem: str) -> None:
        self.file = str(file)
        self.field = field
        self.problem = problem
        where = f"{self.file}: {field}" if field else self.file
        super().__init__(f"{where}: {problem}")


def skip_or_raise(exc: InputError, rejects: list[InputError] | None) -> None:
    """Keep a bad record's error in ``rejects`` when the user chose to skip bad records
    (``rejects`` is a list), else raise it: the first bad record stops the read."""
    if rejects is None:
        raise exc
    rejects.append(exc)


class ConfigError(MmevolError):
    """Inconsistent options or a run directory made with another configuration."""


class RunStopped(MmevolError):
    """The run stopped on purpose (error threshold, budget); re-running resumes it."""

    exit_code = 3


DAMAGED_SQLITE = ("not a database", "malformed", "corrupt")
_SQLITE_OPENED: list[str] = []  # the SQLite files this process opened, newest last


def note_sqlite(path: str | Path) -> None:
    """Remember a SQLite file this process opened (named when one turns out damaged)."""
    _SQLITE_OPENED.append(str(path))


def sqlite_error(exc: Exception, path: str | Path | None = None) -> MmevolError:
    """A one-line error for a SQLite failure, naming the file (or the files opened so far)."""
    files = str(path) if path is not None else ", ".join(dict.fromkeys(_SQLITE_OPENED[-3:]))
    where = files or "a SQLite file"
    if any(word in str(exc) for word in DAMAGED_SQLITE):
        return MmevolError(
            f"{where}: the file is damaged ({exc}); restore it from a copy, or start again "
            "with a new --out"
        )
    return MmevolError(f"{where}: SQLite error: {exc}")
