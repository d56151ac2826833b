"""Plain files of records: JSON/JSONL loading with one-line errors, Seed/Sample JSONL, Parquet.

Files are opened through ``safeio`` (regular files only, JSON values bounded and checked).

Every reader here names the file, the line (or row) and the field of the first problem. The
Parquet layout is flat so that ``pyarrow.parquet.read_table`` and Hugging Face
``datasets.load_dataset("parquet", ...)`` both read it: nested values are JSON strings, and
the ``image`` column is the ``datasets`` Image shape ``{"bytes", "path"}`` (datasets 2.x-5.x),
declared as an Image feature in the schema's ``huggingface`` metadata so that it decodes to a
PIL image (from the bytes when they are there, else from the path). Files written before the
image column was a struct (a plain path string) still read back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ValidationError

from mmevol.errors import InputError
from mmevol.fsutil import atomic_writer, write_jsonl
from mmevol.io.safeio import open_regular, parse_json, read_regular
from mmevol.schema import QA, ImageRef, Lineage, Sample, Step

M = TypeVar("M", bound=BaseModel)


def read_text(path: Path) -> str:
    """The file's text (UTF-8, BOM allowed); ``InputError`` if absent, empty or not UTF-8."""
    data = read_regular(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            path, f"byte {exc.start}", "not UTF-8 text (re-encode the file as UTF-8)"
        ) from exc
    if not text.strip():
        raise InputError(path, None, "file is empty (expected JSON records)")
    return text


def load_json(path: Path, *, finite: bool = True) -> Any:
    """Parse a whole JSON file; syntax errors name the line and column (``finite``: see
    ``safeio.check_value``)."""
    return parse_json(read_text(path), path, finite=finite)


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, value)`` for each non-blank line of a JSONL file (streaming);
    each value is checked as ``safeio.parse_json`` does (depth, numbers, surrogates)."""
    path = Path(path)
    fh = open_regular(path)
    seen = False
    with fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"{path}:{lineno}", None, "not UTF-8 text") from exc
            if not line.strip():
                continue
            value = parse_json(line, f"{path}:{lineno}", one_line=True)
            seen = True
            yield lineno, value
    if not seen:
        raise InputError(path, None, "file is empty (expected one JSON object per line)")


def load_records(path: Path) -> list[tuple[str, Any]]:
    """Records of a JSON list file or a JSONL file: ``(location, record)`` pairs, where the
    location is ``[i]`` or ``line N``. A JSON object holding one list (``{"data": [...]}``)
    is accepted too."""
    path = Path(path)
    if path.suffix.lower() == ".jsonl":
        return [(f"line {n}", v) for n, v in iter_jsonl(path)]
    value = load_json(path)
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise InputError(path, "(top level)", "expected a JSON list of records, got an object")
        value = lists[0]
    if not isinstance(value, list):
        kind = type(value).__name__
        raise InputError(path, "(top level)", f"expected a JSON list of records, got {kind}")
    return [(f"[{i}]", v) for i, v in enumerate(value)]


def validation_problem(exc: ValidationError) -> tuple[str, str]:
    """(field path, message) of the first error of a pydantic ``ValidationError``."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ())) or "(record)"
    return loc, str(err.get("msg", "invalid value"))


def read_models(path: Path, model: type[M]) -> Iterator[M]:
    """Stream a JSONL file of ``model`` records, validating each line."""
    for lineno, value in iter_jsonl(path):
        try:
            yield model.model_validate(value)
        except ValidationError as exc:
            field, msg = validation_problem(exc)
            raise InputError(f"{path}:{lineno}", field, msg) from exc


def read_samples(path: Path) -> Iterator[Sample]:
    """Stream ``Sample`` records from JSONL (a run's ``dataset.jsonl`` or ``rounds/*.jsonl``)."""
    return read_models(Path(path), Sample)


def write_json_ordered(path: Path, value: Any) -> None:
    """Atomically write JSON keeping the key order of the data (for formats people read)."""
    with atomic_writer(Path(path)) as fh:
        json.dump(value, fh, indent=2, ensure_ascii=False)
        fh.write("\n")


def write_samples(samples: Iterable[Sample], path: Path) -> int:
    """Atomically write samples as JSONL; returns the count."""
    return write_jsonl(Path(path), samples)


