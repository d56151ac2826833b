"""Pre-flight of an OpenAI-compatible endpoint: before a run spends calls, check the base URL's
form, say when no key is set for a remote server, and ask the server one cheap question.

``check_url`` is pure (no network). ``check_endpoint`` sends ``GET /models``; only when that
cannot settle it (no ``/models`` route, or the model is not in the list) it sends one chat
completion of one token. A failure that no retry will fix (connection refused, unknown host,
401/403, no API at that path, a model the server does not have) is a ``PreflightError`` with
the server's own words; a transient one (429, 5xx, a timeout) is a warning and the run goes
on, as its retries handle those.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from mmevol.errors import MmevolError

if TYPE_CHECKING:
    from mmevol.backends.openai_compat import OpenAIBackend

TIMEOUT_S = 15.0
SHOWN_MODELS = 8


class PreflightError(MmevolError):
    """The endpoint cannot serve this run as configured; nothing was written."""


def check_url(base_url: str) -> None:
    """Refuse a base URL that is not an http(s) URL with a host and a valid port."""
    shown = base_url[:120]
    try:
        parts = urlsplit(base_url)
        port = parts.port  # raises ValueError when out of range or not a number
    except ValueError as e:
        raise PreflightError(f"--base-url {shown!r}: not a valid URL ({e})") from None
    if parts.scheme not in ("http", "https"):
        example = f"http://{base_url}" if "://" not in base_url else "http://127.0.0.1:8000/v1"
        raise PreflightError(f"--base-url {shown!r}: expected a URL starting with http:// or "
                             f"https://, e.g. {example}")  # fmt: skip
    if not parts.hostname:
        raise PreflightError(f"--base-url {shown!r}: no host in the URL")
    if port == 0:
        raise PreflightError(f"--base-url {shown!r}: port 0 is not a port a server listens on")


def is_loopback(base_url: str) -> bool:
    host = (urlsplit(base_url).hostname or "").strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def key_warning(backend: OpenAIBackend) -> str | None:
    """A line when no API key is set and the server is not on this machine."""
    if backend.has_key or is_loopback(backend.base_url):
        return None
    return (f"${backend.api_key_env} is not set: {backend.public_url} will probably refuse the "
            f"calls (set it, or name another variable with --api-key-env)")  # fmt: skip


async def check_endpoint(backend: OpenAIBackend) -> list[str]:
    """Ask the endpoint whether it can serve ``backend.model``; returns warnings, raises
    ``PreflightError`` when it cannot."""
    check_url(backend.base_url)
    no_key = key_warning(backend)
    try:
        return await _ask(backend, [no_key] if no_key else [])
    except PreflightError as e:
        raise PreflightError(f"{e}; also, {no_key}" if no_key else str(e)) from None


async def _ask(backend: OpenAIBackend, warnings: list[str]) -> list[str]:
    async with httpx.AsyncClient(timeout=min(TIMEOUT_S, backend.timeout_s)) as client:
        try:
            resp = await client.get(backend.url("/models"), headers=backend.auth_headers())
        except httpx.HTTPError as e:
            return [*warnings, _slow(backend, "GET /models", e)]
        _final(backend, "GET /models", resp)
        listed = listed_models(resp)
        if resp.status_code == 200 and listed is not None:
            if not listed or backend.model in listed:
                return warnings
        elif _transient(resp):
            return [*warnings, _transient_line(backend, "GET /models", resp)]
        # no usable /models (404, not JSON) or the model is not listed: one tiny completion
        return warnings + await _one_token(client, backend, listed)


async def _one_token(
    client: httpx.AsyncClient, backend: OpenAIBackend, listed: list[str] | None
) -> list[str]:
    body = {"model": backend.model, "max_tokens": 1,
            "messages": [{"role": "user", "content": "Say OK."}]}  # fmt: skip
    what = "a 1-token completion"
    try:
        resp = await client.post(
            backend.url("/chat/completions"), json=body, headers=backend.auth_headers()
        )
    except httpx.HTTPError as e:
        return [_slow(backend, what, e)]
    _final(backend, what, resp)
    if resp.status_code == 200:
        if _is_completion(resp):
            return []
        raise PreflightError(f"{backend.public_url}: no OpenAI-compatible API there (POST "
                             f"/chat/completions answered 200 with {_shape(resp)}, not a chat "
                             "completion)")  # fmt: skip
    have = f"{', '.join(listed[:SHOWN_MODELS])}" if listed else ""
    if _transient(resp):
        note = f"; {backend.model!r} is not among the models it lists ({have})" if have else ""
        return [_transient_line(backend, what, resp) + note]
    text = backend.error_text(resp)
    if resp.status_code == 404 and listed is None:
        raise PreflightError(
            f"{backend.public_url}: no OpenAI-compatible API there (POST /chat/completions: "
            f"404 {text}); the base URL usually ends in /v1"
        )
    raise PreflightError(f"{backend.public_url}: model {backend.model!r} was refused "
                         f"(HTTP {resp.status_code}: {text})"
                         + (f"; it serves {have}" if have else ""))  # fmt: skip


def _final(backend: OpenAIBackend, what: str, resp: httpx.Response) -> None:
    """Answers that no retry changes: a redirect (not followed: a key is never sent on to
    another host), a refused key, a spent quota."""
    if resp.is_redirect:
        where = backend.redact(resp.headers.get("location", "?"))[:200]
        raise PreflightError(f"{backend.public_url}: {what} was redirected ({resp.status_code}) "
                             f"to {where}; give the final URL as --base-url")  # fmt: skip
    if resp.status_code in (401, 403):
        raise _refused(backend, resp)
    if resp.status_code == 429 and _error_code(resp) == "insufficient_quota":
        raise PreflightError(f"{backend.public_url}: HTTP 429: {backend.error_text(resp)} (a "
                             "spent quota, not a rate limit: retrying will not help)")  # fmt: skip


def _error_code(resp: httpx.Response) -> str | None:
    try:
        err = resp.json().get("error")
    except (ValueError, AttributeError, RecursionError):
        return None
    code = err.get("code") or err.get("type") if isinstance(err, dict) else None
    return str(code) if code else None


def _is_completion(resp: httpx.Response) -> bool:
    try:
        body = resp.json()
    except (ValueError, RecursionError):
        return False
    return isinstance(body, dict) and isinstance(body.get("choices"), list)


def _shape(resp: httpx.Response) -> str:
    kind = resp.headers.get("content-type", "no content type").split(";")[0]
    return f"{kind} ({len(resp.content)} bytes)"


def _model_ids(resp: httpx.Response) -> list[str] | None:
    try:
        data = resp.json().get("data")
    except (ValueError, AttributeError, RecursionError):
        return None
    if not isinstance(data, list):
        return None
    return [str(m["id"]) for m in data if isinstance(m, dict) and "id" in m]


def listed_models(resp: httpx.Response) -> list[str] | None:
    """The model ids of a 200 ``/models`` answer; None when there is no such list."""
    return _model_ids(resp) if resp.status_code == 200 else None


def _transient(resp: httpx.Response) -> bool:
    return resp.status_code in (408, 409, 425, 429) or resp.status_code >= 500


def _transient_line(backend: OpenAIBackend, what: str, resp: httpx.Response) -> str:
    return (f"{backend.public_url}: {what} answered HTTP {resp.status_code} "
            f"({backend.error_text(resp)}); going on, calls are retried")  # fmt: skip


def _refused(backend: OpenAIBackend, resp: httpx.Response) -> PreflightError:
    """A 401/403: the server's words and which key was sent (never the key itself)."""
    key = "no key was sent" if not backend.has_key else f"the key in ${backend.api_key_env}"
    return PreflightError(f"{backend.public_url}: HTTP {resp.status_code}: "
                          f"{backend.error_text(resp)} ({key})")  # fmt: skip


def _slow(backend: OpenAIBackend, what: str, e: httpx.HTTPError) -> str:
    """A server that answers slowly is a warning; one that cannot be reached is an error."""
    cause = backend.redact(str(e) or type(e).__name__)
    if isinstance(e, httpx.TimeoutException) and not isinstance(e, httpx.ConnectTimeout):
        return f"{backend.public_url}: {what} timed out ({cause}); going on, calls are retried"
    raise PreflightError(f"{backend.public_url}: cannot reach the server: {type(e).__name__}: "
                         f"{cause} (is it running? is the URL right?)")  # fmt: skip
