"""``mmevol view`` against hostile requests: each class an adversarial pass found, over HTTP.

1. Host names (DNS rebinding): only loopback names, the ``--host`` and the connection's own
   address are answered; every other spelling gets 403, also over a real uvicorn socket
   (missing and repeated Host headers).
2. Origins of writes: scheme, host and port must be the ones this request addressed.
3. Bodies: size (413), nesting, malformed JSON, wrong types, huge or invalid strings (400 with
   one line), for the JSON API and the form alike; nothing is saved.
4. Images: only the exact files the seeds reference, resolved, regular and image by content.
5. Thumbnails: pixel limit before decoding, reduced-scale JPEG decoding, a fixed set of widths,
   one decode per (image, width), a cache bounded in bytes.

Every run here is built on the fly from a few tiny images.
"""

from __future__ import annotations

import builtins
import http.client
import io
import json
import os
import random
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image, ImageFile

from mmevol.reviews import ReviewStore
from mmevol.schema import QA, ImageRef, Lineage, Sample, Seed
from mmevol.seeds import write_seeds
from mmevol.store import Store
from mmevol.view import create_app
from mmevol.view.params import MAX_DEPTH, MAX_FIELDS, MAX_JSON
from mmevol.view.serve import free_port
from mmevol.view.thumbs import DECODERS, MAX_PIXELS, WIDTHS, Thumbnailer

uvicorn = pytest.importorskip("uvicorn")

PORT = 8000
BASE = f"http://127.0.0.1:{PORT}"
SID = "img-0000000000000000#0"
SID_URL = SID.replace("#", "%23")
MARK = "What is in picture"  # every sample's question: must never leak in a refusal


# --- building runs and serving them -------------------------------------------------------------


