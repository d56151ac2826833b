"""An adversarial model: fluent, well-formed evolutions that are often false, with a ledger.

``Adversary`` answers the evolve and judge calls of the call contract (docs/ARCHITECTURE.md)
like ``FakeLLM`` does, but its evolutions are built to slip past checks: every box it writes is
a real annotated box, every step uses a known manipulation, every question points at the image.
Per input item it draws (seeded by the context, so the same call gets the same reply) either a
TRUE evolution computed from the annotations or a FALSE one of a kind from ``KINDS`` (a wrong
class at a real box, a wrong count, an inverted relation, ...; see the ``adversary_*`` kind
modules). True items come from the same kinds with the truth told, so the two differ only in
substance. Every item goes to the ledger, keyed by (image annotations, question, answer), with
its kind and the structured claims it makes. The judge is ``lenient`` (everything improved,
score 8) or ``noisy`` (rejects a share of the false items and a small share of the true ones).
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mmevol.calls import Message
from mmevol.prompts import extract_context
from mmevol.testing import adversary_chains as _chains  # noqa: F401  (registers kinds)
from mmevol.testing import adversary_layout as _layout  # noqa: F401  (registers kinds)
from mmevol.testing import adversary_mixed as _mixed  # noqa: F401  (registers kinds)
from mmevol.testing import adversary_numbers as _numbers  # noqa: F401  (registers kinds)
from mmevol.testing import adversary_objects as _objects  # noqa: F401  (registers kinds)
from mmevol.testing import adversary_space as _space  # noqa: F401  (registers kinds)
from mmevol.testing.adversary_scene import ALIASES, KINDS, Draft, Scene, scene_key, use_alias

TRUE = "true"
LONG_FORMATS = {"step_by_step", "detailed_description", "dialogue", "creative_writing"}


class AdversaryConfig(BaseModel):
    """How the adversary draws its evolutions and how its judge behaves."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    true_rate: float = Field(default=0.5, ge=0, le=1)
    kinds: list[str] | None = None  # None: every registered kind
    # kinds that few scenes support are drawn first more often where a scene does support them
    kind_weights: dict[str, float] = Field(
        default_factory=lambda: {"crowd_exact_count": 8.0, "caption_colour": 3.0}
    )
    judge: Literal["lenient", "noisy"] = "lenient"
    judge_reject_false: float = Field(default=0.7, ge=0, le=1)
    judge_reject_true: float = Field(default=0.03, ge=0, le=1)
    # share of (image, category) pairs written with an everyday name ('sofa' for 'couch')
    alias_rate: float = Field(default=0.4, ge=0, le=1)


def ledger_key(scene: str, question: str, answer: str) -> str:
    """Where an item sits in the ledger: its image's annotations, question and answer."""
    return f"{scene}\n{question.strip()}\n{answer.strip()}"


def seed_scene_key(seed: Any) -> str:
    """The scene key of a ``schema.Seed`` (equal to the one computed from its contexts)."""
    objects = [o.model_dump(mode="json", exclude_none=True) for o in seed.objects]
    return scene_key(list(seed.captions), objects)


