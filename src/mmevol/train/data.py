"""Training data for ``mmevol train``: TRL conversation records from a run or an export.

It owns reading what ``--data`` points at into validated records (``images`` as absolute paths
that exist, ``messages`` as TRL's typed blocks with exactly one image placeholder) and a
digest of them for the saved train config. Accepted: a run directory (its ``dataset.jsonl``,
kept samples grouped per seed and round), a folder written by ``mmevol export --format trl``
(``data.jsonl``), or such a JSONL file itself; relative image paths are taken from the file's
folder. A bad record is a one-line ``InputError`` naming the file, line and field.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from mmevol.errors import InputError
from mmevol.io.export import TRL_DATA, conversations
from mmevol.io.tabular import read_samples
from mmevol.io.trl import trl_record

ROLES = {"system", "user", "assistant"}


def _from_run(run_dir: Path) -> list[dict[str, Any]]:
    samples = [s for s in read_samples(run_dir / "dataset.jsonl") if s.lineage.kept]
    return [
        trl_record(str(Path(image.path).resolve()), qas, key)
        for key, image, qas in conversations(samples, "round")
    ]


def _check_blocks(content: Any, file: Path, where: str) -> int:
    """Validate one message's content; return how many image placeholders it has."""
    if isinstance(content, str):
        return 0
    if not isinstance(content, list) or not content:
        raise InputError(file, where, "expected text or a non-empty list of typed blocks")
    images = 0
    for j, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "image":
            images += 1
        elif kind != "text" or not isinstance(block.get("text"), str):
            raise InputError(file, f"{where}[{j}]", 'expected {"type": "text", "text": str}')
    return images


def _check(rec: Any, file: Path, at: str) -> dict[str, Any]:
    """One record, validated, with its image paths made absolute."""
    if not isinstance(rec, dict):
        raise InputError(file, at, "expected a JSON object")
    images, messages = rec.get("images"), rec.get("messages")
    if not isinstance(images, list) or not all(isinstance(p, str) for p in images):
        raise InputError(file, f"{at}: images", "expected a list of image paths")
    if not isinstance(messages, list) or not messages:
        raise InputError(file, f"{at}: messages", "expected a non-empty list")
    placeholders = 0
    for i, msg in enumerate(messages):
        where = f"{at}: messages[{i}]"
        if not isinstance(msg, dict) or msg.get("role") not in ROLES:
            raise InputError(file, f"{where}.role", f"expected one of {sorted(ROLES)}")
        placeholders += _check_blocks(msg.get("content"), file, f"{where}.content")
    if not any(m["role"] == "assistant" for m in messages):
        raise InputError(file, f"{at}: messages", "no assistant turn to learn from")
    kinds = {isinstance(m.get("content"), str) for m in messages}
    if len(kinds) > 1:  # the trainer's dataset needs one content type in every message
        raise InputError(
            file, f"{at}: messages", "mixes plain-text and typed-block contents; use one kind"
        )
    if kinds == {False} and placeholders != len(images):  # plain text: TRL places the images
        raise InputError(
            file,
            f"{at}: messages",
            f"{placeholders} image placeholders for {len(images)} images",
        )
    resolved = []
    for p in images:
        path = Path(p) if Path(p).is_absolute() else file.parent / p
        if not path.is_file():
            raise InputError(file, f"{at}: images", f"{p}: file not found")
        resolved.append(str(path.resolve()))
    return {"images": resolved, "messages": messages}


def _from_jsonl(file: Path) -> list[dict[str, Any]]:
    records = []
    with file.open(encoding="utf-8") as fh:
        for n, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
            except json.JSONDecodeError as err:
                raise InputError(file, f"line {n}", f"not valid JSON ({err.msg})") from None
            records.append(_check(rec, file, f"line {n}"))
    return records


def load_records(data: Path) -> list[dict[str, Any]]:
    """The training records ``--data`` points at (never empty)."""
    if not data.exists():
        raise InputError(data, None, "not found (expected a run directory or a trl export)")
    if data.is_dir() and (data / "dataset.jsonl").is_file():
        source = data / "dataset.jsonl"
        records = [_check(r, source, f"record {r['id']}") for r in _from_run(data)]
    elif data.is_dir() and (data / TRL_DATA).is_file():
        records = _from_jsonl(data / TRL_DATA)
    elif data.is_file():
        records = _from_jsonl(data)
    else:
        raise InputError(
            data, None, f"no dataset.jsonl (run directory) or {TRL_DATA} (trl export) inside"
        )
    if not records:
        raise InputError(data, None, "no training records (no kept samples)")
    return records


def records_digest(records: list[dict[str, Any]]) -> str:
    """sha256 of the records' canonical JSON (what the model was trained on)."""
    blob = json.dumps(records, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()
