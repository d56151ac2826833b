"""The MMEvol authors' run folder: which rounds it has, and each image's side files per round.

Their pipeline writes, per round ``n``, a folder ``round{n}/`` with one ``<hash_id>.json`` per
image in each of six sub-folders: ``evo_path`` (the direction drawn, a JSON string),
``gen_qa`` (the generator's raw text), ``gen_qa_corrected`` (their repair of it: the candidate
items), ``score_gpt4_mini`` (the judge's raw text), ``score_gpt4_mini_corrected`` (a list of
``{improved, score, reason}``, one per candidate) and ``filtered_qa`` (the per-image record with
``conversations_v0..v{n}``, the survivors only). Round ``n`` evolves, for each image, the latest
non-empty ``conversations_v`` list of round ``n - 1``'s record.

``find_layout`` accepts the run's root, a round folder, any of its sub-folders, or a plain
folder of per-image records. ``read_round_files`` reads one image's side files of one round,
tolerantly: the authors' own repairs first, then the engine's repair ladder on the raw text;
every file that needed help or could not be read is noted in ``Problems`` (counted by kind and
listed by file), never fatal. Files are read through ``safeio`` (regular files only), and a
value that is too deep, holds NaN, a huge integer or a lone surrogate counts as unreadable.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmevol.errors import InputError
from mmevol.io.safeio import check_value, read_regular
from mmevol.parse import json_values
from mmevol.schema import Direction

ROUND_DIR = re.compile(r"^round([1-9]\d*)$")
ROUND_LIKE = re.compile(r"^round\d+$")
RECORDS = "filtered_qa"
SIDE_FOLDERS = ("evo_path", "gen_qa", "gen_qa_corrected", "score_gpt4_mini",
                "score_gpt4_mini_corrected", RECORDS)  # fmt: skip
# the authors' direction names and ours
DIRECTION_NAMES: dict[str, Direction] = {
    "bf_in_breath": "perception",
    "df_cot": "reasoning",
    "df_format": "interactive",
}
NAME_OF_DIRECTION: dict[str, str] = {v: k for k, v in DIRECTION_NAMES.items()}
MAX_SIDE_FILE = 8 * 2**20  # bytes; a side file larger than this is not read
MAX_RECORD = 16 * 2**20  # bytes; a per-image record larger than this is skipped
MAX_ENTRIES = 1000  # candidates or verdicts read from one file; the rest are ignored
PROBLEMS_LISTED = 200
# problems that stop an import run with --strict (the others are repairs and notes)
FATAL = ("unreadable", "too_large", "outside", "not_a_file")


@dataclass
class Problems:
    """What was wrong with the files read: a count per kind and the first few, by file.
    With ``strict``, a file that could not be read at all stops the import instead."""

    counts: Counter[str] = field(default_factory=Counter)
    listed: list[str] = field(default_factory=list)
    strict: bool = False

    def note(self, kind: str, path: Path | str, what: str) -> None:
        if self.strict and kind.endswith(FATAL):
            raise InputError(path, None, what)
        self.counts[kind] += 1
        if len(self.listed) < PROBLEMS_LISTED:
            self.listed.append(f"{path}: {what}")


def readable_inside(path: Path, root: Path, problems: Problems, kind: str) -> bool:
    """``path`` is a regular file that really lives under ``root`` (a link out of the folder
    given, a device or a pipe is not read); else the problem is noted."""
    try:
        real = path.resolve()
        if not real.is_relative_to(root.resolve()):
            problems.note(f"{kind}_outside", path, "a link to a file outside the folder given")
            return False
        if not real.is_file():
            problems.note(f"{kind}_not_a_file", path, "not a regular file")
            return False
    except OSError as exc:
        problems.note(f"{kind}_unreadable", path, exc.strerror or str(exc))
        return False
    except RuntimeError:  # a symlink loop (pathlib says so with a RuntimeError)
        problems.note(f"{kind}_unreadable", path, "a symlink loop")
        return False
    return True


@dataclass
class Layout:
    """Where the per-image records are and which round folders hold side files."""

    root: Path  # what may be read: nothing outside it
    records: Path
    rounds: dict[int, Path]
    last_round: int | None  # the highest round to import (None: whatever the records hold)


@dataclass
class RoundFiles:
    """One image's side files of one round, as far as they could be read."""

    direction: Direction | None = None
    direction_name: str | None = None  # as written in evo_path
    candidates: list[Any] | None = None  # raw item values, in the generator's order
    candidates_from: str | None = None  # the sub-folder they came from
    verdicts: list[Any] | None = None  # raw verdict values, in candidate order


