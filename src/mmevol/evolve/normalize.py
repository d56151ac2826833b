"""Mapping model output back onto the vocabularies, counting every change.

Skills and formats are folded and looked up in ``vocab`` (synonyms included); unknown skills are
dropped, an unknown format becomes ``open_ended``; manipulation names are canonicalised but an
unknown one is kept so the rule check can reject the step. Every mapping is counted so a run can
show how much its model drifted.
"""

from __future__ import annotations

from collections import Counter

from mmevol.schema import QA, Step
from mmevol.vocab import canonical_format, canonical_manipulation, canonical_skill


def normalize_item(qa: QA, counts: Counter[str]) -> QA:
    """A copy of ``qa`` with vocabulary names canonical; ``counts`` gets one entry per change."""
    skills: list[str] = []
    for raw in qa.skills:
        canon = canonical_skill(raw)
        if canon is None:
            counts["skill_dropped"] += 1
            continue
        if canon != raw:
            counts["skill_mapped"] += 1
        if canon not in skills:
            skills.append(canon)

    fmt = canonical_format(qa.format)
    if fmt is None:
        counts["format_unknown"] += 1
        fmt = "open_ended"
    elif fmt != qa.format:
        counts["format_mapped"] += 1

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
            "skills": skills,
            "format": fmt,
            "steps": steps,
            "objects": objects,
            "question": qa.question.strip(),
            "answer": qa.answer.strip(),
        }
    )
