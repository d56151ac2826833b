"""Text similarity used for de-duplication: a normaliser and a near-duplicate test.

Seed curation (``mmevol.seeds``) and the engine's per-seed dedup (``evolve.dedup``) share these
functions so that "duplicate" means the same thing everywhere. Similarity is the Jaccard
index of character 3-gram sets of the normalised texts; shingle sets are memoised because the
same kept question is compared many times. ``question_template`` masks the particulars of a
question (objects, numbers, boxes, colours, positions) to its skeleton, and
``template_duplicate`` compares skeletons: the template-level near-duplicate test of the
per-image dedup and of the diversity benchmark.
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher
from functools import lru_cache

from mmevol.vocab import COLOUR_WORDS

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


# --- question templates: the same question with other objects/numbers/places filled in -------
COCO_CATEGORIES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich",
    "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote",
    "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book",
    "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
    "circle", "square", "triangle", "star", "diamond", "hexagon",
)  # fmt: skip
_IRREGULAR = {"person": "people", "mouse": "mice", "knife": "knives", "sheep": "sheep",
              "skis": "skis", "scissors": "scissors", "fish": "fish", "deer": "deer"}  # fmt: skip
POSITION_WORDS = frozenset(
    [
        "left",
        "right",
        "top",
        "bottom",
        "upper",
        "lower",
        "above",
        "below",
        "middle",
        "centre",
        "center",
        "leftmost",
        "rightmost",
        "topmost",
        "bottommost",
        "highest",
        "lowest",
        "largest",
        "smallest",
        "biggest",
        "tiniest",
        "larger",
        "smaller",
        "bigger",
        "higher",
        "lower",
        "closest",
        "nearest",
        "farthest",
        "furthest",
        "closer",
        "farther",
        "further",
        "first",
        "second",
        "third",
        "fourth",
        "fifth",
        "last",
        "horizontal",
        "vertical",
        "horizontally",
        "vertically",
        "small",
        "medium",
        "large",
        "big",
        "tiny",
        "most",
        "least",
        "more",
        "fewer",
        "less",
    ]
)
NUMBER_WORDS = frozenset(
    [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "twenty",
        "once",
        "twice",
    ]
)
_BOX_TEXT = re.compile(r"\[[^\[\]]*\d[^\[\]]*\]")
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”")
_DETERMINERS = frozenset({"a", "an", "the", "each", "every", "any", "some", "these", "those"})
_SLOTS = frozenset({"<obj>", "<col>", "<pos>", "#", "<box>", "<quote>"})
_JOINERS = frozenset({"and", "or", "of"})
_AGREEMENT = {"are": "is", "were": "was", "does": "do", "has": "have", "its": "their", "it": "they"}


def plural(category: str) -> str:
    """The plural of a category name (multi-word names pluralise their last word)."""
    head, _, last = category.rpartition(" ")
    if last in _IRREGULAR:
        word = _IRREGULAR[last]
    elif last.endswith(("s", "x", "z", "ch", "sh")):
        word = last + "es"
    elif last.endswith("y") and last[-2:-1] not in "aeiou":
        word = last[:-1] + "ies"
    else:
        word = last + "s"
    return f"{head} {word}" if head else word


@lru_cache(maxsize=256)
def _category_pattern(categories: tuple[str, ...]) -> re.Pattern[str]:
    names = {normalize_text(c) for c in (*COCO_CATEGORIES, *categories) if c.strip()}
    forms = sorted({f for n in names for f in (n, normalize_text(plural(n)))}, key=len, reverse=True)  # fmt: skip
    return re.compile(r"\b(?:" + "|".join(re.escape(f) for f in forms) + r")\b")


@lru_cache(maxsize=65536)
def question_template(text: str, categories: tuple[str, ...] = ()) -> str:
    """The skeleton of a question: what stays when the filled-in particulars are masked.

    This is the one definition of "template" shared by the engine's per-image dedup and the
    diversity benchmark. Boxes become ``<box>``, quoted text ``<quote>``; after
    ``normalize_text``, category names and their plurals (the COCO and shape-world vocabulary
    plus ``categories``) become ``<obj>``, digits and number words ``#``, colour words
    ``<col>``, position, size, ordinal and comparative/superlative words ``<pos>``; articles,
    determiners and option letters are dropped, singular and plural verb forms are folded ("are" -> "is") and a run
    of slots joined by "and", "or", "of" (a list of objects, "the leftmost red cup") collapses to
    one ``<slot>``. Two questions with the same skeleton
    ask the same thing about other objects, numbers, colours or places.
    """
    text = _BOX_TEXT.sub(" qqboxqq ", text)
    text = _QUOTED.sub(" qqquoteqq ", text)
    norm = _category_pattern(tuple(sorted(categories))).sub(" qqobjqq ", normalize_text(text))
    masked: list[str] = []
    for tok in norm.split():
        if tok in _DETERMINERS or (len(tok) == 1 and tok.isalpha() and tok != "i"):
            continue  # articles, determiners and option letters ("(B)", "c.")
        if tok.startswith("qq") and tok.endswith("qq"):
            tok = "<" + tok[2:-2] + ">"
        elif tok.isdigit() or tok in NUMBER_WORDS:
            tok = "#"
        elif tok in COLOUR_WORDS:
            tok = "<col>"
        elif tok in POSITION_WORDS:
            tok = "<pos>"
        masked.append(_AGREEMENT.get(tok, tok))
    out: list[str] = []
    for tok in masked:
        if tok in _SLOTS:
            while len(out) >= 2 and out[-1] in _JOINERS and out[-2] == "<slot>":
                out.pop()
            if out and out[-1] == "<slot>":
                continue
            tok = "<slot>"
        out.append(tok)
    return " ".join(out)


# Words whose swap, insertion or deletion does not change what a question asks.
_LIGHT_WORDS = frozenset(
    [
        "in",
        "on",
        "at",
        "of",
        "to",
        "for",
        "from",
        "with",
        "this",
        "that",
        "there",
        "please",
        "you",
        "your",
        "can",
        "could",
        "also",
        "all",
        "both",
        "their",
        "them",
        "they",
        "be",
        "is",
        "do",
        "image",
        "picture",
        "photo",
        "photograph",
        "scene",
        "frame",
        "shown",
        "visible",
        "see",
    ]
)


def template_duplicate(a: str, b: str, categories: tuple[str, ...] = ()) -> bool:
    """True when two questions share a skeleton (``question_template``), or their skeletons of
    at least eight words differ in one light word only ("image" for "picture", an added "in").

    The bound is absolute and content words never count as light: two long questions that share
    a long opening but ask for different things ("... standing ..." / "... sitting ...") are
    kept apart.
    """
    ta, tb = question_template(a, categories).split(), question_template(b, categories).split()
    if ta == tb:
        return True
    if min(len(ta), len(tb)) < 8 or abs(len(ta) - len(tb)) > 1:
        return False
    changes = [
        ta[i1:i2] + tb[j1:j2]
        for op, i1, i2, j1, j2 in SequenceMatcher(None, ta, tb, autojunk=False).get_opcodes()
        if op != "equal"
    ]
    return len(changes) == 1 and len(changes[0]) <= 2 and all(w in _LIGHT_WORDS for w in changes[0])
