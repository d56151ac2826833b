"""Readers and writers of every source and export format, plus image loading and digests.

Modules: ``images`` (digests, sizes, RGB loading), ``coco``, ``llava``, ``sharegpt``,
``tabular`` (JSON/JSONL helpers, Seed/Sample JSONL, Parquet), ``official`` (the MMEvol authors'
per-image files) and, for exports, ``formats`` (the catalogue: names, descriptions, image
options), ``export`` (the ``EXPORTERS`` registry and entry point), ``export_writers`` (one writer
per format), ``export_base`` (options, conversations, atomic folders), ``export_images``
(absolute/relative/embedded images, missing images) and ``boxstyle`` (``--boxes``). Import the
submodule you need; this package imports nothing heavy on its own.
"""
