"""Near-duplicate control for evolved questions, per image.

Two evolutions of one image that ask the same thing add nothing; the same question about two
different images is legitimate, so comparison is only among the kept questions of one seed.
Two tests apply: the text test (``textsim.near_duplicate`` at the run's threshold) and the
template test (``textsim.template_duplicate``): the same question with other objects,
numbers, boxes, colours or positions filled in is a duplicate too.

Work per question does not grow with the questions kept (a seed with thousands of items would
otherwise cost a quadratic number of comparisons). The kept questions are indexed, and only
those the index offers are compared exactly, so the answer is the one a scan over every kept
question in order would give (exact duplicate detection is still quadratic in the worst case;
the engine's ``MAX_ITEMS_PER_SEED`` bounds it per seed):
* text test: prefix filtering of the character 3-gram sets (if the Jaccard similarity of two
  sets reaches ``t``, their first ``|S| - ceil(t|S|) + 1`` grams, in one fixed order, meet);
* template test: a skeleton within one light-word edit of another shares a key with it among
  the skeleton itself and the skeletons with one word removed.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable

from mmevol.textsim import (
    _shingles,
    near_duplicate,
    normalize_text,
    question_template,
    template_duplicate,
)

_EPS = 1e-9


_COMMON = {c: i for i, c in enumerate(" etaoinshrdlcumwfgypbvkjxqz")}


def _order(gram: str) -> tuple[int, int, int]:
    """A fixed order of 3-grams, rare-looking first (fewer spaces, rarer letters): a prefix of
    rare grams offers fewer kept questions to compare with."""
    spaces = gram.count(" ")
    common = sum(_COMMON.get(c, len(_COMMON)) for c in gram)
    return spaces, -common, zlib.crc32(gram.encode("utf-8", "surrogatepass"))


def _prefix(grams: frozenset[str], threshold: float) -> list[str]:
    need = max(1, math.ceil(threshold * len(grams) - _EPS))
    return sorted(grams, key=_order)[: len(grams) - need + 1]


def _template_keys(words: tuple[str, ...]) -> set[tuple[str, ...]]:
    return {words} | {words[:i] + words[i + 1 :] for i in range(len(words))}


class SeedDeduper:
    """The kept questions of one seed so far; ``admit`` keeps a question if it is new enough.

    ``categories`` (optional) are the seed's object categories, masked in addition to the
    built-in COCO and shape-world vocabulary when skeletons are compared.
    """

    def __init__(
        self, existing: list[str], threshold: float, categories: Iterable[str] | None = None
    ) -> None:
        self.kept: list[str] = []
        self.threshold = threshold
        self.categories = tuple(sorted({c.strip().lower() for c in categories or () if c.strip()}))
        self.skeletons: dict[str, int] = {}  # skeleton -> first kept question with it
        self._norms: dict[str, int] = {}  # normalised text -> first kept question
        self._grams: dict[str, list[int]] = {}  # 3-gram (in a kept prefix) -> kept questions
        self._keys: dict[tuple[str, ...], list[int]] = {}  # template key -> kept questions
        self.comparisons = 0  # exact comparisons made (the work ``admit`` did)
        for q in existing:
            self._add(q)

    def _add(self, question: str) -> None:
        k = len(self.kept)
        self.kept.append(question)
        norm = normalize_text(question)
        self._norms.setdefault(norm, k)
        if 0.0 < self.threshold <= 1.0:
            for gram in _prefix(_shingles(norm), self.threshold):
                self._grams.setdefault(gram, []).append(k)
        skeleton = question_template(question, self.categories)
        self.skeletons.setdefault(skeleton, k)
        words = tuple(skeleton.split())
        if len(words) >= 8:
            for key in _template_keys(words):
                self._keys.setdefault(key, []).append(k)

    def _text_candidates(self, norm: str) -> list[int]:
        if self.threshold <= 0.0:  # everything is a near-duplicate of anything
            return list(range(len(self.kept)))
        found = {self._norms[norm]} if norm in self._norms else set()
        if self.threshold <= 1.0:
            for gram in _prefix(_shingles(norm), self.threshold):
                found.update(self._grams.get(gram, ()))
        return sorted(found)

    def duplicate_of(self, question: str) -> str | None:
        """The kept question that ``question`` duplicates, or None."""
        for k in self._text_candidates(normalize_text(question)):
            self.comparisons += 1
            if near_duplicate(question, self.kept[k], self.threshold):
                return self.kept[k]
        skeleton = question_template(question, self.categories)
        if skeleton in self.skeletons:
            return self.kept[self.skeletons[skeleton]]
        words = tuple(skeleton.split())
        if len(words) < 8:
            return None
        found = sorted({k for key in _template_keys(words) for k in self._keys.get(key, ())})
        for k in found:
            self.comparisons += 1
            if template_duplicate(question, self.kept[k], self.categories):
                return self.kept[k]
        return None

    def admit(self, question: str) -> bool:
        if self.duplicate_of(question) is not None:
            return False
        self._add(question)
        return True
