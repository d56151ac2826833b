"""A run written back in the MMEvol authors' run layout: ``round{n}/`` with its side files.

Per round and image this writes ``evo_path`` (the direction, under the authors' name),
``gen_qa_corrected`` (every candidate, kept or not, without a score),
``score_gpt4_mini_corrected`` (one ``{improved, score, reason}`` per candidate) and
``filtered_qa`` (the per-image record up to that round, every image, as their filter writes
it). ``improved`` is ``"yes"`` exactly for the candidates the run kept, so running the authors'
filter on these files gives back ``filtered_qa``; where the run's own verdict said otherwise
(a candidate judged improved but then dropped as a near duplicate, say) the reason says why.
The raw model texts (``gen_qa``, ``score_gpt4_mini``) are not written: the journal keeps
parsed replies, and a made-up "raw" text would pass for something it is not.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mmevol.io.official import item_dict, natural, number, record_dict, unique_stems
from mmevol.io.official_run import NAME_OF_DIRECTION, RECORDS
from mmevol.schema import QA, Sample, Seed

IMPORTED = "imported"  # the judge name of verdicts read from someone else's files
WRITTEN = ("evo_path", "gen_qa_corrected", "score_gpt4_mini_corrected", RECORDS)


def _write(path: Path, value: Any) -> None:
    """JSON as the authors' scripts write it (indent 4); the caller builds the whole folder
    aside and moves it into place, so a plain write is safe."""
    path.write_text(json.dumps(value, ensure_ascii=False, indent=4) + "\n", encoding="utf-8")


def verdict_entry(sample: Sample) -> dict[str, Any]:
    """The authors' score entry of one candidate. An imported verdict goes back as it came;
    for this tool's own runs ``improved`` says whether the run kept the candidate (the judge is
    not the only stage that drops one), with the run's reason where the two differ."""
    v = sample.lineage.verdict
    kept = sample.lineage.kept
    if v is not None and v.original is not None:
        return dict(v.original)
    if v is not None and v.judge.startswith(IMPORTED):
        return {"improved": "yes" if v.improved else "no", "score": number(v.score),
                "reason": v.reason}  # fmt: skip
    reason = v.reason if v is not None and v.improved == kept else sample.lineage.reason
    score = v.score if v is not None else sample.qa.score if kept else None
    return {"improved": "yes" if kept else "no", "score": number(score), "reason": reason}


def verdict_entries(group: list[Sample]) -> list[dict[str, Any]] | None:
    """One entry per candidate, except that candidates without a verdict at the end of the
    list get none (as in a score file that ran short); None when no candidate has one."""
    n = len(group)
    while n and group[n - 1].lineage.verdict is None and not group[n - 1].lineage.kept:
        n -= 1
    return [verdict_entry(s) for s in group[:n]] if n else None


def write_official_run(
    seeds: Iterable[Seed],
    samples: Iterable[Sample],
    directions: Mapping[tuple[str, int], str | None],
    rounds: int,
    folder: Path,
    *,
    image_root: Path | None = None,
) -> None:
    """Write ``round1`` .. ``round{rounds}`` under ``folder``. ``samples``: every sample of
    the journal (kept and dropped); ``directions``: (seed id, round) -> direction drawn."""
    seed_list = list(seeds)
    stems = unique_stems(seed_list)
    by_unit: dict[tuple[str, int], list[Sample]] = defaultdict(list)
    for s in samples:
        if s.round > 0:
            by_unit[(s.seed_id, s.round)].append(s)
    for group in by_unit.values():
        group.sort(key=lambda s: natural(s.id))
    for k in range(1, rounds + 1):
        here = folder / f"round{k}"
        for sub in WRITTEN:
            (here / sub).mkdir(parents=True, exist_ok=True)
        for seed in seed_list:
            name = f"{stems[seed.id]}.json"
            direction = directions.get((seed.id, k))
            group = by_unit.get((seed.id, k), [])
            if direction in NAME_OF_DIRECTION:
                _write(here / "evo_path" / name, NAME_OF_DIRECTION[direction])
            if group:
                cands = [item_dict(s.qa, with_score=False) for s in group]
                _write(here / "gen_qa_corrected" / name, cands)
                if (scores := verdict_entries(group)) is not None:
                    _write(here / "score_gpt4_mini_corrected" / name, scores)
            kept: dict[int, list[QA]] = {
                j: [s.qa for s in by_unit.get((seed.id, j), []) if s.lineage.kept]
                for j in range(1, k + 1)
            }
            record = record_dict(seed, stems[seed.id], kept, k, image_root)
            _write(here / RECORDS / name, record)
