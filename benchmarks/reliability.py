"""The reliability suite at full size: crashes, faults, bad inputs, a full disk, secrets.

Prints a table and writes ``docs/RELIABILITY.md`` and ``benchmarks/results/reliability.json``.

    .venv/bin/python benchmarks/reliability.py [--kills 20] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# the suite's cases live with the tests (tests/reliability/reliability_cases)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "reliability"))

from reliability_cases.common import CategoryReport
from reliability_cases.corpus import corpus_category
from reliability_cases.crash import crash_category
from reliability_cases.disk import disk_category
from reliability_cases.faults import faults_category
from reliability_cases.outputs import outputs_category
from reliability_cases.security import security_category
from reliability_cases.viewer import viewer_category

from mmevol.seeds import write_seeds
from mmevol.world.scenes import write_demo_set

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DOC = REPO / "docs" / "RELIABILITY.md"


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


def table(rows: list[CategoryReport]) -> str:
    head = (
        "| category | cases tried | survived | samples lost | duplicated | repeated paid calls"
        " | seconds |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    )
    return head + "".join(
        f"| {r.category} | {r.tried} | {r.survived} | {r.lost} | {r.duplicated} |"
        f" {r.repeated_paid} | {r.seconds} |\n"
        for r in rows
    )


def crash_notes(r: CategoryReport) -> str:
    n = r.notes
    return (
        f"- {n['kills']} SIGKILLs over {n['runs']} run directories ({n['restarts']} restarts);"
        f" moments: {n['kills_by_moment']}.\n"
        f"- Killed while the final files were being written: {n['kills_while_final_files_written']};"
        f" after the last unit, before the first final file: "
        f"{n['kills_after_last_unit_before_files']}.\n"
        f"- Answered by the server but not yet journalled at a random kill (legitimately asked"
        f" again after the restart): {n['answered_but_unrecorded_at_kill']}; at a held kill:"
        f" {n['answered_but_unrecorded_at_held_kills']}.\n"
        f"- Repeated paid calls of recorded answers (an answer the journal held at the kill,"
        f" asked again afterwards): **{n['repeated_paid_calls_of_recorded_answers']}**.\n"
        f"- Server `repeated_completed` in runs killed only at held or output moments:"
        f" **{n['server_repeated_completed_held_only_runs']}**; in all runs:"
        f" {n['server_repeated_completed']} (= the answered-but-unrecorded ones re-sent).\n"
        f"- Journal `PRAGMA integrity_check` failures after a kill:"
        f" {n['journal_integrity_failures']}. Uninterrupted run: {n['uninterrupted_run_s']} s.\n"
    )


def faults_notes(r: CategoryReport) -> str:
    n = r.notes
    lines = [
        f"- {n['faults_injected']} faults injected; completed first time:"
        f" {n['completed_first_time']}, ended with failed units (exit 1):"
        f" {n['ended_with_failed_units']}, stopped at the error threshold (exit 3):"
        f" {n['stopped_at_threshold']}.\n",
        "\n| fault | rate | exit | open failures (typed) | re-run exit | repeated |\n"
        "| --- | ---: | ---: | --- | ---: | ---: |\n",
    ]
    for c in n["cases"]:
        classes = ", ".join(c["failure_classes"]) or "-"
        lines.append(
            f"| {c['kind']} | {c['rate']:.0%} | {c['exit']} | {c['open_failures']} ({classes}) |"
            f" {c['rerun_exit']} | {c['repeated_completed']} |\n"
        )
    return "".join(lines)


def list_notes(r: CategoryReport, key: str = "cases") -> str:
    out = []
    for c in r.notes[key]:
        name = c.get("case")
        result = c.get("result", "")
        mark = "ok" if c.get("ok", result == "ok") else "FAILED"
        shown = re.sub(r"/tmp/mmevol-reliability-[^/]+/", "", str(result)).replace("|", "/")
        out.append(f"| {name} | {mark} | {shown[:200]} |\n")
    return "| case | outcome | what the user sees |\n| --- | --- | --- |\n" + "".join(out)


def write_doc(rows: list[CategoryReport], meta: dict[str, Any]) -> None:
    by = {r.category.split(" ")[0]: r for r in rows}
    text = f"""# Reliability

