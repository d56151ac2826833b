"""The API key never reaches a file: run against a fake server that checks the key, then read
every byte the run wrote (config, journal, JSONL, stats, failures, exports, report) and
everything the commands printed, looking for it. A second run with a wrong key (HTTP 401 on
every call) checks that error messages and failure records do not carry the key either.
"""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path

from mmevol.io.export import EXPORTERS
from mmevol.reliability.common import (
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
    hits = _files_with(root, key.encode()) + _files_with(root, wrong.encode())
    report.case(not hits, f"key found in files: {hits}")
    said = [s for s in printed if key in s or wrong in s]
    report.case(not said, "key printed by a command")
    written = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    report.notes = {
        "files_read": len(written),
        "key_env": KEY_ENV,
        "files": [w for w in written if not w.startswith("scenes/")][:80],
    }
    report.seconds = round(time.monotonic() - t0, 1)
    return report