def _round_folders(root: Path, problems: Problems) -> dict[int, Path]:
    out = {}
    for p in sorted(root.iterdir()):
        m = ROUND_DIR.match(p.name)
        if not m:
            if ROUND_LIKE.match(p.name) and p.is_dir():
                problems.note("round_folder_name", p, "not read: rounds are named round1, "
                              "round2, ... (no round0, no leading zeros)")  # fmt: skip
            continue
        if not p.is_dir():
            continue
        try:
            outside = not p.resolve().is_relative_to(root.resolve())
        except (OSError, RuntimeError):  # a link loop
            problems.note("round_folder_outside", p, "a link that leads nowhere (a loop)")
            continue
        if outside:
            problems.note("round_folder_outside", p, "a link to a folder outside the run")
            continue
        out[int(m.group(1))] = p
    if out and (gaps := sorted(set(range(1, max(out) + 1)) - set(out))):
        problems.note("round_folders_missing", root,
                      f"no folder for round(s) {', '.join(map(str, gaps))}; their survivors "
                      "come from the records alone")  # fmt: skip
    return out


def find_layout(src: Path, problems: Problems) -> Layout:
    """The layout of ``src``: a run root, a ``round{n}`` folder (or one of its sub-folders:
    the run up to round ``n``), or a folder of per-image records."""
    if not src.is_dir():
        raise InputError(src, None, "not a folder (expected the authors' run folder, a round "
                         "folder or a folder of per-image JSON files)")  # fmt: skip
    upto: int | None = None
    root = src
    if src.name in SIDE_FOLDERS and (src.parent / RECORDS).is_dir():
        src = src.parent
    if m := ROUND_DIR.match(src.name):
        upto, root = int(m.group(1)), src.parent
    elif (src / RECORDS).is_dir():
        raise InputError(src, None, "a round folder must be named round1, round2, ... "
                         "(its number says which conversations_v it adds)")  # fmt: skip
    rounds = _round_folders(root, problems)
    if not rounds:
        return Layout(root=src, records=src, rounds={}, last_round=None)
    if upto is not None:
        rounds = {k: p for k, p in rounds.items() if k <= upto}
    with_records = [k for k, p in rounds.items() if _has_json(p / RECORDS)]
    if not with_records:
        raise InputError(root, None, f"no round folder has per-image records in {RECORDS}/ "
                         "(the authors' filter step has not run)")  # fmt: skip
    last = max(rounds) if upto is None else upto
    records = rounds[max(with_records)] / RECORDS
    return Layout(root=root, records=records, rounds=rounds, last_round=last)


def _has_json(folder: Path) -> bool:
    return folder.is_dir() and any(folder.glob("*.json"))


def _read_text(path: Path, root: Path, problems: Problems) -> str | None:
    if not readable_inside(path, root, problems, "side_file"):
        return None
    try:  # a regular file, checked on the open descriptor (no FIFO can make it hang)
        data = read_regular(path, limit=MAX_SIDE_FILE)
    except InputError as exc:
        kind = "too_large" if "larger than" in exc.problem else "unreadable"
        problems.note(f"side_file_{kind}", path, exc.problem)
        return None
    return data.decode("utf-8", errors="replace")


