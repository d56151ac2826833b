"""Secrets kept out of everything a run writes: API keys and credentials inside URLs.

* ``clean_key``: the key read from the environment, with the whitespace a CRLF ``.env`` file
  or a shell leaves around it removed; a key with a control character or a space inside is
  refused with a one-line message naming the variable (it could never be sent in a header).
* ``Redactor``: replaces a key in every spelling it may take in a message: as is, JSON- or
  repr-escaped, URL-quoted, and base64-encoded at any of the three byte alignments (an
  ``Authorization: Basic`` header, a dumped request).
* ``public_url``: a URL without its userinfo (``user:KEY@``) and with the values of query
  parameters that usually carry a credential replaced by ``***``: the form that is recorded
  (config.json, lineage, run.sqlite, messages), while requests use the URL as given.
"""

from __future__ import annotations

import base64
import json
import urllib.parse

MASK = "***"
SECRET_PARAMS = frozenset(
    {
        "key", "api_key", "apikey", "api-key", "access_token", "token", "auth", "password",
        "secret", "sig", "signature", "code", "client_secret", "x-api-key",
    }
)  # fmt: skip


class SecretError(ValueError):
    """An API key that cannot be used as given."""


def clean_key(raw: str, env_name: str) -> str:
    """``raw`` without surrounding whitespace; refused if a control character or a space is
    left inside (a header cannot carry it and a message would leak it)."""
    key = raw.strip()
    for i, ch in enumerate(key):
        if ch.isspace() or not ch.isprintable():
            shown = ch.encode("unicode_escape").decode() if ch != " " else "a space"
            raise SecretError(
                f"environment variable {env_name}: the API key holds {shown} at position {i}; "
                "expected one line of printable characters"
            )
    return key


def _b64_cores(secret: bytes) -> set[str]:
    """The base64 text of ``secret`` that does not depend on what surrounds it, at each of the
    three offsets it may start at inside a longer encoded string."""
    cores = set()
    for pad in range(3):
        text = base64.b64encode(b"\0" * pad + secret + b"\0\0").decode()
        # character j holds bits 6j..6j+5: keep those made of the secret's bytes alone
        first = (4 * pad + 2) // 3
        end = (4 * (pad + len(secret)) - 3) // 3 + 1
        core = text[first:end]
        if len(core) >= 8:
            cores.add(core)
    return cores


class Redactor:
    """Replaces each secret given in every spelling it may take in a message."""

    def __init__(self, *secrets: str | None) -> None:
        spellings: set[str] = set()
        for secret in secrets:
            if not secret or len(secret) < 4:
                continue
            spellings |= {
                secret,
                json.dumps(secret)[1:-1],
                repr(secret)[1:-1],
                secret.encode("unicode_escape").decode(),
                urllib.parse.quote(secret, safe=""),
                urllib.parse.quote_plus(secret),
            }
            spellings |= _b64_cores(secret.encode())
        # the longest first, so that a spelling containing another is replaced whole
        self._spellings = sorted((s for s in spellings if s), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for spelling in self._spellings:
            if spelling in text:
                text = text.replace(spelling, MASK)
        return text


def url_secrets(url: str) -> list[str]:
    """The credentials a URL carries (userinfo, secret query values) that are long enough to
    be told apart from ordinary words in a message (8 characters or more)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return []
    found = [s for s in (parts.password, parts.username) if s]
    found += [v for k, v in urllib.parse.parse_qsl(parts.query) if k.lower() in SECRET_PARAMS]
    found += [urllib.parse.unquote(s) for s in found]
    return [s for s in found if len(s) >= 8]


def public_url(url: str) -> str:
    """``url`` as it may be recorded: no userinfo, secret query values masked."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return url.split("@")[-1] if "@" in url else url
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    query = urllib.parse.urlencode(
        [
            (k, MASK if k.lower() in SECRET_PARAMS else v)
            for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*",
    )
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))
