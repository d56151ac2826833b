"""Typed backend options: each backend's settings as a pydantic model that rejects unknown keys.

A backend's ``Options`` is the model it declares as ``Options``, or else one built from the
keyword parameters of its ``__init__`` (their annotations and defaults), so a backend states its
settings once. ``make_backend`` checks every setting against it: a misspelt option
(``max_atempts=9``) is an error naming it and the accepted ones, a value of the wrong type is an
error naming the option, and a required one left out names its CLI flag. A factory that takes
``**kwargs`` and declares no ``Options`` cannot be checked and gets what it is given.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model


class Options(BaseModel):
    """Base of every backend's options: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


@cache
def options_model(factory: Callable[..., Any]) -> type[BaseModel] | None:
    """The options ``factory`` accepts, or None when it takes any keyword (``**kwargs``)."""
    declared = getattr(factory, "Options", None)
    if isinstance(declared, type) and issubclass(declared, BaseModel):
        return declared
    init = factory.__init__ if isinstance(factory, type) else factory  # type: ignore[misc]
    params = list(inspect.signature(init).parameters.values())
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    hints = typing.get_type_hints(init)
    fields: dict[str, Any] = {}
    for p in params:
        if p.name == "self" or p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            continue
        default = ... if p.default is inspect.Parameter.empty else p.default
        fields[p.name] = (hints.get(p.name, Any), default)
    name = f"{getattr(factory, '__name__', 'Backend')}Options"
    return create_model(name, __base__=Options, **fields)


def accepted_options(factory: Callable[..., Any]) -> set[str] | None:
    """Names of the options ``factory`` accepts (None: any)."""
    model = options_model(factory)
    return None if model is None else set(model.model_fields)


def check_options(
    name: str, factory: Callable[..., Any], settings: dict[str, Any]
) -> dict[str, Any]:
    """``settings`` checked against the backend's options, as its ``Options`` reads them
    (only the keys given: defaults stay the backend's own). One-line ``ValueError`` otherwise."""
    model = options_model(factory)
    if model is None:
        return settings
    fields = model.model_fields
    unknown = sorted(set(settings) - set(fields))
    if unknown:
        listed = ", ".join(repr(k) for k in unknown)
        raise ValueError(
            f"backend {name!r}: unknown option{'s' if len(unknown) > 1 else ''} {listed}; "
            f"accepted: {', '.join(sorted(fields))}"
        )
    missing = [k for k, f in fields.items() if f.is_required() and k not in settings]
    if missing:
        flags = ", ".join("--" + m.replace("_", "-") for m in missing)
        raise ValueError(f"backend {name!r} needs {flags}")
    try:
        checked = model.model_validate(settings)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "options"
        raise ValueError(f"backend {name!r}: option {where!r}: {first['msg']}") from None
    return {k: getattr(checked, k) for k in settings}