def picture(path: Path, size: tuple[int, int] = (40, 30), color: Any = (200, 30, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".gif": "GIF"}[path.suffix]
    Image.new("RGB", size, color).save(path, format=fmt)
    return path


def build_run(root: Path, images: list[str]) -> Path:
    """A run of one seed sample per image path (paths kept exactly as given)."""
    run = root / "run"
    run.mkdir(parents=True)
    seeds = [
        Seed(id=f"img-{i:016x}", image=ImageRef(path=p, digest=f"path:{i:064x}"))
        for i, p in enumerate(images)
    ]
    samples = [
        Sample(
            id=f"{s.id}#0",
            seed_id=s.id,
            image=s.image,
            round=0,
            qa=QA(question=f"{MARK} {i}?", answer=f"Picture {i}."),
            lineage=Lineage(round=0, kept=True, reason="seed"),
        )
        for i, s in enumerate(seeds)
    ]
    write_seeds(seeds, run / "seeds.jsonl")
    (run / "config.json").write_text(json.dumps({"config": {"rounds": 1}}))
    store = Store(run / "run.sqlite")
    store.add_seed_samples(samples)
    store.close()
    return run


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return build_run(tmp_path, [str(picture(tmp_path / "img" / f"p{i}.png")) for i in range(3)])


def client_for(run: Path, **kw: Any) -> TestClient:
    return TestClient(create_app(run, **kw), base_url=BASE)


def saved(run: Path) -> int:
    store = ReviewStore(run)
    try:
        return len(store.all_latest())
    finally:
        store.close()


@contextmanager
def serving(app: FastAPI) -> Iterator[int]:
    """``app`` under uvicorn on a free loopback port, in a thread; yields the port."""
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the viewer did not start"
        time.sleep(0.02)
    try:
        yield port
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def raw(port: int, request: bytes) -> tuple[int, bytes]:
    """Send exact bytes; (status, whole response) — status 0 when there was no HTTP answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    data = b"".join(chunks)
    return (int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0), data


# --- 1. Host names ------------------------------------------------------------------------------

FOREIGN_HOSTS = [
    "evil.example", "evil.example:8000", "127.0.0.1.evil.example", "127.0.0.1.evil.example:8000",
    "localhost.evil.example", "evil.localhost", "localhost@evil.example", "evil.example@localhost",
    "localhost:8000@evil.example", "localhost:80:80", "localhost:abc", "localhost:99999",
    "localhost:0", "localhost:+80", "localhost:-1", "[::1", "::1", "::1:8000", "[::2]",
    "[fe80::1%25eth0]", "[::1]evil", "[::1]:x", "[127.0.0.1]", "0.0.0.0", "0.0.0.0:8000",
    "127.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.0.0.01", "10.0.0.1",
    "192.168.1.1:8000", "localhost..", ".localhost", "local host", "localhost/", "localhost/x",
    "localhost\\evil", "localhost#", "localhost?x", "xn--lcalhost-5ya", "testserver", "",
]  # fmt: skip
LOOPBACK_HOSTS = [
    "127.0.0.1:8000", "127.0.0.1", "localhost", "localhost:8000", "LOCALHOST:8000", "LocalHost.",
    "localhost.:8000", "localhost:", "127.0.0.1.", "127.9.8.7:1234", "127.255.255.254",
    "[::1]", "[::1]:8000", "[0:0:0:0:0:0:0:1]:8000", "[::ffff:127.0.0.1]:8000", "[::FFFF:7f00:1]",
]  # fmt: skip


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
def test_foreign_host_names_are_refused_on_every_route(run: Path, host: str) -> None:
    client = client_for(run)
    for path in (
        "/api/samples",
        "/",
        "/api/sample/" + SID_URL,
        "/static/view.css",
        "/image/0/p0.png",
    ):
        res = client.get(path, headers={"Host": host})
        assert res.status_code == 403, (host, path)
        assert MARK not in res.text and "\x89PNG" not in res.text
        assert res.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("host", LOOPBACK_HOSTS)
def test_loopback_host_spellings_are_answered(run: Path, host: str) -> None:
    res = client_for(run).get("/api/samples", headers={"Host": host})
    assert res.status_code == 200 and res.json()["total"] == 3


def test_a_rebinding_page_cannot_save_a_review_even_with_a_matching_origin(run: Path) -> None:
    client = client_for(run)
    for host in ("evil.example:8000", "127.0.0.1.evil.example:8000", "evil.example"):
        origin = "http://" + host
        res = client.post(
            "/api/review/" + SID_URL,
            json={"action": "reject"},
            headers={"Host": host, "Origin": origin},
        )
        assert res.status_code == 403
        form = client.post(
            "/review/" + SID_URL,
            data={"action": "reject"},
            headers={"Host": host, "Origin": origin},
        )
        assert form.status_code == 403
    assert saved(run) == 0
    ok = client.post("/api/review/" + SID_URL, json={"action": "reject"}, headers={"Origin": BASE})
    assert ok.status_code == 200 and saved(run) == 1


def test_the_configured_host_is_answered_and_nothing_near_it(run: Path) -> None:
    named = client_for(run, host="Viewer.LAN")
    for host in ("viewer.lan", "viewer.lan:8000", "VIEWER.lan."):
        assert named.get("/api/samples", headers={"Host": host}).status_code == 200
    for host in ("viewer.lan.evil.example", "evil.viewer.lan", "viewerXlan", "viewer.lan@evil"):
        assert named.get("/api/samples", headers={"Host": host}).status_code == 403
    wildcard = client_for(run, host="0.0.0.0")
    assert wildcard.get("/api/samples", headers={"Host": "0.0.0.0:8000"}).status_code == 200
    assert wildcard.get("/api/samples", headers={"Host": "evil.example"}).status_code == 403
    v6 = client_for(run, host="::1")
    assert v6.get("/api/samples", headers={"Host": "[::1]:8000"}).status_code == 200


def test_serve_tells_the_app_its_host(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mmevol.view.serve import serve

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    serve(run, host="viewer.lan", port=8000, say=lambda _: None)
    client = TestClient(seen["app"], base_url=BASE)
    assert client.get("/api/samples", headers={"Host": "viewer.lan:8000"}).status_code == 200
    assert client.get("/api/samples", headers={"Host": "other.lan:8000"}).status_code == 403


def test_a_real_server_refuses_missing_repeated_and_foreign_hosts(run: Path) -> None:
    with serving(create_app(run)) as port:
        ok, body = raw(port, f"GET /api/samples HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                             "Connection: close\r\n\r\n".encode())  # fmt: skip
        assert ok == 200 and MARK.encode() in body
        refused = [
            b"GET /api/samples HTTP/1.1\r\nConnection: close\r\n\r\n",
            b"GET /api/samples HTTP/1.0\r\n\r\n",
            b"GET /api/samples HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n"
            b"Connection: close\r\n\r\n",
            b"GET /api/samples HTTP/1.1\r\nHost: evil.example\r\nHost: localhost\r\n"
            b"Connection: close\r\n\r\n",
            b"GET /api/samples HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
            b"GET http://localhost/api/samples HTTP/1.1\r\nHost: evil.example\r\n"
            b"Connection: close\r\n\r\n",
            b"GET /api/samples HTTP/1.1\r\nHost: 127.0.0.1.evil.example\r\nConnection: close\r\n\r\n",
            b"GET /api/samples HTTP/1.1\r\nHost: loc\xc3\xa1lhost\r\nConnection: close\r\n\r\n",
            b"GET /api/samples HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n",
        ]
        for request in refused:
            status, body = raw(port, request)
            assert status in (400, 403), request
            assert MARK.encode() not in body, request


# --- 2. origins of writes -----------------------------------------------------------------------

FOREIGN_ORIGINS = [
    "https://127.0.0.1:8000", "ws://127.0.0.1:8000", "http://127.0.0.1:8001", "http://127.0.0.1",
    "http://localhost:8000", "http://[::1]:8000", "null", "NULL", "", "http://127.0.0.1:8000/",
    "http://127.0.0.1:8000/api", "http://user@127.0.0.1:8000", "http://127.0.0.1:8000@evil.example",
    "http://127.0.0.1:8000.evil.example", "http://evil.example", "file://", "127.0.0.1:8000",
    "http://127.0.0.1:8000?x", "http://127.0.0.1:80000", "chrome-extension://abc",
]  # fmt: skip


@pytest.mark.parametrize("origin", FOREIGN_ORIGINS)
def test_writes_from_another_origin_are_refused(run: Path, origin: str) -> None:
    client = client_for(run)
    res = client.post(
        "/api/review/" + SID_URL, json={"action": "accept"}, headers={"Origin": origin}
    )
    assert res.status_code == 403
    form = client.post("/review/" + SID_URL, data={"action": "accept"}, headers={"Origin": origin})
    assert form.status_code == 403
    assert saved(run) == 0


def test_browser_hints_and_repeated_origins_are_refused(run: Path) -> None:
    client = client_for(run)
    for site in ("cross-site", "same-site", "Cross-Site"):
        headers = {"Origin": BASE, "Sec-Fetch-Site": site}
        res = client.post("/api/review/" + SID_URL, json={"action": "accept"}, headers=headers)
        assert res.status_code == 403, site
    twice = [("Origin", BASE), ("Origin", BASE), ("Content-Type", "application/json")]
    res = client.post("/api/review/" + SID_URL, content=b'{"action": "accept"}', headers=twice)
    assert res.status_code == 403
    assert saved(run) == 0


def test_same_origin_writes_are_accepted(run: Path) -> None:
    client = client_for(run)
    cases: list[dict[str, str]] = [
        {},  # a script: no Origin at all
        {"Origin": BASE},
        {"Origin": "HTTP://127.0.0.1:8000"},
        {"Origin": BASE, "Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},
        {"Host": "[::1]:8000", "Origin": "http://[::1]:8000"},
        {"Host": "localhost", "Origin": "http://localhost"},
        {"Host": "localhost:80", "Origin": "http://localhost"},
        {"Host": "LOCALHOST.:8000", "Origin": "http://localhost.:8000"},
    ]
    for n, headers in enumerate(cases):
        body = {"action": "accept", "note": f"case {n}"}
        res = client.post("/api/review/" + SID_URL, json=body, headers=headers)
        assert res.status_code == 200, headers
    assert len(ReviewStore(run).history(SID)) == len(cases)


def test_a_real_server_checks_the_scheme_of_the_origin(run: Path) -> None:
    with serving(create_app(run)) as port:
        for origin, expected in (
            (f"https://127.0.0.1:{port}", 403),
            (f"http://127.0.0.1:{port + 1}", 403),
            (f"http://127.0.0.1:{port}", 200),
        ):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request(
                "POST",
                "/api/review/" + SID_URL,
                body=b'{"action": "reject"}',
                headers={"Origin": origin, "Content-Type": "application/json"},
            )
            assert conn.getresponse().status == expected, origin
            conn.close()
    assert saved(run) == 1


# --- 3. bodies ----------------------------------------------------------------------------------

BAD_JSON = [
    b"", b" ", b"{", b"}", b"[1]", b'"accept"', b"null", b"1", b"{'action': 'accept'}",
    b'{"action": "accept",}', b'{"action": "accept"} {}', b'{"action": "accept"}x',
    b'{"action": NaN}', b'{"action": "accept", "note": Infinity}', b"\xff\xfe{}",
    b'{"action": "acc\xffept"}', b'\xef\xbb\xbf{"action": "accept"}',
    b'{"action": "accept", "action": "reject"}', b'{"action": 5}', b'{"action": null}',
    b'{"action": ["accept"]}', b'{"action": {"a": 1}}', b'{"action": true}', b"{}",
    b'{"note": "x"}', b'{"action": "accept", "note": 5}', b'{"action": "accept", "note": {}}',
    b'{"action": "accept", "note": []}', b'{"action": "edit", "question": 1.5, "answer": "a"}',
    b'{"action": "edit", "question": "q", "answer": false}', b'{"action": "accept", "extra": 1}',
    b'{"action": "accept", "__proto__": {}}', b'{"action": "ACCEPT"}', b'{"action": " accept"}',
    b'{"action": "accept\\u0000"}', b'{"action": "accept", "note": "\\ud800"}',
    b'{"action": "accept", "note": "a\\u0000b"}', b'{"action": "accept", "note": "\\u001b[31m"}',
    b'{"action": "edit", "question": "q\\udfff", "answer": "a"}',
    b'{"action": "accept", "note": ' + b"1" * 5000 + b"}",
    b'{"action": "accept", "note": "' + b"n" * 30_000 + b'"}',
    b'{"action": "edit", "question": "' + b"q" * 20_001 + b'", "answer": "a"}',
    b"[" * 60_000, b'{"a":' * 10_000, b'[{"a":[' * 3000, b"]" * 1000 + b"[" * 1000,
    b'{"action": "accept", "note": ' + b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1) + b"}",
]  # fmt: skip


def assert_one_line_400(res: Any) -> None:
    assert res.status_code == 400, res.text[:200]
    detail = res.json()["detail"]
    assert isinstance(detail, str) and detail and "\n" not in detail and len(detail) < 300


def test_malformed_deep_and_mistyped_json_is_400_with_one_line(run: Path) -> None:
    client = client_for(run)
    for body in BAD_JSON:
        res = client.post(
            "/api/review/" + SID_URL, content=body, headers={"Content-Type": "application/json"}
        )
        assert_one_line_400(res)
    assert saved(run) == 0


def test_json_body_size_is_bounded(run: Path) -> None:
    client = client_for(run)
    huge = client.post("/api/review/" + SID_URL, content=b"[" * 150_000)
    assert huge.status_code == 413 and "\n" not in huge.json()["detail"]
    valid = b'{"action": "accept"}'
    over = client.post("/api/review/" + SID_URL, content=valid + b" " * (MAX_JSON + 1 - len(valid)))
    assert over.status_code == 413
    assert saved(run) == 0
    at_limit = client.post("/api/review/" + SID_URL, content=valid + b" " * (MAX_JSON - len(valid)))
    assert at_limit.status_code == 200
    brackets_in_text = {"action": "accept", "note": "[" * 15_000 + "{" * 4000}
    assert client.post("/api/review/" + SID_URL, json=brackets_in_text).status_code == 200
    assert ReviewStore(run).latest(SID).note.startswith("[[[")  # type: ignore[union-attr]


def test_random_json_noise_never_reaches_a_500(run: Path) -> None:
    client = client_for(run)
    rng = random.Random(7)
    alphabet = '[]{}":,0123456789.eE+- truefalsnul\\u\x00\xff'
    for _ in range(200):
        body = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400)))
        res = client.post("/api/review/" + SID_URL, content=body.encode("utf-8", "surrogatepass"))
        assert res.status_code == 400, body
    assert saved(run) == 0


def test_review_form_is_bounded_and_checked(run: Path) -> None:
    client = client_for(run)
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    many = "&".join(f"f{i}=x" for i in range(MAX_FIELDS + 1)) + "&action=accept"
    bad = [
        many.encode(),
        b"action=accept&action=reject",
        b"action=edit&question=q&question=r&answer=a",
        b"[" * 150_000,
        b"action=accept&note=a%00b",
        b"action=accept&note=%1b%5b31m",
        b"action=edit&question=q%01&answer=a",
        b"action=%ff",
        b"action=",
        b"",
    ]
    for body in bad:
        res = client.post("/review/" + SID_URL, content=body, headers=form_type)
        assert res.status_code == 400, body[:60]
        assert "Review not saved" in res.text
    assert saved(run) == 0
    # what is not kept is not checked: an accept may carry the model's odd text along
    ok = client.post(
        "/review/" + SID_URL,
        content=b"action=accept&question=odd%01text&answer=%00",
        headers=form_type,
        follow_redirects=False,
    )
    assert ok.status_code == 303 and saved(run) == 1


# --- 4. images ----------------------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, TestClient]:
    """A run whose seeds name files of ../../OUTSIDE (relative to the working directory)."""
    out = tmp_path / "OUTSIDE"
    picture(out / "x.jpg")
    picture(out / "other.jpg", color=(0, 0, 255))
    (out / "secret.txt").write_text("TOP SECRET")
    (out / "notes.jpg").write_text("TOP SECRET notes")
    (out / "link.png").symlink_to(out / "secret.txt")
    (out / "dir.jpg").mkdir()
    os.mkfifo(out / "fifo.jpg")
    (out / "dev.png").symlink_to("/dev/zero")
    (out / "page.gif").write_text("<html><script>alert(1)</script>TOP SECRET</html>")
    (out / "vector.png").write_text('<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>')
    (out / "fake.bmp").write_bytes(b"BM TOP SECRET but not a bitmap header")
    picture(out / "real-png.jpg.png").rename(out / "png-named.jpg")
    (out / "alias.jpg").symlink_to(out / "x.jpg")
    (out / "loop.jpg").symlink_to(out / "loop.jpg")
    names = ["x.jpg", "notes.jpg", "link.png", "dir.jpg", "fifo.jpg", "dev.png", "page.gif",
             "vector.png", "fake.bmp", "png-named.jpg", "alias.jpg", "loop.jpg", "gone.jpg"]  # fmt: skip
    cwd = tmp_path / "a" / "b"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    run = build_run(tmp_path / "r", [f"../../OUTSIDE/{n}" for n in names])
    return out, run, client_for(run)


def opened_files(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every path opened from now on (``open``, ``io.open``, ``os.open``, from any thread)."""
    seen: list[str] = []
    real_open, real_os_open = builtins.open, os.open

    def spy_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, str | os.PathLike):
            seen.append(os.fspath(file))
        return real_open(file, *args, **kwargs)

    def spy_os_open(path: Any, *args: Any, **kwargs: Any) -> int:
        seen.append(os.fspath(path))
        return real_os_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(io, "open", spy_open)
    monkeypatch.setattr(os, "open", spy_os_open)
    return seen


