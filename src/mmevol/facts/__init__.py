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

import itertools
import re
from dataclasses import dataclass

from mmevol.facts.annotations import Annotations, Finding
from mmevol.facts.choices import (
    area_share,
    choice,
    extreme_object,
    most_numerous,
    presupposed,
)
from mmevol.facts.colours import asked_colour, colour_claims
from mmevol.facts.pronouns import complete, pronouns_written_out, referent
from mmevol.facts.quantities import count_comparisons, tallies, worded_arithmetic
from mmevol.facts.reading import LEAD, QUOTED, READERS, REPORTED, clauses, plain, read_text
from mmevol.facts.relations import ORDER, orderings
from mmevol.facts.structure import (
    AUX,
    OPTION,
    fill_in_blank,
    how_many,
    multiple_choice,
    steps,
    yes_no,
)
from mmevol.facts.structured import as_sentences, region_names
from mmevol.geometry import BOX_RE
from mmevol.schema import QA, Seed

MAX_STEPS = 40  # steps read per item (a longer chain is read in part; reading stays bounded)

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
    whole = _WHOLLY_QUOTED.fullmatch(qa.answer.strip())
    if whole:  # an answer that is one quoted sentence states it: '"There are 3 cups."'
        qa = qa.model_copy(update={"answer": whole.group(1)})
    answer = plain(qa.answer)
    found = read_text(answer, ann) + tallies(QUOTED.sub(" ", qa.answer), ann)
    found += worded_arithmetic(QUOTED.sub(" ", qa.answer))
    for step in qa.steps[:MAX_STEPS]:
        found += read_text(plain(step.description), ann)
    found += steps(qa, ann) + multiple_choice(qa, ann) + fill_in_blank(qa, ann)
    data = as_sentences(qa.answer) + "\n" + region_names(qa.question, qa.answer)
    if data.strip():  # a JSON or table answer, or regions named by their labels
        found += read_text(data, ann) + tallies(data, ann)
    q = qa.question
    if not OPTION.search(q) and not AUX.match(q.strip().lower()) and not REPORTED.search(q.lower()):
        found += [f for c in clauses(QUOTED.sub(" ", q)) for f in READERS["box_class"](c, ann)]
    if not _CORRECTS_PREMISE.search(qa.answer.lower()):  # "there is no toilet": a good answer
        found += presupposed(q, ann)
    found += colour_claims(answer, ann)
    chained = plain(pronouns_written_out(QUOTED.sub(" ", qa.answer), ann))
    if chained:  # "Let me focus on the spoon. It sits on the right."
        found += read_text(chained, ann) + colour_claims(chained, ann)
    found += exchange(q, qa.answer, ann)
    for asked, said in turns(qa.answer):  # a dialogue: each question turn and its answer
        found += exchange(asked, said, ann)
    return FactReport(found)


def exchange(question: str, answer: str, ann: Annotations) -> list[Finding]:
    """What an answer claims through the question it answers: a yes/no question's statement,
    a how-many count, a pick among candidates, an area share, an ordering asked for, a colour
    asked for, "It ..." standing for the question's subject, and "the more numerous" kinds."""
    found = yes_no(question, answer, ann) + how_many(question, answer, ann)
    found += choice(question, answer, ann) + area_share(question, answer, ann)
    found += extreme_object(question, answer, ann) + most_numerous(question, answer, ann)
    found += asked_colour(question, answer, ann)
    asked = ORDER.search(question.lower())  # "order these from left to right" + a bare list
    for sentence in re.split(r"(?<!\d)[.;!?\n]+(?!\d)", QUOTED.sub(" ", answer).lower()):
        if asked and not ORDER.search(sentence):
            sentence = f"from {asked.group(1)}: {sentence}"
        found += orderings(sentence, ann)
    kinds = [p[2].word for p in ann.lexicon.find(question.lower())]
    found += [f for c in clauses(plain(answer)) for f in count_comparisons(c, ann, kinds)]
    filled = plain(complete(question, LEAD.sub("", answer.strip()), ann))
    if filled:  # "It is below the cup." about the question's "dog at [...]"
        found += read_text(filled, ann) + colour_claims(filled, ann)
    ref = referent(question, ann)
    if ref and not ref.startswith("[") and not ann.lexicon.find(answer.lower()):
        bare = BOX_RE.fullmatch(answer.strip(" .").lower())
        said = (
            f"the {ref} at {bare.group(0)}"  # a bare box for "where is the dog?"
            if bare
            else re.sub(r"\b(?:it|they|them)\b", f"the {ref}", plain(answer), count=1)
        )  # "you'll find it on the right": the question's thing, written out
        if said != plain(answer):
            found += read_text(said, ann)
    return found


_WHOLLY_QUOTED = re.compile(r"[\"“']([^\"“”']{3,2000})[\"”']\.?")
# an answer that rejects or corrects what its question takes for granted
_CORRECTS_PREMISE = re.compile(
    r"\b(?:assum\w*|premise|presuppos\w*|no such|actually|in fact|in reality|not (?:present|there|"
    r"visible|in the (?:image|picture|photo))|there (?:is|are) no|doesn't|does not|isn't|aren't|"
    r"cannot see|can't see|none)\b"
)
_SPEAKER = re.compile(
    r"(?im)(?:^|(?<=\s/\s)|(?<=\n))\s*(user|human|customer|child|student|visitor|tourist|q|"
    r"question|assistant|ai|bot|guide|agent|a|answer|model|teacher|expert|gpt)\s*:\s*"
)
_ASKERS = {"user", "human", "customer", "child", "student", "visitor", "tourist", "q", "question"}


def turns(text: str) -> list[tuple[str, str]]:
    """(question turn, answer turn) pairs of a dialogue written as "User: ... Assistant: ..."."""
    marks = list(_SPEAKER.finditer(text))
    if len(marks) < 2:
        return []
    ends = [m.start() for m in marks[1:]] + [len(text)]
    segments = [
        (m.group(1).lower(), text[m.end() : end]) for m, end in zip(marks, ends, strict=True)
    ]
    return [
        (a[1].strip(), b[1].strip())
        for a, b in itertools.pairwise(segments)
        if a[0] in _ASKERS and b[0] not in _ASKERS
    ]


def check(qa: QA, seed: Seed) -> FactReport:
    """``check_item`` with the annotations read from ``seed``."""
    return check_item(qa, Annotations(seed))
