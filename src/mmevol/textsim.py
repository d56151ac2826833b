"""Text similarity used for de-duplication: a normaliser and a near-duplicate test.

Seed curation (``mmevol.seeds``) and the engine's per-seed dedup (``evolve.dedup``) share these
two functions so that "duplicate" means the same thing everywhere. Similarity is the Jaccard
index of character 3-gram sets of the normalised texts; shingle sets are memoised because the
same kept question is compared many times.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_IMAGE_TOKEN = re.compile(r"<image>", re.IGNORECASE)
_NON_WORD = re.compile(r"[^\w\s]+", re.UNICODE)
_SPACES = re.compile(r"\s+")
SHINGLE = 3


@lru_cache(maxsize=65536)
def normalize_text(text: str) -> str:
    """Fold a question or answer for comparison.

    Unicode NFKC, lower case, ``<image>`` tokens and punctuation removed, runs of white space
    collapsed to one space. ``"What is THIS?\\n<image>"`` and ``"what is this"`` are equal.
    """
    text = unicodedata.normalize("NFKC", text)
    text = _IMAGE_TOKEN.sub(" ", text).lower().replace("_", " ")
    text = _NON_WORD.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


@lru_cache(maxsize=65536)
def _shingles(norm: str) -> frozenset[str]:
    if len(norm) <= SHINGLE:
        return frozenset([norm])
    return frozenset(norm[i : i + SHINGLE] for i in range(len(norm) - SHINGLE + 1))


def similarity(a: str, b: str) -> float:
    """Jaccard similarity (0..1) of the character 3-gram sets of the normalised texts."""
    na, nb = normalize_text(a), normalize_text(b)
    if na == nb:
        return 1.0
    sa, sb = _shingles(na), _shingles(nb)
    union = len(sa | sb)
    return len(sa & sb) / union if union else 1.0


def near_duplicate(a: str, b: str, threshold: float = 0.9) -> bool:
    """True when ``a`` and ``b`` are the same after normalisation or their similarity reaches
    ``threshold``. A threshold above 1 disables the fuzzy part (exact matches still count)."""
    na, nb = normalize_text(a), normalize_text(b)
    if na == nb:
        return True
    if threshold > 1.0:
        return False
    sa, sb = _shingles(na), _shingles(nb)
    # |A & B| / |A | B| >= t is impossible when the smaller set is below t times the larger one.
    small, large = sorted((len(sa), len(sb)))
    if large and small < threshold * large:
        return False
    union = len(sa | sb)
    return union > 0 and len(sa & sb) / union >= threshold
