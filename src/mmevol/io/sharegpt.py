"""ShareGPT-style records (``messages``/``conversations`` + ``images``) in and out.

Reading accepts both turn spellings: ``{"role", "content"}`` or ``{"from", "value"}``; content
may be a string or a list of OpenAI-style parts (text parts are joined, image parts ignored).
System turns are dropped. A seed needs exactly one image: records with none or several are
skipped and counted. With ``as_captions=True`` the answers become captions (ShareGPT4V-style
caption sets) instead of Q&A items.

Two record writers, following LLaMA-Factory's data/README.md (v0.9.x, "Sharegpt Format",
"Multimodal Image Dataset" and "OpenAI Format"), whose ``<image>`` tokens must number the
images (one token, in the first user turn, where ``image_position`` says; stray tokens in the
text are removed):

* ``messages_record`` (``--format openai-messages``, formerly ``sharegpt``): ``messages`` of
  OpenAI-style ``{"role": "user"|"assistant", "content": str}`` + ``images``;
* ``sharegpt_classic_record`` (``--format sharegpt-classic``): classic ShareGPT ``conversations`` of
  ``{"from": "human"|"gpt", "value": str}`` (a ``system`` turn would come first; runs have
  none) with both ``image`` (LLaVA, ShareGPT4V) and ``images`` (LLaMA-Factory's default
  column) naming the one image.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mmevol.errors import InputError, skip_or_raise
from mmevol.fsutil import write_jsonl
from mmevol.io.images import resolve_image, seed_id_for
from mmevol.io.llava import image_name, pairs_from_turns, strip_image_token, with_image_token
from mmevol.io.tabular import load_records
from mmevol.schema import QA, Provenance, Seed

EXPECTED = "expected a list of {role, content} (or {from, value}) turns"


def _content(value: Any, file: str, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for part in value:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and part.get("type") == "text":
                parts.append(str(part.get("text", "")))
        return " ".join(p.strip() for p in parts if p.strip())
    raise InputError(file, where, "expected text (a string or a list of parts)")


def sharegpt_turns(rec: dict[str, Any], file: str, loc: str) -> list[tuple[str, str]]:
    """The non-system (role, text) turns of a ShareGPT-style record, schema-checked."""
    key = "messages" if "messages" in rec else "conversations"
    turns_in = rec.get(key)
    if not isinstance(turns_in, list):
        raise InputError(file, f"{loc}.{key}", EXPECTED)
    turns: list[tuple[str, str]] = []
    for k, t in enumerate(turns_in):
        role = t.get("role", t.get("from")) if isinstance(t, dict) else None
        if not isinstance(t, dict) or not isinstance(role, str):
            raise InputError(file, f"{loc}.{key}[{k}]", EXPECTED)
        text = _content(t.get("content", t.get("value")), file, f"{loc}.{key}[{k}].content")
        role = role.strip().lower()
        if role != "system":
            turns.append((role, text))
    return turns


def _images(rec: dict[str, Any], file: str, loc: str) -> list[str]:
    value = rec.get("images", rec.get("image", []))
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(file, f"{loc}.images", "expected a list of image paths")
    return value


def read_sharegpt(
    path: Path,
    image_folder: Path | None = None,
    *,
    allow_missing_images: bool = False,
    as_captions: bool = False,
    counts: Counter[str] | None = None,
    rejects: list[InputError] | None = None,
) -> list[Seed]:
    """Seeds from a ShareGPT-style JSON list or JSONL file (one seed per single-image record).

    ``counts`` receives ``sharegpt_records``, ``sharegpt_items``, ``sharegpt_no_image`` and
    ``sharegpt_multi_image``. A bad record raises, or, when ``rejects`` is a list, is skipped
    and its error appended there.
    """
    path = Path(path)
    counts = counts if counts is not None else Counter()
    folder = image_folder if image_folder is not None else path.parent
    seeds: list[Seed] = []
    for loc, rec in load_records(path):
        try:
            seed = _sharegpt_seed(path, loc, rec, folder, allow_missing_images, as_captions)
        except InputError as exc:
            skip_or_raise(exc, rejects)
            continue
        if isinstance(seed, str):  # no image, or several: counted, not an error
            counts[seed] += 1
            continue
        seeds.append(seed)
        counts["sharegpt_records"] += 1
        counts["sharegpt_items"] += len(seed.items)
    return seeds


def _sharegpt_seed(
    path: Path, loc: str, rec: Any, folder: Path, allow_missing_images: bool, as_captions: bool
) -> Seed | str:
    """One record as a seed, or the name of the counter of records that are passed over."""
    if not isinstance(rec, dict):
        raise InputError(path, loc, "expected an object {messages, images}")
    images = _images(rec, str(path), loc)
    turns = sharegpt_turns(rec, str(path), loc)
    if not images:
        return "sharegpt_no_image"
    if len(images) > 1:
        return "sharegpt_multi_image"
    key = "messages" if "messages" in rec else "conversations"
    items = pairs_from_turns(turns, str(path), f"{loc}.{key}")
    ref = resolve_image(
        images[0],
        folder,
        allow_missing=allow_missing_images,
        where=str(path),
        field=f"{loc}.images[0]",
    )
    return Seed(
        id=seed_id_for(ref.digest),
        image=ref,
        captions=[qa.answer for qa in items] if as_captions else [],
        items=[] if as_captions else items,
        provenance=[
            Provenance(source="sharegpt", file=str(path), record_id=str(rec.get("id", loc)))
        ],
    )


def one_token_items(items: list[QA]) -> list[QA]:
    """The items with stray ``<image>`` tokens taken out of their text, so that a record
    holds exactly the one token its one image needs (LLaMA-Factory checks the count)."""
    return [
        qa.model_copy(
            update={"question": strip_image_token(qa.question)[0],
                    "answer": strip_image_token(qa.answer)[0]}
        )
        for qa in items
    ]  # fmt: skip


def _turns(items: list[QA]) -> list[tuple[str, str]]:
    """(question, answer) pairs; the ``<image>`` token goes into the first question."""
    out = []
    for k, qa in enumerate(one_token_items(items)):
        q = with_image_token(qa.question, qa.image_position) if k == 0 else qa.question
        out.append((q, qa.answer))
    return out


def messages_record(image: str, items: list[QA], record_id: str | None = None) -> dict[str, Any]:
    """One record: user/assistant ``messages`` (``<image>`` in the first user turn) + ``images``."""
    messages: list[dict[str, str]] = []
    for q, a in _turns(items):
        messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    rec: dict[str, Any] = {"messages": messages, "images": [image]}
    if record_id is not None:
        rec = {"id": record_id, **rec}
    return rec


def sharegpt_classic_record(
    image: str, items: list[QA], record_id: str | None = None
) -> dict[str, Any]:
    """One classic ShareGPT record: human/gpt ``conversations`` (``<image>`` in the first human
    turn) + ``image`` and ``images``."""
    convs: list[dict[str, str]] = []
    for q, a in _turns(items):
        convs += [{"from": "human", "value": q}, {"from": "gpt", "value": a}]
    rec: dict[str, Any] = {"conversations": convs, "image": image, "images": [image]}
    if record_id is not None:
        rec = {"id": record_id, **rec}
    return rec


def write_sharegpt(seeds: Iterable[Seed], path: Path, *, image_root: Path | None = None) -> int:
    """Write seeds with items as OpenAI-style ``messages`` JSONL (one record per seed); returns
    the count."""
    rows = [
        messages_record(image_name(s.image.path, image_root), s.items, s.id)
        for s in seeds
        if s.items
    ]
    return write_jsonl(Path(path), rows)
