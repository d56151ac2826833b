"""Shared pieces of the reliability suite: the report row, the fake server, runs as processes."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from mmevol.testing.server import FakeServerConfig, running_server
from mmevol.testing.wire import text_key

KEY_ENV = "MMEVOL_RELIABILITY_KEY"
FINAL_FILES = ("dataset.jsonl", "failures.jsonl", "stats.json")


@dataclass
class CategoryReport:
    """One row of the reliability table, plus what went wrong in the cases that failed."""

    category: str
    tried: int = 0
    survived: int = 0
    lost: int = 0
    duplicated: int = 0
    repeated_paid: int = 0
    notes: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def case(self, ok: bool, problem: str | None = None) -> None:
        self.tried += 1
        self.survived += ok
        if not ok:
            self.problems.append(problem or "failed")

    @property
    def passed(self) -> bool:
        return (
            self.tried > 0
            and self.survived == self.tried
            and self.lost == 0
            and self.duplicated == 0
            and self.repeated_paid == 0
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def fake_server(port: int, **settings: Any) -> Iterator[str]:
    """The fake server on ``port`` (the same port for runs whose outputs are compared: the
    endpoint is part of each sample's lineage); yields its ``.../v1`` base URL."""
    with running_server(FakeServerConfig(port=port, **settings)) as url:
        yield url


def server_root(url: str) -> str:
    return url.rsplit("/v1", 1)[0]


def server_stats(url: str) -> dict[str, Any]:
    return dict(httpx.get(f"{server_root(url)}/_fake/stats", timeout=10).json())


def server_keys(url: str) -> list[str]:
    """The text key of every answer the server completed, in order."""
    return list(httpx.get(f"{server_root(url)}/_fake/completions", timeout=10).json()["keys"])


def server_post(url: str, route: str) -> dict[str, Any]:
    return dict(httpx.post(f"{server_root(url)}/_fake/{route}", timeout=10).json())


def journal_keys(run_dir: Path) -> set[str]:
    """The text keys of every call recorded in a run's journal (empty if there is none yet)."""
    db = run_dir / "run.sqlite"
    if not db.exists():
        return set()
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = con.execute("SELECT request FROM calls").fetchall()
    except sqlite3.OperationalError:  # tables not created yet
        return set()
    finally:
        con.close()
    keys = set()
    for (blob,) in rows:
        req = json.loads(blob)
        keys.add(text_key(req["messages"], req["temperature"], req["max_tokens"]))
    return keys


def journal_ok(run_dir: Path) -> str | None:
    """None when the journal passes SQLite's integrity check (or does not exist yet)."""
    db = run_dir / "run.sqlite"
    if not db.exists():
        return None
    con = sqlite3.connect(db, timeout=10)
    try:
        result = con.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        return f"{db}: {exc}"
    finally:
        con.close()
    return None if result == "ok" else f"{db}: integrity_check says {result}"


def done_units(run_dir: Path) -> int:
    db = run_dir / "run.sqlite"
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return int(con.execute("SELECT COUNT(*) FROM units").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def evolve_argv(
    seeds: Path,
    out: Path,
    base_url: str,
    *,
    rounds: int = 3,
    timeout: float = 1.0,
    extra: tuple[str, ...] = (),
) -> list[str]:
    return [
        sys.executable, "-m", "mmevol.cli", "evolve", str(seeds), "--out", str(out),
        "--backend", "openai", "--model", "fake-mllm", "--base-url", base_url,
        "--api-key-env", KEY_ENV, "--timeout", str(timeout), "--concurrency", "4",
        "--rounds", str(rounds),
        "--backend-option", "backoff_base_s=0.05", "--backend-option", "backoff_cap_s=0.5",
        "--backend-option", "max_attempts=3",
        *extra,
    ]  # fmt: skip


def run_env(key: str = "sk-reliability") -> dict[str, str]:
    return {**os.environ, KEY_ENV: key, "COLUMNS": "200"}


def run_cli(
    argv: list[str], env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)


def final_files(run_dir: Path, rounds: int) -> list[str]:
    return ["dataset.jsonl", *(f"rounds/round_{k}.jsonl" for k in range(1, rounds + 1))]


def compare_runs(clean: Path, mine: Path, rounds: int) -> tuple[int, int, list[str]]:
    """(samples lost, samples duplicated, files that differ) of ``mine`` against ``clean``."""
    lost = duplicated = 0
    differ: list[str] = []
    for name in final_files(clean, rounds):
        a, b = clean / name, mine / name
        want = a.read_bytes()
        got = b.read_bytes() if b.is_file() else b""
        if want != got:
            differ.append(name)
        ids_want = [json.loads(x)["id"] for x in want.decode().splitlines()]
        ids_got = [json.loads(x)["id"] for x in got.decode().splitlines()]
        lost += len(set(ids_want) - set(ids_got))
        duplicated += len(ids_got) - len(set(ids_got)) + len(set(ids_got) - set(ids_want))
    return lost, duplicated, differ


def leftover_temps(run_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob(".*.tmp"))


def wait_for(cond: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True
