"""The MMEvol authors' per-image files (one JSON per image), read tolerantly and written back.

A file holds ``id``, ``image`` (relative path), ``hash_id`` (the file stem), ``caption`` (LLaVA
turns), ``det`` (``{label, bbox}`` normalised), ``topic_name`` and ``conversations_v0`` ..
``conversations_vN`` (round K's Q&A items; v0 = seed). Real files are irregular, so every field
is optional and coerced: scores as lists or strings, steps as plain strings, items in LLaVA turn
form, broken boxes (dropped and counted). Provenance keeps the file (its stem is the hash_id)
and the ``id`` so a read -> write cycle reproduces the names.

Vocabulary: the seed items (v0) are mapped onto ``vocab`` here, as nothing later normalises
them (counted as ``official_seed_skill_mapped`` etc.); the items of later rounds keep the
authors' strings, and ``mmevol import`` maps and counts them like any model output. Either way
the authors' own labels ("Grounding Ability", "Norm") stay in ``raw_skills`` / ``raw_format``,
and writing an item back puts those raw strings in place, so a read -> write cycle keeps them.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmevol.errors import InputError
from mmevol.io.images import missing_image_ref, resolve_image, seed_id_for
from mmevol.io.llava import ASSISTANT_ROLES, image_name, strip_image_token
from mmevol.io.safeio import loads_or_none
from mmevol.io.tabular import load_json, write_json_ordered
from mmevol.schema import QA, Obj, Provenance, Sample, Seed, Step, check_box
from mmevol.vocab import canonical_manipulation, unother
from mmevol.vocab.normalize import normalize_vocab

SOURCE = "mmevol"
ROUND_KEY = re.compile(r"^conversations_v(\d+)$")
CAPTION_PROMPT = "<image>\nDescribe the image."


@dataclass
class OfficialRecord:
    """One per-image file: the seed (v0 items) and every round's items by round number."""

    file: Path
    seed: Seed
    rounds: dict[int, list[QA]] = field(default_factory=dict)


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v.strip()
    if isinstance(v, list):
        return "\n".join(t for t in (_text(x) for x in v) if t)
    if isinstance(v, dict):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def _names(v: Any) -> list[str]:
    if v is None:
        return []
    if not isinstance(v, list):
        v = [v]
    out = []
    for x in v:
        if isinstance(x, dict):
            x = x.get("name") or x.get("label") or x.get("category") or json.dumps(x)
        t = _text(x)
        if t:
            out.append(t)
    return out


def _step(v: Any) -> Step | None:
    if isinstance(v, dict):
        manip = _text(v.get("manipulation") or v.get("name") or v.get("type"))
        desc = _text(v.get("description") or v.get("desc") or v.get("content"))
        return Step(manipulation=manip, description=desc) if manip or desc else None
    text = _text(v)
    if not text:
        return None
    head, sep, rest = text.partition(":")
    if canonical_manipulation(head) is not None:
        return Step(manipulation=head.strip(), description=rest.strip() if sep else text)
    return Step(manipulation="", description=text)


def parse_score(v: Any) -> float | None:
    """A score from a number, a numeric string ("7/10" -> 7), the first of a list, or {score}."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        m = re.search(r"-?\d+(?:\.\d+)?", v)
        return float(m.group()) if m else None
    if isinstance(v, list):
        return next((s for s in map(parse_score, v) if s is not None), None)
    if isinstance(v, dict):
        return parse_score(v.get("score"))
    return None


def coerce_item(v: Any) -> QA | None:
    """An authors' Q&A item -> ``QA``; None when it has neither question nor answer."""
    if isinstance(v, str):
        v = loads_or_none(v)
    if not isinstance(v, dict):
        return None
    question, answer = _text(v.get("question")), _text(v.get("answer"))
    if not question and not answer:
        return None
    steps_in = v.get("steps")
    steps_list = steps_in if isinstance(steps_in, list) else [steps_in] if steps_in else []
    pos = v.get("image_position")
    return QA(
        question=strip_image_token(question)[0],
        answer=answer,
        objects=_names(v.get("objects")),
        skills=_names(v.get("skills")),
        format=_text(v.get("format")) or "open_ended",
        steps=[s for s in map(_step, steps_list) if s is not None],
        image_position=pos if isinstance(pos, str) and pos else None,
        score=parse_score(v.get("score")),
        original=v,
    )


def _items(v: Any, counts: Counter[str]) -> list[QA]:
    if isinstance(v, str):
        v = loads_or_none(v)
        if v is None:
            counts["official_rounds_unparsed"] += 1
            return []
    if isinstance(v, dict):
        v = [v]
    if not isinstance(v, list):
        return []
    if v and all(isinstance(t, dict) and "from" in t and "value" in t for t in v):
        return _turn_items(v)
    out = []
    for x in v:
        qa = coerce_item(x)
        if qa is None:
            counts["official_items_dropped"] += 1
        else:
            out.append(qa)
    return out


