"""Secrets in every spelling (``mmevol.backends.secrets``) and how the OpenAI backend uses them."""

from __future__ import annotations

import base64
import json
import urllib.parse

import pytest

from mmevol.backends.openai_compat import OpenAIBackend, endpoint
from mmevol.backends.secrets import Redactor, SecretError, clean_key, public_url, url_secrets

KEY = "sk-proj-Zq81xLmN0pQrStUvWxYz2345abcdEFGH"


@pytest.mark.parametrize("before", ["", "a", "ab", "user:", "Bearer ", "xyz:"])
@pytest.mark.parametrize("after", ["", "!", "\r\n"])
def test_a_base64_spelling_is_masked_at_every_alignment(before: str, after: str) -> None:
    encoded = base64.b64encode(f"{before}{KEY}{after}".encode()).decode()
    out = Redactor(KEY)(f"Authorization: Basic {encoded}")
    assert "***" in out
    kept = out.split("Basic ", 1)[1].replace("***", "")
    assert len(kept) <= len(base64.b64encode(f"{before}{after}".encode())) + 4


def test_escaped_and_quoted_spellings_are_masked() -> None:
    key = KEY + "+/="
    texts = [
        json.dumps({"auth": f"Bearer {key}"}),
        repr(f"Bearer {key}\r"),
        f"https://h/v1?key={urllib.parse.quote(key, safe='')}",
        f"key={urllib.parse.quote_plus(key)}",
    ]
    redact = Redactor(key)
    for text in texts:
        assert "Zq81xLmN0pQr" not in redact(text), text


def test_a_crlf_key_is_stripped_and_a_broken_key_refused_naming_the_variable() -> None:
    assert clean_key(f"  {KEY}\r\n", "MY_KEY") == KEY
    for broken in (f"{KEY[:6]}\n{KEY[6:]}", f"{KEY[:6]} {KEY[6:]}", f"{KEY}\x00x"):
        with pytest.raises(SecretError, match=r"MY_KEY.*position"):
            clean_key(broken, "MY_KEY")


def test_urls_are_recorded_without_credentials() -> None:
    url = f"https://bob:{KEY}@api.example.com:8443/v1?api-key=s3cr3t-value-1&api-version=2024"
    shown = public_url(url)
    assert shown == "https://api.example.com:8443/v1?api-key=***&api-version=2024"
    assert KEY in url_secrets(url) and "s3cr3t-value-1" in url_secrets(url)
    assert public_url("http://[::1]:9/v1") == "http://[::1]:9/v1"
    assert endpoint("https://h/v1?api-version=2", "/chat/completions") == (
        "https://h/v1/chat/completions?api-version=2"
    )


def test_the_backend_records_and_labels_without_the_endpoints_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SECRET_TEST_KEY", KEY + "\r\n")
    backend = OpenAIBackend(
        "gpt-x", base_url=f"http://u:{KEY}@127.0.0.1:9/v1", api_key_env="SECRET_TEST_KEY"
    )
    shown = json.dumps(backend.describe()) + backend.identity() + repr(backend)
    assert KEY not in shown and backend.label() == "openai:gpt-x"
    assert backend._headers()["Authorization"] == f"Bearer {KEY}"  # stripped of CR LF
    assert KEY not in backend._redact(f"echo: {KEY!r} {base64.b64encode(KEY.encode())!r}")
