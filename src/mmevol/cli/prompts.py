"""``mmevol prompts``: list, show, edit and revise the versioned generation prompts of a run.

Every command works on ``RUN/prompts`` (see ``mmevol.prompts.versions``). ``edit`` stores a
person's text as a new version; ``revise`` asks an LLM backend for one from the reviews; with no
LLM configured it says so and points to ``edit``. ``init`` seeds a store with the bundled
direction templates, or copies another run's histories so a new run starts from them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mmevol.cli.app import PLAIN_HELP, app, out
from mmevol.cli.app import friendly as _friendly
from mmevol.errors import MmevolError

if TYPE_CHECKING:
    from mmevol.prompts.versions import PromptStore, PromptVersion

prompts_app = typer.Typer(
    **PLAIN_HELP,
    no_args_is_help=True,
    help="Versioned generation prompts of a run: list, show, edit, revise from reviews (IPO).",
)
RunOpt = Annotated[Path, typer.Option("--run", help="Run directory holding prompts/.")]


def _store(run: Path, *, must_exist: bool = True) -> PromptStore:
    from mmevol.prompts.versions import PromptStore

    if must_exist and not run.is_dir():
        raise MmevolError(f"{run}: no such run directory")
    return PromptStore.of_run(run)


def read_prompt(path: Path) -> str:
    """A prompt file: a regular file of UTF-8 text, bounded (a device or a huge file is refused)."""
    from mmevol.io.safeio import read_regular
    from mmevol.prompts.versions import MAX_PROMPT_CHARS

    data = read_regular(path, "--file", what="prompt file", limit=4 * MAX_PROMPT_CHARS)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise MmevolError(
            f"{path}: --file: not UTF-8 text (byte {e.start}); save it as UTF-8"
        ) from None


def kind_of(name: str, store: PromptStore) -> str:
    from mmevol.prompts.versions import kind_of as kind

    return kind(name, store.custom())


def _ensure_v1(store: PromptStore, name: str) -> None:
    """Directions start from the bundled template, recorded as v1 (author ``bundled``)."""
    if kind_of(name, store) == "direction" and store.current(name) is None:
        store.init_bundled()


def _line(v: PromptVersion) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(v.created))
    who = v.author + (f" ({v.backend}:{v.model})" if v.backend else "")
    bad = sum(r.verdict == "bad" for r in v.reviews)
    parent = f"v{v.parent}" if v.parent else "-"
    return (
        f"{v.tag}  parent {parent}  {who}  {when}  reviews {len(v.reviews)} ({bad} bad)  {v.reason}"
    )


@prompts_app.command("init")
@_friendly
def init_cmd(
    run: RunOpt,
    from_run: Annotated[
        Path | None, typer.Option("--from", help="Copy the prompt histories of this run.")
    ] = None,
) -> None:
    """Start RUN/prompts: bundled direction templates as v1, or another run's histories."""
    run.mkdir(parents=True, exist_ok=True)
    store = _store(run)
    if from_run is not None:
        src = _store(from_run)
        if not src.names():
            raise MmevolError(f"{from_run}: has no prompt versions to copy")
        src.copy_to(store)
        out.print(f"copied {', '.join(src.names())} from {from_run} into {store.root}")
        return
    made = store.init_bundled()
    for v in made:
        out.print(f"created {v.tag} (bundled template)", highlight=False)
    if not made:
        out.print("every direction already has a version")


@prompts_app.command("list")
@_friendly
def list_cmd(run: RunOpt) -> None:
    """Each prompt's current version, author, number of versions and last reason."""
    store = _store(run)
    if not store.names():
        out.print(f"{run}: no prompt versions yet (`mmevol prompts init --run {run}`)")
        return
    for name in store.names():
        history = store.versions(name)
        cur = history[-1]
        out.print(
            f"{name:<12} {kind_of(name, store):<13} current {cur.tag}  ({len(history)} versions, "
            f"{cur.author})  {cur.reason}",
            highlight=False,
            soft_wrap=True,
        )


@prompts_app.command("show")
@_friendly
def show_cmd(
    name: Annotated[str, typer.Argument(help="A direction or loop question type.")],
    run: RunOpt,
    version: Annotated[int | None, typer.Option(help="Version number (default: current).")] = None,
    history: Annotated[bool, typer.Option("--history", help="List every version.")] = False,
) -> None:
    """Print a version's text (or, with --history, the lineage of every version)."""
    store = _store(run)
    if history:
        for v in store.versions(name) or [store.get(name)]:
            out.print(_line(v), highlight=False, soft_wrap=True)
        return
    v = store.get(name, version)
    typer.echo(store.text(v), nl=False)


