"""The fact checker: every claim of an evolved item that the annotations can settle, settled.

It runs for every backend between the rule checks and the judge. It reads the item's own
structure (``structure``: yes/no and true/false questions, how-many answers, grounding,
referring and calculate steps, multiple-choice letters and options, filled blanks), choices
among named candidates and what a question takes for granted (``choices``), then the claims in
its sentences (``reading``: presence, counts, the class at a box, relations, contact, frame
position, orderings, proximity, count comparisons, arithmetic, tallies) and colours
(``colours``, with the box pixels as evidence, ``pixels``). Category words go through a lexicon
of synonyms, kinds and plurals (``lexicon``); the annotations (boxes, COCO crowd regions,
captions, attributes) are read by ``annotations``.

An item with a refuted claim is dropped, naming the claim and the annotation it contradicts;
confirmed and unsettled claims go to the judge with the item. Text the checker cannot read is
never a reason to drop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mmevol.facts.annotations import Annotations, Finding
from mmevol.facts.choices import area_share, choice, presupposed
from mmevol.facts.colours import asked_colour, colour_claims
from mmevol.facts.quantities import tallies
from mmevol.facts.reading import LEAD, QUOTED, READERS, REPORTED, clauses, plain, read_text
from mmevol.facts.relations import ORDER, orderings
from mmevol.facts.structure import (
    AUX,
    OPTION,
    complete,
    fill_in_blank,
    how_many,
    multiple_choice,
    steps,
    yes_no,
)
from mmevol.schema import QA, Seed

__all__ = ["Annotations", "FactReport", "Finding", "check", "check_item"]


@dataclass
class FactReport:
    """What the checker found about one item."""

    findings: list[Finding]

    @property
    def refuted(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "refuted"]

    def for_judge(self) -> dict[str, list[str]]:
        """Confirmed and unsettled claims, for the judge's context (empty lists dropped)."""
        out: dict[str, list[str]] = {}
        for status in ("confirmed", "unsettled"):
            texts = list(dict.fromkeys(f.text() for f in self.findings if f.status == status))
            if texts:
                out[status] = texts[:12]
        return out


def check_item(qa: QA, ann: Annotations) -> FactReport:
    """Every finding about one evolved item."""
    answer = plain(qa.answer)
    found = read_text(answer, ann) + tallies(QUOTED.sub(" ", qa.answer), ann)
    for step in qa.steps:
        found += read_text(plain(step.description), ann)
    found += steps(qa, ann)
    q = qa.question
    if not OPTION.search(q) and not AUX.match(q.strip().lower()) and not REPORTED.search(q.lower()):
        found += [f for c in clauses(QUOTED.sub(" ", q)) for f in READERS["box_class"](c, ann)]
    found += yes_no(q, qa.answer, ann)
    found += how_many(q, qa.answer, ann)
    found += multiple_choice(qa, ann)
    found += fill_in_blank(qa, ann)
    found += choice(q, qa.answer, ann) + area_share(q, qa.answer, ann) + presupposed(q, ann)
    asked = ORDER.search(q.lower())  # "order these from left to right" + a bare list
    for sentence in re.split(r"(?<!\d)[.;!?\n]+(?!\d)", QUOTED.sub(" ", qa.answer).lower()):
        if asked and not ORDER.search(sentence):
            sentence = f"from {asked.group(1)}: {sentence}"
        found += orderings(sentence, ann)
    found += colour_claims(answer, ann) + asked_colour(q, qa.answer, ann)
    filled = plain(complete(q, LEAD.sub("", qa.answer.strip()), ann))
    if filled:  # "It is below the cup." about the question's "dog at [...]"
        found += read_text(filled, ann) + colour_claims(filled, ann)
    return FactReport(found)


def check(qa: QA, seed: Seed) -> FactReport:
    """``check_item`` with the annotations read from ``seed``."""
    return check_item(qa, Annotations(seed))
