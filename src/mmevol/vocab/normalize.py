"""Mapping model output back onto the vocabularies, counting every change and dropping nothing.

Skills and formats go through ``vocab.canonical_skill`` / ``canonical_format`` (synonyms, filler
words, word order, keyword rules). A string that lands on no entry is kept, as
``other:<string>``, so its meaning survives and a run can list it. When the mapping changed
anything, the producer's strings stay beside the result in ``QA.raw_skills`` / ``raw_format``
(an exporter to the producer's layout writes them back); when nothing changed both stay None,
so the item serialises exactly as before. Manipulation names are canonicalised, an unknown one
is kept so the rule check can reject the step.

Counts (per call, summed per unit by the engine): ``skills_total`` / ``formats_total`` (strings
seen), ``skill_mapped`` / ``format_mapped`` (landed on an entry under another spelling),
``skill_unknown`` / ``format_unknown`` (kept as ``other:``); exact = total - mapped - unknown.
"""

from __future__ import annotations

from collections import Counter

from mmevol.schema import QA, Step
from mmevol.vocab import (
    canonical_format,
    canonical_manipulation,
    canonical_skill,
    other_label,
)


def map_skills(raw: list[str], counts: Counter[str]) -> list[str]:
    """Each skill string as a vocabulary entry, or ``other:<string>``; duplicates once."""
    out: list[str] = []
    for text in raw:
        if not text.strip():
            continue
        counts["skills_total"] += 1
        canon = canonical_skill(text)
        if canon is None:
            counts["skill_unknown"] += 1
            canon = other_label(text)
        elif canon != text:
            counts["skill_mapped"] += 1
        if canon not in out:
            out.append(canon)
    return out


def map_format(raw: str, counts: Counter[str]) -> str:
    """The format as a vocabulary entry; an empty one is ``open_ended``, an unknown one
    ``other:<string>``."""
    counts["formats_total"] += 1
    canon = canonical_format(raw)
    if canon is None and not raw.strip():
        canon = "open_ended"
    if canon is None:
        counts["format_unknown"] += 1
        return other_label(raw)
    if canon != raw:
        counts["format_mapped"] += 1
    return canon


def normalize_vocab(qa: QA, counts: Counter[str]) -> QA:
    """``qa`` with skills and format mapped; the producer's strings kept where they changed.

    Raw strings already recorded are kept when this pass changes nothing (normalising twice
    keeps the first producer's strings); a pass that does change something records what it
    was given."""
    skills = map_skills(qa.skills, counts)
    fmt = map_format(qa.format, counts)
    if skills != qa.skills:
        raw_skills: list[str] | None = list(qa.skills)
    else:
        raw_skills = qa.raw_skills
    if fmt != qa.format:
        raw_format: str | None = qa.format
    else:
        raw_format = qa.raw_format
    return qa.model_copy(
        update={"skills": skills, "format": fmt, "raw_skills": raw_skills, "raw_format": raw_format}
    )


def normalize_item(qa: QA, counts: Counter[str]) -> QA:
    """A copy of ``qa`` with vocabulary names canonical; ``counts`` gets one entry per change."""
    qa = normalize_vocab(qa, counts)
    steps: list[Step] = []
    for step in qa.steps:
        canon = canonical_manipulation(step.manipulation)
        if canon is None:
            counts["manipulation_unknown"] += 1
            steps.append(step)
            continue
        if not step.manipulation.strip().lower().startswith(canon):
            counts["manipulation_mapped"] += 1
            steps.append(Step(manipulation=canon, description=step.description))
        else:
            steps.append(step)

    objects = [o.strip() for o in qa.objects if o and o.strip()]
    return qa.model_copy(
        update={
            "steps": steps,
            "objects": objects,
            "question": qa.question.strip(),
            "answer": qa.answer.strip(),
        }
    )