def _authors_fixes(text: str) -> str:
    """The repairs the authors' own post-processing applies: curly quotes, tripled quotes."""
    return text.replace("\u201d", '"').replace("\u201c", '"').replace('"""', '"')


def loose_list(text: str) -> tuple[list[Any] | None, str]:
    """A JSON list from a file's text: (value, how). ``how`` is "json" when the text was valid
    JSON, "repaired" when it needed the repair ladder; value None when nothing could be read.
    A single object stands for a list of one; an object holding one list is that list."""
    for how, source in (("json", text), ("repaired", _authors_fixes(text))):
        try:
            value = json.loads(source, strict=how == "json")
        except (ValueError, RecursionError):  # ValueError: bad JSON, or a 5000-digit number
            continue
        if (listed := _as_list(value)) is not None and _sane(listed):
            return listed, how
    try:
        for _rungs, value in json_values(_authors_fixes(text)):
            if (listed := _as_list(value)) is not None and _sane(listed):
                return listed, "repaired"
    except (ValueError, RecursionError):
        pass
    return None, "unreadable"


def _sane(value: Any) -> bool:
    """No value deeper than ``safeio.MAX_DEPTH``, no NaN, huge integer or lone surrogate."""
    try:
        check_value(value, "(side file)")
    except InputError:
        return False
    return True


def _as_list(value: Any) -> list[Any] | None:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, list)]
        return lists[0] if len(lists) == 1 and len(value) == 1 else [value]
    return None


def _direction(path: Path, root: Path, files: RoundFiles, problems: Problems) -> None:
    text = _read_text(path, root, problems)
    if text is None:
        return
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        value = text.strip().strip('"')
    if not isinstance(value, str) or not _sane(value):
        value = ascii(text.strip()[:40])
    name = value.strip() if isinstance(value, str) else None
    if name in DIRECTION_NAMES:
        files.direction, files.direction_name = DIRECTION_NAMES[name], name
    else:
        problems.note("direction_unknown", path, f"direction {str(value)[:40]!r} is none of "
                      f"{', '.join(DIRECTION_NAMES)}")  # fmt: skip


def _listed(path: Path, root: Path, kind: str, problems: Problems) -> list[Any] | None:
    text = _read_text(path, root, problems)
    if text is None:
        return None
    value, how = loose_list(text)
    if how == "repaired":
        problems.note(f"{kind}_repaired", path, "not valid JSON; read after repair")
    elif how == "unreadable":
        problems.note(f"{kind}_unreadable", path, "no JSON list could be read")
    if value is not None and len(value) > MAX_ENTRIES:
        problems.note(f"{kind}_too_many", path, f"{len(value)} entries; the first "
                      f"{MAX_ENTRIES} are read")  # fmt: skip
        value = value[:MAX_ENTRIES]
    return value


def read_round_files(round_dir: Path, root: Path, hash_id: str, problems: Problems) -> RoundFiles:
    """One image's side files of one round (absent files stay None); nothing outside
    ``root`` is read."""
    files = RoundFiles()
    name = f"{hash_id}.json"
    if (p := round_dir / "evo_path" / name).exists():
        _direction(p, root, files, problems)
    for folder in ("gen_qa_corrected", "gen_qa"):
        if (p := round_dir / folder / name).exists():
            files.candidates = _listed(p, root, "candidates", problems)
            if files.candidates is not None:
                files.candidates_from = folder
                break
    for folder in ("score_gpt4_mini_corrected", "score_gpt4_mini"):
        if (p := round_dir / folder / name).exists():
            files.verdicts = _listed(p, root, "verdicts", problems)
            if files.verdicts is not None:
                break
    return files


def round_hash_ids(round_dir: Path) -> set[str]:
    """The images that have any side file in a round folder."""
    return {p.stem for sub in SIDE_FOLDERS[:-1] for p in (round_dir / sub).glob("*.json")}
