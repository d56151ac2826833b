"""Parents of imported evolutions, found by content.

The authors' files do not say which item an evolution came from: a round's generator was given
the whole list of an image's items and wrote a new list, in which an item may rewrite one of
them (in depth), two items may rewrite the same one, and new questions may appear (in
breadth). So a parent is matched by what the question keeps of it: the share of the parent
question's content words that the child's question still holds, together with the character
similarity of the two questions. The authors' order is only a tie-breaker (an in-depth rewrite
usually keeps its parent's position); a child that keeps too little of every candidate parent
stays unmatched, which is what an in-breadth question is.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

from mmevol.schema import QA
from mmevol.textsim import normalize_text

# a child must keep this share of the parent question's content (weighted words, or sequence
# similarity) and at least MIN_SHARED of its words (a one-word question: that word)
MIN_COVER, MIN_SHARED = 0.5, 2
ORDER_BONUS = 0.05  # added to the parent at the child's own position, to break near-ties
_STOP = """a an the and or but of to in on at by for with from into onto over under about as is are
    was were be been being do does did has have had this that these those there here it its they
    them their he she his her him you your we our i me my what which who whom whose where when
    why how can could would should will may might must shall any some each every all both one
    image picture photo photograph shown show shows visible see seen describe identify tell
    please based given provide explain determine considering consider scene"""
STOPWORDS = frozenset(_STOP.split())


@dataclass(frozen=True)
class Match:
    """A child's parent among the candidates: its index (None: unmatched) and how sure."""

    parent: int | None
    cover: float  # weighted share of the parent question's content words the child keeps
    similarity: float  # sequence similarity of the two questions


@lru_cache(maxsize=16384)
def content_words(text: str) -> frozenset[str]:
    """The words that carry a question's content, folded (lower case, simple plurals)."""
    out = set()
    for w in normalize_text(text).split():
        if w in STOPWORDS or (len(w) < 3 and not w.isdigit()):
            continue
        out.add(re.sub(r"(?<=[a-z]{3})(es|s)$", "", w))
    return frozenset(out)


def _weights(parents: list[QA]) -> dict[str, float]:
    """A word shared by many of the candidate parents (a question template) tells them apart
    less than one only a single parent has."""
    df: Counter[str] = Counter(w for p in parents for w in content_words(p.question))
    n = len(parents)
    return {w: math.log(1 + n / k) for w, k in df.items()}


def _objects(qa: QA) -> frozenset[str]:
    return frozenset(o.strip().lower() for o in qa.objects if o.strip())


def _sequence(a: str, b: str) -> float:
    return SequenceMatcher(None, normalize_text(a), normalize_text(b), autojunk=False).ratio()


def match_parent(child: QA, parents: list[QA], position: int | None = None) -> Match:
    """The parent of ``child`` among ``parents`` (``position``: the child's index in its
    round, the authors' order as a hint).

    A parent qualifies when the child keeps at least half of its question's content (by word
    weight, or by sequence similarity) and at least ``MIN_SHARED`` of its words, and when the
    two items do not name disjoint objects (a question on another object is a new question,
    however alike the wording). The best qualifying parent wins."""
    weights = _weights(parents)
    child_words, child_objects = content_words(child.question), _objects(child)
    best: tuple[float, int, float, float] | None = None
    for j, parent in enumerate(parents):
        words = content_words(parent.question)
        same = bool(words) and normalize_text(child.question) == normalize_text(parent.question)
        shared = words & child_words
        total = sum(weights[w] for w in words)
        cover = sum(weights[w] for w in shared) / total if total else 0.0
        seq = _sequence(child.question, parent.question)
        objects = _objects(parent)
        if not same:
            if objects and child_objects and not objects & child_objects:
                continue
            if len(shared) < min(MIN_SHARED, len(words)) or max(cover, seq) < MIN_COVER:
                continue
        score = cover + seq + (1.0 if same else 0.0) + (ORDER_BONUS if j == position else 0.0)
        if best is None or score > best[0]:
            best = (score, j, cover, seq)
    if best is None:
        return Match(None, 0.0, 0.0)
    return Match(best[1], round(best[2], 3), round(best[3], 3))


def match_parents(children: list[QA], parents: list[QA]) -> list[Match]:
    """``match_parent`` for each child, with its index as the position hint."""
    return [match_parent(c, parents, i) for i, c in enumerate(children)]
