"""The web viewer as an attacker sees it: the real ``mmevol view`` process, raw HTTP.

This module owns the viewer category of the reliability suite. It makes a small run, starts the
real viewer (``python -m mmevol.cli view``) as a subprocess on a free loopback port and sends
what a hostile web page or local script could: Host names that are not loopback (DNS rebinding
names, ``127.0.0.1.evil.example``, user info, a missing or repeated Host) on reads and writes;
writes from other origins (another site, ``null``, the wrong scheme or port, two Origins,
``Sec-Fetch-Site``), after which nothing may be saved; hostile bodies (150 kB of ``[``, deep
nesting, invalid UTF-8, huge strings, chunked and lying lengths): a 4xx, never a 500. A second
run is built from a LLaVA file whose images are ``../../OUTSIDE/<name>`` (the files appear after
the seeds are built, as an attacker's would): only the exact image named is served, never its
neighbours nor a non-image called ``.jpg``; a 12000x12000 PNG is asked for at every thumbnail
width and in full while the viewer's peak RSS (``VmHWM``) must stay under ``MAX_RSS_MIB``.
Benign cases (loopback reads, same-origin reviews saved, a thumbnail made) show the viewer does
not simply refuse everything. Every viewer is stopped on the way out, failure or not.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import quote

import httpx
from PIL import Image

from mmevol.view.thumbs import WIDTHS
from reliability_cases.common import CategoryReport, free_port, wait_for
from reliability_cases.disk import _cli

FOURXX = tuple(range(400, 500))
MAX_RSS_MIB = 300
BIG_SIDE = 12_000
SECRET = b"TOP SECRET"
JSON = "application/json"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class _Log:
    """The report's cases: each one what the attacker saw, and a problem when it was wrong."""

    def __init__(self, report: CategoryReport) -> None:
        self.report, self.cases = report, list[dict[str, object]]()

    def check(self, name: str, problem: str | None, seen: str) -> None:
        self.report.case(problem is None, f"{name}: {problem} (saw {seen})")
        self.cases.append({"case": name, "ok": problem is None, "result": seen})

    def status(
        self, name: str, got: int, allowed: tuple[int, ...], problem: str | None = None
    ) -> None:
        label = "a 4xx" if allowed == FOURXX else " or ".join(map(str, allowed))
        self.check(name, f"expected {label}" if got not in allowed else problem, str(got))


@contextmanager
def _viewer(run: Path, log: Path, cwd: Path | None = None) -> Iterator[tuple[int, int]]:
    """The real viewer of ``run`` on a free port, answering; yields (port, pid)."""
    port = free_port()
    argv = [sys.executable, "-m", "mmevol.cli", "view", str(run), "--port", str(port)]
    with log.open("wb") as err:
        proc = subprocess.Popen(argv, cwd=cwd, stdout=err, stderr=err, env={**os.environ})
    try:

        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"the viewer exited {proc.returncode}: {log.read_text()[-400:]}")
            try:
                return httpx.get(f"http://127.0.0.1:{port}/api/samples", timeout=2).is_success
            except httpx.HTTPError:
                return False

        if not wait_for(up, 60, 0.1):
            raise RuntimeError("the viewer did not answer within 60 s")
        yield port, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _raw(port: int, lines: list[str], body: bytes = b"") -> tuple[int, bytes]:
    """Send exactly these request lines (and body); (status, response), 0 for no HTTP answer."""
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        # the server may answer and close before a hostile body is all sent
        with suppress(OSError):
            sock.sendall("\r\n".join([*lines, "Connection: close", "", ""]).encode() + body)
        with suppress(OSError):
            while chunk := sock.recv(65536):
                data += chunk
    return (int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0), data


def _peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc")


def _image_numbers(run: Path) -> dict[str, int]:
    """File name -> the viewer's image number (distinct seed paths in order of appearance)."""
    paths: list[str] = []
    for line in (run / "seeds.jsonl").read_text().splitlines():
        if line.strip() and (path := json.loads(line)["image"]["path"]) not in paths:
            paths.append(path)
    return {Path(p).name: i for i, p in enumerate(paths)}


