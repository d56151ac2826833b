"""Reading an item's text: the registry of claim readers and the text they may read.

``READERS`` names every clause reader (``claims``, ``relations``, ``quantities``);
``read_text`` runs them all over a text, clause by clause. ``plain`` keeps only what the item
itself asserts: quoted passages are removed and clauses that report or hedge ("the statement
says ...", "instead of", "might", "if") are dropped, so a true/false or error-correction item
can quote the falsehood it corrects, and a leading "Yes," / "False:" is cut off.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from mmevol.facts.annotations import Annotations, Finding, clauses
from mmevol.facts.claims import box_classes, counts, presence
from mmevol.facts.quantities import arithmetic, count_comparisons
from mmevol.facts.relations import frame_positions, proximity, relations

Reader = Callable[[str, Annotations], list[Finding]]

QUOTED = re.compile(
    r"\"[^\"]{1,300}\"|“[^”]{1,300}”|(?<![a-z])'[^']{3,300}'(?![a-z])|‘[^’]{1,300}’"
)
REPORTED = re.compile(
    r"\b(?:says?|said|claims?|claimed|states?|stated|statement|suggests?|incorrect(?:ly)?|"
    r"wrong(?:ly)?|mistaken(?:ly)?|mistake|error|instead of|rather than|false|untrue|"
    r"if|whether|might|may|could|would|should|suppose|imagine|pretend|hypothetical)\b"
)
LEAD = re.compile(r"^(?:yes|no|true|false|correct|incorrect|right|wrong)\s*[,:;!—–-]\s*")

READERS: dict[str, Reader] = {
    "presence": presence,
    "count": counts,
    "box_class": box_classes,
    "relation": relations,
    "frame_position": frame_positions,
    "proximity": proximity,
    "count_comparison": count_comparisons,
    "arithmetic": arithmetic,
}


def read_text(text: str, ann: Annotations) -> list[Finding]:
    """Every claim the readers find in ``text``, clause by clause."""
    return [
        f for clause in clauses(text) for reader in READERS.values() for f in reader(clause, ann)
    ]


def plain(text: str) -> str:
    """Text whose claims are the item's own: quotations removed, reported clauses dropped."""
    text = QUOTED.sub(" ", text)
    parts = (LEAD.sub("", c) for c in clauses(text))
    return "\n".join(c for c in parts if c and not REPORTED.search(c))