Measured by `{meta["command"]}` ({meta["when"]}, {meta["seconds"]} s) on
{meta["machine"]["platform"]}, Python {meta["machine"]["python"]}, {meta["machine"]["cpus"]} CPUs.
The same checks run small in the default test run (`tests/reliability/`).

{table(rows)}
"Repeated paid calls" counts requests the server answered twice although the client had
recorded the first answer (the fake server's `repeated_completed` plus a comparison of the
journal before each restart with what was asked after it).

## Crash: SIGKILL at random moments

A 3-round `mmevol evolve --backend openai` over real HTTP against `mmevol fake-server`
(in-process), killed with SIGKILL at seeded random moments and restarted until it finishes;
the final `dataset.jsonl` and `rounds/*.jsonl` must be byte-identical to an uninterrupted run
with the same seed, with no temp file left behind. Three kinds of moment: a random delay (it can
land anywhere: start-up, a SQLite commit, mid-request), a *held* moment (the server holds every
later answer and the kill waits until the journal has every answer given, so nothing is
answered-and-unrecorded), and right after the last unit (while the final files are written).

A kill at a truly random moment can land after the server answered and before the client
journalled that answer: the client never had it, so it asks again after the restart. That is
counted apart from a repeated paid call, which must be 0.

{crash_notes(by["crash"])}
## Faults

Each fault kind of the fake server at {", ".join(f"{x:.0%}" for x in meta["rates"])}: the run
completes, or stops with a message saying to re-run (exit 1 for failed units, exit 3 at the
error threshold); every open failure is a typed record listed by `mmevol stats --json` and
`failures.jsonl`; a re-run against the same server with faults off completes with the same
dataset as a fault-free run (the client makes at most 3 attempts per call here, so that
failures do happen).

{faults_notes(by["faults"])}
## Bad inputs

Every case is built on the fly and run through `mmevol seeds build` (LLaVA, COCO, ShareGPT
sources) or `mmevol evolve`. An error is one line naming the file and the field, a non-zero
exit, no traceback and no file left behind. Decisions: CMYK JPEGs and 16-bit PNGs are
**accepted** and converted to RGB when pixels are needed (the image is decoded once at
seed-build time, so a broken one is refused there); duplicated record ids are accepted, since
seeds are keyed by image content; COCO boxes are clipped to the image, and boxes that are
empty, inverted, non-numeric or not finite are dropped and counted (`coco_boxes_dropped`);
paths and symlinks leading outside the image folder are refused. By default a bad record
stops the build, naming itself; with `seeds build --skip-bad` every record-level case below is
run again and must instead be left out and listed (file, field, problem) in
`SEEDS.rejected.jsonl` while the build succeeds, and a file that cannot be read at all must
still stop with the same line (the "(--skip-bad)" rows).

{list_notes(by["bad"])}
## Disk full and unwritable output

Root ignores file permissions, so the unwritable case is an output path whose parent is a
regular file. A full disk is real for the run's process: a file-size limit (`RLIMIT_FSIZE`,
SIGXFSZ ignored) makes every write past it fail, in Python and in SQLite. In process,
`os.fsync` is made to fail with ENOSPC while the final files are written.

{list_notes(by["disk"])}
## Outputs and run files

Every `--out` that would destroy something is refused in one line with nothing changed: a
command's own input (also by another spelling or through a link), a run's own files
(dataset, rounds, journal, config, seeds), devices, pipes and folders where a file is written,
and `evolve --out` into a folder that is not an mmevol run. A run has one writer (an OS lock
on `RUN_DIR/.mmevol.lock`): a second `evolve` on the same run stops at once, naming the
holder, and two started together against the fake server pay no call twice. A killed folder
export's leftovers are removed by the next export (those of a live writer are kept); a damaged
`run.sqlite` or `reviews.sqlite` is one line naming it.

{list_notes(by["outputs"])}
## Secrets

