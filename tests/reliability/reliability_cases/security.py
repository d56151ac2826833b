"""The API key never reaches a file: run against a fake server that checks the key, then read
every byte the run wrote (config, journal, JSONL, stats, failures, exports, report) and
everything the commands printed, looking for it in every spelling (as is, escaped, URL-quoted,
base64 at each alignment). A second run with a wrong key (HTTP 401 on every call) checks that
error messages and failure records do not carry the key either. Then the other ways a secret
arrives: a key with the CR LF of a Windows ``.env`` file (used without them, never written), a
key with a line break inside (refused in one line naming the variable, before any run folder
is made), and credentials in the base URL (``user:KEY@host``, ``?api_key=``), which requests
use but nothing records.
"""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path

from mmevol.backends.secrets import Redactor
from mmevol.io.export import EXPORTERS
from reliability_cases.common import (
    KEY_ENV,
    CategoryReport,
    evolve_argv,
    fake_server,
    free_port,
    run_cli,
    run_env,
)


def _files_with(folder: Path, needle: bytes) -> list[str]:
    return [
        str(p.relative_to(folder))
        for p in sorted(folder.rglob("*"))
        if p.is_file() and needle in p.read_bytes()
    ]


def _leaks(folder: Path, printed: list[str], *secret: str) -> list[str]:
    """Where any spelling of a secret appears: files under ``folder`` and printed text."""
    spellings = Redactor(*secret)._spellings
    hits = [f"{f} ({s[:6]}...)" for s in spellings for f in _files_with(folder, s.encode())]
    return hits + [f"printed ({s[:6]}...)" for s in spellings for t in printed if s in t]


def _other_spellings(seeds: Path, root: Path, report: CategoryReport, rounds: int) -> None:
    """A CRLF key, a key with a line break inside, credentials in the URL."""
    key = "sk-crlf-" + secrets.token_hex(16)
    user, password, query = "u" + secrets.token_hex(6), secrets.token_hex(12), secrets.token_hex(12)
    printed: list[str] = []
    with fake_server(free_port(), api_key=key, latency=(0.0, 0.005)) as url:
        crlf = root / "crlf"
        p = run_cli(evolve_argv(seeds, crlf, url, rounds=rounds), run_env(key + "\r\n"))
        printed += [p.stdout, p.stderr]
        report.case(p.returncode == 0, f"key with CR LF around it: exit {p.returncode}")
        broken = root / "broken-key"
        p = run_cli(
            evolve_argv(seeds, broken, url, rounds=rounds), run_env(key[:9] + "\n" + key[9:])
        )
        printed += [p.stdout, p.stderr]
        lines = p.stderr.strip().splitlines()
        report.case(
            p.returncode == 2 and len(lines) == 1 and KEY_ENV in lines[0] and not broken.exists(),
            f"key with a line break inside: exit {p.returncode}, said {lines[-1:]}, "
            f"run folder made: {broken.exists()}",
        )
    with fake_server(free_port(), latency=(0.0, 0.005)) as url:
        secret_url = url.replace("://", f"://{user}:{password}@") + f"?api_key={query}"
        in_url = root / "url-credentials"
        p = run_cli(evolve_argv(seeds, in_url, secret_url, rounds=rounds), run_env(key))
        printed += [p.stdout, p.stderr]
        report.case(p.returncode == 0, f"credentials in the base URL: exit {p.returncode}")
        p = run_cli([sys.executable, "-m", "mmevol.cli", "stats", str(in_url), "--json"],
                    run_env(key))  # fmt: skip
        printed += [p.stdout, p.stderr]
    hits = _leaks(root, printed, key, user + ":" + password, password, query)
    report.case(not hits, f"CR LF key / URL credentials found: {hits[:5]}")


def security_category(seeds: Path, root: Path, rounds: int = 2) -> CategoryReport:
    t0 = time.monotonic()
    report = CategoryReport("secrets (API key)")
    key = "sk-relia-" + secrets.token_hex(16)
    wrong = "sk-wrong-" + secrets.token_hex(16)
    printed: list[str] = []
    mm = [sys.executable, "-m", "mmevol.cli"]
    with fake_server(free_port(), api_key=key, latency=(0.0, 0.005)) as url:
        run = root / "run"
        proc = run_cli(evolve_argv(seeds, run, url, rounds=rounds), run_env(key))
        printed += [proc.stdout, proc.stderr]
        report.case(proc.returncode == 0, f"run with the right key: exit {proc.returncode}")
        for fmt in sorted(EXPORTERS):
            p = run_cli([*mm, "export", str(run), "--format", fmt, "--out",
                         str(run / "exports" / fmt)], run_env(key))  # fmt: skip
            printed += [p.stdout, p.stderr]
        for extra in ([], ["--json"]):
            p = run_cli([*mm, "report", str(run), *extra], run_env(key))
            printed += [p.stdout, p.stderr]
        p = run_cli([*mm, "stats", str(run), "--json"], run_env(key))
        printed += [p.stdout, p.stderr]
        denied = root / "denied"
        p = run_cli(evolve_argv(seeds, denied, url, rounds=rounds), run_env(wrong))
        printed += [p.stdout, p.stderr]
        report.case(p.returncode in (1, 3), f"run with a wrong key: exit {p.returncode}")
        failures = (denied / "failures.jsonl").read_text("utf-8")
        report.case("401" in failures, "the wrong key's HTTP 401 is a failure record")
    hits = _leaks(root, printed, key, wrong)
    report.case(not hits, f"key found: {hits[:5]}")
    _other_spellings(seeds, root, report, rounds)
    written = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    report.notes = {
        "files_read": len(written),
        "key_env": KEY_ENV,
        "files": [w for w in written if not w.startswith("scenes/")][:80],
    }
    report.seconds = round(time.monotonic() - t0, 1)
    return report
