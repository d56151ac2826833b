"""The fixed vocabularies (atomic capabilities, visual manipulations, task formats) and the
lookup that maps a free-text name onto them.

Model output drifts (the authors' data grew from 66 to 134 distinct skill strings and invented
formats), and the authors wrote their own labels ("Grounding Ability", "Norm", "multi_choice").
``canonical_skill`` / ``canonical_format`` map such a string onto an entry in stages: the exact
name; the name or a synonym with case, separators and filler words ("ability", "task", a
trailing "question") ignored; the same with word order, plurals and -ing forms ignored; then
keyword rules (``vocab.terms``). ``None`` means no honest entry exists: ``vocab.normalize``
then keeps the string as ``other:<string>`` instead of dropping it. A label already written as
``other:...`` is never re-mapped.
"""

from __future__ import annotations

import re
from functools import cache

from mmevol.vocab.terms import (
    FILLER_WORDS,
    FORMAT_RULES,
    FORMAT_SYNONYMS,
    MANIPULATION_SYNONYMS,
    SKILL_RULES,
    SKILL_SYNONYMS,
    STOP_WORDS,
    TRAILING_WORDS,
    Rule,
)

OTHER = "other:"

# colour words, as model text and captions write them (masked in question templates, read as
# colour claims by the fact checker)
COLOUR_WORDS: frozenset[str] = frozenset(
    [
        "red",
        "orange",
        "yellow",
        "green",
        "blue",
        "purple",
        "violet",
        "pink",
        "brown",
        "black",
        "white",
        "gray",
        "grey",
        "silver",
        "gold",
        "golden",
        "beige",
        "tan",
        "cyan",
        "magenta",
    ]
)

SKILLS: tuple[str, ...] = (
    # vision-centric
    "grounding",
    "referencing",
    "calculating",
    "ocr",
    "existence",
    # language-centric
    "relationship_description",
    "context_understanding",
    "behavior_prediction",
    "knowledge_integration",
)

SKILL_HELP: dict[str, str] = {
    "grounding": "find the region (box) that a phrase describes",
    "referencing": "describe what is inside a given box",
    "calculating": "count, measure or compare quantities",
    "ocr": "read printed or written text in the image",
    "existence": "decide whether something is present",
    "relationship_description": "spatial or semantic relations between objects",
    "context_understanding": "what the scene is about, its setting and situation",
    "behavior_prediction": "what people or things are doing or will do next",
    "knowledge_integration": "bring in outside knowledge tied to what is seen",
}

MANIPULATIONS: tuple[str, ...] = ("grounding", "referring", "calculate", "ocr")

MANIPULATION_HELP: dict[str, str] = {
    "grounding": 'grounding (the box of a target; description "grounding(red cup) -> [x1, y1, x2, y2]")',
    "referring": 'referring (what is inside a box; description "referring([x1, y1, x2, y2]) -> red cup")',
    "calculate": 'calculate (arithmetic, counting or comparison; description "calculate(2 + 3) -> 5")',
    "ocr": 'ocr (the text written on a target; description "ocr(shop sign) -> OPEN")',
}

FORMATS: tuple[str, ...] = (
    "open_ended",
    "short_answer",
    "multiple_choice",
    "yes_no",
    "true_false_justify",
    "fill_in_blank",
    "ordering",
    "matching",
    "region_selection",
    "counting_list",
    "comparison",
    "detailed_description",
    "dialogue",
    "creative_writing",
    "constrained_instruction",
    "error_correction",
    "step_by_step",
    # the authors' interactive forms that none of the above describes honestly
    "missing_object_selection",
    "style_classification",
    "text_detection",
    "text_translation",
    "coreference_resolution",
    "depth_order",
    "relative_distance",
    "completeness_check",
    "rationale_generation",
)

FORMAT_HELP: dict[str, str] = {
    "open_ended": "a free-form question and answer",
    "short_answer": "an answer of a word or a short phrase",
    "multiple_choice": "options labelled A-D, the answer names one letter and its option",
    "yes_no": "answer yes or no, then one sentence of support",
    "true_false_justify": "a statement judged true or false with a justification",
    "fill_in_blank": "a sentence with a ____ gap to fill",
    "ordering": "put objects or events in order (left to right, by size, ...)",
    "matching": "pair items of two lists",
    "region_selection": "choose which of several boxes shows the target",
    "counting_list": "count and list the instances with their boxes",
    "comparison": "compare two objects or regions on a stated property",
    "detailed_description": "describe a region or the whole image in detail",
    "dialogue": "a short role-play or multi-turn exchange grounded in the image",
    "creative_writing": "a short creative text that stays true to the image",
    "constrained_instruction": "an instruction with explicit output constraints",
    "error_correction": "find and fix the mistake in a given statement about the image",
    "step_by_step": "a problem solved in explicit numbered steps",
    "missing_object_selection": "pick which of the listed objects does not appear in the image",
    "style_classification": "name the image's visual style or art type and what shows it",
    "text_detection": "find where text appears in the image and give its boxes",
    "text_translation": "read text in the image and translate it into another language",
    "coreference_resolution": "say which object a pronoun or phrase in the question points to",
    "depth_order": "order objects from nearest to farthest from the camera",
    "relative_distance": "say which of two objects is closer to a third one or to the camera",
    "completeness_check": "judge whether a given answer covers everything asked; add what is missing",
    "rationale_generation": "give the answer together with the visual evidence that supports it",
}


