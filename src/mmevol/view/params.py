"""Turning request parameters into list filters and back into links, leniently and safely.

This module owns the viewer's URL vocabulary: the query parameters of the list page (``round``,
``direction``, ``kept``, ``skill``, ``format``, ``object``, ``q``, ``review``, ``page``), how a
bad value is ignored rather than answered with an error page, and how filters are written back
into query strings for pagination, "back to list" and next/previous links. It also reads and
parses request bodies, each bounded and checked: the review form (url-encoded, at most
``MAX_FIELDS`` fields, none repeated) and the review API's JSON (at most ``MAX_JSON`` bytes, else
413; strict UTF-8, nesting at most ``MAX_DEPTH``, no duplicate keys, no NaN, one flat object of
known string fields, else ``ValueError`` with a one-line message, answered 400).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from starlette.requests import Request

from mmevol.schema import DIRECTION_NAME, DIRECTIONS
from mmevol.view.query import REVIEW_STATES, Filters

MAX_PARAM = 500
MAX_FORM = 200_000
MAX_JSON = 64 * 1024
MAX_DEPTH = 4
MAX_FIELDS = 16
REVIEW_FIELDS = ("action", "question", "answer", "note")


def _text(params: Mapping[str, str], key: str) -> str | None:
    value = (params.get(key) or "").strip()
    return value[:MAX_PARAM] or None


def _int(params: Mapping[str, str], key: str) -> int | None:
    value = (params.get(key) or "").strip()
    return int(value) if value.isdigit() and len(value) < 9 else None


def parse_filters(params: Mapping[str, str]) -> Filters:
    """Filters from query parameters; unknown or malformed values are dropped."""
    direction = _text(params, "direction")
    if direction not in (*DIRECTIONS, "seed") and not re.match(DIRECTION_NAME, direction or ""):
        direction = None  # a custom direction's name has the same shape as a built-in one
    kept = {"kept": True, "dropped": False}.get(params.get("kept") or "")
    review = _text(params, "review")
    return Filters(
        round=_int(params, "round"),
        direction=direction,
        kept=kept,
        skill=_text(params, "skill"),
        format=_text(params, "format"),
        object=_text(params, "object"),
        q=_text(params, "q"),
        review=review if review in REVIEW_STATES else None,
    )


def parse_page(params: Mapping[str, str]) -> int:
    return max(1, _int(params, "page") or 1)


def filter_params(f: Filters) -> dict[str, str]:
    """The query parameters that reproduce ``f`` (empty fields left out)."""
    out: dict[str, str] = {}
    if f.round is not None:
        out["round"] = str(f.round)
    if f.kept is not None:
        out["kept"] = "kept" if f.kept else "dropped"
    for key in ("direction", "skill", "format", "object", "q", "review"):
        value = getattr(f, key)
        if value:
            out[key] = str(value)
    return out


def query_string(f: Filters, **extra: str | int | None) -> str:
    """``f`` plus ``extra`` as a query string (without the ``?``)."""
    params = filter_params(f)
    params.update({k: str(v) for k, v in extra.items() if v is not None})
    return urlencode(params)


def sample_url(sample_id: str, f: Filters | None = None) -> str:
    qs = query_string(f) if f is not None else ""
    return f"/sample/{quote(sample_id, safe='')}" + (f"?{qs}" if qs else "")


def review_url(sample_id: str) -> str:
    return f"/review/{quote(sample_id, safe='')}"


class BodyTooLarge(ValueError):
    """A request body past ``MAX_FORM`` bytes (answered with HTTP 413)."""


async def read_body(request: Request, limit: int = MAX_FORM) -> bytes:
    """The request body, refused as soon as it is known to pass ``limit`` bytes: by its
    Content-Length before anything is read, else while streaming (chunked uploads)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"the request body is over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the request body is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_form(body: bytes) -> dict[str, str]:
    """A url-encoded form body as a dict of first values (oversized bodies are refused)."""
    if len(body) > MAX_FORM:
        raise ValueError("form too large")
    try:
        parsed = parse_qs(
            body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FIELDS
        )
    except ValueError:
        raise ValueError(f"the form has more than {MAX_FIELDS} fields") from None
    if any(len(v) > 1 for k, v in parsed.items() if k in (*REVIEW_FIELDS, "back")):
        raise ValueError("a form field is given more than once")
    return {k: v[0] for k, v in parsed.items() if v}


def json_depth(text: str) -> int:
    """How deeply ``text``'s arrays and objects nest (brackets inside strings not counted)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key[:40]!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_review_json(body: bytes) -> dict[str, str | None]:
    """The review API body as ``{action, question, answer, note}`` (absent ones None).

    Raises ``ValueError`` with a one-line message for anything but one flat JSON object whose
    ``action`` is a string and whose other known fields are strings or null."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the body is not UTF-8 text") from None
    if json_depth(text) > MAX_DEPTH:
        raise ValueError(f"the JSON nests deeper than {MAX_DEPTH} levels")
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"malformed JSON: {exc.msg} at character {exc.pos}") from None
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"malformed JSON: {str(exc).splitlines()[0][:120]}") from None
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    unknown = sorted(k for k in data if k not in REVIEW_FIELDS)
    if unknown:
        names = ", ".join(repr(k[:40]) for k in unknown[:3])
        raise ValueError(f"unknown field {names}; expected {', '.join(REVIEW_FIELDS)}")
    if not isinstance(data.get("action"), str):
        raise ValueError("action must be a string: accept, reject or edit")
    out: dict[str, str | None] = {k: data.get(k) for k in REVIEW_FIELDS}
    if not all(v is None or isinstance(v, str) for v in out.values()):
        raise ValueError("question, answer and note must be strings")
    return out


def filters_from_query(qs: str) -> Filters:
    """Filters carried in a query string (as the review form's hidden ``back`` field)."""
    parsed = parse_qs(qs[:MAX_FORM], keep_blank_values=False)
    return parse_filters({k: v[0] for k, v in parsed.items() if v})
