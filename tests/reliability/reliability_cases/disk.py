"""A full disk and an unwritable output place: one clear line, and no run corrupted.

Root ignores file permissions, so "read-only" is an output path whose parent is a regular
file (mkdir fails whoever you are). A full disk is a real one for the run's process: a file
size limit (``RLIMIT_FSIZE``, with ``SIGXFSZ`` ignored) makes every write past the limit fail
with EFBIG in Python and in SQLite alike. The in-process case makes ``os.fsync`` fail with
ENOSPC while the final files are written.
"""

from __future__ import annotations

import errno
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

from reliability_cases.common import CategoryReport, compare_runs, journal_ok, leftover_temps


def _cli(*args: str, limit: int | None = None) -> subprocess.CompletedProcess[str]:
    def preexec() -> None:  # runs in the child only
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "mmevol.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=preexec,
        env={**os.environ, "COLUMNS": "200"},
    )


def _one_line_error(proc: subprocess.CompletedProcess[str], *words: str) -> str | None:
    lines = proc.stderr.strip().splitlines()
    if proc.returncode == 0:
        return "exit 0"
    if "Traceback" in proc.stderr or len(lines) != 1:
        return f"not one line: {proc.stderr[-400:]!r}"
    missing = [w for w in words if w not in lines[0]]
    return f"line lacks {missing}: {lines[0]}" if missing else None


def _seen(proc: subprocess.CompletedProcess[str]) -> str:
    """The first line the user saw on stderr (what the table quotes)."""
    lines = proc.stderr.strip().splitlines()
    return lines[0] if lines else f"exit {proc.returncode}"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def disk_category(seeds: Path, root: Path, rounds: int = 2) -> CategoryReport:
    t0 = time.monotonic()
    report = CategoryReport("disk full / unwritable output")
    cases: list[dict[str, object]] = []

    def case(name: str, problem: str | None, seen: str = "") -> None:
        report.case(problem is None, f"{name}: {problem}")
        result = problem or seen or "ok"
        cases.append({"case": name, "ok": problem is None, "result": result})

    blocker = root / "not-a-dir"
    blocker.write_text("a regular file where a folder should be\n")
    clean = root / "clean"
    proc = _cli("evolve", str(seeds), "--out", str(clean), "--rounds", str(rounds))
    if proc.returncode != 0:
        raise RuntimeError(f"the reference run failed: {proc.stderr[-500:]}")

    # 1-3: output places that cannot be created
    before = _snapshot(root)
    p = _cli("evolve", str(seeds), "--out", str(blocker / "run"), "--rounds", str(rounds))
    case("evolve --out under a regular file", _one_line_error(p, "not-a-dir"), _seen(p))
    p = _cli("export", str(clean), "--format", "llava", "--out", str(blocker / "x.json"))
    case("export --out under a regular file", _one_line_error(p, "not-a-dir"), _seen(p))
    p = _cli("report", str(clean), "--json", "--out", str(blocker / "r.json"))
    case("report --out under a regular file", _one_line_error(p, "not-a-dir"), _seen(p))
    p = _cli("seeds", "build", "--llava", str(root / "missing.json"), "--out",
             str(blocker / "s.jsonl"))  # fmt: skip
    case(
        "seeds build with a bad source and bad --out", _one_line_error(p, "missing.json"), _seen(p)
    )
    if _snapshot(root) != before:
        case("nothing changed by the refused writes", "files changed")
    else:
        case("nothing changed by the refused writes", None)

    # 4: a full disk in the middle of a run; then space is freed and the run resumes
    full = root / "full"
    p = _cli("evolve", str(seeds), "--out", str(full), "--rounds", str(rounds), limit=96_000)
    problem = _one_line_error(p)
    problem = problem or journal_ok(full)
    if problem is None:
        again = _cli("evolve", str(seeds), "--out", str(full), "--rounds", str(rounds))
        if again.returncode != 0:
            problem = f"resume after the disk was freed: exit {again.returncode}: {again.stderr}"
        else:
            lost, dup, differ = compare_runs(clean, full, rounds)
            report.lost += lost
            report.duplicated += dup
            if differ or leftover_temps(full):
                problem = f"differs after resume: {differ} {leftover_temps(full)}"
    case("disk full mid-run (RLIMIT_FSIZE), then resumed", problem, _seen(p))

    # 5: a finished run re-run while its final files cannot be written: old ones intact
    kept = _snapshot(clean)
    dataset_size = (clean / "dataset.jsonl").stat().st_size
    limit = max(1, dataset_size // 2)
    p = _cli("evolve", str(seeds), "--out", str(clean), "--rounds", str(rounds), limit=limit)
    problem = _one_line_error(p)
    after = _snapshot(clean)
    changed = [k for k in kept if k != "run.sqlite" and not k.startswith("run.sqlite")
               and kept[k] != after.get(k)]  # fmt: skip
    if problem is None and (changed or leftover_temps(clean)):
        problem = f"outputs changed: {changed} {leftover_temps(clean)}"
    case("disk full while writing the final files", problem, _seen(p))

    # 6: in process, fsync fails with ENOSPC during write_outputs
    case("ENOSPC from fsync during write_outputs (in process)", enospc_in_process(clean, rounds))
    report.notes = {"cases": cases}
    report.seconds = round(time.monotonic() - t0, 1)
    return report


def enospc_in_process(run_dir: Path, rounds: int) -> str | None:
    """Make ``os.fsync`` fail with ENOSPC while a finished run's outputs are rewritten: the
    error must name the file, and every final file must be as it was, with no temp left."""
    from mmevol.evolve.run import write_outputs
    from mmevol.store import Store

    kept = {k: v for k, v in _snapshot(run_dir).items() if not k.startswith("run.sqlite")}

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    store = Store(run_dir / "run.sqlite")
    try:
        with mock.patch("mmevol.fsutil.os.fsync", no_space):
            write_outputs(store, run_dir, rounds)
        return "no error raised"
    except OSError as exc:
        if not exc.filename or exc.errno != errno.ENOSPC:
            return f"error does not name the file: {exc!r}"
    finally:
        store.close()
    now = {k: v for k, v in _snapshot(run_dir).items() if not k.startswith("run.sqlite")}
    if now != kept:
        return f"files changed: {sorted(set(now) ^ set(kept)) or 'contents'}"
    return None