def _uniform(*parts: Any) -> float:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class Adversary:
    """The adversarial model behind the fake server (``FakeServerConfig.adversary``)."""

    def __init__(self, config: AdversaryConfig | None = None) -> None:
        self.config = config or AdversaryConfig()
        names = self.config.kinds or sorted(KINDS)
        unknown = sorted(set(names) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown adversary kinds {unknown}; known: {sorted(KINDS)}")
        self.kinds = list(names)
        self.entries: dict[str, dict[str, Any]] = {}
        self.ledger: dict[str, str] = {}  # key -> kind, the shape the fake server's stats show
        self.broken: Counter[str] = Counter()
        self.judge_flips = 0
        self.judged: Counter[str] = Counter()
        self._lock = threading.Lock()

    # --- entry point ---------------------------------------------------------------------------
    def respond(
        self, messages: list[Message] | list[dict[str, Any]], json_mode: str = "none"
    ) -> str:
        """The reply text to a chat whose user turn embeds a ``<context>`` block."""
        context = None
        turns: list[Any] = list(messages)
        for m in reversed(turns):
            d: dict[str, Any] = m.model_dump() if isinstance(m, Message) else dict(m)
            if d.get("role") == "user":
                context = extract_context(str(d.get("content", "")))
                if context is not None:
                    break
        if context is None:
            return "I need a <context> block with the image annotations to answer."
        task = context.get("task")
        if task == "evolve":
            value: dict[str, Any] = self.evolve(context)
        elif task == "judge":
            value = self.judge(context)
        else:
            value = {"error": f"unknown task {task!r}"}
        return json.dumps(value, ensure_ascii=False)

    # --- evolve ----------------------------------------------------------------------------
    def evolve(self, ctx: dict[str, Any]) -> dict[str, Any]:
        scene = Scene(ctx)
        direction = str(ctx.get("direction") or "perception")
        round_ = int(ctx.get("round") or 0)
        out = []
        for pos, item in enumerate(ctx.get("items") or []):
            source = int(item.get("index", pos))
            parent = str(item.get("question", ""))
            rng = random.Random(
                json.dumps([self.config.seed, scene.key, round_, direction, source, parent])
            )
            lie = rng.random() >= self.config.true_rate
            # a model evolving an item moves on to another question: not the parent's family
            before = self.lookup(scene.key, parent, str(item.get("answer", "")))
            avoid = {before["family"]} if before else set()
            kind, draft = self._draw(scene, rng, lie, direction, avoid)
            if draft is None:  # nothing in this scene supports any kind: restate the parent
                continue
            draft = self._aliased(scene, draft)
            if (
                draft.format in LONG_FORMATS
                and len(draft.steps) < 2
                and len(draft.answer.split()) < 8
            ):
                draft.format = "short_answer"  # a short answer is not labelled as a long form
            self._record(scene, kind if lie else TRUE, kind, draft, direction, round_)
            out.append({"source": source, **draft.item()})
        return {"items": out}

    def _draw(
        self, scene: Scene, rng: random.Random, lie: bool, direction: str, avoid: set[str]
    ) -> tuple[str, Draft | None]:
        weights = self.config.kind_weights
        # a weighted random order: sort by u ** (1 / weight), largest first
        order = sorted(self.kinds, key=lambda k: -(rng.random() ** (1 / weights.get(k, 1.0))))
        for name in [k for k in order if k not in avoid] + [k for k in order if k in avoid]:
            draft = KINDS[name](scene, random.Random(rng.random()), lie, direction)
            if draft is not None:
                return name, draft
        if lie:  # no lie fits this scene: fall back to a true item
            return self._draw(scene, rng, False, direction, avoid)
        return "", None

    def _aliased(self, scene: Scene, draft: Draft) -> Draft:
        """The draft with some categories written under an everyday name (claims unchanged)."""
        for cat in sorted(ALIASES, key=len, reverse=True):
            names = ALIASES[cat]
            u = _uniform(self.config.seed, "alias", scene.key, cat)
            if u >= self.config.alias_rate:
                continue
            alias = names[int(u / self.config.alias_rate * len(names)) % len(names)]

            def swap(text: str, cat: str = cat, alias: str = alias) -> str:
                return use_alias(text, cat, alias)

            draft.question, draft.answer = swap(draft.question), swap(draft.answer)
            draft.objects = [swap(o) for o in draft.objects]
            draft.steps = [
                {"manipulation": swap(st["manipulation"]), "description": swap(st["description"])}
                for st in draft.steps
            ]
        return draft

    def _record(
        self, scene: Scene, kind: str, family: str, draft: Draft, direction: str, round_: int
    ) -> None:
        key = ledger_key(scene.key, draft.question, draft.answer)
        entry = {
            "key": key,
            "scene": scene.key,
            "question": draft.question,
            "answer": draft.answer,
            "kind": kind,
            "family": family,
            "truth": kind == TRUE,
            "lie": draft.lie,
            "claims": draft.claims,
            "direction": direction,
            "round": round_,
            "format": draft.format,
        }
        with self._lock:
            self.entries[key] = entry
            self.ledger[key] = kind

    def lookup(self, scene: str, question: str, answer: str) -> dict[str, Any] | None:
        """The ledger entry of an item, or None when this model did not write it."""
        return self.entries.get(ledger_key(scene, question, answer))

    # --- judge -----------------------------------------------------------------------------
    def judge(self, ctx: dict[str, Any]) -> dict[str, Any]:
        scene = scene_key(ctx.get("captions") or [], ctx.get("objects") or [])
        verdicts = []
        for pos, pair in enumerate(ctx.get("pairs") or []):
            evolved = pair.get("evolved") or {}
            question, answer = str(evolved.get("question", "")), str(evolved.get("answer", ""))
            entry = self.lookup(scene, question, answer)
            ok, reason = True, "the evolved item asks for more and stays grounded in the image"
            if self.config.judge == "noisy" and entry is not None:
                u = _uniform(self.config.seed, "judge", entry["key"])
                share = (
                    self.config.judge_reject_true
                    if entry["truth"]
                    else self.config.judge_reject_false
                )
                if u < share:
                    ok, reason = False, "the evolved answer does not match what the image shows"
            with self._lock:
                self.judged["improved" if ok else "rejected"] += 1
            verdicts.append(
                {
                    "index": int(pair.get("index", pos)),
                    "improved": "yes" if ok else "no",
                    "score": 8 if ok else 2,
                    "reason": reason,
                }
            )
        return {"verdicts": verdicts}

    # --- what the fake server reports ------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        """The ledger and judge counts, as ``GET /_fake/stats`` shows them under "adversary"."""
        with self._lock:
            entries = list(self.entries.values())
            judged = dict(self.judged)
        return {
            "config": self.config.model_dump(),
            "kinds": Counter(e["kind"] for e in entries),
            "judged": judged,
            "entries": entries,
        }
