"""The repair ladder: a model's reply text -> a validated pydantic object, or ``ParseFailed``.

Rungs, tried in order; a result records which were needed (``Parsed.rungs``):

* ``direct`` - the whole text is JSON (recorded only when nothing else was needed);
* ``fences`` - the JSON sits inside ``` fences or is wrapped in prose: take the top-level JSON
  values found in the text;
* ``repair`` - tolerant repair with ``json_repair`` (trailing commas, a missing closing brace,
  unquoted keys, a reply cut off mid-way);
* ``coerce`` - shape fixes before pydantic: a bare list wrapped as ``{"items": [...]}`` or
  ``{"verdicts": [...]}``, scores written ``"7/10"``, steps written as strings, yes/no flags.

Vocabulary normalisation is not done here (``vocab.normalize`` does it). When every rung fails
``ParseFailed`` carries a one-line summary of the validation errors, which ``reask_messages``
turns into a follow-up asking the model for corrected JSON only.
"""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import json_repair
from pydantic import BaseModel, ValidationError

from mmevol.calls import Message, ParseFailed

T = TypeVar("T", bound=BaseModel)
RUNGS = ("direct", "fences", "repair", "coerce")
FENCE_RE = re.compile(r"```[ \t]*[A-Za-z0-9_-]*[ \t]*\n?(.*?)```", re.S)
SCORE_RE = re.compile(r"(-?\d+(?:\.\d+)?)\s*(?:(?:/|out of)\s*(\d+(?:\.\d+)?))?", re.I)
STEP_HEAD_RE = re.compile(r"^\s*([A-Za-z][\w ]*?\([^)]*\)(?:\s*->\s*\w+)?)\s*[:\-]?\s*(.*)$", re.S)
MANIP_KEYS = ("name", "operation", "op", "action", "type", "tool")
DESC_KEYS = ("description", "desc", "text", "content", "detail", "explanation")
CLOSING_FENCE_RE = re.compile(r"```\s*$")
SURROGATE_RE = re.compile("[\ud800-\udfff]")
REASK_LIMIT = 8000


@dataclass
class Parsed(Generic[T]):
    """A validated value and the ladder rungs it took to get it."""

    value: T
    rungs: list[str] = field(default_factory=list)


# --- rungs 1-3: finding JSON in the text ------------------------------------------------------
def _loads(text: str, start: int = 0, whole: bool = False) -> tuple[bool, Any]:
    """(ok, value): the JSON value at ``start`` (``whole``: the text must be exactly one value)."""
    try:
        if whole:
            return True, json.loads(text[start:])
        return True, json.JSONDecoder().raw_decode(text, start)[0]
    except json.JSONDecodeError:
        return False, None


def _outermost(text: str) -> Iterator[Any]:
    """The outermost JSON object/array in ``text``, with whatever prose is around it dropped."""
    for opener, closer in (("{", "}"), ("[", "]")):
        start, end = text.find(opener), text.rfind(closer)
        if start < 0 or (opener == "[" and -1 < text.find("{") < start):
            continue  # a list inside the first object is not the outermost value
        # the value that starts at the first bracket (prose after it may hold brackets) ...
        ok, value = _loads(text, start)
        if not ok and end > start:  # ... or exactly the span up to the last closing bracket
            ok, value = _loads(text[: end + 1], start, whole=True)
        if ok:
            yield value


def _scan(text: str) -> tuple[bool, int]:
    """(whether ``text`` stops inside a JSON string, how many brackets are left open)."""
    inside = escaped = False
    depth = 0
    for ch in text:
        if escaped:
            escaped = False
        elif inside:
            if ch == "\\":
                escaped = True
            elif ch == '"':
                inside = False
        elif ch == '"':
            inside = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth = max(0, depth - 1)
    return inside, depth


def looks_cut(text: str) -> bool:
    """A reply cut off mid-way: it stops inside a string, or with two or more brackets open.

    Repairing such a text would quietly drop the rest of the answer, so the ladder leaves it to
    a re-ask. A single missing closing brace is still repaired.
    """
    inside, depth = _scan(text)
    return inside or depth >= 2


