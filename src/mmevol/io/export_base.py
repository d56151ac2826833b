"""What every exporter shares: the resolved options, conversations and atomic folders.

``conversations`` groups samples into records by ``group``: ``"round"`` (the samples of one
seed and one round form one multi-turn record), ``"seed"`` (all of a seed's samples) or
``"sample"`` (one record each). ``atomic_dir`` builds a folder output in ``<out>.tmp-XXXX`` and
renames it into place, so an export appears whole or not at all (files go through
``fsutil.atomic_writer``). ``ExportOptions`` is what a writer is told, after ``io.export`` has
checked the user's choices against the format.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mmevol.errors import ConfigError, InputError
from mmevol.fsutil import finish_temp_dir, remove_stale_temp_dirs, temp_dir
from mmevol.io.export_images import ImagePaths
from mmevol.io.official import natural
from mmevol.schema import QA, ImageRef, Sample

GROUPS = ("round", "seed", "sample")
LLAMAFACTORY_NAME = "mmevol"
TRL_DATA = "data.jsonl"


@dataclass(frozen=True)
class ExportOptions:
    """How to write: the conversation grouping, how images are named (``images``: absolute,
    relative or embed; ``formats.AS_RECORDED`` for the authors' formats, which write paths as
    recorded or relative to ``image_root``), the folder relative paths are written against
    (None: the folder the export is written in), and the number of rounds the run made (None:
    as the samples show)."""

    group: str = "round"
    image_root: Path | None = None
    rounds: int | None = None
    images: str = "absolute"

    def paths(self, out: Path) -> ImagePaths:
        """How a file export at ``out`` names its images."""
        base = self.image_root if self.image_root is not None else Path(out).absolute().parent
        return ImagePaths(self.images, base)


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
