"""A fake multimodal model with known ground truth, and the in-process ``fake`` backend.

``FakeLLM`` reads the ``<context>`` block of a rendered evolve or judge prompt and answers in
the same JSON schemas a real MLLM is asked for. Evolutions are built from the annotated
objects: good ones add a real step (a ``grounding_i(category) -> bbx_i`` step quoting the
object's exact box) and a correct answer; at ``bad_rate`` an evolution is deliberately bad
(``wrong_box``, ``text_only``, ``placeholder``, ``empty_answer``), and at ``broken_json_rate``
the reply text is broken (truncated, trailing commas, fenced and wrapped in prose). Every
evolution is written to ``ledger`` (question text -> kind), so tests know the truth. The judge
is sensible but imperfect: ``judge_error_rate`` flips some decisions. Answers are a pure
function of (seed, messages): the same conversation always gets the same text.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
from collections import Counter
from typing import Any

from mmevol.backends.base import Backend
from mmevol.calls import Message, ModelCall, Reply, Usage
from mmevol.prompts import extract_context

BAD_KINDS = ("wrong_box", "text_only", "placeholder", "empty_answer")
CANNED_ANSWER = "There are 0 main object in the image."
# what a model that does not see the image writes: one canned answer everywhere, the previous
# question wrapped again, a step said twice (opt in with ``bad_kinds``)
DEGENERATE_KINDS = ("canned", "nested")
BROKEN_KINDS = ("truncated", "trailing_commas", "fenced_prose")
VISUAL_WORDS = ("image", "picture", "photo", "scene", "shown", "visible", "region", "box")
BOX_RE = re.compile(
    r"\[\s*(-?\d*\.?\d+)\s*,\s*(-?\d*\.?\d+)\s*,\s*(-?\d*\.?\d+)\s*,\s*(-?\d*\.?\d+)\s*\]"
)
PLACEHOLDER_RE = re.compile(r"\[[^\]\d]*[A-Za-z][^\]\d]*\]")
TRIVIA = (
    ("What is the capital city of France?", "Paris."),
    ("How many days does a leap year have?", "366 days."),
    ("Which planet is closest to the Sun?", "Mercury."),
    ("At what temperature in degrees Celsius does water boil at sea level?", "100 degrees."),
)


def fmt_box(box: list[float]) -> str:
    """A box as written inside text: ``[x1, y1, x2, y2]`` with three decimals."""
    return "[" + ", ".join(f"{float(v):.3f}" for v in box) + "]"


def iou(a: list[float], b: list[float]) -> float:
    """Intersection over union of two ``[x1, y1, x2, y2]`` boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def boxes_in(text: str) -> list[list[float]]:
    """Every numeric ``[x1, y1, x2, y2]`` written in a text."""
    return [[float(g) for g in m.groups()] for m in BOX_RE.finditer(text)]


def _msg_dicts(messages: list[Message] | list[dict[str, Any]]) -> list[dict[str, str]]:
    out = []
    for m in messages:
        d = m.model_dump() if isinstance(m, Message) else dict(m)
        out.append({"role": str(d.get("role", "")), "content": str(d.get("content", ""))})
    return out


def _step(manipulation: str, description: str) -> dict[str, str]:
    return {"manipulation": manipulation, "description": description}


def _item(
    q: str, a: str, objs: list[str], skills: list[str], fmt: str, steps: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "question": q,
        "answer": a,
        "objects": objs,
        "skills": skills,
        "format": fmt,
        "steps": steps,
    }


_WRAPPERS = (
    ("Building on '", "': "),
    ("After '", "': "),
    ("Going further than '", "': "),
    ("Describe the image in one sentence, going beyond '", "'."),
    ("Looking at the image (", "), how many"),
    ("Beyond '", "', where"),
    ("Taking '", "' one step further"),
)
_BBX = re.compile(r"bbx_\d+|res_\d+")