@pytest.mark.timeout(120)  # were a FIFO opened, the request would hang: fail instead
def test_only_the_exact_referenced_image_files_are_served(
    outside: tuple[Path, Path, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, _, client = outside
    opened = opened_files(monkeypatch)
    x = client.get("/image/0/x.jpg")
    assert x.status_code == 200 and x.content == (out / "x.jpg").read_bytes()
    assert x.headers["content-type"] == "image/jpeg"
    assert x.headers["cross-origin-resource-policy"] == "same-origin"
    alias = client.get("/image/10/alias.jpg")  # a referenced symlink to an image: resolved
    assert alias.status_code == 200 and alias.content == x.content
    sniffed = client.get("/image/9/png-named.jpg")  # the type comes from the bytes
    assert sniffed.status_code == 200 and sniffed.headers["content-type"] == "image/png"
    refused = [f"/image/{i}/{n}" for i, n in enumerate(
        ["-", "notes.jpg", "link.png", "dir.jpg", "fifo.jpg", "dev.png", "page.gif",
         "vector.png", "fake.bmp", "-", "-", "loop.jpg", "gone.jpg"]) if n != "-"]  # fmt: skip
    for number in range(14):  # no referenced path makes its folder servable
        for name in ("other.jpg", "secret.txt", "x.jpg" if number else "X.JPG", "../x.jpg"):
            refused.append(f"/image/{number}/{name}")
    refused += ["/image/-1/x.jpg", "/image/0/", "/image/0/x.jpg/", "/image/0/%2e%2e%2fx.jpg",
                "/image/99999999999999999999/x.jpg", "/image/x/x.jpg", "/image/0/x.jpg%00"]  # fmt: skip
    for path in refused:
        res = client.get(path)
        assert res.status_code in (403, 404, 422), path
        assert b"TOP SECRET" not in res.content and not res.content.startswith(b"\xff\xd8"), path
    # a FIFO (the open would block), /dev/zero (a read never ends) or a folder is never
    # opened: they are refused on what stat says
    special = {str(out / "fifo.jpg"), "/dev/zero", str(out / "dir.jpg"), str(out / "dev.png")}
    assert str(out / "x.jpg") in opened  # the spy sees what the viewer opens
    assert not [p for p in opened if p in special or os.path.realpath(p) in special]
    listing = client.get("/").text
    assert "/image/0/x.jpg?w=128" in listing and "/image/3/" not in listing


def test_a_file_that_stops_being_an_image_stops_being_served(
    outside: tuple[Path, Path, TestClient],
) -> None:
    out, _, client = outside
    assert client.get("/image/0/x.jpg").status_code == 200
    (out / "x.jpg").write_text("TOP SECRET swapped in")
    res = client.get("/image/0/x.jpg")
    assert res.status_code == 403 and b"TOP SECRET" not in res.content
    assert client.get("/image/0/x.jpg?w=64").status_code == 403


def test_another_image_swapped_in_behind_a_referenced_name_is_refused(
    outside: tuple[Path, Path, TestClient],
) -> None:
    """The bytes must be the ones the seeds recorded: a different picture (or a link
    re-pointed to one outside) behind the same name is not served."""
    out, _, client = outside
    assert client.get("/image/0/x.jpg").status_code == 200
    (out / "x.jpg").unlink()
    (out / "x.jpg").symlink_to(out / "other.jpg")
    res = client.get("/image/0/x.jpg")
    assert res.status_code == 403 and not res.content.startswith(b"\xff\xd8")
    assert client.get("/image/0/x.jpg?w=64").status_code == 403


# --- 5. thumbnails ------------------------------------------------------------------------------


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header declares ``width`` x ``height`` with (almost) no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
    )
    return path


def jpeg_declaring(path: Path, width: int, height: int) -> Path:
    data = bytearray((picture(path.with_suffix(".src.jpg"), (16, 16))).read_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_huge_images_are_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "big.png"
    Image.new("1", (12000, 12000)).save(big)
    assert big.stat().st_size < 200_000
    files = [
        big,
        png_header_only(tmp_path / "bomb.png", 60_000, 60_000),
        jpeg_declaring(tmp_path / "bomb.jpg", 65_000, 65_000),
        png_header_only(tmp_path / "wide.png", MAX_PIXELS + 1, 1),
    ]
    run = build_run(tmp_path, [str(f) for f in files])
    client = client_for(run)
    loaded: list[tuple[int, int]] = []  # every pixel decode (the 12000x12000 PNG alone took
    load = ImageFile.ImageFile.load  # 12.8 s for six widths when it was decoded)

    def spy(self: ImageFile.ImageFile) -> Any:
        loaded.append(self.size)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    for number, f in enumerate(files):
        for w in WIDTHS:
            res = client.get(f"/image/{number}/{f.name}?w={w}")
            assert res.status_code == 422 and "megapixel" in res.json()["detail"], (f.name, w)
    assert loaded == []  # refused on the size the header declares: no pixel was decoded
    thumbs = client.app.state.thumbs  # type: ignore[attr-defined]
    decodes = thumbs.stats.decodes
    assert client.get(f"/image/0/big.png?w={WIDTHS[0]}").status_code == 422
    assert thumbs.stats.decodes == decodes  # the refusal is cached too
    assert client.get("/image/0/big.png").status_code == 200  # served as is, never decoded
    assert loaded == []


def test_broken_images_are_a_4xx_not_a_500(tmp_path: Path) -> None:
    good = picture(tmp_path / "good.png", (64, 64)).read_bytes()
    (tmp_path / "cut.png").write_bytes(good[: len(good) // 2])
    (tmp_path / "junk.png").write_bytes(good[:33] + os.urandom(500))
    (tmp_path / "cut.jpg").write_bytes(picture(tmp_path / "g.jpg", (64, 64)).read_bytes()[:300])
    names = ["cut.png", "junk.png", "cut.jpg"]
    client = client_for(build_run(tmp_path, [str(tmp_path / n) for n in names]))
    for number, name in enumerate(names):
        res = client.get(f"/image/{number}/{name}?w=64")
        assert 400 <= res.status_code < 500, name


def test_thumbnail_widths_are_a_fixed_set(run: Path) -> None:
    client = client_for(run)
    for w in WIDTHS:
        res = client.get(f"/image/0/p0.png?w={w}")
        assert res.status_code == 200 and res.headers["content-type"] == "image/jpeg"
    for query in ("w=100", "w=0", "w=-1", "w=65536", "w=abc", "w=1e3", "w=64.0", "w=%2064",
                  "w=064", "w=", "w=64&w=128", "w=99999999999999999999999"):  # fmt: skip
        res = client.get(f"/image/0/p0.png?{query}")
        assert res.status_code == 400 and "one of" in res.json()["detail"], query
    assert len(client.app.state.thumbs) == len(WIDTHS)  # type: ignore[attr-defined]


def test_jpeg_thumbnails_are_decoded_at_a_reduced_scale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = picture(tmp_path / "photo.jpg", (4000, 3000), (10, 120, 30))
    client = client_for(build_run(tmp_path, [str(photo)]))
    loaded: list[tuple[int, int]] = []
    load = ImageFile.ImageFile.load

    def spy(self: ImageFile.ImageFile) -> Any:
        loaded.append(self.size)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    res = client.get("/image/0/photo.jpg?w=128")
    assert res.status_code == 200
    assert loaded and max(w for w, _ in loaded) <= 1000  # 1/8 scale, not 4000 wide
    with Image.open(io.BytesIO(res.content)) as thumb:
        assert thumb.size == (128, 96)


def test_one_decode_per_image_and_width_and_few_at_once(tmp_path: Path) -> None:
    noise = tmp_path / "noise.png"
    Image.frombytes("RGB", (600, 600), os.urandom(600 * 600 * 3)).save(noise)
    app = create_app(build_run(tmp_path, [str(noise)]))
    thumbs = app.state.thumbs
    make, active, peak, lock = thumbs._make, [0], [0], threading.Lock()

    def slow_make(image: Any, width: int) -> bytes:  # every decode overlaps the others
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.3)
        try:
            return make(image, width)  # type: ignore[no-any-return]
        finally:
            with lock:
                active[0] -= 1

    thumbs._make = slow_make
    with serving(app) as port:

        def fetch(w: int, into: list[tuple[int, bytes]]) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", f"/image/0/noise.png?w={w}")
            res = conn.getresponse()
            into.append((res.status, res.read()))
            conn.close()

        def at_once(widths: list[int]) -> list[tuple[int, bytes]]:
            results: list[tuple[int, bytes]] = []
            threads = [threading.Thread(target=fetch, args=(w, results)) for w in widths]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            assert len(results) == len(widths) and {r[0] for r in results} == {200}
            return results

        same = at_once([256] * 8)
        assert len({body for _, body in same}) == 1
        assert thumbs.stats.decodes == 1  # eight requests, one decode
        at_once([w for w in WIDTHS for _ in range(3)])
        assert thumbs.stats.decodes == len(WIDTHS)  # 256 was cached; one per other width
        assert peak[0] == DECODERS == 1  # one decoder thread, however many ask at once


def test_the_thumbnail_cache_is_bounded_in_bytes_and_drops_the_least_recent(
    tmp_path: Path,
) -> None:
    paths = []
    for i in range(10):
        paths.append(str(tmp_path / f"c{i}.png"))
        Image.frombytes("RGB", (64, 64), os.urandom(64 * 64 * 3)).save(paths[-1])
    thumbs = Thumbnailer()
    client = client_for(build_run(tmp_path, paths), thumbnailer=thumbs)
    first = client.get("/image/0/c0.png?w=64")
    assert first.status_code == 200
    thumbs.max_bytes = limit = int(len(first.content) * 3.5)  # room for about three
    for i in range(1, 10):
        assert client.get(f"/image/{i}/c{i}.png?w=64").status_code == 200
        assert thumbs.cached_bytes <= limit
    assert 1 <= len(thumbs) <= 4
    decodes = thumbs.stats.decodes
    assert client.get("/image/9/c9.png?w=64").status_code == 200  # the most recent: kept
    assert thumbs.stats.decodes == decodes
    assert client.get("/image/0/c0.png?w=64").status_code == 200  # the least recent: dropped
    assert thumbs.stats.decodes == decodes + 1
    big = Thumbnailer(max_bytes=100)  # a thumbnail bigger than the whole cache: served, not kept
    assert (
        client_for(build_run(tmp_path / "b", paths), thumbnailer=big)
        .get("/image/0/c0.png?w=64")
        .content
        == first.content
    )
    assert len(big) == 0 and big.cached_bytes == 0


def test_a_changed_image_gets_a_new_thumbnail(run: Path, tmp_path: Path) -> None:
    client = client_for(run)
    before = client.get("/image/0/p0.png?w=64").content
    fresh = picture(tmp_path / "fresh.png", (40, 30), (0, 0, 255))
    os.replace(fresh, tmp_path / "img" / "p0.png")
    after = client.get("/image/0/p0.png?w=64")
    assert after.status_code == 200 and after.content != before
