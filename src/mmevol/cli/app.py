"""The ``mmevol`` Typer app, its consoles and ``friendly``: user errors (``MmevolError``) are
printed as one line on stderr with a non-zero exit code, never as a traceback.

Every command lives in a module of this package and registers itself on ``app``;
``mmevol.cli`` imports them all. Each command is a thin layer over a library function.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from mmevol.errors import MmevolError, sqlite_error

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Evolve image-instruction data (MMEvol) into a larger, harder, grounded set.",
)
err = Console(stderr=True)
out = Console()
F = TypeVar("F", bound=Callable[..., Any])
# EvolveConfig fields whose ``mmevol evolve`` flag has another name (tests/test_cli_flags.py
# checks every field against the command's flags, so a new field needs a flag or a reason)
CONFIG_FLAGS = {
    "direction_weights": "weights",
    "timeout_s": "timeout",
    "prices_file": "prices",
    "batch_poll_s": "batch-poll",
    "batch_deadline_s": "batch-deadline",
    "vision": "text-only",
    "backend_options": "backend-option",
}
# EvolveConfig fields with no flag: tuned in code or by a library user, recorded in config.json
CONFIG_WITHOUT_FLAG = frozenset(
    {"judge_temperature", "min_judge_score", "min_units_for_error_rate", "near_dup_threshold",
     "progress", "reask"}
)  # fmt: skip
# flags that are not settings of the run
FLAGS_WITHOUT_CONFIG = frozenset({"estimate", "focus-type"})


def friendly(fn: F) -> F:
    """Turn MmevolError (and pydantic validation of options) into one line + exit code."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except KeyboardInterrupt:  # Ctrl-C: what was journalled stays; say how to go on
            err.print("[yellow]interrupted[/yellow]: completed calls are kept; re-run the same "
                      "command to resume", highlight=False, soft_wrap=True)  # fmt: skip
            raise typer.Exit(130) from None
        except (MmevolError, sqlite3.DatabaseError) as e:
            if isinstance(e, sqlite3.DatabaseError):  # a damaged run.sqlite / reviews.sqlite
                e = sqlite_error(e)
            err.print(f"[red]error:[/red] {escape(str(e))}", highlight=False, soft_wrap=True)
            raise typer.Exit(e.exit_code) from None
        except ValidationError as e:  # settings that fail the config model
            first = e.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else "settings"
            flag = CONFIG_FLAGS.get(field, field.replace("_", "-"))
            err.print(f"[red]error:[/red] --{flag}: {first['msg']}", highlight=False)
            raise typer.Exit(2) from None
        except (ValueError, OSError) as e:
            if isinstance(e, FileExistsError | NotADirectoryError) and e.filename:
                msg = f"{e.filename}: cannot create a folder there ({e.strerror}: a file is in the way)"
            elif isinstance(e, OSError) and e.filename:
                msg = f"{e.filename}: {e.strerror}"
            else:
                msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            err.print(f"[red]error:[/red] {escape(msg)}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]