def _merge(steps: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The parent's steps, then the new ones; a step that says what a new one says is dropped."""
    fresh = {_BBX.sub("", str(s.get("description", ""))) for s in new}
    kept = [s for s in steps if _BBX.sub("", str(s.get("description", ""))) not in fresh]
    return [*kept, *new]


def _root_question(question: str) -> str:
    """A parent question without the wrappers earlier rounds put around it (no nesting)."""
    q = question.strip()
    for _ in range(8):
        for head, tail in _WRAPPERS:
            end = q.rfind(tail)
            if q.startswith(head) and end > len(head):
                q = q[len(head) : end].strip()
                break
        else:
            break
    return q.rstrip("?.")


def _side(box: list[float]) -> str:
    cx = (box[0] + box[2]) / 2
    return "left" if cx < 0.4 else "right" if cx > 0.6 else "middle"


class FakeLLM:
    """The brain of the fake model: deterministic answers with a ledger of what was made."""

    def __init__(
        self,
        bad_rate: float = 0.2,
        broken_json_rate: float = 0.05,
        judge_error_rate: float = 0.0,
        seed: int = 0,
        bad_kinds: tuple[str, ...] = BAD_KINDS,
    ) -> None:
        self.bad_rate = bad_rate
        self.broken_json_rate = broken_json_rate
        self.judge_error_rate = judge_error_rate
        self.seed = seed
        self.bad_kinds = tuple(bad_kinds)
        self.ledger: dict[str, str] = {}
        self.broken: Counter[str] = Counter()
        self.judge_flips = 0
        self._lock = threading.Lock()

    # --- entry point -------------------------------------------------------------------------
    def respond(
        self, messages: list[Message] | list[dict[str, Any]], json_mode: str = "none"
    ) -> str:
        """The reply text to a chat. ``json_mode`` other than "none" always yields valid JSON."""
        msgs = _msg_dicts(messages)
        users = [i for i, m in enumerate(msgs) if m["role"] == "user"]
        context = extract_context(msgs[users[-1]]["content"]) if users else None
        basis, reask = msgs, False
        if context is None:  # a follow-up ("re-ask"): the context is in an earlier user turn
            for i in users:
                context = extract_context(msgs[i]["content"])
                if context is not None:
                    # answer what the original conversation would have produced, but cleanly
                    later = [j for j, m in enumerate(msgs) if j > i and m["role"] == "assistant"]
                    basis = msgs[: later[0]] if later else msgs
                    reask = True
                    break
        if context is None:
            return "I need a <context> block with the image annotations to answer."
        digest = hashlib.sha256(
            json.dumps([self.seed, basis], sort_keys=True, ensure_ascii=False).encode()
        ).digest()
        rng = random.Random(digest)
        if context.get("task") == "judge":
            value = self._judge(context, rng)
        elif context.get("task") == "evolve":
            value = self._evolve(context, rng)
        elif context.get("task") == "revise_prompt":
            value = self._revise_prompt(context)
        else:
            value = {"error": f"unknown task {context.get('task')!r}"}
        text = json.dumps(value, ensure_ascii=False)
        breaker = random.Random(digest + b"break")
        if json_mode == "none" and not reask and breaker.random() < self.broken_json_rate:
            text = self._break(text, breaker)
        return text

    def _break(self, text: str, rng: random.Random) -> str:
        kind = rng.choice(BROKEN_KINDS)
        with self._lock:
            self.broken[kind] += 1
        if kind == "truncated":
            return text[: max(1, int(len(text) * rng.uniform(0.5, 0.9)))]
        if kind == "trailing_commas":
            pretty = json.dumps(json.loads(text), indent=1, ensure_ascii=False)
            return re.sub(r"([}\]\"\deln])(\n\s*[}\]])", r"\1,\2", pretty)
        return f"Sure! Here is the result you asked for:\n```json\n{text}\n```\nHope this helps."

    # --- prompt revision (IPO) ------------------------------------------------------------------
    @staticmethod
    def _revise_prompt(ctx: dict[str, Any]) -> dict[str, Any]:
        """A schema-valid revision: the reviewers' bad-sample notes become rules appended to
        the system part (a test double of an LLM's rewrite, not a claim to improve prompts)."""
        text = str(ctx.get("current_prompt") or "")
        head, sep, tail = text.partition("=== user ===")
        reviewed = [*ctx.get("reviewed_samples", []), *ctx.get("notes", [])]
        notes = [r["note"].strip() for r in reviewed if r.get("verdict") == "bad" and r.get("note")]
        rules = "".join(f"- Avoid this reviewed problem: {n}\n" for n in dict.fromkeys(notes))
        rules = rules or "- Check every answer against the annotations before replying.\n"
        new = f"{head.rstrip()}\n\nReviewer guidance ({ctx.get('version')}):\n{rules}{sep}{tail}"
        return {"prompt": new, "rationale": f"turned {len(notes)} reviewer notes into rules"}

    # --- evolve --------------------------------------------------------------------------------
    def _evolve(self, ctx: dict[str, Any], rng: random.Random) -> dict[str, Any]:
        objects = [o for o in ctx.get("objects") or [] if isinstance(o, dict) and o.get("category")]
        boxed = [o for o in objects if isinstance(o.get("bbox"), list) and len(o["bbox"]) == 4]
        direction = str(ctx.get("direction") or "perception")
        captions = [str(c) for c in ctx.get("captions") or [] if str(c).strip()]
        out = []
        for pos, item in enumerate(ctx.get("items") or []):
            source = int(item.get("index", pos))
            kind = "good"
            if self.bad_kinds and rng.random() < self.bad_rate:
                kind = rng.choice(self.bad_kinds)
                if kind == "wrong_box" and not boxed:
                    kind = "text_only"
            item = {**item, "_round": int(ctx.get("round") or 1)}
            evolved = self._make(kind, direction, item, objects, boxed, rng, captions)
            evolved["source"] = source
            with self._lock:
                self.ledger[evolved["question"]] = kind
            out.append(evolved)
        return {"items": out}

    def _make(
        self,
        kind: str,
        direction: str,
        parent: dict[str, Any],
        objects: list[dict[str, Any]],
        boxed: list[dict[str, Any]],
        rng: random.Random,
        captions: list[str] | None = None,
    ) -> dict[str, Any]:
        steps = [s for s in parent.get("steps") or [] if isinstance(s, dict)]
        n = sum(1 for s in steps if "grounding" in str(s.get("manipulation", ""))) + 1
        pool = boxed or objects
        # spread the items of one image (and its rounds) over different objects, so good
        # evolutions rarely collide
        spot = int(parent.get("index", 0)) + int(parent.get("_round", 1)) + len(steps)
        target = pool[spot % len(pool)] if pool else {"category": "main object"}
        cat = str(target["category"])
        grounding = f"grounding_{n}({cat}) -> bbx_{n}"
        if kind == "text_only":
            if rng.random() < 0.5:
                a, b = rng.randint(11, 49), rng.randint(2, 9)
                calc = _step(f"calculate({a}*{b}) -> res_1", f"{a} times {b} is {a * b}.")
                q = f"What is {a} multiplied by {b}?"
                return _item(q, f"{a * b}.", [], ["calculating"], "short_answer", [calc])
            q, ans = rng.choice(TRIVIA)
            return _item(q, ans, [], ["knowledge_integration"], "short_answer", [])
        if kind == "placeholder":
            q = f"Point out where the {cat} appears in the photo and give its box."
            slot = f"[Coordinates for the {cat}]"
            new = _step(grounding, f"Locate the {cat}: bbx_{n} = {slot}.")
            ans = f"The {cat} is at {slot}."
            return _item(q, ans, [cat], ["grounding"], "open_ended", [*steps, new])
        if kind == "wrong_box":
            far = fmt_box(self._far_box([o["bbox"] for o in boxed], rng))
            q = f"Locate the {cat} in this picture and report its box coordinates."
            new = _step(grounding, f"Find the {cat}: bbx_{n} = {far}.")
            ans = f"The {cat} is at {far}."
            return _item(q, ans, [cat], ["grounding"], "open_ended", [*steps, new])
        if kind == "canned":
            q = f"How many main objects can be seen around the {cat}?"
            count = _step("calculate(count(main object)) -> res_1", "Count every main object: 0.")
            return _item(q, CANNED_ANSWER, [], ["calculating"], "short_answer", [count, count])
        if kind == "nested":
            q = f"Looking at the image ({parent.get('question', '')}), how many {cat} can be seen?"
            return _item(q, CANNED_ANSWER, [cat], ["calculating"], "short_answer", [*steps, *steps])
        if kind == "empty_answer":
            q = f"Considering the {cat} in the image, how much of the frame does it take up?"
            return _item(q, "", [cat], ["calculating"], "short_answer", steps)
        return self._good(direction, parent, steps, n, target, objects, boxed, rng, captions or [])

    def _good(
        self,
        direction: str,
        parent: dict[str, Any],
        steps: list[dict[str, Any]],
        n: int,
        target: dict[str, Any],
        objects: list[dict[str, Any]],
        boxed: list[dict[str, Any]],
        rng: random.Random,
        captions: list[str],
    ) -> dict[str, Any]:
        cat = str(target["category"])
        prior = _root_question(str(parent.get("question") or ""))[:80]
        if not objects and captions:  # nothing annotated: describe from a caption instead
            spot = int(parent.get("index", 0)) + len(steps)
            caption = captions[spot % len(captions)].strip().rstrip(".")
            q = f"Describe the image in one sentence, going beyond '{prior or 'the scene'}'."
            ans = f"{caption[:1].upper()}{caption[1:]}."
            return _item(q, ans, [], ["context_understanding"], "detailed_description", steps)
        if not target.get("bbox"):  # nothing to ground: count the category instead
            count = sum(1 for o in objects if o["category"] == cat)
            q = f"Looking at the image ({prior or 'the whole scene'}), how many {cat} can be seen?"
            calc = _step(f"calculate(count({cat})) -> res_{n}", f"Count every {cat}: {count}.")
            ans = f"There {'is' if count == 1 else 'are'} {count} {cat} in the image."
            return _item(q, ans, [cat], ["calculating"], "short_answer", [*steps, calc])
        box = fmt_box(target["bbox"])
        ground = _step(f"grounding_{n}({cat}) -> bbx_{n}", f"Locate the {cat}: bbx_{n} = {box}.")
        # a target grounded in an earlier round is not grounded again (that step would repeat)
        steps = [s for s in steps if box not in str(s.get("description", ""))]
        others = [o for o in boxed if o["category"] != cat]
        if direction == "reasoning" and others:
            other = rng.choice(others)
            ocat, obox, m = str(other["category"]), fmt_box(other["bbox"]), n + 1
            left = (target["bbox"][0] + target["bbox"][2]) < (other["bbox"][0] + other["bbox"][2])
            q = (
                f"Building on '{prior}': in the image, is the {cat} to the left of the {ocat}? "
                "Explain with their boxes."
            )
            new = [
                ground,
                _step(f"grounding_{m}({ocat}) -> bbx_{m}", f"Locate the {ocat}: bbx_{m} = {obox}."),
                _step(
                    f"calculate(center_x(bbx_{n}) < center_x(bbx_{m})) -> res_{n}",
                    f"Compare the horizontal centres of the {cat} and the {ocat}.",
                ),
            ]
            side = "left" if left else "right"
            ans = (
                f"{'Yes' if left else 'No'}. The {cat} at {box} is {side} of the {ocat} at {obox}."
            )
            skills = ["grounding", "relationship_description", "calculating"]
            return _item(q, ans, [cat, ocat], skills, "yes_no", _merge(steps, new))
        if direction == "interactive" and others:
            choices = [target, *rng.sample(others, min(2, len(others)))]
            rng.shuffle(choices)
            opts = " ".join(f"{'ABC'[i]}) {fmt_box(o['bbox'])}" for i, o in enumerate(choices))
            right = "ABC"[choices.index(target)]
            q = f"After '{prior}': which region of the image shows the {cat}? {opts}"
            ans = f"{right}) {box}: that region contains the {cat}."
            skills = ["grounding", "referencing"]
            return _item(q, ans, [cat], skills, "region_selection", _merge(steps, [ground]))
        where = _side(target["bbox"])
        asks = (
            (
                f"Going further than '{prior}': find the {cat} in the image, give its bounding"
                " box and say which part of the frame it is in.",
                f"The {cat} is at {box}, in the {where} part of the image.",
            ),
            (
                f"Beyond '{prior}', where exactly is the {cat}? Answer with its box and the side"
                " of the picture.",
                f"You can find the {cat} in the {where} part of the picture, inside {box}.",
            ),
            (
                f"Taking '{prior}' one step further, locate the {cat} and tell me how it is"
                " placed in the photo.",
                f"It occupies {box}; that puts the {cat} in the {where} part of the photo.",
            ),
        )
        q, ans = asks[(int(parent.get("_round", 1)) + int(parent.get("index", 0))) % len(asks)]
        return _item(
            q, ans, [cat], ["grounding", "existence"], "open_ended", _merge(steps, [ground])
        )

    @staticmethod
    def _far_box(known: list[list[float]], rng: random.Random) -> list[float]:
        best, best_score = [0.0, 0.0, 0.05, 0.05], 2.0
        for _ in range(400):
            w, h = rng.uniform(0.05, 0.15), rng.uniform(0.05, 0.15)
            x, y = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
            cand = [round(x, 3), round(y, 3), round(x + w, 3), round(y + h, 3)]
            score = max((iou(cand, k) for k in known), default=0.0)
            if score < best_score:
                best, best_score = cand, score
            if score < 0.02:
                break
        return best

    # --- judge ---------------------------------------------------------------------------------
    def _judge(self, ctx: dict[str, Any], rng: random.Random) -> dict[str, Any]:
        known = [
            o["bbox"] for o in ctx.get("objects") or [] if isinstance(o, dict) and o.get("bbox")
        ]
        cats = [
            str(o.get("category", "")).lower()
            for o in ctx.get("objects") or []
            if isinstance(o, dict)
        ]
        verdicts = []
        for pos, pair in enumerate(ctx.get("pairs") or []):
            ok, reason = self.assess(
                pair.get("parent") or {}, pair.get("evolved") or {}, known, cats
            )
            if rng.random() < self.judge_error_rate:
                ok, reason = not ok, f"(misjudged) {reason}"
                with self._lock:
                    self.judge_flips += 1
            score = rng.randint(6, 9) if ok else rng.randint(1, 4)
            verdicts.append(
                {
                    "index": int(pair.get("index", pos)),
                    "improved": "yes" if ok else "no",
                    "score": score,
                    "reason": reason,
                }
            )
        return {"verdicts": verdicts}

    @staticmethod
    def assess(
        parent: dict[str, Any], evolved: dict[str, Any], known: list[list[float]], cats: list[str]
    ) -> tuple[bool, str]:
        """The fake judge's rules: (improved, reason) for one pair."""
        question = str(evolved.get("question", ""))
        answer = str(evolved.get("answer", ""))
        steps = [s for s in evolved.get("steps") or [] if isinstance(s, dict)]
        claimed = answer + " " + " ".join(str(s.get("description", "")) for s in steps)
        if not answer.strip():
            return False, "the answer is empty"
        if PLACEHOLDER_RE.search(claimed):
            return False, "a box is a placeholder, not coordinates"
        low = question.lower()
        visual = any(re.search(rf"\b{re.escape(c)}s?\b", low) for c in cats if c) or any(
            w in low for w in VISUAL_WORDS
        )
        if not visual and not boxes_in(question):
            return False, "the question can be answered without the image"
        if known and any(max(iou(b, k) for k in known) < 0.5 for b in boxes_in(claimed)):
            return False, "a box does not match any annotated object"
        parent_steps = len(parent.get("steps") or [])
        same_format = evolved.get("format") == parent.get("format")
        if (
            len(steps) <= parent_steps
            and same_format
            and len(question) <= len(str(parent.get("question", "")))
        ):
            return False, "no gain over the parent"
        return True, f"adds {max(0, len(steps) - parent_steps)} step(s) grounded in the image"


# near-duplicates and an image's repeated questions or answers: removed as repeats
_REPEAT = re.compile(r"duplicate|same question skeleton|same answer as another")


def elimination_outcome(samples: list[dict[str, Any]], ledger: dict[str, str]) -> dict[str, Any]:
    """Score a run's candidates against the fake's ledger (question -> "good" or a bad kind).

    ``samples`` are candidate records (``rounds/round_K.jsonl`` rows). A candidate is *kept*,
    *duplicate* (dropped as a repeat of an image's question or answer) or *rejected* (by rules,
    facts or the judge).
    ``bad_rejected`` and ``good_kept`` are the elimination figures: duplicates are left out of
    ``good_kept`` because dedup, not elimination, removed them.
    """
    counts: Counter[str] = Counter()
    for s in samples:
        kind = ledger.get(s["qa"]["question"], "unknown")
        truth = "good" if kind == "good" else "unknown" if kind == "unknown" else "bad"
        lineage = s["lineage"]
        fate = (
            "kept"
            if lineage["kept"]
            else "duplicate"
            if _REPEAT.search(lineage["reason"])
            else "rejected"
        )
        counts[f"{truth}_{fate}"] += 1
    bad = sum(counts[f"bad_{f}"] for f in ("kept", "rejected", "duplicate"))
    good = counts["good_kept"] + counts["good_rejected"]
    return {
        "counts": dict(sorted(counts.items())),
        "bad": bad,
        "good_judged": good,
        "bad_rejected": counts["bad_rejected"] / bad if bad else None,
        "good_kept": counts["good_kept"] / good if good else None,
    }


class FakeBackend(Backend):
    """In-process fake model (no HTTP) for tests; ``.llm.ledger`` holds the ground truth."""

    name = "fake"
    reads_images = False

    def __init__(
        self,
        model: str = "fake-mllm",
        bad_rate: float = 0.2,
        broken_json_rate: float = 0.05,
        judge_error_rate: float = 0.0,
        seed: int = 0,
        bad_kinds: list[str] | tuple[str, ...] = BAD_KINDS,
    ) -> None:
        self.model = model
        self.vision = True
        self.llm = FakeLLM(bad_rate, broken_json_rate, judge_error_rate, seed, tuple(bad_kinds))

    def identity(self) -> str:
        llm = self.llm
        return f"fake:{self.model}:bad={llm.bad_rate}:broken={llm.broken_json_rate}:jerr={llm.judge_error_rate}:seed={llm.seed}"

    def describe(self) -> dict[str, Any]:
        llm = self.llm
        return {
            **super().describe(),
            "bad_rate": llm.bad_rate,
            "broken_json_rate": llm.broken_json_rate,
            "judge_error_rate": llm.judge_error_rate,
            "seed": llm.seed,
        }

    async def complete(self, call: ModelCall) -> Reply:
        text = self.llm.respond(call.messages)
        tin = sum(len(m.content) for m in call.messages) // 4
        return Reply(
            text=text,
            model=self.model,
            usage=Usage(input_tokens=tin, output_tokens=len(text) // 4),
            finish_reason="stop",
        )