def _saved(client: httpx.Client, run: Path, sid: str, log: _Log, after: str, want: int) -> None:
    """What the user sees of ``sid``'s reviews, and the rows of reviews.sqlite, are ``want``."""
    history = client.get(f"/api/sample/{quote(sid, safe='')}").json()["history"]
    con = sqlite3.connect(f"file:{run / 'reviews.sqlite'}?mode=ro", uri=True, timeout=10)
    try:
        rows = int(con.execute("SELECT COUNT(*) FROM reviews").fetchone()[0])
    finally:
        con.close()
    ok = len(history) == rows == want
    log.check(f"{want} review(s) saved after {after}", None if ok else f"{rows} rows", str(rows))


def _post(client: httpx.Client, path: str, body: bytes, heads: dict[str, str]) -> int:
    """POST ``body`` as JSON (unless ``heads`` says otherwise); the status."""
    return client.post(path, content=body, headers={"Content-Type": JSON, **heads}).status_code


def _get(port: int, path: str) -> tuple[int, bytes]:
    return _raw(port, [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"])


def _host_and_origin(client: httpx.Client, port: int, sid: str, log: _Log) -> None:
    api, form = f"/api/review/{quote(sid, safe='')}", f"/review/{quote(sid, safe='')}"
    own = f"http://127.0.0.1:{port}"
    review = json.dumps({"action": "reject", "note": "attacker"}).encode()
    for host in (f"rebind.evil.example:{port}", f"127.0.0.1.evil.example:{port}",
                 f"localhost@evil.example:{port}", f"127.0.0.1.nip.io:{port}", "localtest.me",
                 f"127.1:{port}", f"[::1]evil:{port}"):  # fmt: skip
        res = client.get("/api/samples", headers={"Host": host})
        log.status(f"GET /api/samples, Host {host}", res.status_code, (403,))
        site = {"Host": host, "Origin": f"http://{host}"}  # the rebinding page's own origin
        log.status(f"POST review, Host {host}", _post(client, api, review, site), (403,))
    for version in ("1.0", "1.1"):
        got = _raw(port, [f"GET /api/samples HTTP/{version}"])[0]
        log.status(f"GET, HTTP/{version} with no Host", got, (400, 403))
    twice = ["GET /api/samples HTTP/1.1", f"Host: 127.0.0.1:{port}", "Host: evil.example"]
    log.status("GET, two Hosts (ours, then evil)", _raw(port, twice)[0], (400, 403))
    post = [f"POST {api} HTTP/1.1", f"Content-Type: {JSON}", f"Content-Length: {len(review)}"]
    log.status("POST review, no Host", _raw(port, post, review)[0], (400, 403))
    both = [*post, f"Host: 127.0.0.1:{port}", f"Host: evil.example:{port}"]
    log.status("POST review, two Hosts", _raw(port, both, review)[0], (400, 403))
    for origin in ("http://evil.example", "null", f"https://127.0.0.1:{port}",
                   f"http://127.0.0.1:{port + 1}", f"http://localhost:{port}",
                   f"http://127.0.0.1.evil.example:{port}", f"{own}.evil.example"):  # fmt: skip
        got = _post(client, api, review, {"Origin": origin})
        log.status(f"POST review, Origin {origin}", got, (403,))
    two = [*post, f"Host: 127.0.0.1:{port}", f"Origin: {own}", "Origin: http://evil.example"]
    log.status("POST review, two Origins (ours, then evil)", _raw(port, two, review)[0], (403,))
    got = _post(client, api, review, {"Sec-Fetch-Site": "cross-site"})
    log.status("POST review, Sec-Fetch-Site cross-site", got, (403,))
    got = _post(client, form, b"action=reject", {"Origin": "http://evil.example", **FORM})
    log.status("POST form, Origin evil", got, (403,))


def _bodies(client: httpx.Client, port: int, sid: str, log: _Log) -> None:
    api, form = f"/api/review/{quote(sid, safe='')}", f"/review/{quote(sid, safe='')}"
    heads = {"Origin": f"http://127.0.0.1:{port}"}
    accept = '{"action": "accept", "note": '
    bodies = {
        "150 kB of [": b"[" * 150_000,
        "60 kB of [ (under the size bound)": b"[" * 60_000,
        "5000-deep nesting in a field": (accept + "[" * 5000 + "]" * 5000 + "}").encode(),
        "invalid UTF-8": accept.encode() + b'"\xff\xfe\xc3"}',
        "a lone surrogate": (accept + '"\\ud800"}').encode(),
        "a 30000-character note": (accept + json.dumps("x" * 30_000) + "}").encode(),
        "a 2 MB note": (accept + json.dumps("x" * 2_000_000) + "}").encode(),
        "a duplicated action key": b'{"action": "accept", "action": "reject"}',
    }
    for name, body in bodies.items():
        log.status(f"POST review, {name}", _post(client, api, body, heads), FOURXX)
    start = [f"POST {api} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Type: {JSON}"]
    chunk = b"[" * 150_000
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(chunk), chunk)
    log.status("POST review, 150 kB of [ chunked, no length",
               _raw(port, [*start, "Transfer-Encoding: chunked"], chunked)[0], FOURXX)  # fmt: skip
    log.status("POST review, Content-Length 10^12 on a short body",
               _raw(port, [*start, "Content-Length: 1000000000000"], b"{}")[0], FOURXX)  # fmt: skip
    big, many = b"note=" + b"x" * 300_000, "&".join(f"f{i}=x" for i in range(200)).encode()
    log.status("POST form, 300 kB", _post(client, form, big, {**heads, **FORM}), FOURXX)
    log.status("POST form, 200 fields", _post(client, form, many, {**heads, **FORM}), FOURXX)


def _main_run(client: httpx.Client, port: int, run: Path, log: _Log) -> None:
    listed = client.get("/api/samples")
    total = listed.json().get("total", 0) if listed.is_success else 0
    log.status("benign: GET /api/samples from loopback", listed.status_code, (200,),
               None if total > 0 else "no samples listed")  # fmt: skip
    page = client.get("/", headers={"Host": f"localhost:{port}"})
    log.status("benign: the list page, Host localhost", page.status_code, (200,))
    sid = str(listed.json()["samples"][0]["id"])
    name, number = next(iter(_image_numbers(run).items()))
    thumb = client.get(f"/image/{number}/{quote(name)}?w=128")
    kind = thumb.headers.get("content-type")
    log.status("benign: a thumbnail of a seed image", thumb.status_code, (200,),
               None if kind == "image/jpeg" else f"type {kind}")  # fmt: skip
    _host_and_origin(client, port, sid, log)
    _saved(client, run, sid, log, "the foreign Host and Origin writes", 0)
    _bodies(client, port, sid, log)
    _saved(client, run, sid, log, "the hostile bodies", 0)
    heads = {"Origin": f"http://127.0.0.1:{port}"}
    ok = client.post(f"/api/review/{quote(sid, safe='')}", json={"action": "accept"}, headers=heads)
    log.status("benign: same-origin JSON review", ok.status_code, (200,))
    ok = client.post(f"/review/{quote(sid, safe='')}", data={"action": "reject", "note": "n"},
                     headers={**heads, "Sec-Fetch-Site": "same-origin"})  # fmt: skip
    log.status("benign: same-origin review form", ok.status_code, (303,))
    _saved(client, run, sid, log, "two same-origin reviews", 2)
    for path in ("/run.sqlite", "/seeds.jsonl", "/reviews.sqlite", f"/image/{number}/seeds.jsonl",
                 f"/image/{number}/{quote(name)}?w=100", "/static/../run.sqlite"):  # fmt: skip
        log.status(f"GET {path}", _get(port, path)[0], FOURXX)


def _outside_run(root: Path) -> tuple[Path, Path]:
    """A run whose seeds name ``../../OUTSIDE/<file>`` from ``cwd``; the files appear after."""
    cwd, out = root / "a" / "b", root / "OUTSIDE"
    cwd.mkdir(parents=True)
    names = ("x.jpg", "notes.jpg", "link.png", "big.png")
    turns = [{"from": "human", "value": "<image>\nWhat is shown?"}, {"from": "gpt", "value": "A cat."}]  # fmt: skip
    records = [{"id": n, "image": f"../../OUTSIDE/{n}", "conversations": turns} for n in names]
    (cwd / "X.json").write_text(json.dumps(records))
    seeds = root / "outside-seeds.jsonl"
    for argv in (["seeds", "build", "--llava", str(cwd / "X.json"), "--images", str(cwd),
                  "--allow-missing-images", "--out", str(seeds)],
                 ["evolve", str(seeds), "--out", str(root / "outside-run"), "--rounds", "1"]):  # fmt: skip
        proc = _cli(*argv)
        if proc.returncode != 0:
            raise RuntimeError(f"mmevol {argv[0]} failed: {proc.stderr[-400:]}")
    out.mkdir()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out / "x.jpg")
    Image.new("RGB", (40, 30), (0, 0, 255)).save(out / "other.jpg")
    (out / "secret.txt").write_bytes(SECRET)
    (out / "notes.jpg").write_bytes(SECRET + b" notes")
    (out / "link.png").symlink_to(out / "secret.txt")
    big = Image.new("L", (BIG_SIDE, BIG_SIDE), 255)
    for i in range(0, BIG_SIDE, 997):
        big.putpixel((i, i), 0)
    big.save(out / "big.png")
    return root / "outside-run", cwd


