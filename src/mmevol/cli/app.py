"""The ``mmevol`` Typer app, its consoles and ``friendly``: user errors (``MmevolError``) are
printed as one line on stderr with a non-zero exit code, never as a traceback.

Every command lives in a module of this package and registers itself on ``app``;
``mmevol.cli`` imports them all. Each command is a thin layer over a library function.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from mmevol.errors import MmevolError, sqlite_error

# ``mmevol --help`` lists the commands in the order a user needs them, not by import order
WORKFLOW = (
    "demo", "seeds", "evolve", "stats", "report", "view", "export", "import", "prompts",
    "train", "weights", "select", "loop", "fake-server",
)  # fmt: skip


# one example per command, shown under its --help (tests/test_cli_help.py runs each one's
# --help and checks every command has one)
EXAMPLES = {
    "demo": "mmevol demo --out mmevol-demo",
    "seeds": "mmevol seeds build --llava llava_instruct.json --images coco/train2017 --out "
    "seeds.jsonl",
    "prompts": "mmevol prompts list --run run2",
    "seeds build": "mmevol seeds build --coco-captions ann/captions_val2017.json "
    "--coco-instances ann/instances_val2017.json --images val2017 --out seeds.jsonl",
    "evolve": "mmevol evolve seeds.jsonl --out run1 --backend openai --model gpt-4o-mini "
    "--estimate",
    "stats": "mmevol stats run1",
    "report": "mmevol report run1 --compare run2 --out compare.html",
    "view": "mmevol view run1 --port 8000",
    "export": "mmevol export run1 --format trl --out run1-trl --boxes qwen",
    "import": "mmevol import --format mmevol their_run/ --images their_images/ --out theirs",
    "prompts init": "mmevol prompts init --run run2",
    "prompts list": "mmevol prompts list --run run2",
    "prompts show": "mmevol prompts show perception --run run2 --history",
    "prompts edit": 'mmevol prompts edit perception --run run2 --file mine.md --reason "small objects"',
    "prompts new-direction": "mmevol prompts new-direction count_more --run run2 --file count.md"
    ' --goal "questions that need counting"',
    "prompts revise": "mmevol prompts revise perception --run run2 --backend openai --model "
    "gpt-4o --notes notes.jsonl",
    "train": "mmevol train --model ./Qwen2-VL-2B-Instruct --data run1-trl --out ft1 --epochs 1",
    "weights": "mmevol weights --from-lmms-eval logs/ --budget 5000 --out plan.json",
    "select": "mmevol select seeds.jsonl --plan plan.json --out picked",
    "loop": "mmevol loop --rounds 3 --strategy abs --budget 600 --out loop1",
    "fake-server": "mmevol fake-server --port 8765 --fault-rate 0.15 --latency 0.01,0.05",
}
# metavars by type, so `--rounds N` reads as words (Typer writes `<int range>`)
TYPE_METAVARS = {"int": "N", "int range": "N", "float": "NUMBER", "float range": "NUMBER",
                 "path": "PATH", "file": "FILE", "directory": "DIR", "str": "TEXT",
                 "bool": "BOOL"}  # fmt: skip
NAME_METAVARS = {
    "out": "PATH", "out_dir": "DIR", "out_path": "PATH", "run": "RUN_DIR", "run_dir": "RUN_DIR",
    "base_url": "URL", "api_key_env": "VAR", "model": "NAME", "backend": "NAME", "fmt": "FORMAT",
    "host": "ADDRESS", "port": "PORT", "timeout": "SECONDS", "seed": "N",
}  # fmt: skip
# (command, parameter) -> metavar, where the same name means something else elsewhere
COMMAND_METAVARS = {
    ("export", "images"): "absolute|relative|embed", ("export", "boxes"): "norm|qwen|pixel",
    ("export", "missing_images"): "skip|keep|error", ("prompts new-direction", "like"): "DIRECTION",
    ("fake-server", "like"): "FAMILY", ("evolve", "json_mode"): "MODE",
    ("evolve", "detail"): "low|high|auto", ("evolve", "engine"): "local|ray",
    ("evolve", "mode"): "online|batch|hybrid",
}  # fmt: skip


def _metavar(param: Any, path: str) -> str:
    if (path, param.name) in COMMAND_METAVARS:
        return COMMAND_METAVARS[(path, param.name)]
    if param.name in NAME_METAVARS:
        return str(NAME_METAVARS[param.name])
    if param.param_type_name == "argument":
        return str(param.name or "value").upper()
    try:  # Typer's own label: "<int range>", "<path>", "<str>", "<a|b>"
        kind = str(param.display_type(None)).strip("<>")
    except (AttributeError, TypeError):
        return "VALUE"
    if "|" in kind:
        return kind  # the choices themselves
    return TYPE_METAVARS.get(kind.removeprefix("list[").removesuffix("]").lower(), "VALUE")


def teach(command: Any, path: str = "") -> None:
    """Give ``command`` (and its subcommands) word metavars and its example (duck-typed: Typer
    builds on its own copy of click)."""
    for param in command.params:
        flag = getattr(param, "is_flag", False) or getattr(param, "count", False)
        if param.metavar is None and not flag and param.name != "help":
            param.metavar = _metavar(param, path)
    if path in EXAMPLES and not command.epilog:
        command.epilog = f"\b\nExample:\n  {EXAMPLES[path]}"
    for name, sub in (getattr(command, "commands", None) or {}).items():
        teach(sub, f"{path} {name}".strip())


class WorkflowGroup(TyperGroup):
    """The top-level group: commands in workflow order (any not in ``WORKFLOW`` last), each
    with word metavars and an example (``teach``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        teach(self)

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        rank = {n: i for i, n in enumerate(WORKFLOW)}
        return sorted(names, key=lambda n: (rank.get(n, len(rank)), n))


# help is click's plain layout (rich_markup_mode=None): option names are never cut and the
# text wraps at the terminal's width, where rich's boxed panels truncated them at 80 columns
PLAIN_HELP: dict[str, Any] = {"rich_markup_mode": None}


def _wrap_whole_words() -> None:
    """Help text wraps between words only: ``--image-root`` or ``sharegpt-classic`` is never
    split at its hyphen. Typer's copy of click builds its ``TextWrapper`` by module attribute
    at each call; if a later Typer moves it, help still works, only with hyphen breaks."""
    with contextlib.suppress(ImportError, AttributeError):
        from typer._click import _textwrap

        base = _textwrap.TextWrapper

        class WholeWords(base):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.break_on_hyphens = False

        _textwrap.TextWrapper = WholeWords  # type: ignore[misc]


_wrap_whole_words()
app = typer.Typer(
    cls=WorkflowGroup,
    add_completion=False,
    no_args_is_help=True,
    help="Evolve image-instruction data (MMEvol) into a larger, harder, grounded set.\n\n"
    "Workflow: seeds build -> evolve (--estimate first) -> stats / report / view -> export;"
    " then train, weights, select and evolve --focus to aim the next round. Try `mmevol demo`.",
    **PLAIN_HELP,
)


class SafeConsole(Console):
    """A console that never hands a control character to the terminal: text from files, servers
    and models (a task or type name, a path, an error message) may hold ANSI escapes that would
    clear or rewrite the screen. They print as ``?``; line breaks and tabs stay."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*(_safe(o) if isinstance(o, str) else o for o in objects), **kwargs)


def _safe(text: str) -> str:
    return CONTROL.sub("?", text)


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
err = SafeConsole(stderr=True)
out = SafeConsole()
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
            msg = str(first["msg"]).removeprefix("Value error, ")
            err.print(f"[red]error:[/red] --{flag}: {msg}", highlight=False)
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
