"""What a new user meets in the first hour, through the real command: the endpoint's pre-flight
(URL form, missing key, one cheap request, the server's own words), one cause for all units,
missing images, a first attempt that failed entirely, seeds the grounded backend cannot evolve,
the estimate of an offline backend, and Ctrl-C.

Servers are real HTTP: the project's fake (``mmevol.testing.server``) and, for answers no healthy
server gives (401, 404, a short model list), a stdlib ``http.server`` that answers as OpenAI's
API does (error bodies ``{"error": {"message", "type", "code"}}``, as of API version 2024-10).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mmevol.api import demo_seeds
from mmevol.backends.openai_compat import OpenAIBackend
from mmevol.backends.preflight import PreflightError, check_endpoint, is_loopback
from mmevol.cli import app
from mmevol.testing.server import FakeServerConfig, running_server

Route = tuple[Any, ...]  # (status, JSON body or HTML text[, headers])


@contextmanager
def scripted_server(routes: dict[str, Route]) -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server answering ``"METHOD /path"`` with (status, JSON body or HTML text,
    optional headers); yields its base URL (``…/v1``) and the requests it received."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            key = f"{self.command} {self.path.removeprefix('/v1')}"
            seen.append(key)
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            status, body, *extra = routes.get(key, (404, {"error": {"message": "no route"}}))
            html = isinstance(body, str)
            data = body.encode() if html else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html" if html else "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (extra[0] if extra else {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def oai_error(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None,
                      "code": code}}  # fmt: skip


@pytest.fixture()
def seeds(tmp_path: Path) -> Path:
    return demo_seeds(tmp_path / "seeds.jsonl", n=2).path


def evolve(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, ["evolve", *args], env=env)


def openai_args(seeds: Path, out: Path, url: str, model: str = "m") -> list[str]:
    return [str(seeds), "--out", str(out), "--backend", "openai", "--model", model,
            "--base-url", url, "--rounds", "1"]  # fmt: skip


# --- pre-flight -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "says"),
    [
        (
            "localhost:8765",
            "expected a URL starting with http:// or https://, e.g. http://localhost",
        ),
        ("ftp://example.org/v1", "expected a URL starting with http://"),
        ("http:///v1", "no host"),
        ("http://127.0.0.1:99999/v1", "not a valid URL"),
    ],
)
def test_a_malformed_base_url_stops_before_anything(
    seeds: Path, tmp_path: Path, url: str, says: str
) -> None:
    res = evolve(*openai_args(seeds, tmp_path / "run", url))
    assert res.exit_code == 2 and says in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_nothing_listening_is_said_with_its_cause(seeds: Path, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    res = evolve(*openai_args(seeds, tmp_path / "run", url))
    assert res.exit_code != 0
    assert "cannot reach the server" in res.output and "ConnectError" in res.output
    assert not (tmp_path / "run").exists()


def test_an_unknown_host_without_a_key_says_both(seeds: Path, tmp_path: Path) -> None:
    env = {"MMEVOL_TEST_NO_KEY": ""}
    args = [*openai_args(seeds, tmp_path / "run", "https://api.example.invalid/v1"),
            "--api-key-env", "MMEVOL_TEST_NO_KEY"]  # fmt: skip
    res = evolve(*args, env=env)
    assert res.exit_code != 0 and "cannot reach the server" in res.output
    assert "$MMEVOL_TEST_NO_KEY is not set" in res.output
    assert not (tmp_path / "run").exists()


def test_a_401_shows_the_server_text(seeds: Path, tmp_path: Path) -> None:
    refused = (401, oai_error("Incorrect API key provided: sk-***. You can find it at ...",
                              "invalid_api_key"))  # fmt: skip
    with scripted_server({"GET /models": refused}) as (url, seen):
        res = evolve(*openai_args(seeds, tmp_path / "run", url), env={"OPENAI_API_KEY": "wrong"})
    assert res.exit_code != 0
    assert "HTTP 401: Incorrect API key provided" in res.output and "$OPENAI_API_KEY" in res.output
    assert seen == ["GET /models"]  # nothing else was sent
    assert not (tmp_path / "run").exists()


def test_no_api_at_that_path_suggests_v1(seeds: Path, tmp_path: Path) -> None:
    with scripted_server({}) as (url, seen):
        res = evolve(*openai_args(seeds, tmp_path / "run", url.removesuffix("/v1")))
    assert res.exit_code != 0 and "no OpenAI-compatible API there" in res.output
    assert "ends in /v1" in res.output
    assert seen == ["GET /models", "POST /chat/completions"]


def test_a_model_the_server_does_not_have_lists_the_ones_it_has(
    seeds: Path, tmp_path: Path
) -> None:
    routes: dict[str, Route] = {
        "GET /models": (200, {"object": "list", "data": [
            {"id": "qwen2-vl-7b", "object": "model", "owned_by": "vllm"}]}),
        "POST /chat/completions": (404, oai_error("The model `gpt4o` does not exist.",
                                                  "model_not_found")),
    }  # fmt: skip
    with scripted_server(routes) as (url, _):
        res = evolve(*openai_args(seeds, tmp_path / "run", url, model="gpt4o"))
    assert res.exit_code != 0
    assert "model 'gpt4o' was refused" in res.output and "it serves qwen2-vl-7b" in res.output


NGINX = "<html><head><title>Welcome to nginx!</title></head><body>nginx</body></html>"


@pytest.mark.parametrize(
    ("routes", "says"),
    [
        ({"GET /models": (429, oai_error("You exceeded your current quota", "insufficient_quota"))},
         "a spent quota, not a rate limit"),
        ({"GET /models": (200, NGINX), "POST /chat/completions": (200, NGINX)},
         "no OpenAI-compatible API there (POST /chat/completions answered 200 with text/html"),
        ({"GET /models": (302, "", {"Location": "https://login.example.com/?next=/v1"})},
         "redirected (302) to https://login.example.com/?next=/v1"),
    ],
)  # fmt: skip
def test_what_no_retry_fixes_stops_before_anything(
    seeds: Path, tmp_path: Path, routes: dict[str, Route], says: str
) -> None:
    with scripted_server(routes) as (url, _):
        res = evolve(*openai_args(seeds, tmp_path / "run", url), env={"OPENAI_API_KEY": "k"})
    assert res.exit_code != 0 and says in " ".join(res.output.split())
    assert not (tmp_path / "run").exists()


def test_a_model_not_listed_is_named_when_the_probe_is_unsure() -> None:
    routes: dict[str, Route] = {
        "GET /models": (200, {"object": "list", "data": [{"id": "llama3"}, {"id": "qwen"}]}),
        "POST /chat/completions": (500, oai_error("backend crashed", "server_error")),
    }
    with scripted_server(routes) as (url, _):
        warnings = asyncio.run(check_endpoint(OpenAIBackend(model="M", base_url=url)))
    assert (
        len(warnings) == 1 and "'M' is not among the models it lists (llama3, qwen)" in warnings[0]
    )


def test_a_busy_server_is_a_warning_not_a_stop() -> None:
    routes: dict[str, Route] = {"GET /models": (503, oai_error("overloaded", "server_busy"))}
    with scripted_server(routes) as (url, _):
        backend = OpenAIBackend(model="m", base_url=url)
        warnings = asyncio.run(check_endpoint(backend))
    assert len(warnings) == 1 and "HTTP 503 (overloaded); going on" in warnings[0]


def test_a_healthy_server_costs_one_get() -> None:
    routes: dict[str, Route] = {"GET /models": (200, {"object": "list", "data": [{"id": "m"}]})}
    with scripted_server(routes) as (url, seen):
        assert asyncio.run(check_endpoint(OpenAIBackend(model="m", base_url=url))) == []
    assert seen == ["GET /models"]


def test_check_endpoint_raises_a_user_error() -> None:
    with pytest.raises(PreflightError, match="no host"):
        asyncio.run(check_endpoint(OpenAIBackend(model="m", base_url="https:///v1")))


@pytest.mark.parametrize(
    ("url", "loopback"),
    [("http://127.0.0.1:8000/v1", True), ("http://localhost/v1", True),
     ("http://[::1]:8000/v1", True), ("https://api.openai.com/v1", False),
     ("http://10.0.0.5:8000/v1", False), ("http://localhost.evil.example/v1", False)],
)  # fmt: skip
def test_loopback_is_read_from_the_host(url: str, loopback: bool) -> None:
    assert is_loopback(url) is loopback


def test_every_unit_failing_for_one_reason_is_said_once(seeds: Path, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    res = evolve(*openai_args(seeds, tmp_path / "run", url), "--no-preflight")
    assert res.exit_code == 1
    assert "every unit (2) failed for the same reason: connection:" in res.output
    assert "ConnectError" in res.output
    assert "┏" not in res.output  # no tables of zeros


def test_a_run_whose_first_calls_all_failed_takes_new_settings(seeds: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    url = f"http://127.0.0.1:{free_port()}/v1"
    assert evolve(*openai_args(seeds, run, url), "--no-preflight").exit_code == 1
    with running_server(FakeServerConfig(port=0, bad_rate=0.0, broken_json_rate=0.0)) as good:
        res = evolve(*openai_args(seeds, run, good), env={"OPENAI_API_KEY": "k"})
    assert res.exit_code == 0, res.output
    assert "no call of the earlier attempt succeeded; starting over" in res.output
    assert not (run / "failures.jsonl").read_text("utf-8").strip()  # the old failures went
    record = json.loads((run / "config.json").read_text("utf-8"))
    assert record["config"]["base_url"] == good
    # once something succeeded, the settings are locked again
    again = evolve(*openai_args(seeds, run, url), "--no-preflight")
    assert again.exit_code != 0 and "was created with other settings" in again.output


# --- kind messages ----------------------------------------------------------------------------
def test_missing_images_point_to_text_only(seeds: Path, tmp_path: Path) -> None:
    rows = [json.loads(line) for line in seeds.read_text("utf-8").splitlines()]
    rows[0]["image"]["path"] = str(tmp_path / "gone" / "a.png")
    broken = tmp_path / "broken.jsonl"
    broken.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    with running_server(FakeServerConfig(port=0)) as url:
        res = evolve(*openai_args(broken, tmp_path / "run", url), env={"OPENAI_API_KEY": "k"})
        assert res.exit_code == 2
        assert "1 seed image file(s) missing" in res.output and "--text-only" in res.output
        assert not (tmp_path / "run").exists()
        res = evolve(*openai_args(broken, tmp_path / "run", url), "--text-only",
                     env={"OPENAI_API_KEY": "k"})  # fmt: skip
    assert res.exit_code == 0, res.output


def test_the_grounded_backend_says_which_seeds_it_cannot_evolve(
    seeds: Path, tmp_path: Path
) -> None:
    rows = [json.loads(line) for line in seeds.read_text("utf-8").splitlines()]
    bare = tmp_path / "bare.jsonl"
    bare.write_text("".join(json.dumps({**r, "objects": [], "captions": []}) + "\n"
                            for r in rows), "utf-8")  # fmt: skip
    res = evolve(str(bare), "--out", str(tmp_path / "run"), "--rounds", "1")
    assert res.exit_code == 0
    assert "2 of 2 seeds have neither boxes nor captions" in res.output
    assert "nothing evolved was kept" in res.output


def test_an_offline_estimate_is_free(seeds: Path, tmp_path: Path) -> None:
    res = evolve(str(seeds), "--out", str(tmp_path / "run"), "--estimate")
    assert res.exit_code == 0 and "cost free (offline" in " ".join(res.output.split())
    assert "--prices" not in res.output


def test_ctrl_c_says_how_to_go_on_and_the_rerun_finishes(seeds: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    config = FakeServerConfig(port=0, latency=(0.5, 0.5), bad_rate=0.0, broken_json_rate=0.0)
    env = {**os.environ, "OPENAI_API_KEY": "k"}
    with running_server(config) as url:
        cmd = [sys.executable, "-m", "mmevol.cli", "evolve",
               *openai_args(seeds, run, url), "--concurrency", "1", "--rounds", "3"]  # fmt: skip
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)  # fmt: skip
        deadline = time.monotonic() + 120  # only against a hang: the signal goes mid-run
        while not (run / "run.sqlite").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 130, stderr
        assert "interrupted" in stderr and "re-run the same command to resume" in stderr
        assert "Traceback" not in stderr
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_a_finished_run_reruns_from_its_journal_without_the_server(
    seeds: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    env = {"OPENAI_API_KEY": "k"}
    with running_server(FakeServerConfig(port=0, bad_rate=0.0, broken_json_rate=0.0)) as url:
        assert evolve(*openai_args(seeds, run, url), env=env).exit_code == 0
    again = evolve(*openai_args(seeds, run, url), env=env)  # the server is gone
    assert again.exit_code == 0, again.output
    more = evolve(*openai_args(seeds, run, url), "--rounds", "2", env=env)  # needs calls
    assert more.exit_code != 0 and "cannot reach the server" in more.output