def _outside_images(client: httpx.Client, port: int, run: Path, log: _Log) -> None:
    n = _image_numbers(run)
    out = run.parent / "OUTSIDE"
    x = client.get(f"/image/{n['x.jpg']}/x.jpg")
    log.status("benign: the referenced ../../OUTSIDE/x.jpg", x.status_code, (200,),
               None if x.content == (out / "x.jpg").read_bytes() else "other bytes")  # fmt: skip
    for path in (f"/image/{n['x.jpg']}/other.jpg", f"/image/{n['x.jpg']}/secret.txt",
                 f"/image/{n['x.jpg']}/../other.jpg", f"/image/{n['x.jpg']}/..%2fsecret.txt",
                 f"/image/{n['notes.jpg']}/notes.jpg", f"/image/{n['notes.jpg']}/notes.jpg?w=64",
                 f"/image/{n['link.png']}/link.png", f"/image/{n['link.png']}/secret.txt"):  # fmt: skip
        status, data = _get(port, path)
        log.status(f"GET {path}", status, FOURXX, "served the secret" if SECRET in data else None)
    for width in WIDTHS:
        got = client.get(f"/image/{n['big.png']}/big.png?w={width}")
        log.status(f"12000x12000 PNG thumbnail w={width}", got.status_code, (200, 422))
    full = [client.get(f"/image/{n['big.png']}/big.png") for _ in range(3)]
    same = all(r.content == (out / "big.png").read_bytes() for r in full)
    log.status("12000x12000 PNG in full, 3 times", full[-1].status_code, (200,),
               None if same else "other bytes")  # fmt: skip


