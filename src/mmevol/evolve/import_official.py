"""Format ``mmevol`` of ``mmevol import``: an MMEvol authors' run, every round, direction,
candidate and verdict.

``official_records`` reads the per-image records (the last round's ``filtered_qa``, or any
folder of such files) and, for each image and round, the side files of the round folder
(``io.official_run``): the direction from ``evo_path``, every candidate from
``gen_qa_corrected`` (or the raw ``gen_qa``), and each candidate's verdict from the score file.
The survivors of a round (the record's ``conversations_v{k}``) are matched to their candidates:
the authors' filter keeps, in order, each candidate whose verdict is exactly ``"yes"``, so the
match is exact unless the files were changed afterwards; then questions decide. Candidates that
did not survive stay in the journal as dropped, with the reason.

Each evolution's parent is found by content (``import_lineage``) among the items the round was
given: the latest non-empty earlier round of that image, as the authors' generator chose it.
Nothing here aborts on a bad file: problems are counted and listed (``Problems``), and a
candidate whose parent cannot be found keeps ``parent_match="unmatched"``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mmevol.errors import InputError
from mmevol.evolve.import_lineage import match_parent
from mmevol.io.official import OfficialRecord, coerce_item, parse_score, read_official_file
from mmevol.io.official_run import (
    MAX_RECORD,
    Layout,
    Problems,
    RoundFiles,
    find_layout,
    read_round_files,
    readable_inside,
    round_hash_ids,
)
from mmevol.schema import QA, Direction, Lineage, Sample, Seed, Verdict, evolved_id, seed_samples
from mmevol.textsim import normalize_text, similarity
from mmevol.vocab.normalize import normalize_item

VERDICT_JUDGE = "imported: the authors' judge"
SURVIVOR_JUDGE = "imported: score on the survivor"
SCORE_LIST_KEY = re.compile(r"^scores?_v(\d+)$")
SAME_ITEM = 0.9  # question similarity at which a survivor is taken for a candidate


@dataclass
class UnitInfo:
    """One image's round: the direction drawn and the unit's counts."""

    direction: Direction | None
    stats: Counter[str] = field(default_factory=Counter)


@dataclass
class Imported:
    """One image: its seed, the samples of every round (dropped candidates too), its units."""

    seed: Seed
    samples: list[Sample]
    units: dict[int, UnitInfo]


def _verdict(value: Any, where: str, problems: Problems) -> Verdict | None:
    """One entry of a score file. ``improved`` follows the authors' filter: only ``"yes"``."""
    if not isinstance(value, dict) or "improved" not in value:
        problems.note("verdict_unreadable", where, "expected {improved, score, reason}")
        return None
    flag = value.get("improved")
    if flag not in ("yes", "no"):
        problems.note("verdict_flag_unusual", where,
                      f"improved is {str(flag)[:20]!r}; the authors' filter keeps only 'yes'")  # fmt: skip
    score = parse_score(value.get("score"))
    if score is not None and not 0 <= score <= 10:
        problems.note("verdict_score_out_of_range", where, f"score {score} is outside 0..10")
        score = None
    reason = value.get("reason")
    return Verdict(improved=flag == "yes", score=score, judge=VERDICT_JUDGE,
                   reason=reason if isinstance(reason, str) else "", original=value)  # fmt: skip


def _survivor_verdict(qa: QA, counts: Counter[str]) -> Verdict | None:
    if qa.score is None:
        return None
    if not 0 <= qa.score <= 10:
        counts["import_scores_out_of_range"] += 1
        return None
    return Verdict(improved=True, score=qa.score, reason="kept in the source data",
                   judge=SURVIVOR_JUDGE)  # fmt: skip


def _assign(survivors: list[QA], cands: list[QA | None], yes: list[int]) -> list[int | None]:
    """For each survivor, the index of its candidate (None: not among them)."""
    if len(survivors) == len(yes) and all(
        normalize_text(s.question) == normalize_text(cands[i].question)  # type: ignore[union-attr]
        for s, i in zip(survivors, yes, strict=True)
    ):
        return list(yes)
    free = [i for i, c in enumerate(cands) if c is not None]
    order = sorted(free, key=lambda i: (i not in yes, i))
    out: list[int | None] = []
    for s in survivors:
        pick = max(order, default=None,
                   key=lambda i: similarity(s.question, cands[i].question))  # type: ignore[union-attr]  # fmt: skip
        if pick is not None and similarity(s.question, cands[pick].question) >= SAME_ITEM:  # type: ignore[union-attr]
            order.remove(pick)
            out.append(pick)
        else:
            out.append(None)
    return out


@dataclass
class _Round:
    """What one image's round yields before lineage: (index, qa, kept, verdict, reason)."""

    rows: list[tuple[int, QA, bool, Verdict | None, str]] = field(default_factory=list)


