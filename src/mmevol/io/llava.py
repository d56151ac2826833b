"""LLaVA conversation JSON (``[{id, image, conversations: [{from, value}]}]``) in and out.

Reading turns each record into a seed whose items are the record's (question, answer) pairs,
with the ``<image>`` token stripped and its place ("front"/"end") kept on the first item.
A record's image is looked up under an image folder; the same image in several records gives
several seeds with one id, which ``seeds.build_seeds`` merges. Writing puts the token back.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mmevol.errors import InputError, skip_or_raise
from mmevol.io.images import resolve_image, seed_id_for
from mmevol.io.tabular import load_records, write_json_ordered
from mmevol.schema import QA, Provenance, Seed

IMAGE_TOKEN = "<image>"
_TOKEN = re.compile(r"\s*<image>\s*", re.IGNORECASE)
USER_ROLES = {"human", "user"}
ASSISTANT_ROLES = {"gpt", "assistant", "bot", "model"}
TURNS_EXPECTED = "expected a list of {from, value} turns"


def strip_image_token(text: str) -> tuple[str, str | None]:
    """Remove ``<image>`` tokens; return the text and where the first one was (front/end)."""
    m = _TOKEN.search(text)
    if m is None:
        return text.strip(), None
    before, after = text[: m.start()].strip(), text[m.end() :].strip()
    position = "end" if before and not after else "front"
    return _TOKEN.sub(" ", text).strip(), position


def with_image_token(question: str, position: str | None) -> str:
    """Put the ``<image>`` token back: at the end after a newline, else at the front."""
    if position == "end":
        return f"{question}\n{IMAGE_TOKEN}"
    return f"{IMAGE_TOKEN}\n{question}"


def pairs_from_turns(turns: list[tuple[str, str]], file: str, where: str) -> list[QA]:
    """(role, text) turns -> Q&A items. Roles must alternate user/assistant starting with the
    user; the ``<image>`` token is stripped and its position kept on the first item."""
    if not turns:
        raise InputError(file, where, "no turns (expected at least one question and answer)")
    if len(turns) % 2:
        raise InputError(
            file, where, f"odd number of turns ({len(turns)}); expected question/answer pairs"
        )
    items: list[QA] = []
    for k in range(0, len(turns), 2):
        (r_q, q), (r_a, a) = turns[k], turns[k + 1]
        if r_q not in USER_ROLES:
            raise InputError(file, f"{where}[{k}].from", f"expected a human turn, got {r_q!r}")
        if r_a not in ASSISTANT_ROLES:
            raise InputError(file, f"{where}[{k + 1}].from", f"expected a gpt turn, got {r_a!r}")
        question, position = strip_image_token(q)
        answer, _ = strip_image_token(a)
        items.append(
            QA(question=question, answer=answer, image_position=position if k == 0 else None)
        )
    return items


def llava_turns(rec: Any, file: str, loc: str) -> list[tuple[str, str]]:
    """The (role, text) turns of a LLaVA record, schema-checked."""
    convs = rec.get("conversations") if isinstance(rec, dict) else None
    if not isinstance(convs, list):
        raise InputError(file, f"{loc}.conversations", TURNS_EXPECTED)
    turns = []
    for k, t in enumerate(convs):
        if not (isinstance(t, dict) and isinstance(t.get("from"), str)):
            raise InputError(file, f"{loc}.conversations[{k}]", TURNS_EXPECTED)
        if not isinstance(t.get("value"), str):
            raise InputError(file, f"{loc}.conversations[{k}].value", "expected a string")
        turns.append((t["from"].strip().lower(), t["value"]))
    return turns


def read_llava(
    path: Path,
    image_folder: Path | None = None,
    *,
    allow_missing_images: bool = False,
    counts: Counter[str] | None = None,
    rejects: list[InputError] | None = None,
) -> list[Seed]:
    """Seeds from a LLaVA JSON (or JSONL) file, one per record that has an image.

    Images are looked up under ``image_folder`` (default: the JSON file's folder). A missing
    image is an ``InputError`` naming the file and record unless ``allow_missing_images``;
    records without an ``image`` are skipped and counted as ``llava_no_image``. A bad record
    raises, or, when ``rejects`` is a list, is skipped and its error appended there.
    """
    path = Path(path)
    counts = counts if counts is not None else Counter()
    folder = image_folder if image_folder is not None else path.parent
    seeds: list[Seed] = []
    for loc, rec in load_records(path):
        try:
            seed = _llava_seed(path, loc, rec, folder, allow_missing_images)
        except InputError as exc:
            skip_or_raise(exc, rejects)
            continue
        if seed is None:
            counts["llava_no_image"] += 1
            continue
        seeds.append(seed)
        counts["llava_records"] += 1
        counts["llava_items"] += len(seed.items)
    return seeds


def _llava_seed(
    path: Path, loc: str, rec: Any, folder: Path, allow_missing_images: bool
) -> Seed | None:
    """One record as a seed (None for a record without an image)."""
    if not isinstance(rec, dict):
        raise InputError(path, loc, "expected an object {id, image, conversations}")
    image = rec.get("image")
    if isinstance(image, list) and len(image) == 1:
        image = image[0]
    if image is None:
        return None
    if not isinstance(image, str) or not image.strip():
        raise InputError(path, f"{loc}.image", "expected one image path (a string)")
    items = pairs_from_turns(llava_turns(rec, str(path), loc), str(path), f"{loc}.conversations")
    ref = resolve_image(
        image, folder, allow_missing=allow_missing_images, where=str(path), field=f"{loc}.image"
    )
    return Seed(
        id=seed_id_for(ref.digest),
        image=ref,
        items=items,
        provenance=[Provenance(source="llava", file=str(path), record_id=str(rec.get("id", loc)))],
    )


def image_name(path: str, image_root: Path | None) -> str:
    """An image path as written into an export: relative to ``image_root`` when under it."""
    p = Path(path)
    if image_root is not None and p.is_relative_to(image_root):
        return p.relative_to(image_root).as_posix()
    return path


def llava_record(record_id: str, image: str, items: list[QA]) -> dict[str, Any]:
    """One LLaVA record: the token goes into the first question where ``image_position`` says."""
    convs: list[dict[str, str]] = []
    for k, qa in enumerate(items):
        q = with_image_token(qa.question, qa.image_position) if k == 0 else qa.question
        convs += [{"from": "human", "value": q}, {"from": "gpt", "value": qa.answer}]
    return {"id": record_id, "image": image, "conversations": convs}


def write_llava(seeds: Iterable[Seed], path: Path, *, image_root: Path | None = None) -> int:
    """Write seeds (with items) as one LLaVA JSON list, one record per seed; seeds without
    items are skipped. Returns the record count."""
    records = [
        llava_record(s.id, image_name(s.image.path, image_root), s.items) for s in seeds if s.items
    ]
    write_json_ordered(Path(path), records)
    return len(records)