def viewer_category(seeds: Path, root: Path) -> CategoryReport:
    t0 = time.monotonic()
    report = CategoryReport("viewer (Host, Origin, bodies, images, memory)")
    log = _Log(report)
    peaks: list[float] = []
    try:
        run = root / "run"
        proc = _cli("evolve", str(seeds), "--out", str(run), "--rounds", "1")
        if proc.returncode != 0:
            raise RuntimeError(f"the run to view could not be made: {proc.stderr[-300:]}")
        with _viewer(run, root / "viewer.log") as (port, pid):
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                _main_run(client, port, run, log)
            peaks.append(_peak_mib(pid))
        outside, cwd = _outside_run(root)
        with _viewer(outside, root / "viewer-outside.log", cwd) as (port, pid):
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                _outside_images(client, port, outside, log)
            peaks.append(_peak_mib(pid))
    except (RuntimeError, OSError, httpx.HTTPError, ValueError, KeyError) as exc:
        log.check("the category could run", f"{type(exc).__name__}: {exc}", "setup failed")
    peak = round(max(peaks, default=0.0), 1)
    if peaks:
        log.check(f"viewer peak RSS under {MAX_RSS_MIB} MiB", None if peak < MAX_RSS_MIB
                  else f"peak {peak} MiB", f"{peak} MiB")  # fmt: skip
    report.notes = {"cases": log.cases, "viewer_peak_rss_mib": peak}
    report.seconds = round(time.monotonic() - t0, 1)
    return report
