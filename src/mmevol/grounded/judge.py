"""The grounded judge: rule-based elimination of evolved items, for any producer's output.

It never trusts the producer: items written by an LLM (free text) are checked exactly like the
grounded generator's own. Hard rejections (score 0): a malformed or empty item, an unknown
manipulation, a placeholder instead of a box, a box outside 0..1 or matching no annotated object
(IoU < 0.5), a grounding step whose box shows another category than it names, an existence
answer or (in the shape world) a colour, count or region claim that contradicts the
annotations (``grounded.facts``), and a question with no visual reference (answerable
without the image). Otherwise the verdict follows the measured gain over the parent: more steps,
more objects, new skills, a new format, a longer answer, more boxes; no gain means "no".
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from mmevol.geometry import best_match, format_box, is_normalised, parse_boxes
from mmevol.geometry import placeholder_boxes as find_placeholders
from mmevol.grounded.facts import fact_conflict
from mmevol.grounded.scene import COMMON_CATEGORIES, View, plural
from mmevol.schema import QA
from mmevol.vocab import canonical_format, canonical_manipulation, canonical_skill
from mmevol.world.scenes import COLORS, SHAPES, SIZES

VISUAL_WORDS = re.compile(
    r"\b(image|picture|photo|photograph|scene|shown|shows|visible|see|seen|depicted|pictured|"
    r"displayed|region|regions|box|boxes|frame|view)\b",
    re.I,
)
EXIST_RE = re.compile(r"^\s*(?:is|are)\s+there\s+(?:a|an|any|some)?\s*([a-z][a-z ]*?)\s*(?:\b(?:in|on|visible|present|shown|anywhere)\b|\?)")  # fmt: skip
STOPWORDS = frozenset(
    [
        "what",
        "which",
        "where",
        "when",
        "there",
        "their",
        "this",
        "that",
        "these",
        "those",
        "with",
        "from",
        "have",
        "does",
        "into",
        "about",
        "would",
        "could",
        "should",
        "image",
        "picture",
        "photo",
        "other",
        "than",
        "more",
        "most",
        "they",
        "them",
        "your",
    ]
)
IOU_MIN = 0.5


def _mentions(text: str, category: str) -> bool:
    low = f" {text.lower()} "
    return any(
        re.search(rf"(?<![a-z]){re.escape(w)}(?![a-z])", low) for w in (category, plural(category))
    )


def _existence_conflict(view: View, qa: QA) -> str | None:
    m = EXIST_RE.match(qa.question.lower())
    word = re.match(r"\s*([a-z]+)", qa.answer.lower())
    first = word.group(1) if word else ""
    if not m or not view.things or first not in ("yes", "no"):
        return None
    phrase = m.group(1).strip()
    known = [*view.categories(), *(SHAPES if view.world else COMMON_CATEGORIES)]
    for cat in sorted(set(known), key=len, reverse=True):
        for form in (cat, plural(cat)):
            if phrase == form or phrase.endswith(" " + form):
                extra = phrase[: len(phrase) - len(form)].split()
                if any(w not in COLORS and w not in SIZES for w in extra):
                    return None  # qualifiers we cannot check
                present = any(
                    t.category == cat and all(w in t.attrs.values() for w in extra)
                    for t in view.things
                )
                said_yes = first == "yes"
                if said_yes != present:
                    return f"the answer says {'yes' if said_yes else 'no'} but the annotations say {phrase!r} is {'present' if present else 'absent'}"  # fmt: skip
                return None
    return None


def _visual(view: View, question: str) -> bool:
    if VISUAL_WORDS.search(question) or parse_boxes(question):
        return True
    if any(_mentions(question, c) for c in view.categories()):
        return True
    caption_words = {
        w for w in re.findall(r"[a-z]{4,}", " ".join(view.captions).lower()) if w not in STOPWORDS
    }
    asked = set(re.findall(r"[a-z]{4,}", question.lower()))
    return bool(caption_words & asked)


def _hard_check(view: View, qa: QA) -> str | None:
    """The reason to reject ``qa`` outright, or None."""
    if not qa.question.strip() or not qa.answer.strip():
        return "empty question or answer"
    parts = [qa.question, qa.answer] + [f"{s.manipulation} {s.description}" for s in qa.steps]
    text = "\n".join(parts)
    holders = find_placeholders(text)
    if holders:
        return f"placeholder instead of a box: {holders[0]}"
    for s in qa.steps:
        if canonical_manipulation(s.manipulation) is None:
            return f"unknown manipulation {s.manipulation!r}"
    annotated = [t for t in view.things if t.box is not None]
    for box in parse_boxes(text):
        if not is_normalised(box):
            return f"box {list(box)} is not a normalised [x1, y1, x2, y2] box"
        if annotated and best_match(box, [t.box for t in annotated if t.box])[1] < IOU_MIN:
            return f"box {format_box(box)} matches no annotated object"
    for s in qa.steps:
        if canonical_manipulation(s.manipulation) != "grounding" or not annotated:
            continue
        boxes = parse_boxes(s.description) or parse_boxes(s.manipulation)
        target = s.manipulation.split("(", 1)[-1]
        named = [c for c in view.categories() if _mentions(target, c)]
        if len(boxes) == 1 and named:
            hit = annotated[best_match(boxes[0], [t.box for t in annotated if t.box])[0]]
            if hit.category not in named:
                return f"grounding step names {named[0]!r} but its box shows a {hit.category}"
    conflict = _existence_conflict(view, qa) or fact_conflict(view, qa)
    if conflict:
        return conflict
    if not _visual(view, qa.question):
        return "the question can be answered without the image"
    return None


def _features(view: View, qa: QA) -> dict[str, Any]:
    mentioned = sum(1 for c in view.categories() if _mentions(f"{qa.question} {qa.answer}", c))
    text = " ".join([qa.question, qa.answer, *(s.description for s in qa.steps)])
    return {
        "steps": len(qa.steps),
        "objects": max(len({o.lower() for o in qa.objects}), mentioned),
        "skills": {s for s in (canonical_skill(x) for x in qa.skills) if s},
        "format": canonical_format(qa.format) or "open_ended",
        "words": len(qa.answer.split()),
        "boxes": len({format_box(b) for b in parse_boxes(text)}),
    }


def judge_pair(view: View, parent: dict[str, Any], evolved: dict[str, Any]) -> tuple[bool, float, str]:  # fmt: skip
    """``(improved, score 0..10, reason)`` for one parent/evolved pair."""
    try:
        new = QA.model_validate(evolved)
    except ValidationError as exc:
        return False, 0.0, f"malformed evolved item ({exc.error_count()} schema errors)"
    try:
        old = QA.model_validate(parent)
    except ValidationError:
        old = QA(question="", answer="")
    problem = _hard_check(view, new)
    if problem:
        return False, 0.0, problem
    if " ".join(new.question.split()).lower() == " ".join(old.question.split()).lower() and (
        " ".join(new.answer.split()).lower() == " ".join(old.answer.split()).lower()
    ):
        return False, 1.0, "unchanged from the parent"
    a, b = _features(view, old), _features(view, new)
    notes, gain = [], 0.0
    d_steps, d_objs = b["steps"] - a["steps"], b["objects"] - a["objects"]
    new_skills = sorted(b["skills"] - a["skills"])
    if d_steps > 0:
        gain += 1.5 * d_steps
        notes.append(f"+{d_steps} steps")
    if d_objs > 0:
        gain += min(d_objs, 3)
        notes.append(f"+{d_objs} objects")
    if new_skills:
        gain += min(len(new_skills), 2)
        notes.append("new skills " + ", ".join(new_skills))
    if b["format"] != a["format"]:
        gain += 2.0
        notes.append(f"new format {b['format']}")
    if b["words"] >= 1.2 * a["words"] + 1:
        gain += 0.5
        notes.append("longer answer")
    if b["boxes"] > a["boxes"]:
        gain += 0.5
        notes.append("more grounded boxes")
    loss = 0.5 * max(-d_steps, 0) + 0.5 * max(-d_objs, 0)
    net = gain - loss
    if net < 1.0:
        return False, round(max(1.0, min(3.0, 2.0 + net)), 2), "no real gain over the parent"
    return True, round(min(10.0, 5.0 + net), 2), "gain: " + "; ".join(notes)


def judge(context: dict[str, Any]) -> dict[str, Any]:
    """The reply to a judge call: one verdict per pair of the context."""
    view = View(context)
    verdicts = []
    for pos, pair in enumerate(context.get("pairs") or []):
        index = pair.get("index", pos) if isinstance(pair, dict) else pos
        if not isinstance(pair, dict) or not isinstance(pair.get("evolved"), dict):
            verdicts.append({"index": index, "improved": "no", "score": 0, "reason": "malformed pair"})  # fmt: skip
            continue
        parent = pair.get("parent") if isinstance(pair.get("parent"), dict) else {}
        ok, score, reason = judge_pair(view, parent or {}, pair["evolved"])
        verdicts.append({"index": index, "improved": "yes" if ok else "no", "score": score, "reason": reason})  # fmt: skip
    return {"verdicts": verdicts}
