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

from mmevol.facts.annotations import Annotations, Finding, Status, clauses
from mmevol.facts.claims import box_classes, presence
from mmevol.facts.counting import counts, implicit_counts
from mmevol.facts.quantities import arithmetic, count_comparisons
from mmevol.facts.relations import frame_positions, proximity, relations
from mmevol.facts.reordered import reordered_relations

Reader = Callable[[str, Annotations], list[Finding]]

QUOTED = re.compile(
    r"\"[^\"]{1,300}\"|“[^”]{1,300}”|(?<![a-z])'[^']{3,300}'(?![a-z])|‘[^’]{1,300}’"
)
REPORTED = re.compile(
    r"\b(?:says?|said|claims?|claimed|states?|stated|statement|suggests?|incorrect(?:ly)?|"
    r"wrong(?:ly)?|mistaken(?:ly)?|mistake|error|instead of|rather than|false|untrue|"
    r"if(?! (?:you|we|one) (?:count|look|check|add|go))|whether|might|may|could|would|should|"
    r"suppose|imagine|pretend|hypothetical)\b"
)
LEAD = re.compile(r"^(?:yes|no|true|false|correct|incorrect|right|wrong)\s*[,:;!—–-]\s*")

READERS: dict[str, Reader] = {
    "presence": presence,
    "count": counts,
    "implicit_count": implicit_counts,
    "box_class": box_classes,
    "relation": relations,
    "reordered_relation": reordered_relations,
    "frame_position": frame_positions,
    "proximity": proximity,
    "count_comparison": count_comparisons,
    "arithmetic": arithmetic,
}


DENIABLE = {
    "count",
    "relation",
    "reordered_relation",
    "frame_position",
    "proximity",
    "count_comparison",
    "arithmetic",
}
_DENIED = re.compile(
    r"^(?:it is not (?:the case|true|correct)|it's not (?:the case|true)|it is false|"
    r"it isn't (?:the case|true)|nor is it true)\s+that\s+"
)


def read_text(text: str, ann: Annotations) -> list[Finding]:
    """Every claim the readers find in ``text``, clause by clause ("it is not the case that
    ..." turns what the rest of its clause says around)."""
    found: list[Finding] = []
    for clause in clauses(text):
        denied = _DENIED.match(clause)
        body = clause[denied.end() :] if denied else clause
        for name, reader in READERS.items():  # what it denies, not the things it names
            turn = denied and name in DENIABLE
            found += [flip(f) if turn else f for f in reader(body, ann)]
    return found


def flip(f: Finding) -> Finding:
    """The finding about the opposite claim (unsettled stays unsettled)."""
    if f.status == "unsettled":
        return f
    status: Status = "confirmed" if f.status == "refuted" else "refuted"
    return Finding(status, f"not ({f.claim})", f.evidence)


def plain(text: str) -> str:
    """Text whose claims are the item's own: quotations removed, reported clauses dropped."""
    text = re.sub(r"\ban?\(n\)", "a", QUOTED.sub(" ", text))
    parts = (LEAD.sub("", c) for c in clauses(text))
    return "\n".join(c for c in parts if c and not REPORTED.search(c))
