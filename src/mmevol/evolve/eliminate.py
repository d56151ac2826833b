"""Instruction elimination: cheap rule checks first, then the fact checker, then the judge.

Rule checks catch what a judge is known to let through (the authors' data kept boxes such as
"[Coordinates for tree 1]"): empty or placeholder answers, unknown manipulations, boxes outside
0..1 or inverted, boxes that match no annotated object, questions that need no image, and
evolutions that changed nothing. An item that fails a rule is dropped without a judge call; an
item whose claims the annotations refute (``mmevol.facts``) is dropped the same way, and the
judge sees the rest with what the checker confirmed or could not settle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mmevol.facts import FactReport, Finding
from mmevol.facts.lexicon import lemma
from mmevol.geometry import has_placeholder_box, iou, parse_boxes
from mmevol.schema import QA, Sample, Seed, Verdict
from mmevol.textsim import normalize_text
from mmevol.vocab import canonical_manipulation

MATCH_IOU = 0.5
PLACEHOLDER_ANSWERS = {
    "",
    "n/a",
    "na",
    "none",
    "null",
    "tbd",
    "todo",
    "unknown",
    "answer",
    "placeholder",
    "<answer>",
    "[answer]",
    "...",
}
PLACEHOLDER_PATTERNS = re.compile(r"\[insert|<insert|lorem ipsum|\{answer\}|\[your answer", re.I)
VISUAL_CUES = {
    "image", "picture", "photo", "photograph", "shown", "show", "shows", "visible", "see",
    "seen", "scene", "depicted", "pictured", "left", "right", "top", "bottom", "above", "below",
    "behind", "front", "color", "colour", "colors", "colours", "box", "boxes", "region",
    "foreground", "background", "corner", "center", "centre", "middle", "there", "here",
    "displayed", "appear", "appears", "looking", "view",
}  # fmt: skip
STOPWORDS = {
    "what", "which", "where", "when", "with", "that", "this", "there", "these", "those",
    "from", "into", "onto", "about", "their", "they", "them", "have", "does", "doing",
    "being", "some", "many", "much", "more", "most", "than", "then", "very", "could",
    "would", "should", "will", "your", "image", "picture", "photo", "other",
}  # fmt: skip
WORD_RE = re.compile(r"[a-z]+")


def _words(text: str) -> set[str]:
    """Content words, each also as its singular ("cats" matches the category "cat")."""
    words = {w for w in WORD_RE.findall(text.lower()) if len(w) >= 3}
    return words | {lemma(w) for w in words}


def context_words(seed: Seed, parent: QA) -> set[str]:
    """Words that tie a question to this image: object names, caption and parent content words."""
    words: set[str] = set()
    for obj in seed.objects:
        words |= _words(obj.category)
        words |= {v.lower() for v in obj.attributes.values()}
    for text in (*seed.captions, parent.question, parent.answer):
        words |= {w for w in _words(text) if len(w) >= 4 and w not in STOPWORDS}
    return words


def needs_image(qa: QA, seed: Seed, parent: QA) -> bool:
    """Heuristic: the question (or its steps) refers to something in this image."""
    text = " ".join([qa.question, *(s.description for s in qa.steps)])
    if not WORD_RE.search(qa.question.lower()):
        return True  # a script these word lists do not cover: no reason to drop it here
    words = _words(text)
    if words & VISUAL_CUES or parse_boxes(text):
        return True
    return bool(words & context_words(seed, parent))


def _box_problem(text: str, seed: Seed) -> str | None:
    if has_placeholder_box(text):
        return "placeholder box instead of coordinates"
    annotated = [o.bbox for o in seed.objects if o.bbox is not None]
    for box in parse_boxes(text):
        x1, y1, x2, y2 = box
        if not all(0.0 <= v <= 1.0 for v in box):
            return f"box {box} is not normalised to 0..1"
        if not (x1 < x2 and y1 < y2):
            return f"box {box} is empty or inverted"
        if annotated and max(iou(box, a) for a in annotated) < MATCH_IOU:
            return f"box {box} matches no annotated object"
    return None


def rule_problems(evolved: QA, parent: QA, seed: Seed) -> list[str]:
    """Every rule the evolved item breaks, most important first (empty list = passes)."""
    problems: list[str] = []
    if not evolved.question.strip():
        problems.append("empty question")
    answer = evolved.answer.strip()
    if answer.lower().strip(" .") in PLACEHOLDER_ANSWERS or PLACEHOLDER_PATTERNS.search(answer):
        problems.append("empty or placeholder answer")
    for step in evolved.steps:
        if canonical_manipulation(step.manipulation) is None:
            problems.append(f"unknown manipulation {step.manipulation!r}")
            break
    texts = [evolved.question, evolved.answer, *(s.description for s in evolved.steps)]
    box_problem = _box_problem("\n".join(texts), seed)
    if box_problem:
        problems.append(box_problem)
    if evolved.question.strip() and not needs_image(evolved, seed, parent):
        problems.append("question can be answered without the image")
    if normalize_text(evolved.question) == normalize_text(parent.question) and normalize_text(
        evolved.answer
    ) == normalize_text(parent.answer):
        problems.append("unchanged from its parent")
    return problems


def rule_verdict(problems: list[str]) -> Verdict:
    """The verdict recorded for an item dropped by the rules (no judge call was made)."""
    return Verdict(improved=False, score=0, reason="; ".join(problems), judge="rules")


def fact_verdict(refuted: list[Finding]) -> Verdict:
    """The verdict recorded for an item whose claims the annotations refute (no judge call)."""
    reasons = "; ".join(dict.fromkeys(f.text() for f in refuted))
    return Verdict(improved=False, score=0, reason=reasons, judge="facts")


@dataclass
class Candidate:
    """One evolved item on its way through elimination: rule problems, then fact findings."""

    parent: Sample
    qa: QA
    problems: list[str]
    degenerate: list[str] = field(default_factory=list)
    facts: FactReport | None = None

    @property
    def judged(self) -> bool:
        """Whether the item goes to the judge (it passed the rules and no claim was refuted)."""
        return not self.problems and not self.degenerate and not (self.facts and self.facts.refuted)
