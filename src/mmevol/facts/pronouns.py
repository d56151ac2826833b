"""Answers that speak of "it": written out with the thing they stand for.

"It is below the cup." answering "Where is the dog at [...]?" says the dog is below the cup;
"Let me look at the spoon. It sits on the right." says the spoon does; "That box contains a
cup." says the question's box does. ``referent`` finds what a question is about; ``complete``
writes an answer's opening pronoun out; ``pronouns_written_out`` does it sentence by sentence
when the sentence before names exactly one thing. An "it" that stands for nothing ("it is
worth noting") is left alone.
"""

from __future__ import annotations

import itertools
import re

from mmevol.facts.annotations import Annotations
from mmevol.facts.claims import NEG
from mmevol.facts.reading import QUOTED
from mmevol.geometry import BOX_RE

_PRONOUN = re.compile(
    r"^\W*(?:(?:this|that|the) (?:box|region|area|object|thing|one)|it|this|that|they)"
    r"(?:'s|\s+is|\s+are|\s+was|'re)?\b",
    re.I,
)
# "it is not the case that ...", "it seems ...": an "it" that stands for nothing in the question
_EXPLETIVE = re.compile(
    r"^\W*it(?:'s|\s+is|\s+was)?\s+(?:also\s+|not\s+)*(?:the case|true|false|clear|likely|possible|"
    r"impossible|hard|difficult|unclear|obvious|evident|seems|appears|looks|turns out|worth|"
    r"notable|noteworthy|interesting|important|striking|remarkable|fair|safe|easy)\b",
    re.I,
)
_REF_BOX = re.compile(r"\s*(?:\(|at|located at|in|inside|within)?\s*(\[[^\]]*\])")


def referent(question: str, ann: Annotations) -> str | None:
    """What a question is about: its first named thing (with the box right after it, if any),
    or its first box; None when it names neither."""
    q = QUOTED.sub(lambda m: " " * len(m.group(0)), question.lower())  # not what it quotes
    phrases = ann.lexicon.find(q)
    box = BOX_RE.search(q)
    if phrases and (box is None or phrases[0][0] < box.start()):
        start, end, _ = phrases[0]
        tail = _REF_BOX.match(q, end)
        return q[start : tail.end() if tail else end]
    return box.group(0) if box else None


def complete(question: str, answer: str, ann: Annotations) -> str:
    """An answer that starts with "It"/"They"/"This one" written out with what the question is
    about ("It is below the cup." -> "the dog at [...] is below the cup."); "" when the answer
    does not start with a pronoun or the question names nothing."""
    m = None if _EXPLETIVE.match(answer) else _PRONOUN.match(answer)
    ref = referent(question, ann) if m else None
    if not m or not ref:
        return ""
    verb = re.search(r"'s|\bis|\bwas|'re|\bare", m.group(0).lower())
    joined = {"'s": "is", "'re": "are"}.get(verb.group(0), verb.group(0)) if verb else ""
    subject = ref if ref.startswith("[") else f"the {ref}"
    return f"{subject} {joined}{answer[m.end() :]}".strip()


def pronouns_written_out(text: str, ann: Annotations) -> str:
    """Sentences that start with "It"/"This one" rewritten with the one thing the sentence
    before named ("Let me focus on the spoon. It sits on the right." -> "the spoon sits on the
    right."); only those, one per line ("" when there are none)."""
    out: list[str] = []
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text[:MAX_PRONOUN_TEXT]) if s.strip()]  # fmt: skip
    for before, sentence in itertools.pairwise(sentences):
        if _EXPLETIVE.match(sentence):
            continue
        m = _SENTENCE_PRONOUN.match(sentence)
        named = {p[2].categories: p for p in ann.lexicon.find(before.lower())}
        if m and len(named) == 1 and not NEG.search(before.lower()):
            ((start, end, _),) = named.values()
            tail = _REF_BOX.match(before.lower(), end)
            ref = before.lower()[start : tail.end() if tail else end]
            verb = re.search(r"'s|\bis|\bwas|'re|\bare", m.group(0).lower())
            joined = {"'s": "is", "'re": "are"}.get(verb.group(0), verb.group(0)) if verb else ""
            out.append(f"the {ref} {joined}{sentence[m.end() :]}".strip())
    return "\n".join(out)


MAX_PRONOUN_TEXT = 20_000
# a bare pronoun opening a sentence (not "this box", which names its own thing)
_SENTENCE_PRONOUN = re.compile(
    r"^\W*(?:(?:it|they)(?:'s|'re|\s+is|\s+are|\s+was)?\b|(?:this|that)(?:\s+one)?"
    r"(?=\s+(?:is|was|sits|stands|lies|appears|looks|has|rests|seems|can)\b)(?:\s+is|\s+was)?)",
    re.I,
)
