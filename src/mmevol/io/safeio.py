"""Bounded reading of user files: regular files only, JSON values of sane shape, safe path text.

Everything a user (or an attacker) hands to ``mmevol`` goes through here before it is trusted:

* ``open_regular`` / ``read_regular`` open a path with ``O_NONBLOCK`` and check the opened
  descriptor with ``fstat``: a FIFO, a device, a socket or a directory is refused with one line
  instead of hanging (or reading ``/dev/zero`` forever); the check is on the open file, so a
  swap between check and read is not possible.
* ``parse_json`` parses text and ``check_value`` walks the value (iteratively, no recursion):
  nesting deeper than ``MAX_DEPTH`` levels, NaN/Infinity, integers beyond 64 bits, numbers of
  thousands of digits and strings with a lone UTF-16 surrogate (``"\\ud800"``, which no UTF-8
  file can hold) are refused with an ``InputError`` naming the file, the field and what was
  expected.
* ``check_path_text`` refuses NUL and other control characters in a path read from a file.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
import unicodedata
from pathlib import Path
from typing import IO, Any

from mmevol.errors import InputError

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # not tab, newline, return
MAX_DEPTH = 64  # JSON nesting levels any input of ours needs is < 10
MAX_INT = 2**63  # integers must fit in 64 bits (ids, sizes, counts)
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def open_regular(path: Path | str, field: str | None = None, *, what: str = "file") -> IO[bytes]:
    """Open ``path`` for binary reading if it is a regular file; else ``InputError`` (one
    line: the file, what it is, that a regular file was expected). Never blocks on a FIFO."""
    path = Path(path)
    try:
        check_path_text(str(path), str(path), field)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError as exc:
        raise InputError(path, field, f"{what} not found") from exc
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a socket, or a FIFO opened in a way that needs a writer
            raise InputError(path, field, f"not a regular {what} (expected a {what})") from exc
        raise InputError(path, field, f"cannot read the {what} ({exc.strerror})") from exc
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise InputError(path, field, f"is {_kind(mode)}, not a regular {what} (refused)")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(
    path: Path | str, field: str | None = None, *, what: str = "file", limit: int | None = None
) -> bytes:
    """The bytes of a regular file (see ``open_regular``); more than ``limit`` bytes is an
    ``InputError``."""
    with open_regular(path, field, what=what) as fh:
        try:
            data = fh.read() if limit is None else fh.read(limit + 1)
        except OSError as exc:
            raise InputError(path, field, f"cannot read the {what} ({exc.strerror})") from exc
    if limit is not None and len(data) > limit:
        raise InputError(path, field, f"{what} larger than {limit} bytes (refused)")
    return data


def _join(loc: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{loc}[{key}]"
    name = str(key)
    name = name if name.isidentifier() and len(name) <= 40 else ascii(name[:40])
    return f"{loc}.{name}" if loc else name


def _bad_text(s: str) -> bool:
    if s.isascii():
        return False
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


SURROGATE = "holds a lone UTF-16 surrogate (a \\ud800-\\udfff escape), not text (fix the string)"


def check_value(value: Any, where: str | Path, base: str = "", *, finite: bool = True) -> None:
    """Refuse a parsed JSON value that no later step could handle (see module docstring).
    ``where`` is the file (or ``file:line``); fields are named from ``base``. ``finite=False``
    lets NaN and Infinity through (a reader that drops the records holding them)."""
    stack: list[tuple[Any, str, int]] = [(value, base, 0)]
    while stack:
        v, loc, depth = stack.pop()
        field = loc or "(top level)"
        if isinstance(v, str):
            if _bad_text(v):
                raise InputError(where, field, SURROGATE)
            if (ctrl := CONTROL.search(v)) is not None:
                raise InputError(where, field, f"holds the control character "
                                 f"U+{ord(ctrl.group()):04X} at position {ctrl.start()} (expected "
                                 "text: no NUL, escape or other control codes)")  # fmt: skip
        elif isinstance(v, bool) or v is None:
            continue
        elif isinstance(v, int):
            if abs(v) >= MAX_INT:
                raise InputError(where, field, f"integer of {len(str(abs(v)))} digits "
                                 "(expected a number that fits in 64 bits)")  # fmt: skip
        elif isinstance(v, float):
            if finite and not math.isfinite(v):
                raise InputError(where, field, f"{v} is not a finite number (NaN and Infinity "
                                 "are not JSON numbers)")  # fmt: skip
        elif isinstance(v, dict | list):
            if depth >= MAX_DEPTH:
                raise InputError(where, field, f"nested too deeply (more than {MAX_DEPTH} "
                                 "levels; refused)")  # fmt: skip
            pairs = v.items() if isinstance(v, dict) else enumerate(v)
            children = []
            for k, x in pairs:
                if isinstance(k, str) and _bad_text(k):
                    raise InputError(where, _join(loc, "?"), "key " + SURROGATE)
                children.append((x, _join(loc, k), depth + 1))
            stack.extend(reversed(children))


def parse_json(
    text: str,
    where: str | Path,
    field: str | None = None,
    *,
    one_line: bool = False,
    finite: bool = True,
) -> Any:
    """``json.loads`` + ``check_value``; every failure is an ``InputError`` naming ``where``
    (a syntax error also names its line and column; only the column when ``one_line``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        at = f"column {exc.colno}" if one_line else f"line {exc.lineno} column {exc.colno}"
        raise InputError(where, f"{field} {at}" if field else at,
                         f"invalid JSON ({exc.msg})") from None  # fmt: skip
    except RecursionError:
        raise InputError(where, field, f"JSON nested too deeply (more than {MAX_DEPTH} "
                         "levels; refused)") from None  # fmt: skip
    except ValueError:  # an integer of more digits than Python converts (> 4300)
        raise InputError(where, field, "a number of thousands of digits (expected ordinary "
                         "numbers)") from None  # fmt: skip
    check_value(value, where, field or "", finite=finite)
    return value


def loads_or_none(text: str) -> Any:
    """A nested JSON string read tolerantly: its value, or None when it is not JSON this
    module would accept (bad syntax, too deep, NaN, huge numbers, lone surrogates)."""
    try:
        return parse_json(text, "(string)")
    except InputError:
        return None


def check_path_text(name: str, where: str | Path, field: str | None) -> None:
    """A path read from a file must be printable text: NUL, control characters (tabs and
    newlines included), line separators and lone surrogates are refused."""
    bad = next((c for c in name if unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp")), None)
    if bad is not None:
        raise InputError(where, field, f"path {name[:80]!a} holds the control character "
                         f"{bad!a} (expected a printable file name)")  # fmt: skip
