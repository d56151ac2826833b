"""Near-duplicate control for evolved questions, per image.

Two evolutions of one image that ask the same thing add nothing; the same question about two
different images is legitimate, so comparison is only among the kept questions of one seed.
Two tests apply: the text test (``textsim.near_duplicate`` at the run's threshold) and the
template test (``textsim.template_duplicate``): the same question with other objects,
numbers, boxes, colours or positions filled in is a duplicate too.
"""

from __future__ import annotations

from collections.abc import Iterable

from mmevol.textsim import near_duplicate, question_template, template_duplicate


class SeedDeduper:
    """The kept questions of one seed so far; ``admit`` keeps a question if it is new enough.

    ``categories`` (optional) are the seed's object categories, masked in addition to the
    built-in COCO and shape-world vocabulary when skeletons are compared.
    """

    def __init__(
        self, existing: list[str], threshold: float, categories: Iterable[str] | None = None
    ) -> None:
        self.kept = list(existing)
        self.threshold = threshold
        self.categories = tuple(sorted({c.strip().lower() for c in categories or () if c.strip()}))
        self.skeletons = {question_template(q, self.categories) for q in self.kept}

    def duplicate_of(self, question: str) -> str | None:
        """The kept question that ``question`` duplicates, or None."""
        skeleton = question_template(question, self.categories)
        for q in self.kept:
            if near_duplicate(question, q, self.threshold):
                return q
        if skeleton in self.skeletons:
            return next(q for q in self.kept if question_template(q, self.categories) == skeleton)
        for q in self.kept:
            if template_duplicate(question, q, self.categories):
                return q
        return None

    def admit(self, question: str) -> bool:
        if self.duplicate_of(question) is not None:
            return False
        self.kept.append(question)
        self.skeletons.add(question_template(question, self.categories))
        return True