@prompts_app.command("edit")
@_friendly
def edit_cmd(
    name: Annotated[str, typer.Argument(help="A direction or loop question type.")],
    run: RunOpt,
    file: Annotated[Path, typer.Option("--file", help="The new prompt text.")],
    reason: Annotated[str, typer.Option(help="Why this version (kept in versions.jsonl).")],
    notes: Annotated[
        Path | None, typer.Option(help="JSONL of review notes that motivated the edit.")
    ] = None,
) -> None:
    """Store a person's text as the new current version (author user)."""
    from mmevol.loop.ipo import collect_reviews

    store = _store(run)
    kind_of(name, store)
    text = read_prompt(file)
    refs = [r.ref for r in collect_reviews(run, notes) if r.name == name] if notes else []
    _ensure_v1(store, name)
    v = store.add(name, text, author="user", reason=reason, reviews=refs)
    out.print(f"created {v.tag} (user)", highlight=False)


@prompts_app.command("new-direction")
@_friendly
def new_direction_cmd(
    name: Annotated[str, typer.Argument(help="The new direction's name (a-z, 0-9, _).")],
    run: RunOpt,
    file: Annotated[Path, typer.Option("--file", help="Its prompt (a template's form).")],
    goal: Annotated[str, typer.Option(help="One line: what it makes of an item.")],
    like: Annotated[
        str,
        typer.Option(help="The built-in direction offline generators answer it as."),
    ] = "perception",
) -> None:
    """Add a custom evolution direction to a run; draw it with `evolve --weights NAME=W,...`."""
    from mmevol.prompts.directions import DirectionSpec, check_name
    from mmevol.prompts.versions import question_types

    check_name(name, question_types())
    if like not in ("perception", "reasoning", "interactive"):
        raise MmevolError(f"--like: expected perception, reasoning or interactive, got {like!r}")
    from mmevol.outputs import check_run_dir

    if not run.parent.is_dir():
        raise MmevolError(f"{run}: --run: its folder {run.parent} does not exist")
    check_run_dir(run)  # a run, or a new / empty folder: never someone else's files
    store = _store(run, must_exist=False)
    text = read_prompt(file)
    spec = DirectionSpec.model_validate({"name": name, "goal": goal.strip(), "like": like})
    v = store.add_direction(spec, text)
    out.print(f"created direction {name} ({v.tag}); draw it with --weights {name}=W,...",
              highlight=False)  # fmt: skip


@prompts_app.command("revise")
@_friendly
def revise_cmd(
    name: Annotated[str, typer.Argument(help="A direction or loop question type.")],
    run: RunOpt,
    backend: Annotated[
        str | None, typer.Option(help="LLM backend that writes the revision (openai, fake, ...).")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Model name for the backend.")] = None,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint.")] = None,
    api_key_env: Annotated[
        str | None, typer.Option(help="Environment variable holding the API key.")
    ] = None,
    notes: Annotated[Path | None, typer.Option(help="JSONL of review notes.")] = None,
    all_versions: Annotated[
        bool, typer.Option("--all-versions", help="Use reviews of samples of every version.")
    ] = False,
) -> None:
    """Ask an LLM to revise NAME's current prompt from the run's reviews (reviews.sqlite and
    --notes); the reply becomes a new version, a failed call leaves the current one."""
    from mmevol.backends.base import make_backend
    from mmevol.loop.ipo import collect_reviews, revise

    if backend is None:
        raise MmevolError(
            "no LLM backend configured (--backend openai --base-url URL --model NAME); "
            f"without one, edit the prompt yourself: mmevol prompts edit {name} --run {run} "
            "--file NEW.txt --reason ..."
        )
    store = _store(run)
    kind_of(name, store)
    reviewed = collect_reviews(run, notes)
    settings = {
        k: v
        for k, v in {"model": model, "base_url": base_url, "api_key_env": api_key_env}.items()
        if v is not None
    }
    llm = make_backend(backend, **settings)
    _ensure_v1(store, name)
    v = revise(store, name, reviewed, llm, all_versions=all_versions)
    bad = sum(r.verdict == "bad" for r in v.reviews)
    out.print(
        f"created {v.tag} (llm {v.backend}:{v.model}) from {len(v.reviews)} reviews ({bad} bad;"
        f" {v.input_tokens}+{v.output_tokens} tokens, ${v.cost_usd:.4f}): {v.reason}",
        highlight=False,
        soft_wrap=True,
    )


app.add_typer(prompts_app, name="prompts")