def fold(text: str) -> str:
    """Lower-case and keep only letters: 'Multiple-Choice' and 'multiple_choice' fold alike."""
    return "".join(ch for ch in text.lower() if ch.isalpha())


_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def words(text: str) -> list[str]:
    """Lower-case words of a name ('MultiChoice_question' -> multi, choice, question)."""
    return re.findall(r"[a-z]+", _CAMEL.sub(" ", text).lower())


def stem(word: str) -> str:
    """A crude stem so plurals and -ing forms meet: counting/counts -> count, boxes -> box."""
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("ches", "shes", "xes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def core_words(text: str) -> list[str]:
    """The words that carry meaning: filler ('ability', 'task'), a trailing 'question' or
    'type' and stop words dropped (unless nothing would be left)."""
    ws = words(text)
    kept = [w for w in ws if w not in FILLER_WORDS and w not in STOP_WORDS]
    while kept and kept[-1] in TRAILING_WORDS and len(kept) > 1:
        kept.pop()
    return kept or ws


def _stem_key(ws: list[str]) -> tuple[str, ...]:
    return tuple(sorted({stem(w) for w in ws}))


class _Table:
    """One vocabulary's lookup indexes: folded names, word-order-free stems, keyword rules."""

    def __init__(self, names: tuple[str, ...], synonyms: dict[str, str], rules: tuple[Rule, ...]):
        self.names = frozenset(names)
        self.folded: dict[str, str] = {}
        self.stems: dict[tuple[str, ...], str] = {}
        for phrase, target in [*((n, n) for n in names), *synonyms.items()]:
            if target not in self.names:
                raise ValueError(f"synonym {phrase!r} names {target!r}, not a vocabulary entry")
            self.folded.setdefault(fold(phrase), target)
            self.folded.setdefault("".join(core_words(phrase)), target)
            self.stems.setdefault(_stem_key(core_words(phrase)), target)
        self.rules = rules

    def lookup(self, text: str) -> str | None:
        text = text.strip()
        if not text or text.lower().startswith(OTHER):
            return None
        if text in self.names:
            return text
        hit = self.folded.get(fold(text))
        if hit is not None:
            return hit
        ws = core_words(text)
        hit = self.folded.get("".join(ws)) or self.stems.get(_stem_key(ws))
        return hit if hit is not None else self._keyword(ws)

    def _keyword(self, ws: list[str]) -> str | None:
        def has(prefix: str) -> bool:
            return any(w.startswith(prefix) for w in ws)

        for target, alternatives in self.rules:
            for alt in alternatives:
                if all(has(p) for p in ((alt,) if isinstance(alt, str) else alt)):
                    return target
        return None


@cache
def _skills() -> _Table:
    return _Table(SKILLS, SKILL_SYNONYMS, SKILL_RULES)


@cache
def _formats() -> _Table:
    return _Table(FORMATS, FORMAT_SYNONYMS, FORMAT_RULES)


@cache
def _manipulations() -> _Table:
    return _Table(MANIPULATIONS, MANIPULATION_SYNONYMS, ())


def canonical_skill(text: str) -> str | None:
    """The vocabulary skill a free-text skill name means, or None if none fits."""
    return _skills().lookup(text)


def canonical_format(text: str) -> str | None:
    """The vocabulary format a free-text format name means, or None if none fits."""
    return _formats().lookup(text)


def canonical_manipulation(text: str) -> str | None:
    """The manipulation a step names: 'grounding_1(dog)->bbx_1', 'Locate', 'OCR' all resolve.
    No keyword guessing here: an unknown manipulation must stay unknown for the rule check."""
    head = text.strip().split("(", 1)[0]
    head = head.rstrip("_0123456789 ").strip()
    return _manipulations().lookup(head)


def is_other(label: str) -> bool:
    """Whether a label is an unknown string kept as ``other:<string>``."""
    return label.startswith(OTHER)


def other_label(text: str) -> str:
    """``other:<text>`` for a string no entry fits (an ``other:`` label stays as it is)."""
    text = text.strip()
    return text if is_other(text) else f"{OTHER}{text}"


def unother(label: str) -> str:
    """The string as its producer gave it: ``other:foo`` -> ``foo``; entries stay."""
    return label[len(OTHER) :] if is_other(label) else label
