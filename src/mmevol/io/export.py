"""Exporters to training formats, looked up by name in ``EXPORTERS``.

``export(fmt, samples, seeds, out)`` writes only kept samples. Conversations are grouped by
``group``: ``"round"`` (the samples of one seed and one round form one multi-turn record),
``"seed"`` (all of a seed's samples) or ``"sample"`` (one record each). Every output appears
whole or not at all: files go through a temp sibling + ``os.replace``; directories are built
in ``<out>.tmp-XXXX`` and renamed into place.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from mmevol.errors import ConfigError, InputError
from mmevol.fsutil import finish_temp_dir, remove_stale_temp_dirs, temp_dir, write_jsonl
from mmevol.io.images import digest_hex
from mmevol.io.llava import image_name, llava_record
from mmevol.io.official import natural, write_official
from mmevol.io.sharegpt import sharegpt_record
from mmevol.io.tabular import write_json_ordered, write_parquet, write_samples
from mmevol.io.trl import plain, trl_record
from mmevol.schema import QA, ImageRef, Sample, Seed

GROUPS = ("round", "seed", "sample")
LLAMAFACTORY_NAME = "mmevol"
TRL_DATA = "data.jsonl"


@dataclass(frozen=True)
class ExportOptions:
    """How to write: the conversation grouping, the folder image paths are written relative
    to (None: as stored), and the number of rounds the run made (None: as the samples show)."""

    group: str = "round"
    image_root: Path | None = None
    rounds: int | None = None


Exporter = Callable[[list[Sample], Mapping[str, Seed], Path, ExportOptions], Path]


def conversations(samples: list[Sample], group: str) -> list[tuple[str, ImageRef, list[QA]]]:
    """(record id, image, items) per conversation, in natural order of the sample ids."""
    if group not in GROUPS:
        raise ConfigError(f"--group: unknown grouping {group!r}; use one of {', '.join(GROUPS)}")
    groups: dict[str, tuple[ImageRef, list[Sample]]] = {}
    for s in samples:
        key = {"round": f"{s.seed_id}@r{s.round}", "seed": s.seed_id, "sample": s.id}[group]
        groups.setdefault(key, (s.image, []))[1].append(s)
    out = []
    for key in sorted(groups, key=natural):
        image, members = groups[key]
        members.sort(key=lambda s: (s.round, natural(s.id)))
        out.append((key, image, [m.qa for m in members]))
    return out


def check_replaceable(out: Path, earlier: Callable[[Path], bool]) -> None:
    """Refuse to replace anything but an empty folder or an earlier output of the same kind
    (``earlier(out)``): an ``--out`` pointing at a run, a model or the data must not be lost."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise InputError(out, None, "a file is in the way (expected a folder to write)")
    if out.is_dir() and any(out.iterdir()) and not earlier(out):
        raise InputError(
            out, None, "exists and is not an earlier output of this command; choose a new --out"
        )


@contextlib.contextmanager
def atomic_dir(out: Path, earlier: Callable[[Path], bool]) -> Iterator[Path]:
    """Build a directory in ``<out>.tmp-XXXX``; on success replace ``out`` with it. ``out``
    may only be an empty folder or what ``earlier`` recognises as an earlier output."""
    check_replaceable(out, earlier)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_dirs(out.parent, f"{out.name}.tmp-")  # a killed export's leftovers
    tmp = temp_dir(out.parent, f"{out.name}.tmp-")
    try:
        yield tmp
        finish_temp_dir(tmp)
        old = out.with_name(f"{out.name}.old-{uuid.uuid4().hex[:8]}")
        if out.exists() or out.is_symlink():
            os.replace(out, old)
        os.replace(tmp, out)
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        elif old.exists() or old.is_symlink():
            old.unlink()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def export_llava(
    samples: list[Sample], seeds: Mapping[str, Seed], out: Path, opts: ExportOptions
) -> Path:
    """One LLaVA JSON list (``<image>`` placed as the first item's ``image_position`` says)."""
    write_json_ordered(
        out,
        [
            llava_record(k, image_name(im.path, opts.image_root), qas)
            for k, im, qas in conversations(samples, opts.group)
        ],
    )
    return out


def export_sharegpt(
    samples: list[Sample], seeds: Mapping[str, Seed], out: Path, opts: ExportOptions
) -> Path:
    """ShareGPT-style JSONL: ``messages`` (role/content) + ``images``."""
    write_jsonl(
        out,
        [
            sharegpt_record(image_name(im.path, opts.image_root), qas, k)
            for k, im, qas in conversations(samples, opts.group)
        ],
    )
    return out


def _image_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{2,5}", suffix) else ".jpg"


def _copy_image(image: ImageRef, key: str, tmp: Path, copied: dict[str, str], fmt: str) -> str:
    """Copy an image once into ``tmp/images/<digest>.<ext>``; its path relative to ``tmp``."""
    rel = copied.get(image.digest)
    if rel is None:
        src = Path(image.path)
        if not src.is_file():
            raise InputError(src, "image", f"file not found (sample {key}); {fmt} copies pixels")
        rel = f"images/{digest_hex(image.digest)}{_image_suffix(src)}"
        shutil.copyfile(src, tmp / rel)
        copied[image.digest] = rel
    return rel


