"""Typed backend options: each backend's settings as a pydantic model that rejects unknown keys.

A backend's ``Options`` is the model it declares as ``Options``, or else one built from the
keyword parameters of its ``__init__`` (their annotations and defaults), so a backend states its
settings once. ``make_backend`` checks every setting against it: a misspelt option
(``max_atempts=9``) is an error naming it and the accepted ones, a value of the wrong type is an
error naming the option, and a required one left out names its CLI flag. A factory that takes
``**kwargs`` and declares no ``Options`` cannot be checked and gets what it is given.
"""

from __future__ import annotations

import functools
import inspect
import typing
import warnings
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model


class Options(BaseModel):
    """Base of every backend's options: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


_MODELS: dict[Any, type[BaseModel] | None] = {}


def _signature_of(factory: Callable[..., Any]) -> tuple[list[inspect.Parameter], dict[str, Any]]:
    """The keyword parameters a factory takes and their annotations (Any where unresolvable)."""
    params = list(inspect.signature(factory).parameters.values())
    target: Any = factory
    while isinstance(target, functools.partial):
        target = target.func
    if isinstance(target, type):
        target = target.__init__  # type: ignore[misc]
    elif not (inspect.isfunction(target) or inspect.ismethod(target)):
        target = type(target).__call__  # a callable instance
    try:
        hints = typing.get_type_hints(target, include_extras=True)
    except Exception:  # annotations naming what is not importable here: unchecked types
        hints = {}
    return params, hints


def _build_model(factory: Callable[..., Any]) -> type[BaseModel] | None:
    declared = getattr(factory, "Options", None)
    if isinstance(declared, type) and issubclass(declared, BaseModel):
        return declared
    try:
        params, hints = _signature_of(factory)
    except (TypeError, ValueError):  # no signature to read (some builtins): unchecked
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    fields: dict[str, Any] = {}
    for p in params:
        if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            continue
        default = ... if p.default is inspect.Parameter.empty else p.default
        fields[p.name] = (hints.get(p.name, Any), default)
    name = f"{getattr(factory, '__name__', type(factory).__name__)}Options"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a parameter shadowing a BaseModel attribute
            model = create_model(name, __base__=Options, **fields)
    except Exception:  # a parameter pydantic cannot hold: unchecked
        return None
    # ``model_config`` is read as configuration and ``_x`` as private: not fields, so unchecked
    return model if set(model.model_fields) == set(fields) else None


def options_model(factory: Callable[..., Any]) -> type[BaseModel] | None:
    """The options ``factory`` accepts, or None when it cannot be checked: it takes any keyword
    (``**kwargs``), or its parameters cannot be read or held by a pydantic model."""
    try:
        return _MODELS[factory]
    except KeyError:
        model = _MODELS[factory] = _build_model(factory)
        return model
    except TypeError:  # an unhashable factory: built each time
        return _build_model(factory)


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
        listed = ", ".join(repr(k if len(k) <= 60 else k[:57] + "...") for k in unknown[:5])
        if len(unknown) > 5:
            listed += f" and {len(unknown) - 5} more"
        raise ValueError(
            f"backend {name!r}: unknown option{'s' if len(unknown) > 1 else ''} {listed}; "
            f"accepted: {', '.join(sorted(fields))}"
        )
    missing = [k for k, f in fields.items() if f.is_required() and k not in settings]
    if missing:
        flags = ", ".join("--" + m.replace("_", "-") for m in missing)
        raise ValueError(f"backend {name!r} needs {flags}")
    try:
        checked = model.model_validate(settings, by_name=True)
    except ValidationError as exc:
        raise ValueError(one_line(name, exc)) from None
    return {k: getattr(checked, k) for k in settings}


def one_line(name: str, exc: ValidationError) -> str:
    """A pydantic error as one line: the option, the value given (cut short) and what is wrong."""
    first = exc.errors()[0]
    where = ".".join(str(x) for x in first["loc"]) or "options"
    given = repr(first.get("input"))
    given = given if len(given) <= 60 else given[:57] + "..."
    return f"backend {name!r}: option {where[:80]!r} = {given}: {first['msg']}"
