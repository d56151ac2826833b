"""Near-duplicate control for evolved questions, per image.

Two evolutions of one image that ask the same thing add nothing; the same question about two
different images is legitimate, so comparison is only among the kept questions of one seed.
"""

from __future__ import annotations

from mmevol.textsim import near_duplicate


class SeedDeduper:
    """The kept questions of one seed so far; ``admit`` keeps a question if it is new enough."""

    def __init__(self, existing: list[str], threshold: float) -> None:
        self.kept = list(existing)
        self.threshold = threshold

    def admit(self, question: str) -> bool:
        if any(near_duplicate(question, q, self.threshold) for q in self.kept):
            return False
        self.kept.append(question)
        return True