def _round_rows(files: RoundFiles, survivors: list[QA] | None, where: str,
                problems: Problems, stats: Counter[str]) -> _Round:  # fmt: skip
    out = _Round()
    if files.candidates is None:  # only the survivors are known
        for j, qa in enumerate(survivors or []):
            out.rows.append((j, qa, True, _survivor_verdict(qa, stats), "imported: survivor"))
        return out
    cands = [coerce_item(v) for v in files.candidates]
    for i, c in enumerate(cands):
        if c is None:
            problems.note("candidate_unreadable", where, f"candidate {i} is not a Q&A item")
    raw_verdicts = files.verdicts or []
    verdicts = [_verdict(v, f"{where} verdict {i}", problems) for i, v in enumerate(raw_verdicts)]
    for v in verdicts[len(cands) :]:
        stats["verdicts_unattached"] += 1
        stats["verdicts_unattached_improved"] += int(v is not None and v.improved)
    if files.verdicts is not None and len(verdicts) != len(cands):
        problems.note("verdicts_count_differs", where,
                      f"{len(verdicts)} verdicts for {len(cands)} candidates")  # fmt: skip
    verdicts = verdicts[: len(cands)] + [None] * max(0, len(cands) - len(verdicts))
    yes = [i for i, v in enumerate(verdicts) if v is not None and v.improved and cands[i]]
    taken: dict[int, QA] = {}
    extra: list[QA] = []
    if survivors is not None:
        for s, pick in zip(survivors, _assign(survivors, cands, yes), strict=True):
            if pick is None:
                extra.append(s)
            else:
                taken[pick] = s
    for i, c in enumerate(cands):
        if c is None:
            continue
        v = verdicts[i]
        if survivors is None:  # no record of this round: the authors' rule decides
            kept, reason = i in yes, "imported: kept by its verdict (no record of the round)"
        elif i in taken:
            kept, reason, c = True, "imported: survivor", taken[i]
            if files.verdicts is None:  # no score file: the survivor's own score, if any
                v = _survivor_verdict(c, stats)
        elif v is None:
            kept, reason = False, "imported: no verdict (score file missing, unreadable or short)"
        elif not v.improved:
            kept, reason = False, "judge: not improved (the authors' judge)"
        else:
            kept, reason = False, "imported: judged improved but not among the survivors"
        out.rows.append((i, c, kept, v, reason))
    for j, s in enumerate(extra):
        problems.note("survivor_without_candidate", where, f"survivor {s.question[:50]!r}")
        out.rows.append((len(cands) + j, s, True, _survivor_verdict(s, stats),
                         "imported: survivor (not among the round's candidates)"))  # fmt: skip
    return out


def assemble(record: OfficialRecord, layout: Layout, problems: Problems,
             counts: Counter[str]) -> Imported:  # fmt: skip
    """One image's samples and units over every round."""
    seed = record.seed
    samples = seed_samples(seed)
    kept: dict[int, list[Sample]] = {0: list(samples)}
    units: dict[int, UnitInfo] = {}
    last = max([layout.last_round or 0, *record.rounds])
    for k in range(1, last + 1):
        round_dir = layout.rounds.get(k)
        files = (
            read_round_files(round_dir, layout.root, record.file.stem, problems)
            if round_dir
            else None
        )
        has_files = files is not None and (files.direction or files.candidates is not None
                                           or files.verdicts is not None)  # fmt: skip
        if k not in record.rounds and not has_files:
            continue
        files = files or RoundFiles()
        where = f"{round_dir or record.file}: {record.file.stem}"
        unit = units[k] = UnitInfo(files.direction)
        rows = _round_rows(files, record.rounds.get(k), where, problems, unit.stats).rows
        given = max((j for j in kept if j < k and kept[j]), default=0)
        parents = kept[given]
        kept[k] = []
        for i, qa, is_kept, verdict, reason in rows:
            m = match_parent(qa, [p.qa for p in parents], i)
            sample = Sample(
                id=evolved_id(seed.id, i, k), seed_id=seed.id, image=seed.image, round=k,
                qa=normalize_item(qa, unit.stats),
                lineage=Lineage(
                    parent_id=None if m.parent is None else parents[m.parent].id, round=k,
                    direction=files.direction, verdict=verdict, kept=is_kept, reason=reason,
                    parent_match="unmatched" if m.parent is None else "content",
                ),
            )  # fmt: skip
            if is_kept and not qa.answer.strip():
                problems.note("survivor_without_answer", where, f"item {i} has no answer")
                sample.lineage.kept = False
                sample.lineage.reason = "imported: survivor without an answer (left out)"
                is_kept = False
            samples.append(sample)
            if is_kept:
                kept[k].append(sample)
            st = unit.stats
            st["candidates"] += 1
            st["kept"] += int(is_kept)
            st["judged"] += int(verdict is not None)
            st["improved"] += int(verdict is not None and verdict.improved)
            st["dropped_judge"] += int(not is_kept and verdict is not None and not verdict.improved)
            st["unjudged"] += int(not is_kept and verdict is None)
            st["parent_unmatched"] += int(m.parent is None)
            st["parent_older_round"] += int(m.parent is not None and given < k - 1)
    return Imported(seed, samples, units)