def _turn_items(turns: list[dict[str, Any]]) -> list[QA]:
    out = []
    for k in range(0, len(turns) - 1, 2):
        q, pos = strip_image_token(_text(turns[k]["value"]))
        out.append(QA(question=q, answer=_text(turns[k + 1]["value"]), image_position=pos))
    return out


def _captions(v: Any) -> list[str]:
    if isinstance(v, str):
        return [v.strip()] if v.strip() else []
    if not isinstance(v, list):
        return []
    out = []
    for t in v:
        if isinstance(t, dict):
            if str(t.get("from", "gpt")).lower() in ASSISTANT_ROLES:
                out.append(_text(t.get("value")))
        else:
            out.append(_text(t))
    return [c for c in out if c]


def _objects(v: Any, counts: Counter[str]) -> list[Obj]:
    out = []
    for d in v if isinstance(v, list) else []:
        label = (
            _text(d.get("label") or d.get("category") or d.get("name"))
            if isinstance(d, dict)
            else ""
        )
        if not label:
            counts["official_boxes_dropped"] += 1
            continue
        box = d.get("bbox")
        if isinstance(box, str):
            parsed = loads_or_none(box)
            box = parsed if parsed is not None or box.strip() == "null" else "bad"
        try:
            out.append(Obj(category=label, bbox=None if box is None else check_box(box)))
        except (ValueError, TypeError):
            counts["official_boxes_dropped"] += 1
    return out


def read_official_file(
    path: Path, image_root: Path, *, allow_missing_images: bool, counts: Counter[str]
) -> OfficialRecord:
    """Parse one per-image file."""
    rec = load_json(path)
    if not isinstance(rec, dict):
        raise InputError(path, "(top level)", "expected a JSON object (one image per file)")
    image = rec.get("image")
    if isinstance(image, str) and image.strip():
        ref = resolve_image(image, image_root, allow_missing=allow_missing_images, where=str(path))
    elif allow_missing_images:
        ref = missing_image_ref(path.stem)
    else:
        raise InputError(path, "image", "missing (expected the image's relative path)")
    rounds = {
        int(m.group(1)): _items(v, counts) for k, v in rec.items() if (m := ROUND_KEY.match(k))
    }
    if 0 in rounds:
        seed_counts: Counter[str] = Counter()
        rounds[0] = [normalize_vocab(qa, seed_counts) for qa in rounds[0]]
        counts.update({f"official_seed_{k}": v for k, v in seed_counts.items()})
    topic = _text(rec.get("topic_name")) or None
    # the record as read, later rounds left out (v0 stays: a run never changes the seed items)
    source_record = {k: None if (m := ROUND_KEY.match(k)) and int(m.group(1)) else v
                     for k, v in rec.items()}  # fmt: skip
    seed = Seed(
        id=seed_id_for(ref.digest),
        image=ref,
        captions=_captions(rec.get("caption")),
        objects=_objects(rec.get("det"), counts),
        items=rounds.get(0, []),
        provenance=[Provenance(source=SOURCE, file=str(path), record_id=_text(rec.get("id")))],
        topic=topic,
        source_record=source_record,
    )
    counts["official_files"] += 1
    for k, items in rounds.items():
        counts[f"official_items_v{k}"] += len(items)
    return OfficialRecord(file=path, seed=seed, rounds=rounds)


def iter_official(
    folder: Path,
    *,
    image_root: Path | None = None,
    allow_missing_images: bool = False,
    counts: Counter[str] | None = None,
) -> Iterator[OfficialRecord]:
    """Every ``*.json`` under ``folder`` (sorted), parsed; images resolve under ``image_root``
    (default: ``folder``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, None, "not a folder (expected the per-image JSON files)")
    counts = counts if counts is not None else Counter()
    root = image_root if image_root is not None else folder
    for path in sorted(folder.rglob("*.json")):
        yield read_official_file(
            path, root, allow_missing_images=allow_missing_images, counts=counts
        )


def read_official(folder: Path, **kw: Any) -> list[Seed]:
    """Seeds of a folder of per-image files (v0 items, captions, det boxes, topic)."""
    return [r.seed for r in iter_official(folder, **kw)]


def number(v: float | None) -> int | float | None:
    """A score as the authors write it: an integer where it is one."""
    return int(v) if v is not None and float(v).is_integer() else v


def item_dict(qa: QA, *, with_score: bool = True) -> dict[str, Any]:
    """A ``QA`` in the authors' item schema. An imported item is its original dict, with only
    what was edited since (question, answer) replaced; others are written from their fields,
    with the producer's own skill and format strings where normalisation recorded them (an
    ``other:`` label loses its prefix). ``with_score=False``: as a candidate, before judging."""
    if qa.original is not None:
        d = dict(qa.original)
        read = coerce_item(qa.original)
        if read is None or read.question != qa.question:
            d["question"] = qa.question
        if read is None or read.answer != qa.answer:
            d["answer"] = qa.answer
    else:
        d = {} if qa.image_position is None else {"image_position": qa.image_position}
        skills = qa.raw_skills if qa.raw_skills is not None else [unother(s) for s in qa.skills]
        d |= {
            "objects": list(qa.objects),
            "skills": list(skills),
            "format": qa.raw_format if qa.raw_format is not None else unother(qa.format),
            "question": qa.question,
            "steps": [s.model_dump() for s in qa.steps],
            "answer": qa.answer,
        }
    if not with_score:
        d.pop("score", None)
    elif "score" not in d and qa.score is not None:
        d["score"] = number(qa.score)
    return d


def natural(text: str) -> list[Any]:
    """A sort key that orders ``#2`` before ``#10``."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", text)]


