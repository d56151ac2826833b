"""The writer of each export format: kept samples (missing images and box style already dealt
with by ``io.export``) -> the format's file or folder at ``out``; each returns its record count.

Which version of which tool's format each follows:

* ``llava``: LLaVA's ``LazySupervisedDataset`` JSON (haotian-liu/LLaVA v1.5/1.6 ``train.py``):
  ``[{id, image, conversations: [{from: human|gpt, value}]}]``, ``<image>`` in the first turn;
* ``openai-messages`` and ``sharegpt-classic``: LLaMA-Factory's data/README.md (v0.9.x),
  "OpenAI Format" and "Sharegpt Format" / "Multimodal Image Dataset" (see ``io.sharegpt``);
* ``llamafactory``: the same OpenAI-style records registered in ``dataset_info.json``
  (``formatting: sharegpt`` with role/content tags), images copied beside them;
* ``trl``: TRL v1.16's conversational vision format (see ``io.trl``);
* ``parquet``: one flat row per sample, ``image`` in the Hugging Face ``datasets`` Image shape
  (see ``io.tabular``);
* ``jsonl``: the mmevol ``Sample`` model, one per line;
* ``mmevol``: the MMEvol authors' per-image records (see ``io.official``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mmevol.errors import InputError
from mmevol.fsutil import write_jsonl
from mmevol.io.export_base import (
    LLAMAFACTORY_NAME,
    TRL_DATA,
    ExportOptions,
    atomic_dir,
    conversations,
)
from mmevol.io.export_images import ImageCopies
from mmevol.io.llava import llava_record
from mmevol.io.official import write_official
from mmevol.io.sharegpt import messages_record, one_token_items, sharegpt_classic_record
from mmevol.io.tabular import write_json_ordered, write_parquet, write_samples
from mmevol.io.trl import trl_record
from mmevol.schema import QA, Sample, Seed

Exporter = Callable[[list[Sample], Mapping[str, Seed], Path, ExportOptions], int]
Record = Callable[[str, list[QA], str], dict[str, Any]]


def _records(samples: list[Sample], out: Path, opts: ExportOptions, record: Record) -> list[Any]:
    paths = opts.paths(out)
    return [record(paths.name(im), qas, key) for key, im, qas in conversations(samples, opts.group)]


def export_llava(
    samples: list[Sample], seeds: Mapping[str, Seed], out: Path, opts: ExportOptions
) -> int:
    """One LLaVA JSON list (``<image>`` placed as the first item's ``image_position`` says)."""
    records = _records(
        samples, out, opts, lambda im, qas, key: llava_record(key, im, one_token_items(qas))
    )
    write_json_ordered(out, records)
    return len(records)


def export_openai_messages(
    samples: list[Sample], seeds: Mapping[str, Seed], out: Path, opts: ExportOptions
) -> int:
    """JSONL of OpenAI-style ``messages`` (role/content) + ``images``."""
    return write_jsonl(out, _records(samples, out, opts, messages_record))


def export_sharegpt_classic(
    samples: list[Sample], seeds: Mapping[str, Seed], out: Path, opts: ExportOptions
) -> int:
    """Classic ShareGPT ``conversations`` (from/value) + ``image``/``images``: a JSON list, or
    JSONL when ``out`` ends in ``.jsonl``."""
    records = _records(samples, out, opts, sharegpt_classic_record)
    if out.suffix.lower() == ".jsonl":
        return write_jsonl(out, records)
    write_json_ordered(out, records)
    return len(records)


def export_llamafactory(
    samples: list[Sample], seeds: Mapping[str, Seed], out: Path, opts: ExportOptions
) -> int:
    """A LLaMA-Factory dataset folder: ``data.json`` (sharegpt formatting with ``messages`` and
    ``images``, one ``<image>`` token in the first user turn), ``dataset_info.json`` registering
    it as ``mmevol``, and ``images/<digest>.<ext>`` copies, named absolutely (LLaMA-Factory
    joins an absolute path with its media dir to itself) or relative to the folder
    (LLaMA-Factory's default media dir is the dataset_dir)."""
    with atomic_dir(out, lambda d: (d / "dataset_info.json").is_file()) as tmp:
        copies = ImageCopies(tmp, out, opts.images, "llamafactory")
        records = [
            messages_record(copies.name(image, key), qas)
            for key, image, qas in conversations(samples, opts.group)
        ]
        write_json_ordered(tmp / "data.json", records)
        info = {
            LLAMAFACTORY_NAME: {
                "file_name": "data.json",
                "formatting": "sharegpt",
                "columns": {"messages": "messages", "images": "images"},
                "tags": {
                    "role_tag": "role",
                    "content_tag": "content",
                    "user_tag": "user",
                    "assistant_tag": "assistant",
                },
            }
        }
        write_json_ordered(tmp / "dataset_info.json", info)
    return len(records)


def export_trl(
    samples: list[Sample], seeds: Mapping[str, Seed], out: Path, opts: ExportOptions
) -> int:
    """A folder for TRL's ``SFTTrainer`` (vision): ``data.jsonl`` with ``images`` + typed-block
    ``messages`` (see ``io.trl``) and ``images/<digest>.<ext>`` copies, named absolutely (they
    load from any working directory) or relative to the folder (``mmevol train`` resolves
    them; ``datasets`` users join them with the folder)."""
    with atomic_dir(out, lambda d: (d / TRL_DATA).is_file()) as tmp:
        copies = ImageCopies(tmp, out, opts.images, "trl")
        records = [
            trl_record(copies.name(image, key), qas, key)
            for key, image, qas in conversations(samples, opts.group)
        ]
        write_jsonl(tmp / TRL_DATA, records)
    return len(records)


def export_parquet(
    samples: list[Sample], seeds: Mapping[str, Seed], out: Path, opts: ExportOptions
) -> int:
    """One flat Parquet table, a row per sample (``group`` does not apply); ``image`` holds the
    bytes (``embed``) or the path, in the ``datasets`` Image shape."""
    return write_parquet(samples, out, opts.paths(out).cell)


def export_jsonl(
    samples: list[Sample], seeds: Mapping[str, Seed], out: Path, opts: ExportOptions
) -> int:
    """``Sample`` JSONL, a row per sample (``group`` does not apply), ``image.path`` written
    absolute or relative as asked."""
    paths = opts.paths(out)
    rows = (
        s.model_copy(update={"image": s.image.model_copy(update={"path": paths.name(s.image)})})
        for s in samples
    )
    return write_samples(rows, out)


def export_mmevol(
    samples: list[Sample], seeds: Mapping[str, Seed], out: Path, opts: ExportOptions
) -> int:
    """The authors' per-image files (one per seed referenced by the samples) in folder ``out``;
    image paths as recorded, or relative to ``image_root``."""
    used: list[Seed] = []
    for sid in dict.fromkeys(s.seed_id for s in samples):
        if sid not in seeds:
            raise InputError(sid, "seed_id", "samples name a seed missing from seeds.jsonl")
        used.append(seeds[sid])
    used.sort(key=lambda s: s.id)
    with atomic_dir(out, _only_json_files) as tmp:
        written = write_official(used, samples, tmp, image_root=opts.image_root, rounds=opts.rounds)
    return len(written)


def _only_json_files(folder: Path) -> bool:
    """An earlier ``--format mmevol`` export: nothing but per-image ``.json`` files."""
    return all(p.is_file() and p.suffix == ".json" for p in folder.iterdir())


WRITERS: dict[str, Exporter] = {
    "llava": export_llava,
    "openai-messages": export_openai_messages,
    "sharegpt-classic": export_sharegpt_classic,
    "llamafactory": export_llamafactory,
    "trl": export_trl,
    "parquet": export_parquet,
    "jsonl": export_jsonl,
    "mmevol": export_mmevol,
}
