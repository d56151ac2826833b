"""Turning request parameters into list filters and back into links, leniently and safely.

This module owns the viewer's URL vocabulary: the query parameters of the list page (``round``,
``direction``, ``kept``, ``skill``, ``format``, ``object``, ``q``, ``review``, ``page``), how a
bad value is ignored rather than answered with an error page, and how filters are written back
into query strings for pagination, "back to list" and next/previous links. It also parses the
review form body (``application/x-www-form-urlencoded``) without extra dependencies.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qs, quote, urlencode

from starlette.requests import Request

from mmevol.schema import DIRECTIONS
from mmevol.view.query import REVIEW_STATES, Filters

MAX_PARAM = 500
MAX_FORM = 200_000


def _text(params: Mapping[str, str], key: str) -> str | None:
    value = (params.get(key) or "").strip()
    return value[:MAX_PARAM] or None


def _int(params: Mapping[str, str], key: str) -> int | None:
    value = (params.get(key) or "").strip()
    return int(value) if value.isdigit() and len(value) < 9 else None


def parse_filters(params: Mapping[str, str]) -> Filters:
    """Filters from query parameters; unknown or malformed values are dropped."""
    direction = _text(params, "direction")
    if direction not in (*DIRECTIONS, "seed"):
        direction = None
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
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items() if v}


def filters_from_query(qs: str) -> Filters:
    """Filters carried in a query string (as the review form's hidden ``back`` field)."""
    parsed = parse_qs(qs[:MAX_FORM], keep_blank_values=False)
    return parse_filters({k: v[0] for k, v in parsed.items() if v})