def _close_and_trim(text: str) -> str:
    """The exact fix for the two commonest slips: trailing commas and unclosed brackets."""
    out: list[str] = []
    stack: list[str] = []
    inside = escaped = False
    pending_comma = False
    for ch in text:
        if inside:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                inside = False
            continue
        if pending_comma and not ch.isspace():
            if ch not in "}]":
                out.append(",")
            pending_comma = False
        if ch == ",":
            pending_comma = True
            continue
        if ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]" and stack:
            stack.pop()
        elif ch == '"':
            inside = True
        out.append(ch)
    return "".join(out).rstrip() + "".join(reversed(stack))


def _join_surrogates(value: Any) -> Any:
    """Re-join ``\\ud83d\\ude00``-style pairs that a tolerant parser left as lone surrogates."""
    if isinstance(value, str):
        if SURROGATE_RE.search(value) is None:
            return value
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [_join_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_join_surrogates(k): _join_surrogates(v) for k, v in value.items()}
    return value


def json_values(text: str) -> Iterator[tuple[list[str], Any]]:
    """Every JSON value the ladder can find in ``text``, with the rungs it took, best first."""
    stripped = text.strip()
    try:
        direct = json.loads(stripped)
    except json.JSONDecodeError:
        direct = None
    if direct is not None:
        yield ["direct"], direct
    fenced = [m.group(1) for m in FENCE_RE.finditer(text)]
    for block in [*fenced, text]:  # a string may itself hold ```, so the whole text too
        yield from ((["fences"], v) for v in _outermost(block))
    # repair: the fenced block, or the text from its first bracket (an unclosed fence counts)
    sources: list[tuple[str, bool]] = [(block, True) for block in fenced]
    opened = None if fenced else re.search(r"```[ \t]*[A-Za-z0-9_-]*[ \t]*\n", text)
    body = text[opened.end() :] if opened else text
    first_brace = body.find("{")
    for bracket in "{[":
        start = body.find(bracket)
        if start >= 0 and not (bracket == "[" and -1 < first_brace < start):
            trimmed = opened is not None or bool(body[:start].strip())
            sources.append((CLOSING_FENCE_RE.sub("", body[start:]).rstrip(), trimmed))
    seen: set[str] = set()
    for src, trimmed in sources:
        if src in seen or looks_cut(src):  # cut off mid-string: ask again instead
            continue
        seen.add(src)
        try:
            value = json.loads(_close_and_trim(src))
        except json.JSONDecodeError:
            try:
                value = json_repair.loads(src)
            except Exception:  # a repair library failing is just a failed rung
                continue
        yield (["fences", "repair"] if trimmed else ["repair"]), _join_surrogates(value)


# --- rung 4: coercing shapes -------------------------------------------------------------------
def _list_field(model: type[BaseModel]) -> tuple[str | None, type[BaseModel] | None]:
    """The list-of-models field of a wrapper model (``items``, ``verdicts``) and its item type."""
    for name, info in model.model_fields.items():
        if typing.get_origin(info.annotation) is list:
            args = typing.get_args(info.annotation)
            item = args[0] if args and isinstance(args[0], type) else None
            if item is not None and issubclass(item, BaseModel):
                return name, item
            return name, None
    return None, None


