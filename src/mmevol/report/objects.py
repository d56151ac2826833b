"""The object-class counts of the report's long-tail figure: items' object names mapped to classes.

An item's ``objects`` list holds what the item refers to, often a referring phrase ("leftmost
person", "second car from the left", "orange triangle"), while the seeds' annotations hold the
classes (``Obj.category``). ``class_counts`` maps every name to the annotated class it refers
to: the class named in the phrase's head (the words before a preposition or a relative clause,
the last class there: "orange car" is a car), preferring the classes annotated on the item's own
image, then any class annotated in the run, with plurals folded ("people" is a person). Each
item counts a class once. Names that name no annotated class are counted apart, and a run whose
seeds annotate no class at all counts the names themselves, case and plurals folded; the figure
says which of the two it counts.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mmevol.errors import MmevolError
from mmevol.io.tabular import iter_jsonl

CLASSES = "annotated object classes"
NAMES = "object names as the items write them (the seeds annotate no object classes)"

# where a noun phrase's head ends: prepositions, relative words, participles of relations
_HEAD_END = frozenset(
    """
    of from on in at with without near beside behind under over above below between among to
    into onto by next than that which who whose where while holding wearing sitting standing
    lying riding carrying using looking facing closest nearest furthest farthest left right
    """.split()  # noqa: SIM905
)
_IRREGULAR = {
    "people": "person", "persons": "person", "men": "man", "women": "woman",
    "children": "child", "mice": "mouse", "knives": "knife", "geese": "goose",
    "feet": "foot", "teeth": "tooth", "leaves": "leaf", "shelves": "shelf", "wolves": "wolf",
}  # fmt: skip


def _forms(word: str) -> frozenset[str]:
    """A word and its possible singulars: 'buses' -> buses, buse, bus; 'people' -> person."""
    forms = {word}
    if word in _IRREGULAR:
        forms.add(_IRREGULAR[word])
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        forms.add(word[:-1])
        if word.endswith("es"):
            forms.add(word[:-2])
        if word.endswith("ies"):
            forms.add(word[:-3] + "y")
    return frozenset(forms)


def _tokens(text: str) -> list[str]:
    return re.findall(r"[^\W_]+|[^\w\s]", text.lower())


Key = tuple[frozenset[str], ...]


class _Vocab:
    """Classes indexed by the forms of their last word, to find them inside a phrase."""

    def __init__(self, classes: Iterable[str]):
        self.by_last: dict[str, list[tuple[Key, str]]] = defaultdict(list)
        for name in sorted(classes):
            key = tuple(_forms(w) for w in _tokens(name))
            for form in key[-1] if key else ():
                self.by_last[form].append((key, name))

    def best(self, ws: Key) -> str | None:
        """The class of the phrase's head: the words before a preposition or relative clause
        ("second car from the left"), else the whole phrase; there, the class ending last
        ("orange car" is a car), on a tie the longest ("potted plant" over "plant")."""
        cut = next((i for i, w in enumerate(ws) if i and w & _HEAD_END), len(ws))
        hits = self._hits(ws[:cut]) or self._hits(ws)
        return max(hits)[2] if hits else None

    def _hits(self, ws: Key) -> list[tuple[int, int, str]]:
        hits = []
        for end in range(1, len(ws) + 1):
            seen = {c for f in ws[end - 1] for c in self.by_last.get(f, ())}
            for key, name in seen:
                n = len(key)
                if n <= end and all(ws[end - n + j] & key[j] for j in range(n)):
                    hits.append((end, n, name))
        return hits


class ClassIndex:
    """The classes a run's seeds annotate, per seed and in all, for naming an item's objects."""

    def __init__(self, by_seed: dict[str, frozenset[str]]):
        self.by_seed = {sid: cats for sid, cats in by_seed.items() if cats}
        self.all = _Vocab({c for cats in self.by_seed.values() for c in cats})
        self.classes = len({c for cats in self.by_seed.values() for c in cats})
        self._local: dict[frozenset[str], _Vocab] = {}

    @classmethod
    def of_run(cls, run_dir: Path) -> ClassIndex:
        """The categories of every seed in ``RUN/seeds.jsonl`` (none when it is absent or
        unreadable: the report then counts object names)."""
        by_seed: dict[str, frozenset[str]] = {}
        path = run_dir / "seeds.jsonl"
        try:
            for _, seed in iter_jsonl(path) if path.is_file() else ():
                if isinstance(seed, dict) and isinstance(seed.get("id"), str):
                    objs = seed.get("objects")
                    cats = [o.get("category") for o in objs or () if isinstance(o, dict)]
                    by_seed[seed["id"]] = frozenset(
                        c.strip() for c in cats if isinstance(c, str) and c.strip()
                    )
        except MmevolError:
            return cls({})
        return cls(by_seed)

    def class_of(self, name: str, seed_id: str) -> str | None:
        """The annotated class ``name`` refers to (its own image's classes first), or None."""
        ws = tuple(_forms(w) for w in _tokens(name))
        cats = self.by_seed.get(seed_id) or self.by_seed.get(seed_id.split("~", 1)[0])
        if cats:
            local = self._local.get(cats)
            if local is None:
                local = self._local[cats] = _Vocab(cats)
            hit = local.best(ws)
            if hit is not None:
                return hit
        return self.all.best(ws)


def class_counts(items: Iterable[tuple[str, list[str]]], index: ClassIndex) -> dict[str, Any]:
    """Per class, the items (``(seed id, object names)``) that mention it; the names that name
    no annotated class apart; and what was counted (``CLASSES`` or, without annotations,
    ``NAMES``)."""
    counts: Counter[str] = Counter()
    unmapped: Counter[str] = Counter()
    for seed_id, names in items:
        found: set[str] = set()
        for name in names:
            if not isinstance(name, str) or not name.strip():
                continue
            if not index.classes:
                found.add(" ".join(name.lower().split()))
                continue
            cls = index.class_of(name, seed_id)
            if cls is None:
                unmapped[name.strip()] += 1
            else:
                found.add(cls)
        counts.update(found)
    return {
        "counted": CLASSES if index.classes else NAMES,
        "classes": counts.most_common(),
        "annotated_classes": index.classes,
        "unmapped": dict(unmapped.most_common()),
    }
