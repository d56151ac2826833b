"""Readers and writers of every source and export format, plus image loading and digests.

Modules: ``images`` (digests, sizes, RGB loading), ``coco``, ``llava``, ``sharegpt``,
``tabular`` (JSON/JSONL helpers, Seed/Sample JSONL, Parquet), ``official`` (the MMEvol authors'
per-image files) and ``export`` (the ``EXPORTERS`` registry). Import the submodule you need;
this package imports nothing heavy on its own.
"""
