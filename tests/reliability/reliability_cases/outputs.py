"""Outputs never clobber and a run has one writer: every ``--out`` that would destroy an input,
a run's own file, a device or someone else's folder is refused in one line with nothing
changed; a second ``evolve`` on a run being written stops at once; a killed folder export's
leftovers are removed by the next export, and exported folders are ordinary (not 0700); a
damaged run.sqlite or reviews.sqlite is one line naming it, never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from mmevol.fsutil import WRITER_MARK
from mmevol.outputs import run_lock
from mmevol.reviews import ReviewStore
from reliability_cases.common import (
    CategoryReport,
    evolve_argv,
    fake_server,
    free_port,
    run_cli,
    run_env,
    server_root,
)
from reliability_cases.disk import _cli, _one_line_error, _snapshot

Check = Callable[[str, str | None], None]  # (case name, problem or None)


def _llava(path: Path, image: str) -> Path:
    record = {"id": "a", "image": image, "conversations": [
        {"from": "human", "value": "<image>\nWhat is shown?"}, {"from": "gpt", "value": "A cat."}]}  # fmt: skip
    path.write_text(json.dumps([record]))
    return path


def _clobber_cases(seeds: Path, root: Path, run: Path, check: Check) -> None:
    work = root / "clobber"
    work.mkdir()
    src = _llava(work / "in.json", str(seeds.parent / "scenes" / "x.png"))
    (work / "link.json").symlink_to(src)
    image = sorted((seeds.parent / "scenes").rglob("*.png"))[0]
    before_src, before_run, before_image = src.read_bytes(), _snapshot(run), image.read_bytes()
    fifo = work / "pipe"
    os.mkfifo(fifo)
    attempts = {
        "seeds build --out its own input": ["seeds", "build", "--llava", str(src), "--out",
                                            str(src), "--allow-missing-images"],
        "seeds build --out its input by another spelling": [
            "seeds", "build", "--llava", str(src), "--out",
            str(work / "sub" / ".." / "in.json"), "--allow-missing-images"],
        "seeds build --out a link to its input": [
            "seeds", "build", "--llava", str(src), "--out", str(work / "link.json"),
            "--allow-missing-images"],
        "export --out the run's dataset": ["export", str(run), "--format", "jsonl", "--out",
                                           str(run / "dataset.jsonl")],
        "export --out a round file": ["export", str(run), "--format", "llava", "--out",
                                      str(run / "rounds" / "round_1.jsonl")],
        "export --out the journal": ["export", str(run), "--format", "parquet", "--out",
                                     str(run / "run.sqlite")],
        "export --out the run (folder format)": ["export", str(run), "--format", "trl",
                                                 "--out", str(run)],
        "report --out the run's config": ["report", str(run), "--out", str(run / "config.json")],
        "report --out the run's seeds via ..": [
            "report", str(run), "--json", "--out", str(run / "rounds" / ".." / "seeds.jsonl")],
        "export --out a device": ["export", str(run), "--format", "llava", "--out", "/dev/null"],
        "export --out a pipe": ["export", str(run), "--format", "llava", "--out", str(fifo)],
        "report --out a folder": ["report", str(run), "--out", str(work)],
        "seeds build --out a run's journal": ["seeds", "build", "--llava", str(src), "--out",
                                              str(run / "run.sqlite"), "--allow-missing-images"],
        "seeds build --out a run's round file": [
            "seeds", "build", "--llava", str(src), "--out",
            str(run / "rounds" / "round_1.jsonl"), "--allow-missing-images"],
        "export --out an image the run uses": ["export", str(run), "--format", "parquet",
                                               "--out", str(image)],
        "report --out an image the run uses": ["report", str(run), "--out", str(image)],
    }  # fmt: skip
    for name, argv in attempts.items():
        proc = _cli(*argv)
        check(name, _one_line_error(proc))
    unchanged = (src.read_bytes() == before_src and _snapshot(run) == before_run
                 and image.read_bytes() == before_image)  # fmt: skip
    check("inputs and the run unchanged", None if unchanged else "something was overwritten")
    check("the device is still a device", None if stat.S_ISCHR(os.stat("/dev/null").st_mode)
          else "/dev/null replaced")  # fmt: skip


def _foreign_folders(seeds: Path, root: Path, check: Check) -> None:
    mine = root / "users-folder"
    mine.mkdir()
    (mine / "thesis.tex").write_text("my work")
    other = root / "other-tool"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model": "x", "lr": 0.1}))
    named = root / "named-like-a-run"
    (named / "rounds").mkdir(parents=True)
    (named / "rounds" / "round_1.jsonl").write_text("precious\n")
    (named / "dataset.jsonl").write_text("{}\n")
    for name, folder in (("a user's folder", mine), ("another tool's config.json", other),
                         ("files named like a run's", named)):  # fmt: skip
        before = _snapshot(folder)
        proc = _cli("evolve", str(seeds), "--out", str(folder), "--rounds", "1")
        problem = _one_line_error(proc, "not an mmevol run")
        if problem is None and _snapshot(folder) != before:
            problem = "the folder was changed"
        check(f"evolve --out {name}", problem)
    inside = root / "seeds-inside"
    inside.mkdir()
    (inside / "dataset.jsonl").write_bytes(seeds.read_bytes())
    proc = _cli("evolve", str(inside / "dataset.jsonl"), "--out", str(inside), "--rounds", "1")
    problem = _one_line_error(proc)
    if problem is None and (inside / "dataset.jsonl").read_bytes() != seeds.read_bytes():
        problem = "the seeds were overwritten"
    check("evolve whose seeds sit in --out named like a run file", problem)


def _one_writer(seeds: Path, root: Path, check: Check) -> None:
    held = root / "held"
    with run_lock(held):
        proc = _cli("evolve", str(seeds), "--out", str(held), "--rounds", "1")
    check("evolve on a run another process writes", _one_line_error(proc, "another mmevol"))
    with fake_server(free_port(), latency=(0.05, 0.15)) as url:
        both = root / "both"
        argv = evolve_argv(seeds, both, url, rounds=1)
        procs = [subprocess.Popen(argv, env=run_env(), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
        outs = [(p.wait(600), p.stderr.read() if p.stderr else "") for p in procs]
        stats = json.loads(run_cli([sys.executable, "-m", "mmevol.cli", "stats", str(both),
                                    "--json"], run_env()).stdout or "{}")  # fmt: skip
        codes = sorted(rc for rc, _ in outs)
        busy = [e for rc, e in outs if rc == 2 and "another mmevol" in e]
        problem = None
        if codes != [0, 2] or len(busy) != 1:
            problem = f"exit codes {codes}; stderr {[e[-200:] for _, e in outs]}"
        elif not stats.get("complete"):
            problem = "the run that went on did not finish"
        check("two evolve processes started together on one run", problem)
        counters = httpx.get(f"{server_root(url)}/_fake/stats", timeout=5).json()
        repeated = counters.get("repeated_completed", 0)
        check("no call paid twice by two writers", None if not repeated else f"{repeated} repeated")


def _killed_export(run: Path, root: Path, check: Check) -> None:
    """A folder export killed midway leaves ``trl.tmp-*`` marked with its dead pid: the next
    export removes it, and leaves alone the one of a writer still alive."""
    out = root / "exports" / "trl"
    out.parent.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        for name, pid in (("trl.tmp-killed01", dead.pid), ("trl.tmp-working1", alive.pid)):
            (out.parent / name).mkdir()
            (out.parent / name / WRITER_MARK).write_text(str(pid))
            (out.parent / name / "train.jsonl").write_text('{"half": ')
        again = _cli("export", str(run), "--format", "trl", "--out", str(out))
        left = sorted(p.name for p in out.parent.glob("trl.tmp-*"))
    finally:
        alive.kill()
        alive.wait()
    problem = None
    if again.returncode != 0:
        problem = f"export after the kill: exit {again.returncode}: {again.stderr[-200:]}"
    elif left != ["trl.tmp-working1"]:
        problem = f"leftovers after the export: {left} (expected the live writer's only)"
    elif stat.S_IMODE(out.stat().st_mode) == 0o700 or (out / WRITER_MARK).exists():
        problem = "exported folder is private (0700) or still marked"
    check("a killed folder export's leftovers are removed, a live one's kept", problem)


def _damaged_files(seeds: Path, run: Path, root: Path, check: Check) -> None:
    """A damaged run.sqlite or reviews.sqlite (garbage, cut in half): one line naming it."""
    for kind in ("garbage", "truncated"):
        for name, argv in (
            ("run.sqlite", ["report", "{run}", "--out", str(root / "r.html")]),
            ("run.sqlite", ["stats", "{run}", "--json"]),
            ("reviews.sqlite", ["export", "{run}", "--format", "llava", "--out",
                                str(root / "x.json"), "--reviewed-only"]),
            ("run.sqlite", ["evolve", str(seeds), "--out", "{run}", "--rounds", "1"]),
        ):  # fmt: skip
            copy = root / f"damaged-{kind}-{name}"
            if not copy.exists():
                shutil.copytree(run, copy)
                for side in copy.glob(f"{name}-*"):
                    side.unlink()
                target = copy / name
                if not target.exists():  # a reviews file as the viewer makes it
                    ReviewStore(copy).close()
                if kind == "garbage":
                    target.write_bytes(os.urandom(6000))
                else:
                    target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
            config = (copy / "config.json").read_bytes()
            proc = _cli(*[a.replace("{run}", str(copy)) for a in argv])
            problem = _one_line_error(proc, name, "damaged")
            if problem is None and (copy / "config.json").read_bytes() != config:
                problem = "config.json was rewritten"
            check(f"{argv[0]} with a {kind} {name}", problem)


def outputs_category(seeds: Path, root: Path) -> CategoryReport:
    t0 = time.monotonic()
    report = CategoryReport("outputs (clobbering, locking)")
    cases: list[dict[str, object]] = []

    def case(name: str, problem: str | None) -> None:
        report.case(problem is None, f"{name}: {problem}")
        cases.append({"case": name, "ok": problem is None, "result": problem or "ok"})

    run = root / "run"
    proc = _cli("evolve", str(seeds), "--out", str(run), "--rounds", "1")
    if proc.returncode != 0:
        report.case(False, f"the run to export could not be made: {proc.stderr[-300:]}")
        return report
    _clobber_cases(seeds, root, run, case)
    _foreign_folders(seeds, root, case)
    _one_writer(seeds, root, case)
    _killed_export(run, root, case)
    _damaged_files(seeds, run, root, case)
    shutil.rmtree(root / "clobber", ignore_errors=True)
    report.notes = {"cases": cases}
    report.seconds = round(time.monotonic() - t0, 1)
    return report
