"""Custom evolution directions: a name, a goal and a prompt of one's own, beside the three built-in
ones (perception, reasoning, interactive).

A user registers a direction from code (``mmevol.register_direction``, ``prompts.registry``) or adds it to a run's
prompt store (``mmevol prompts new-direction``), then gives it a weight like any direction.
A run keeps what it used in ``RUN/prompts/directions.json`` (name -> ``DirectionSpec``) and the
text as the direction's prompt history (``RUN/prompts/<name>/v1.txt``), so a later process, or
the command line, resumes it without the registration. ``like`` names the built-in direction
whose offline generators (the grounded backend, the fakes) answer the new one: they cannot read
a prompt.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mmevol.errors import InputError, MmevolError
from mmevol.io.safeio import parse_json, read_regular
from mmevol.schema import DIRECTION_NAME, DIRECTIONS, Direction, DirectionName

NAME_RE = re.compile(DIRECTION_NAME)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# names that mean something else in a run: the judge, a seed item, the loop's prompts
RESERVED = frozenset({"judge", "seed", "revise_prompt", "unknown", "other"})
SPECS_FILE = "directions.json"
MAX_CUSTOM = 64  # custom directions per run
MAX_SPECS_BYTES = 256 * 1024


class DirectionSpec(BaseModel):
    """What a custom direction is: its name, one line on what it makes of an item, and the
    built-in direction it behaves like for generators that cannot read prompts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: DirectionName
    goal: str = Field(min_length=3, max_length=300)
    like: Direction = "perception"

    @field_validator("goal")
    @classmethod
    def _one_line(cls, v: str) -> str:
        if CONTROL.search(v):
            raise ValueError("one line of text, without line breaks or control characters")
        return v


def check_name(name: object, question_types: tuple[str, ...] = ()) -> None:
    """Refuse a name that is not a new, well-formed direction name."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        shown = repr(name)[:40] + ("..." if len(repr(name)) > 40 else "")
        raise MmevolError(f"direction {shown}: expected 2-32 characters a-z, 0-9 or _, "
                          "starting with a letter")  # fmt: skip
    if name in DIRECTIONS or name in RESERVED or name in question_types:
        raise MmevolError(f"direction {name!r}: the name is taken (built-in or reserved)")


def read_specs(store_root: Path) -> dict[str, DirectionSpec]:
    """The custom directions a prompt store declares (empty without ``directions.json``); the
    file is read as hostile: bounded in size, depth and entries."""
    path = Path(store_root) / SPECS_FILE
    if not path.is_file():
        return {}
    raw = parse_json(read_regular(path, limit=MAX_SPECS_BYTES).decode("utf-8", "replace"), path)
    if not isinstance(raw, dict):
        raise InputError(path, None, "expected a JSON object of name -> direction")
    if len(raw) > MAX_CUSTOM:
        raise InputError(path, None, f"{len(raw)} directions (at most {MAX_CUSTOM})")
    try:
        return {k: DirectionSpec.model_validate({**v, "name": k}) for k, v in raw.items()}
    except (ValidationError, TypeError) as e:
        if isinstance(e, ValidationError):
            first = e.errors()[0]
            where = ".".join(str(p)[:40] for p in first["loc"])
            raise InputError(path, where, first["msg"]) from None
        raise InputError(path, None, "expected each direction as an object "
                         '{"goal": ..., "like": ...}') from None  # fmt: skip


def specs_json(specs: dict[str, DirectionSpec]) -> str:
    rows = {n: s.model_dump(mode="json", exclude={"name"}) for n, s in sorted(specs.items())}
    return json.dumps(rows, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
