"""The catalogue of export formats: each name, what it writes, what loads it, its image options.

This module owns the facts about formats that do not need the writers: the one-line
descriptions ``mmevol export --help`` lists, which ``--images`` modes a format takes (its
default first), its default ``--missing-images`` policy, whether it copies image files, and the
deprecated aliases. It imports nothing heavy, so the CLI can build its help from it; the
writers themselves are looked up by the same names in ``io.export.EXPORTERS``.

Image modes: ``absolute`` writes each image's absolute path (loads from any working directory
on this machine), ``relative`` writes it relative to ``--image-root`` (or, without one, to the
folder the export is written in; folder formats: to that folder, whose ``images/`` holds the
copies), ``embed`` stores the image bytes (Parquet, in the Hugging Face ``datasets`` Image
shape ``{"bytes", "path"}``). Missing images: ``skip`` leaves their samples out, ``keep``
writes them anyway (a trainer will fail on them), ``error`` stops; every policy counts them.
"""

from __future__ import annotations

from dataclasses import dataclass

IMAGE_MODES = ("absolute", "relative", "embed")
MISSING_POLICIES = ("skip", "keep", "error")
AS_RECORDED = "as recorded"  # image mode of the authors' formats (or relative to --image-root)


@dataclass(frozen=True)
class FormatInfo:
    """What one format writes (``summary``, one line for ``--help``), what reads it
    (``loads_with``), the ``--images`` modes it takes (default first; empty: paths as the run
    recorded them, or relative to ``--image-root``), its default ``--missing-images`` policy,
    whether it copies image files into its folder, and, for an alias, the format it names
    and the note printed when it is used."""

    summary: str
    loads_with: str
    images: tuple[str, ...] = ("absolute", "relative")
    missing: str = "skip"
    copies: bool = False
    alias_of: str | None = None
    deprecated: str | None = None


FORMATS: dict[str, FormatInfo] = {
    "llava": FormatInfo(
        "LLaVA JSON list: id, image, conversations (from, value)",
        "LLaVA's train.py --data_path (absolute paths ignore --image_folder); "
        'datasets.load_dataset("json")',
    ),
    "openai-messages": FormatInfo(
        "JSONL: id, messages (role, content), images",
        'LLaMA-Factory (formatting sharegpt, role/content tags); datasets.load_dataset("json")',
    ),
    "sharegpt": FormatInfo(
        "deprecated name of openai-messages (what it always wrote)",
        "as openai-messages",
        alias_of="openai-messages",
        deprecated="--format sharegpt is deprecated: it writes OpenAI-style role/content "
        "messages, as --format openai-messages does; use that name, or --format "
        "sharegpt-classic for ShareGPT conversations (from/value)",
    ),
    "sharegpt-classic": FormatInfo(
        "ShareGPT list: id, conversations (from, value), image(s)",
        "LLaVA / ShareGPT4V (image), LLaMA-Factory sharegpt (images); "
        'datasets.load_dataset("json")',
    ),
    "llamafactory": FormatInfo(
        "LLaMA-Factory folder: data.json, dataset_info.json, images/",
        "llamafactory-cli train with dataset_dir=OUT, dataset=mmevol; "
        'datasets.load_dataset("json")',
        copies=True,
    ),
    "trl": FormatInfo(
        "TRL SFT folder: data.jsonl (typed messages), images/",
        'datasets.load_dataset("json") + TRL SFTTrainer (vision); mmevol train --data OUT',
        copies=True,
    ),
    "parquet": FormatInfo(
        "a row per sample; image as a datasets Image {bytes, path}",
        'datasets.load_dataset("parquet") (image decodes to PIL), pandas, pyarrow',
        images=("embed", "absolute", "relative"),
    ),
    "jsonl": FormatInfo(
        "a row per sample: the mmevol Sample, every field (below)",
        'mmevol (io.tabular.read_samples); datasets.load_dataset("json")',
        missing="keep",  # every sample as the run holds it (a warning still counts the missing)
    ),
    "mmevol": FormatInfo(
        "the MMEvol authors' per-image <hash_id>.json records",
        "the authors' scripts; mmevol import --format mmevol",
        images=(),
        missing="keep",
    ),
    "mmevol-rounds": FormatInfo(
        "the authors' round{n}/ layout: every candidate, verdict",
        "the authors' scripts; mmevol import --format mmevol",
        images=(),
        missing="keep",
    ),
}
DETAILS = (
    "Conversation formats put one <image> token in the first user turn (TRL: one image block)."
    " jsonl writes one mmevol Sample per line: id, seed_id, round, image {path, digest, width,"
    " height}, qa {question, answer, objects, skills, format, steps [{manipulation,"
    " description}], image_position, score}, lineage {parent_id, round, direction,"
    " prompt_version, backend, model, verdict {improved, score, reason, judge}, kept, reason,"
    " repairs, parent_match}. parquet has the same fields flat: steps and lineage as JSON text, the image"
    " size as image_width and image_height."
)


def canonical(name: str) -> str:
    """The format an alias names (a format's own name is itself)."""
    info = FORMATS.get(name)
    return info.alias_of if info is not None and info.alias_of else name


def format_help() -> str:
    """One line per format for ``mmevol export --help`` (a block the help layout keeps as it
    is: the ``\\b`` line), then ``DETAILS``."""
    width = max(len(n) for n in FORMATS)
    lines = [f"{name.ljust(width)}  {info.summary}" for name, info in FORMATS.items()]
    return "\b\n" + "\n".join(lines) + "\n\n" + DETAILS