def _score(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    m = SCORE_RE.search(value)
    if m is None:
        return value
    number = float(m.group(1))
    if m.group(2) and float(m.group(2)) not in (0.0, 10.0):
        number = number * 10.0 / float(m.group(2))
    return number


def _flag(value: Any) -> Any:
    if isinstance(value, str):
        word = value.strip().strip(".!").lower()
        if word in {"yes", "y", "true", "improved", "1"}:
            return True
        if word in {"no", "n", "false", "not improved", "0"}:
            return False
    return value


def _step(value: Any) -> Any:
    if isinstance(value, str):
        m = STEP_HEAD_RE.match(value)
        if m:
            return {"manipulation": m.group(1).strip(), "description": m.group(2).strip() or value}
        head, _, rest = value.partition(":")
        if rest and len(head.split()) <= 3:
            return {"manipulation": head.strip(), "description": rest.strip()}
        return {"manipulation": value.split()[0] if value.split() else "", "description": value}
    if isinstance(value, dict):
        out = dict(value)
        if "manipulation" not in out:
            for key in MANIP_KEYS:
                if key in out:
                    out["manipulation"] = out.pop(key)
                    break
        if "description" not in out:
            for key in DESC_KEYS:
                if key in out:
                    out["description"] = out.pop(key)
                    break
        for key in ("manipulation", "description"):
            if key in out and not isinstance(out[key], str):
                out[key] = json.dumps(out[key]) if out[key] is not None else ""
        return out
    return value


def _text(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(value)
    return "" if value is None else value


def _coerce_item(item: Any, position: int, item_model: type[BaseModel] | None) -> Any:
    if not isinstance(item, dict):
        return item
    out = dict(item)
    fields = item_model.model_fields if item_model is not None else {}
    for alias, name in (("instruction", "question"), ("response", "answer"), ("output", "answer")):
        if name in fields and name not in out and alias in out:
            out[name] = out.pop(alias)
    for key in ("source", "index"):
        if key in fields:
            if key not in out or out[key] is None:
                out[key] = position
            elif isinstance(out[key], str) and out[key].strip().isdigit():
                out[key] = int(out[key].strip())
    if "score" in out:
        out["score"] = _score(out["score"])
    if "improved" in out:
        out["improved"] = _flag(out["improved"])
    for key in ("question", "answer", "reason"):
        if key in out:
            out[key] = _text(out[key])
    for key in ("objects", "skills"):
        if isinstance(out.get(key), str):
            out[key] = [p.strip() for p in re.split(r"[,;]", out[key]) if p.strip()]
    if isinstance(out.get("format"), list):
        out["format"] = out["format"][0] if out["format"] else "open_ended"
    steps = out.get("steps")
    if isinstance(steps, (str, dict)):
        steps = [steps]
    if isinstance(steps, list):
        out["steps"] = [_step(s) for s in steps]
    elif steps is None and "steps" in out:
        out["steps"] = []
    return out


def coerce(value: Any, model: type[BaseModel]) -> Any:
    """Shape fixes that make a near-miss reply valid for ``model`` (no vocabulary mapping)."""
    name, item_model = _list_field(model)
    if name is None:
        return _coerce_item(value, 0, model)
    if isinstance(value, list):
        value = {name: value}
    elif isinstance(value, dict) and name not in value:
        lists = [v for v in value.values() if isinstance(v, list)]
        if len(lists) == 1:
            value = {name: lists[0]}
        elif item_model is not None and set(value) & set(item_model.model_fields):
            value = {name: [value]}
    if isinstance(value, dict) and isinstance(value.get(name), list):
        value = dict(value)
        value[name] = [_coerce_item(it, i, item_model) for i, it in enumerate(value[name])]
    return value


# --- the ladder ---------------------------------------------------------------------------------
def error_summary(err: ValidationError, model: type[BaseModel], limit: int = 5) -> str:
    """One line naming the fields that failed validation."""
    errors = err.errors()
    parts = [
        f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in errors[:limit]
    ]
    more = f" (+{len(errors) - limit} more)" if len(errors) > limit else ""
    return f"reply does not match {model.__name__}: " + "; ".join(parts) + more


def parse_reply(text: str, model: type[T]) -> Parsed[T]:
    """Turn a reply into a valid ``model`` through the ladder, or raise ``ParseFailed``."""
    error: str | None = None
    for rungs, value in json_values(text):
        if not isinstance(value, (dict, list)):
            continue
        try:
            return Parsed(model.model_validate(value), rungs)
        except ValidationError as err:
            error = error or error_summary(err, model)
        try:
            validated = model.model_validate(coerce(value, model))
        except ValidationError as err:
            error = error_summary(err, model)
            continue
        return Parsed(validated, [r for r in rungs if r != "direct"] + ["coerce"])
    if error is None:
        snippet = " ".join(text[:80].split())
        if looks_cut(text[max(0, text.find("{")) :]):
            error = f"reply was cut off before its JSON was complete (starts with {snippet!r})"
        else:
            error = f"reply contains no JSON object (starts with {snippet!r})"
    raise ParseFailed(error)


REASK_TEXT = (
    "Your previous reply could not be used: {error}\n"
    "Send the corrected answer again as one JSON object that follows the schema given above. "
    "Reply with the JSON only: no code fences, no explanation before or after it."
)


def reask_messages(call_messages: Sequence[Message], bad_text: str, error: str) -> list[Message]:
    """The original conversation + the unusable reply + a request for corrected JSON only."""
    bad = bad_text if len(bad_text) <= REASK_LIMIT else bad_text[:REASK_LIMIT] + " ..."
    reason = " ".join(str(error).split()).replace("<context>", "(context)")
    return [
        *(Message(role=m.role, content=m.content) for m in call_messages),
        Message(role="assistant", content=bad),
        Message(role="user", content=REASK_TEXT.format(error=reason)),
    ]
