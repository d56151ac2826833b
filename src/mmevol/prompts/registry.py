"""Custom directions registered from user code in this process, and putting the ones a run uses
into its prompt store (where they stay, so the run resumes without the registration)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from mmevol.errors import MmevolError
from mmevol.prompts.directions import DirectionSpec, check_name
from mmevol.prompts.versions import PromptStore, check_prompt, question_types
from mmevol.schema import Direction

# directions registered in this process: name -> (spec, prompt text)
_REGISTERED: dict[str, tuple[DirectionSpec, str]] = {}


def register_direction(
    name: str, template: str, *, goal: str, like: Direction = "perception"
) -> DirectionSpec:
    """Make ``name`` usable as a direction in this process's runs (``direction_weights``).

    ``template`` is a prompt in the bundled templates' form: a system part, a line
    ``=== user ===``, a user part holding ``{{context}}``. It is checked now and stored in a
    run's prompt store when the run first uses it; registering the name again changes what
    later runs get (a run keeps the version it started with: change that with
    ``mmevol prompts edit``). ``like``: the built-in direction whose offline generators (the
    grounded backend, the fakes) answer this one, as they cannot read prompts."""
    check_name(name, question_types())
    if not isinstance(template, str) or not isinstance(goal, str):
        raise MmevolError(f"direction {name!r}: template and goal must be text (str)")
    try:
        spec = DirectionSpec(name=name, goal=goal.strip(), like=like)
        check_prompt(name, template, custom=(name,))
    except ValidationError as e:
        first = e.errors()[0]
        msg = str(first["msg"]).removeprefix("Value error, ")
        raise MmevolError(f"direction {name!r}: {first['loc'][0]}: {msg}") from None
    except ValueError as e:
        raise MmevolError(f"direction {name!r}: prompt: {e}") from None
    _REGISTERED[name] = (spec, template)
    return spec


def check_directions(run_dir: Path, names: Iterable[str]) -> None:
    """Refuse custom directions that neither the run's store nor this process knows."""
    known = PromptStore.of_run(run_dir).custom()
    missing = [n for n in names if n not in known and n not in _REGISTERED]
    if missing:
        raise MmevolError(
            f"unknown direction(s) {missing}: register them (mmevol.register_direction) or add "
            f"them to the run with `mmevol prompts new-direction --run {run_dir}`"
        )


def use_directions(run_dir: Path, names: Iterable[str]) -> None:
    """Store every registered direction in ``names`` that the run does not hold yet."""
    check_directions(run_dir, names)
    store = PromptStore.of_run(run_dir)
    known = store.custom()
    for name in names:
        if name not in known:
            spec, text = _REGISTERED[name]
            store.add_direction(spec, text)