def _one_image_token(qas: list[QA]) -> list[QA]:
    """The items with stray ``<image>`` tokens taken out of their text, so that the exported
    record holds exactly one token for its one image (LLaMA-Factory checks the count)."""
    return [
        qa.model_copy(update={"question": plain(qa.question), "answer": plain(qa.answer)})
        for qa in qas
    ]


def export_llamafactory(
    samples: list[Sample], seeds: Mapping[str, Seed], out: Path, opts: ExportOptions
) -> Path:
    """A LLaMA-Factory dataset folder: ``data.json`` (sharegpt formatting with ``messages`` and
    ``images``, one ``<image>`` token in the first user turn), ``dataset_info.json`` registering
    it as ``mmevol``, and ``images/<digest>.<ext>`` copies referenced relative to the folder
    (LLaMA-Factory's default media dir)."""
    with atomic_dir(out, lambda d: (d / "dataset_info.json").is_file()) as tmp:
        (tmp / "images").mkdir()
        copied: dict[str, str] = {}
        records = []
        for key, image, qas in conversations(samples, opts.group):
            rel = _copy_image(image, key, tmp, copied, "llamafactory")
            records.append(sharegpt_record(rel, _one_image_token(qas)))
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
    return out


def export_trl(
    samples: list[Sample], seeds: Mapping[str, Seed], out: Path, opts: ExportOptions
) -> Path:
    """A folder for TRL's ``SFTTrainer`` (vision): ``data.jsonl`` with ``images`` + typed-block
    ``messages`` (see ``io.trl``) and ``images/<digest>.<ext>`` copies, referenced relative to
    the folder (``mmevol train`` resolves them)."""
    with atomic_dir(out, lambda d: (d / TRL_DATA).is_file()) as tmp:
        (tmp / "images").mkdir()
        copied: dict[str, str] = {}
        records = []
        for key, image, qas in conversations(samples, opts.group):
            rel = _copy_image(image, key, tmp, copied, "trl")
            records.append(trl_record(rel, qas, key))
        write_jsonl(tmp / TRL_DATA, records)
    return out


def export_parquet(
    samples: list[Sample], seeds: Mapping[str, Seed], out: Path, opts: ExportOptions
) -> Path:
    """One flat Parquet table, a row per sample (``group`` does not apply)."""
    write_parquet(samples, out)
    return out


def export_jsonl(
    samples: list[Sample], seeds: Mapping[str, Seed], out: Path, opts: ExportOptions
) -> Path:
    """``Sample`` JSONL, a row per sample (``group`` does not apply)."""
    write_samples(samples, out)
    return out


def export_mmevol(
    samples: list[Sample], seeds: Mapping[str, Seed], out: Path, opts: ExportOptions
) -> Path:
    """The authors' per-image files (one per seed referenced by the samples) in folder ``out``."""
    used: list[Seed] = []
    for sid in dict.fromkeys(s.seed_id for s in samples):
        if sid not in seeds:
            raise InputError(sid, "seed_id", "samples name a seed missing from seeds.jsonl")
        used.append(seeds[sid])
    used.sort(key=lambda s: s.id)
    with atomic_dir(out, _only_json_files) as tmp:
        write_official(used, samples, tmp, image_root=opts.image_root, rounds=opts.rounds)
    return out


def _only_json_files(folder: Path) -> bool:
    """An earlier ``--format mmevol`` export: nothing but per-image ``.json`` files."""
    return all(p.is_file() and p.suffix == ".json" for p in folder.iterdir())


EXPORTERS: dict[str, Exporter] = {
    "llava": export_llava,
    "sharegpt": export_sharegpt,
    "llamafactory": export_llamafactory,
    "trl": export_trl,
    "parquet": export_parquet,
    "mmevol": export_mmevol,
    "jsonl": export_jsonl,
}


def export(
    fmt: str,
    samples: Iterable[Sample],
    seeds: Mapping[str, Seed],
    out: Path,
    *,
    group: str = "round",
    image_root: Path | None = None,
    rounds: int | None = None,
) -> Path:
    """Write the kept ``samples`` in format ``fmt`` at ``out`` (a file, or a folder for
    ``llamafactory``, ``trl`` and ``mmevol``); returns ``out``. ``image_root``: image paths are
    written relative to it (llava, sharegpt, mmevol); ``rounds``: the run's round count, so
    that the mmevol records list every round, empty ones too."""
    fn = EXPORTERS.get(fmt)
    if fn is None:
        raise ConfigError(
            f"--format: unknown format {fmt!r}; use one of {', '.join(sorted(EXPORTERS))}"
        )
    if group not in GROUPS:
        raise ConfigError(f"--group: unknown grouping {group!r}; use one of {', '.join(GROUPS)}")
    kept = [s for s in samples if s.lineage.kept]
    return fn(kept, seeds, Path(out), ExportOptions(group, image_root, rounds))