An evolve run with the key in an environment variable against a fake server that checks it,
then every export format, `mmevol report` (HTML and JSON) and `mmevol stats --json`; a second
run with a wrong key (HTTP 401 on every call); a key with the CR LF of a Windows `.env` (used
stripped), a key with a line break inside (refused in one line naming the variable, no run
folder made), and credentials in the base URL (`user:KEY@host`, `?api_key=`). Every byte of
every file written ({by["secrets"].notes["files_read"]} files: config.json, run.sqlite, JSONL,
stats, failures, exports, reports) and everything printed is searched for every secret in every
spelling (as is, JSON/repr-escaped, URL-quoted, base64 at each alignment): found nowhere. Model
output is never used as a path: a sample's image is always its seed's (a test feeds replies
naming other paths and checks that nothing is written outside the run directory).

## The viewer

The real `mmevol view` process, attacked over raw HTTP: Host names that are not loopback (DNS
rebinding, look-alikes, missing or repeated Host) are refused on every route; writes from
another origin (other site, `null`, wrong scheme or port, repeated Origin, cross-site fetch
hints) are refused and nothing is saved; hostile bodies (150 kB of `[`, deep nesting, invalid
UTF-8, lone surrogates, huge fields, endless chunked bodies) get a 4xx, never a 500; only the
exact image files the seeds name are served, and only when their bytes are an image (a seed
pointing outside the image folder does not open that folder; text files and links to secrets
named like images are refused); a 12000x12000 PNG is refused before decoding at every thumbnail
width, and the viewer's peak memory is recorded. A benign set (loopback reads, same-origin
reviews, a normal thumbnail) shows it is not refusing everything. Peak viewer RSS:
{by["viewer"].notes.get("viewer_peak_rss_mib")} MiB (limit 300). Escaping of model text in a
real browser is tested in `tests/test_view_browser.py` (headless Chromium runs no injected
script; the page sends a strict Content-Security-Policy).

{list_notes(by["viewer"])}
## Invariants checked on every run

`mmevol.evolve.invariants` runs in `write_outputs` before any final file is written: each kept
sample's lineage leads, kept parent by kept parent one round at a time, to a round-0 seed
sample of the same seed; no kept evolution has an empty or placeholder answer or a placeholder
box; every box in a kept evolution's text is inside 0..1 with x1 < x2 and y1 < y2. A violation
is an `InvariantError` naming the sample (exit 4) and nothing final is written.
"""
    DOC.write_text(text, "utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="small sizes (a minute or two)")
    ap.add_argument("--scenes", type=int, default=16)
    args = ap.parse_args()
    scenes = 6 if args.quick else args.scenes
    kills = min(args.kills, 6) if args.quick else args.kills
    rates = (0.2,) if args.quick else (0.05, 0.2, 0.5)
    t0 = time.monotonic()
    rows: list[CategoryReport] = []
    with tempfile.TemporaryDirectory(prefix="mmevol-reliability-") as tmp:
        root = Path(tmp)
        seeds = root / "seeds.jsonl"
        write_seeds(write_demo_set(root / "scenes", n=scenes, seed=11), seeds)
        for name, fn in (
            ("crash", lambda d: crash_category(seeds, d, n_seeds=scenes, kills=kills)),
            ("faults", lambda d: faults_category(seeds, d, rates=rates)),
            ("bad inputs", corpus_category),
            ("disk", lambda d: disk_category(seeds, d)),
            ("secrets", lambda d: security_category(seeds, d)),
            ("outputs", lambda d: outputs_category(seeds, d)),
            ("viewer", lambda d: viewer_category(seeds, d)),
        ):
            folder = root / name.replace(" ", "-")
            folder.mkdir()
            print(f"running {name} ...", flush=True)
            rows.append(fn(folder))
    argv = " ".join(["python benchmarks/reliability.py", *sys.argv[1:]])
    meta = {
        "command": argv,
        "machine": machine(),
        "when": time.strftime("%Y-%m-%d"),
        "seconds": round(time.monotonic() - t0, 1),
        "rates": rates,
        "scenes": scenes,
    }
    print(table(rows))
    for r in rows:
        for p in r.problems:
            print(f"PROBLEM [{r.category}]: {p}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "reliability.json").write_text(
        json.dumps({**meta, "rows": [r.as_dict() for r in rows]}, indent=2) + "\n", "utf-8"
    )
    write_doc(rows, meta)
    print(f"wrote {DOC.relative_to(REPO)} and benchmarks/results/reliability.json")
    return 0 if all(r.passed for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