IMAGE_STRUCT = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
HF_FEATURES = {"info": {"features": {"image": {"_type": "Image"}}}}  # the rest is inferred
PARQUET_BATCH = 256  # rows per row group: embedded images are not all held in memory at once
PARQUET_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("seed_id", pa.string()),
        ("round", pa.int32()),
        ("image", IMAGE_STRUCT),
        ("question", pa.string()),
        ("answer", pa.string()),
        ("format", pa.string()),
        ("skills", pa.list_(pa.string())),
        ("objects", pa.list_(pa.string())),
        ("steps", pa.string()),
        ("lineage", pa.string()),
        ("image_digest", pa.string()),
        ("image_width", pa.int32()),
        ("image_height", pa.int32()),
        ("image_position", pa.string()),
        ("score", pa.float64()),
    ],
    metadata={b"huggingface": json.dumps(HF_FEATURES).encode()},
)
ImageCell = Callable[[ImageRef], dict[str, Any]]


def path_cell(ref: ImageRef) -> dict[str, Any]:
    """The image as the run recorded its path, without bytes."""
    return {"bytes": None, "path": ref.path}


def _row(s: Sample, image_cell: ImageCell) -> dict[str, Any]:
    return {
        "id": s.id,
        "seed_id": s.seed_id,
        "round": s.round,
        "image": image_cell(s.image),
        "question": s.qa.question,
        "answer": s.qa.answer,
        "format": s.qa.format,
        "skills": list(s.qa.skills),
        "objects": list(s.qa.objects),
        "steps": json.dumps([st.model_dump() for st in s.qa.steps], ensure_ascii=False),
        "lineage": s.lineage.model_dump_json(exclude_none=True),
        "image_digest": s.image.digest,
        "image_width": s.image.width,
        "image_height": s.image.height,
        "image_position": s.qa.image_position,
        "score": s.qa.score,
    }


def write_parquet(samples: Iterable[Sample], path: Path, image_cell: ImageCell = path_cell) -> int:
    """Atomically write samples as one flat Parquet table; returns the row count.
    ``image_cell`` makes each ``image`` value (``{"bytes", "path"}``); by default the recorded
    path without bytes."""
    it = iter(samples)
    n = 0
    with atomic_writer(Path(path), "wb") as fh, pq.ParquetWriter(fh, PARQUET_SCHEMA) as writer:
        while batch := [_row(s, image_cell) for s in islice(it, PARQUET_BATCH)]:
            writer.write_table(pa.Table.from_pylist(batch, schema=PARQUET_SCHEMA))
            n += len(batch)
    return n


def _sample_from_row(row: dict[str, Any]) -> Sample:
    qa = QA(
        question=row["question"],
        answer=row["answer"],
        objects=row.get("objects") or [],
        skills=row.get("skills") or [],
        format=row.get("format") or "open_ended",
        steps=[Step.model_validate(x) for x in json.loads(row.get("steps") or "[]")],
        image_position=row.get("image_position"),
        score=row.get("score"),
    )
    cell = row["image"]
    image = ImageRef(
        path=cell["path"] if isinstance(cell, dict) else cell,
        digest=row.get("image_digest") or "",
        width=row.get("image_width"),
        height=row.get("image_height"),
    )
    lineage = Lineage.model_validate_json(row.get("lineage") or "{}")
    return Sample(
        id=row["id"],
        seed_id=row["seed_id"],
        image=image,
        round=row["round"],
        qa=qa,
        lineage=lineage,
    )


def read_parquet(path: Path) -> list[Sample]:
    """Read samples back from a Parquet file written by ``write_parquet``."""
    try:
        table = pq.read_table(Path(path))
    except (OSError, pa.ArrowException) as exc:
        raise InputError(path, None, f"not a readable Parquet file ({exc})") from exc
    out: list[Sample] = []
    for i, row in enumerate(table.to_pylist()):
        try:
            out.append(_sample_from_row(row))
        except KeyError as exc:
            raise InputError(path, f"row {i}.{exc.args[0]}", "column missing") from exc
        except ValidationError as exc:
            field, msg = validation_problem(exc)
            raise InputError(path, f"row {i}.{field}", msg) from exc
        except json.JSONDecodeError as exc:
            raise InputError(path, f"row {i}.steps", f"invalid JSON ({exc.msg})") from exc
    return out