def file_stem(seed: Seed) -> str:
    """The ``hash_id`` a seed's file is named by: the imported file's stem, else the seed id."""
    prov = next((p for p in seed.provenance if p.source == SOURCE), None)
    stem = Path(prov.file).stem if prov else seed.id
    return re.sub(r"[/\\\x00]", "_", stem).lstrip(".") or seed.id


def unique_stems(seeds: list[Seed]) -> dict[str, str]:
    """seed id -> a file stem no other seed of the list uses."""
    used: set[str] = set()
    out = {}
    for seed in seeds:
        base = stem = file_stem(seed)
        n = 1
        while stem in used:
            n += 1
            stem = f"{base}-{n}"
        used.add(stem)
        out[seed.id] = stem
    return out


def record_dict(seed: Seed, stem: str, rounds: dict[int, list[QA]], n_rounds: int,
                image_root: Path | None) -> dict[str, Any]:  # fmt: skip
    """The per-image record of ``seed``: ``conversations_v0..v{n_rounds}`` (every round present,
    empty or not). An imported record keeps its own fields and their order; the image path is
    rewritten only when an ``image_root`` is given."""
    convs = {f"conversations_v{k}": [item_dict(q) for q in rounds.get(k, [])]
             for k in range(1, n_rounds + 1)}  # fmt: skip
    if seed.source_record is not None:
        doc: dict[str, Any] = {}
        for key, value in seed.source_record.items():
            m = ROUND_KEY.match(key)
            if m and int(m.group(1)):
                doc.update(convs)  # every later round where the first of them stood
                convs = {}
            elif key == "image" and image_root is not None:
                doc[key] = image_name(seed.image.path, image_root)
            else:
                doc[key] = value
        if "conversations_v0" not in doc:
            doc["conversations_v0"] = [item_dict(q) for q in seed.items]
        return doc | convs
    prov = next((p for p in seed.provenance if p.source == SOURCE), None)
    return {
        "id": prov.record_id if prov and prov.record_id else seed.id,
        "image": image_name(seed.image.path, image_root),
        "conversations_v0": [item_dict(q) for q in seed.items],
        **convs,
        "topic_name": seed.topic if seed.topic else [],
        "caption": [
            t
            for c in seed.captions
            for t in ({"from": "human", "value": CAPTION_PROMPT}, {"from": "gpt", "value": c})
        ],
        "det": [{"label": o.category, "bbox": o.bbox} for o in seed.objects if o.bbox],
        "hash_id": stem,
    }


def write_official(
    seeds: Iterable[Seed],
    samples: Iterable[Sample],
    folder: Path,
    *,
    image_root: Path | None = None,
    rounds: int | None = None,
) -> list[Path]:
    """One ``<hash_id>.json`` per seed in ``folder``: v0 = the seed items, vK = the kept
    round-K samples (in natural id order) for every K up to ``rounds`` (default: the highest
    round among the samples). Each file is written atomically."""
    seed_list = list(seeds)
    known = {s.id for s in seed_list}
    by_round: dict[str, dict[int, list[Sample]]] = defaultdict(lambda: defaultdict(list))
    for s in samples:
        if s.round == 0 or not s.lineage.kept:
            continue
        if s.seed_id not in known:
            raise InputError(s.id, "seed_id", f"no seed {s.seed_id!r} among the seeds given")
        by_round[s.seed_id][s.round].append(s)
    n_rounds = rounds if rounds is not None else max(
        (k for r in by_round.values() for k in r), default=0)  # fmt: skip
    folder = Path(folder)
    written: list[Path] = []
    for seed, stem in zip(seed_list, unique_stems(seed_list).values(), strict=True):
        kept = {k: [s.qa for s in sorted(group, key=lambda s: natural(s.id))]
                for k, group in by_round.get(seed.id, {}).items()}  # fmt: skip
        path = folder / f"{stem}.json"
        write_json_ordered(path, record_dict(seed, stem, kept, n_rounds, image_root))
        written.append(path)
    return written
