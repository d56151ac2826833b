"""How faithfully ``mmevol import`` reads an MMEvol authors' run, and how it round-trips.

Runs in the authors' layout are written by ``tests/authors_layout.py`` (which follows the
authors' writer code, RainBowLuoCS/MMEvol at 4ba46699, and records the truth while writing:
each candidate's parent, each round's verdict and survivor counts). For each run seed this
script imports the run folder and measures:

* counts: judged, improved and kept per round equal to the writer's (all rounds, all seeds);
* parents: share of candidates whose matched parent is the writer's (None for in-breadth
  items), against the baseline of matching by list position (what the importer did before);
* round trips: ``export --format mmevol`` gives the authors' last records back byte-equal as
  JSON values (field order too), and ``export --format mmevol-rounds`` -> import reproduces
  the journal (ids, parents, directions, kept, reasons, verdicts, questions, answers).

Writes ``benchmarks/results/import_authors.{json,md}``.

    .venv/bin/python benchmarks/import_authors.py [--seeds 10] [--images 9] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from authors_layout import write_authors_run
from mmevol.evolve.export import export_run
from mmevol.evolve.importer import import_run

OUT = Path(__file__).resolve().parent / "results"
JOURNAL = (
    "SELECT id, seed_id, round, parent_id, direction, kept, reason,"
    " json_extract(json, '$.lineage.verdict'), json_extract(json, '$.qa.question'),"
    " json_extract(json, '$.qa.answer') FROM samples ORDER BY id"
)


def _rows(run: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(run / "run.sqlite") as db:
        return db.execute(sql).fetchall()


def _index(sample_id: str) -> int:
    return int(sample_id.split("#")[1].split("@")[0])


def parents(run: Path, truth: dict[str, Any]) -> tuple[int, int, int]:
    """(candidates with a known parent, agreeing by content, agreeing by position)."""
    seeds = [json.loads(x) for x in (run / "seeds.jsonl").read_text().splitlines()]
    stems = {s["id"]: Path(s["provenance"][0]["file"]).stem for s in seeds}
    rows = _rows(run, "SELECT id, seed_id, round, parent_id, kept FROM samples")
    kept: dict[tuple[str, int], list[str]] = {}
    for sid, seed_id, k, _, is_kept in rows:
        if is_kept:
            kept.setdefault((seed_id, k), []).append(sid)
    total = content = position = 0
    for sid, seed_id, k, parent, _ in rows:
        key = (k, stems[seed_id], _index(sid))
        if k == 0 or key not in truth["parents"]:
            continue
        given = truth["evolved_from"][(k, stems[seed_id])]
        up = int(given[len("conversations_v") :])
        if parent is None:
            got = None
        elif up == 0:
            got = _index(parent)
        else:
            got = sorted(kept[(seed_id, up)], key=_index).index(parent)
        want = truth["parents"][key]
        n_given = len(truth["records"][stems[seed_id]][given])
        total += 1
        content += got == want
        position += (key[2] if key[2] < n_given else None) == want
    return total, content, position


def one(seed: int, images: int, rounds: int, tmp: Path) -> dict[str, Any]:
    root, pics = tmp / "theirs", tmp / "images"
    truth = write_authors_run(root, image_root=pics, n_images=images, rounds=rounds, seed=seed)
    t0 = time.perf_counter()
    result = import_run(root, "mmevol", tmp / "run", images=pics)
    seconds = time.perf_counter() - t0
    stats = json.loads((tmp / "run" / "stats.json").read_text())
    counts_match = all(
        (r["judged"], r["improved"], r["kept"])
        == tuple(truth["rounds"][r["round"]][k] for k in ("verdicts", "improved", "kept"))
        for r in stats["rounds"]
    )
    export_run(tmp / "run", "mmevol", tmp / "back")
    records_equal = all(
        list(json.loads((tmp / "back" / f"{h}.json").read_text()).items())
        == list(truth["records"][h].items())
        for h in truth["images"]
    )
    export_run(tmp / "run", "mmevol-rounds", tmp / "rounds")
    import_run(tmp / "rounds", "mmevol", tmp / "again", images=pics)
    journal_equal = _rows(tmp / "run", JOURNAL) == _rows(tmp / "again", JOURNAL)
    total, content, position = parents(tmp / "run", truth)
    return {
        "seed": seed,
        "samples": result.samples,
        "import_seconds": round(seconds, 3),
        "counts_match": counts_match,
        "records_equal": records_equal,
        "rounds_journal_equal": journal_equal,
        "parents_known": total,
        "parents_by_content": content,
        "parents_by_position": position,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--images", type=int, default=9)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    runs = []
    for seed in range(args.seeds):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(one(seed, args.images, args.rounds, Path(tmp)))
    total = sum(r["parents_known"] for r in runs)
    summary = {
        "runs": len(runs),
        "all_counts_match": all(r["counts_match"] for r in runs),
        "all_records_equal": all(r["records_equal"] for r in runs),
        "all_rounds_journals_equal": all(r["rounds_journal_equal"] for r in runs),
        "parents_known": total,
        "parent_agreement_content": round(sum(r["parents_by_content"] for r in runs) / total, 3),
        "parent_agreement_position": round(sum(r["parents_by_position"] for r in runs) / total, 3),
        "samples_per_second": round(
            sum(r["samples"] for r in runs) / sum(r["import_seconds"] for r in runs), 1
        ),
    }
    command = "python benchmarks/import_authors.py " + " ".join(sys.argv[1:])
    machine = f"{platform.machine()} {platform.python_version()}, {os.cpu_count()} CPUs"
    doc = {"command": command.strip(), "machine": machine, "summary": summary, "per_run": runs}
    OUT.mkdir(exist_ok=True)
    (OUT / "import_authors.json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = [
        "# Importing the MMEvol authors' runs",
        "",
        f"`{doc['command']}` on {machine}; runs written by `tests/authors_layout.py` "
        f"({args.images} images, {args.rounds} rounds, seeds 0..{args.seeds - 1}).",
        "",
        "| measure | value |",
        "| --- | --- |",
        *(f"| {k} | {v} |" for k, v in summary.items()),
        "",
        "Parent agreement: share of candidates whose matched parent is the one the writer used "
        "(None for in-breadth items); position = matching item i to item i, the old behaviour.",
    ]
    (OUT / "import_authors.md").write_text("\n".join(lines) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
