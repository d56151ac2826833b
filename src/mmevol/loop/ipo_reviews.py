"""Reviews for Interactive Prompt Optimization, gathered and tied to the prompts that made them.

Reviews come from the viewer's ``RUN/reviews.sqlite`` (``accept`` is good; ``reject`` and
``edit`` are bad, an edit's correction is passed on in the note) and/or from a JSONL file of
notes, one object a line::

    {"sample_id": "...", "verdict": "bad", "note": "the box is not the mug's"}
    {"question_type": "counting", "verdict": "bad", "note": "counts include hidden objects"}

A sample review is tied to the sample's prompt name (its evolution direction in an evolve run,
its question type in a closed-loop run) and to the version that made it
(``lineage.prompt_version``); a type-level note only to the name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mmevol.errors import InputError, MmevolError
from mmevol.prompts.versions import ReviewRef, kind_of


class NoteLine(BaseModel):
    """One line of a review-notes JSONL file."""

    model_config = ConfigDict(extra="forbid")

    sample_id: str | None = None
    question_type: str | None = None
    verdict: Literal["good", "bad"]
    note: str = Field(default="", max_length=20_000)

    @model_validator(mode="after")
    def _one_target(self) -> NoteLine:
        if (self.sample_id is None) == (self.question_type is None):
            raise ValueError("give exactly one of sample_id or question_type")
        return self


@dataclass
class SampleInfo:
    name: str  # prompt name: direction or question type
    version: str | None  # lineage.prompt_version
    question: str
    answer: str


@dataclass
class Reviewed:
    ref: ReviewRef
    name: str
    version: str | None
    question: str = ""
    answer: str = ""


def run_samples(run_dir: Path) -> dict[str, SampleInfo]:
    """Generated samples of a run directory: an evolve run (run.sqlite) or a loop run."""
    out: dict[str, SampleInfo] = {}
    db = run_dir / "run.sqlite"
    if db.is_file():
        from mmevol.store import Store

        store = Store(db)
        try:
            for s in store.iter_samples(kept_only=False):
                if s.round > 0 and s.lineage.direction is not None:
                    out[s.id] = SampleInfo(
                        s.lineage.direction, s.lineage.prompt_version, s.qa.question, s.qa.answer
                    )
        finally:
            store.close()
    for path in sorted(run_dir.glob("round_*/generated_questions.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                q = json.loads(line)
                version = (q.get("meta") or {}).get("prompt_version")  # engine generation
                out[q["id"]] = SampleInfo(q["qtype"], version, q["text"], q["answer"])
    return out


def read_notes(path: Path) -> list[NoteLine]:
    """The notes of a JSONL file; the first bad line is a one-line error naming it."""
    out: list[NoteLine] = []
    for i, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(NoteLine.model_validate_json(line))
        except ValidationError as e:
            first = e.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "record"
            raise InputError(path, f"line {i}: {field}", first["msg"]) from None
    return out


def collect_reviews(run_dir: Path | None, notes: Path | None) -> list[Reviewed]:
    """Reviews from ``RUN_DIR/reviews.sqlite`` and a notes JSONL, tied to prompt names."""
    samples = run_samples(run_dir) if run_dir is not None else {}
    out: list[Reviewed] = []
    if run_dir is not None and (run_dir / "reviews.sqlite").is_file():
        from mmevol.reviews import ReviewStore

        rs = ReviewStore(run_dir, create=False)
        try:
            latest = rs.all_latest()
        finally:
            rs.close()
        for sid, r in sorted(latest.items()):
            if sid not in samples:
                continue  # a seed item: no generation prompt made it
            note = r.note
            if r.action == "edit":
                note = f"{note} (reviewer corrected it to: Q: {r.question} A: {r.answer})".strip()
            verdict: Literal["good", "bad"] = "good" if r.action == "accept" else "bad"
            ref = ReviewRef(sample_id=sid, verdict=verdict, note=note, source="reviews.sqlite")
            info = samples[sid]
            out.append(Reviewed(ref, info.name, info.version, info.question, info.answer))
    if notes is not None:
        for i, n in enumerate(read_notes(notes), 1):
            ref = ReviewRef(**n.model_dump(), source=str(notes))
            if n.question_type is not None:
                try:
                    kind_of(n.question_type)
                except MmevolError as e:
                    raise InputError(notes, f"line {i}: question_type", str(e)) from None
                out.append(Reviewed(ref, n.question_type, None))
                continue
            found = samples.get(str(n.sample_id))
            if found is None:
                where = f"not a generated sample of {run_dir}" if run_dir else "needs --run"
                raise InputError(notes, f"line {i}: sample_id", f"{n.sample_id!r}: {where}")
            out.append(Reviewed(ref, found.name, found.version, found.question, found.answer))
    return out