def _data_error(path: Path, exc: ValidationError) -> InputError:
    first = exc.errors()[0]
    where = ".".join(str(x) for x in first["loc"]) or "(record)"
    return InputError(path, where, first["msg"])


def _apply_score_lists(record: OfficialRecord, counts: Counter[str]) -> None:
    """A record's ``score_vK`` / ``scores_vK`` lists give survivor i of round K its score
    (unless it has one): a variant of the released files."""
    for key, value in (record.seed.source_record or {}).items():
        m = SCORE_LIST_KEY.match(key)
        if not m or int(m.group(1)) == 0:
            continue
        items = record.rounds.get(int(m.group(1)), [])
        scores = value if isinstance(value, list) else [value]
        counts["import_scores_extra"] += max(0, len(scores) - len(items))
        counts["import_scores_missing"] += max(0, len(items) - len(scores))
        for qa, v in zip(items, scores, strict=False):
            if qa.score is None:
                qa.score = parse_score(v)


def _drop_unanswered_seed_items(record: OfficialRecord, path: Path, problems: Problems) -> None:
    """A seed item (``conversations_v0``) without an answer is no training data: it is left out
    of the seeds (the record's v0 stays as it was, so an export writes it back)."""
    items = record.seed.items
    answered = [qa for qa in items if qa.answer.strip()]
    if len(answered) < len(items):
        problems.note("seed_item_without_answer", path,
                      f"{len(items) - len(answered)} conversations_v0 item(s) without an answer "
                      "left out of the seeds")  # fmt: skip
        record.seed = record.seed.model_copy(update={"items": answered})


def _with_id(seed: Seed, new_id: str) -> Seed:
    return seed.model_copy(update={"id": new_id})


def official_records(src: Path, *, images: Path | None, allow_missing_images: bool,
                     strict: bool, counts: Counter[str], skipped: list[str],
                     problems: Problems) -> Iterator[Imported]:  # fmt: skip
    """Every image of the authors' folder ``src`` (run root, round folder or records)."""
    problems.strict = strict
    layout = find_layout(src, problems)
    root = images or layout.records
    pattern = "*.json" if layout.rounds else "**/*.json"
    owners: dict[str, tuple[str, Path]] = {}  # seed id -> (record id, file) that took it
    stems: set[str] = set()
    for path in sorted(layout.records.glob(pattern)):
        stems.add(path.stem)
        try:
            if not readable_inside(path, layout.root, problems, "record"):
                continue
            if path.stat().st_size > MAX_RECORD:
                raise InputError(path, None, f"larger than {MAX_RECORD} bytes (not read)")
            record = read_official_file(path, root, allow_missing_images=allow_missing_images,
                                        counts=counts)  # fmt: skip
            seed = record.seed
            record_id = seed.provenance[0].record_id
            if seed.id in owners and owners[seed.id][0] == record_id:
                counts["import_duplicate_images"] += 1
                raise InputError(path, "image", f"same image and id as {owners[seed.id][1]} "
                                 "(imported once)")  # fmt: skip
        except (InputError, ValidationError) as exc:
            err = exc if isinstance(exc, InputError) else _data_error(path, exc)
            if strict:
                raise err from None
            skipped.append(str(err))
            continue
        if seed.id in owners:  # the same picture in another record: both are kept
            counts["import_shared_images"] += 1
            record.seed = _with_id(seed, f"{seed.id}~{path.stem}")
        owners.setdefault(record.seed.id, (record_id, path))
        _drop_unanswered_seed_items(record, path, problems)
        _apply_score_lists(record, counts)
        yield assemble(record, layout, problems, counts)
    for _, round_dir in sorted(layout.rounds.items()):
        for stem in sorted(round_hash_ids(round_dir) - stems):
            problems.note("side_files_without_record", round_dir,
                          f"{stem}: side files but no per-image record (not imported)")  # fmt: skip


def read_official_samples(
    folder: Path, image_root: Path | None = None, *, allow_missing_images: bool = False
) -> tuple[list[Seed], list[Sample]]:
    """The seeds and the samples of every round (dropped candidates too) of an authors'
    folder, as ``mmevol import`` reads them; the first unreadable file raises."""
    records = list(
        official_records(folder, images=image_root, allow_missing_images=allow_missing_images,
                         strict=True, counts=Counter(), skipped=[], problems=Problems())
    )  # fmt: skip
    return [r.seed for r in records], [s for r in records for s in r.samples]
