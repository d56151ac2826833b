"""Building and curating a seed set from one or more sources.

``build_seeds`` merges the seeds of all sources by image content digest (captions, objects,
items and provenance are united), drops blank, exactly duplicated and near-duplicated
questions per image, caps the items per image (first N kept) and returns the seeds sorted by
id with a ``SeedStats`` of everything it did. ``SourceSpec`` describes one input source (as the
CLI receives it); ``build_from_specs`` reads them and writes ``seeds.jsonl``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from mmevol.errors import InputError
from mmevol.fsutil import write_jsonl
from mmevol.io.coco import guess_images_dir, read_coco
from mmevol.io.llava import read_llava
from mmevol.io.official import read_official
from mmevol.io.safeio import check_path_text
from mmevol.io.sharegpt import read_sharegpt
from mmevol.io.tabular import iter_jsonl, load_records, validation_problem
from mmevol.schema import QA, Obj, Provenance, Seed
from mmevol.textsim import near_duplicate, normalize_text

__all__ = [
    "SeedStats",
    "SourceSpec",
    "build_from_specs",
    "build_seeds",
    "near_duplicate",
    "normalize_text",
    "read_seeds",
    "write_seeds",
]


class SeedStats(BaseModel):
    """What seed curation did (all counts; ``sources`` holds the readers' own counters)."""

    seeds_in: int = 0
    images: int = 0
    merged_images: int = 0
    missing_images: int = 0
    duplicate_captions: int = 0
    duplicate_objects: int = 0
    items_in: int = 0
    items_out: int = 0
    empty_items: int = 0
    exact_duplicates: int = 0
    near_duplicates: int = 0
    capped: int = 0
    caption_items: int = 0
    rejected_records: int = 0
    sources: dict[str, int] = Field(default_factory=dict)


def _flatten(sources: Iterable[Iterable[Seed] | Seed]) -> Iterator[Seed]:
    for src in sources:
        if isinstance(src, Seed):
            yield src
        else:
            yield from src


def curate_items(items: Sequence[QA], stats: SeedStats, *, cap: int, threshold: float) -> list[QA]:
    """Drop blank, exact-duplicate and near-duplicate questions; keep at most ``cap`` (first
    ones). Near-duplicate checks only run against the kept items, so the work per image is
    at most ``len(items) * cap`` comparisons."""
    kept: list[QA] = []
    seen: set[str] = set()
    for qa in items:
        if not qa.question.strip() or not qa.answer.strip():
            stats.empty_items += 1
            continue
        key = normalize_text(qa.question)
        if key in seen:
            stats.exact_duplicates += 1
            continue
        seen.add(key)
        if len(kept) >= cap:
            stats.capped += 1
        elif any(near_duplicate(qa.question, k.question, threshold) for k in kept):
            stats.near_duplicates += 1
        else:
            kept.append(qa)
    return kept


def _merge(group: list[Seed], stats: SeedStats) -> Seed:
    first = group[0]
    image = next((s.image for s in group if s.image.width is not None), first.image)
    captions: dict[str, str] = {}
    objects: dict[tuple[str, tuple[float, ...] | None], Obj] = {}
    provenance: list[Provenance] = []
    for s in group:
        for c in s.captions:
            key = normalize_text(c)
            if not key or key in captions:
                stats.duplicate_captions += 1
            else:
                captions[key] = c.strip()
        for o in s.objects:
            okey = (o.category, tuple(o.bbox) if o.bbox is not None else None)
            if okey in objects:
                stats.duplicate_objects += 1
            else:
                objects[okey] = o
        provenance += [p for p in s.provenance if p not in provenance]
    return Seed(
        id=first.id,
        image=image,
        captions=list(captions.values()),
        objects=list(objects.values()),
        items=[qa for s in group for qa in s.items],
        provenance=provenance,
        topic=next((s.topic for s in group if s.topic), None),
    )


def build_seeds(
    sources: Iterable[Iterable[Seed] | Seed],
    *,
    max_items_per_image: int = 8,
    near_dup_threshold: float = 0.9,
    caption_items: bool = True,
    counts: Counter[str] | None = None,
) -> tuple[list[Seed], SeedStats]:
    """Merge seeds by image digest, curate their items, return them sorted by id + stats.

    ``sources`` is a list of seed iterables (one per source) or a flat list of seeds.
    ``caption_items``: an image with captions but no Q&A (COCO) gets one description item made
    from its first caption, so evolution has something to start from.
    ``counts`` (the readers' counters) is copied into ``SeedStats.sources``.
    """
    if max_items_per_image < 1:
        raise ValueError("max_items_per_image must be at least 1")
    stats = SeedStats(sources=dict(sorted((counts or Counter()).items())))
    groups: dict[str, list[Seed]] = {}
    for seed in _flatten(sources):
        stats.seeds_in += 1
        stats.items_in += len(seed.items)
        groups.setdefault(seed.image.digest, []).append(seed)
    out: dict[str, Seed] = {}
    for digest, group in groups.items():
        merged = _merge(group, stats)
        if merged.id in out:
            raise InputError(merged.id, "id", f"two different images share this seed id ({digest})")
        merged.items = curate_items(
            merged.items, stats, cap=max_items_per_image, threshold=near_dup_threshold
        )
        if caption_items and not merged.items and merged.captions:
            merged.items = [caption_item(merged)]
            stats.caption_items += 1
        stats.items_out += len(merged.items)
        stats.merged_images += len(group) > 1
        stats.missing_images += merged.image.digest.startswith("path:")
        out[merged.id] = merged
    stats.images = len(out)
    return [out[k] for k in sorted(out)], stats


def caption_item(seed: Seed) -> QA:
    """A plain description item whose answer is the seed's first caption."""
    names = list(dict.fromkeys(o.category for o in seed.objects))[:6]
    return QA(
        question="Describe what this image shows in one sentence.",
        answer=seed.captions[0].strip(),
        objects=names,
        skills=["existence", "context_understanding"],
        format="short_answer",
    )


def write_seeds(seeds: Iterable[Seed], path: Path) -> int:
    """Atomically write seeds as JSONL (one ``Seed`` per line); returns the count."""
    return write_jsonl(Path(path), seeds)


def read_seeds(path: Path) -> Iterator[Seed]:
    """Stream seeds from JSONL; errors name ``file:line`` and the field. Values are bounded
    (``io.safeio``) and an image path must be printable text (no NUL or control characters)."""
    path = Path(path)
    for lineno, value in iter_jsonl(path):
        try:
            seed = Seed.model_validate(value)
        except ValidationError as exc:
            field, msg = validation_problem(exc)
            raise InputError(f"{path}:{lineno}", field, msg) from exc
        check_path_text(seed.image.path, f"{path}:{lineno}", "image.path")
        yield seed


SourceKind = Literal["coco", "llava", "sharegpt", "jsonl", "mmevol"]


def _pick_dir(candidates: Sequence[Path], names: Sequence[str]) -> Path | None:
    """The candidate folder holding most of ``names`` (first one on ties), or None."""
    if not candidates:
        return None
    if len(candidates) == 1:
        return candidates[0]
    return max(candidates, key=lambda d: sum((d / n).exists() for n in names))


@dataclass(frozen=True)
class SourceSpec:
    """One input source: its kind, its file(s), candidate image folders and options."""

    kind: SourceKind
    path: Path | None = None
    captions: Path | None = None
    instances: Path | None = None
    image_dirs: tuple[Path, ...] = ()
    allow_missing_images: bool = False
    as_captions: bool = False

    @classmethod
    def from_cli(
        cls,
        *,
        coco_captions: Sequence[Path] = (),
        coco_instances: Sequence[Path] = (),
        images: Sequence[Path] = (),
        llava: Sequence[Path] = (),
        sharegpt: Sequence[Path] = (),
        mmevol_official: Path | None = None,
        jsonl: Sequence[Path] = (),
        allow_missing_images: bool = False,
    ) -> list[SourceSpec]:
        """Specs from CLI options; COCO files pair by split (``captions_X`` + ``instances_X``)
        and use the image folder named ``X`` when one is given."""
        dirs, miss = tuple(images), allow_missing_images
        splits: dict[str, dict[str, Path]] = {}
        for kind, files in (("captions", coco_captions), ("instances", coco_instances)):
            for f in files:
                splits.setdefault(f.stem.split("_", 1)[-1], {})[kind] = f
        specs = []
        for split, pair in splits.items():
            # an --images folder named like the split, else the only one given, else the
            # split folder beside annotations/ (COCO layout); never a guess over a given folder
            named = [d for d in dirs if d.name == split]
            guess = guess_images_dir(next(iter(pair.values())))
            folder = named or (list(dirs[:1]) if len(dirs) == 1 else [guess])
            specs.append(
                cls(
                    "coco",
                    captions=pair.get("captions"),
                    instances=pair.get("instances"),
                    image_dirs=tuple(folder),
                    allow_missing_images=miss,
                )
            )
        specs += [cls("llava", path=p, image_dirs=dirs, allow_missing_images=miss) for p in llava]
        specs += [
            cls("sharegpt", path=p, image_dirs=dirs, allow_missing_images=miss) for p in sharegpt
        ]
        specs += [cls("jsonl", path=p) for p in jsonl]
        if mmevol_official is not None:
            specs.append(
                cls("mmevol", path=mmevol_official, image_dirs=dirs, allow_missing_images=miss)
            )
        return specs

    def _folder(self) -> Path | None:
        if len(self.image_dirs) <= 1 or self.path is None:
            return self.image_dirs[0] if self.image_dirs else None
        names = []
        for _, rec in load_records(self.path)[:20]:
            img = rec.get("image", rec.get("images")) if isinstance(rec, dict) else None
            img = img[0] if isinstance(img, list) and img else img
            if isinstance(img, str):
                names.append(img)
        return _pick_dir(self.image_dirs, names)

    def load(
        self, counts: Counter[str] | None = None, rejects: list[InputError] | None = None
    ) -> list[Seed]:
        """Read this source's seeds (reader counters go into ``counts``; with a ``rejects``
        list, bad records are skipped and their errors kept there instead of raised)."""
        counts = counts if counts is not None else Counter()
        miss = self.allow_missing_images
        if self.kind == "coco":
            folder = self.image_dirs[0] if self.image_dirs else None
            return read_coco(
                self.captions,
                self.instances,
                folder,
                allow_missing_images=miss,
                counts=counts,
                rejects=rejects,
            )
        if self.path is None:
            raise InputError(self.kind, None, "no input file given")
        if self.kind == "llava":
            return read_llava(
                self.path, self._folder(), allow_missing_images=miss, counts=counts, rejects=rejects
            )
        if self.kind == "sharegpt":
            return read_sharegpt(
                self.path,
                self._folder(),
                allow_missing_images=miss,
                as_captions=self.as_captions,
                counts=counts,
                rejects=rejects,
            )
        if self.kind == "mmevol":
            root = self.image_dirs[0] if self.image_dirs else None
            return read_official(
                self.path, image_root=root, allow_missing_images=miss, counts=counts
            )
        return list(read_seeds(self.path))


def build_from_specs(
    specs: Sequence[SourceSpec],
    out_path: Path,
    *,
    max_items_per_image: int = 8,
    near_dup_threshold: float = 0.9,
    caption_items: bool = True,
    skip_bad: bool = False,
) -> SeedStats:
    """Read every source, build and curate the seeds, write them to ``out_path`` (JSONL).

    With ``skip_bad``, a bad record (LLaVA/ShareGPT record, COCO image entry or annotation) is
    left out and listed in ``rejected_path(out_path)`` (file, field, problem per line) instead
    of stopping the build; a file that cannot be read at all still stops it."""
    if not specs:
        raise InputError(
            "seeds build", None, "no sources given (use --coco-captions, --llava, ...)"
        )
    counts: Counter[str] = Counter()
    rejects: list[InputError] | None = [] if skip_bad else None
    loaded = [spec.load(counts, rejects) for spec in specs]
    seeds, stats = build_seeds(
        loaded,
        max_items_per_image=max_items_per_image,
        near_dup_threshold=near_dup_threshold,
        caption_items=caption_items,
        counts=counts,
    )
    write_seeds(seeds, out_path)
    listing = rejected_path(out_path)
    if rejects:
        rows = [{"file": e.file, "field": e.field, "problem": e.problem} for e in rejects]
        write_jsonl(listing, rows)
    elif listing.exists():  # from an earlier build of the same output: no longer true
        listing.unlink()
    stats.rejected_records = len(rejects or [])
    return stats


def rejected_path(out_path: Path) -> Path:
    """Where ``seeds build --skip-bad`` lists the records it left out."""
    out_path = Path(out_path)
    return out_path.with_name(out_path.stem + ".rejected.jsonl")
