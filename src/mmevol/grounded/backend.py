"""The grounded backend: an offline programmatic generator and judge (not a language model).

``GroundedBackend`` answers evolve and judge calls from the structured context alone (objects
with normalised boxes and attributes, captions); it never reads the prompt text or the pixels.
Evolutions are computed from the annotations, so their answers are correct by construction:
perception brings in more objects and attributes, reasoning adds explicit manipulation steps,
interactive rewrites into a new format. The judge applies the rules of ``grounded.judge``.
Wording: on shape-world scenes each template keeps one fixed phrasing (the closed loop reads
it); on other scenes (COCO and the like) the phrasing, an opening and a closing request are
drawn by the seeded generator and answers explain the computed facts (``grounded.words``).
Output is deterministic given the context and the seed. It exists so the whole pipeline runs
on a fresh machine without any model, and to produce the closed loop's training data; it is
not the MMEvol LLM method and must never be reported as one.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Iterable
from typing import Any

from mmevol.backends.base import Backend
from mmevol.calls import ModelCall, Reply, Usage
from mmevol.grounded import interactive as grounded_interactive
from mmevol.grounded import perception as grounded_perception
from mmevol.grounded import reasoning as grounded_reasoning
from mmevol.grounded.judge import judge
from mmevol.grounded.scene import View
from mmevol.schema import Seed

ITEM_FIELDS = ("question", "answer", "objects", "skills", "format", "steps")
DIRECTIONS = {
    "perception": grounded_perception.evolve,
    "reasoning": grounded_reasoning.evolve,
    "interactive": grounded_interactive.evolve,
}


def context_rng(context: dict[str, Any], seed: int) -> random.Random:
    """A random generator derived from the canonical context JSON and the seed."""
    blob = json.dumps(context, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256(f"{seed}\n{blob}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _unchanged(parent: dict[str, Any], source: int) -> dict[str, Any]:
    item: dict[str, Any] = {"source": source}
    for key in ITEM_FIELDS:
        if key in parent:
            item[key] = parent[key]
    item.setdefault("question", "")
    item.setdefault("answer", "")
    return item


def evolve(context: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The reply to an evolve call: exactly one evolved item per input item.

    An item for which nothing can be computed comes back unchanged (the judge rejects it as
    no gain); nothing is ever invented.
    """
    view = View(context)
    # a custom direction names the built-in one it behaves like (``prompts.directions``)
    kind = context.get("like") or context.get("direction")
    step = DIRECTIONS.get(str(kind), grounded_perception.evolve)
    out: list[dict[str, Any]] = []
    asked: set[str] = set()  # the questions made so far (kept, not rebuilt per item)
    for pos, parent in enumerate(context.get("items") or []):
        if not isinstance(parent, dict):
            continue
        source = parent.get("index", pos)
        source = source if isinstance(source, int) and source >= 0 else pos
        made = step(view, parent, rng, asked)
        if made is None:
            made = _unchanged(parent, source)
        else:
            made["source"] = source
        out.append(made)
        asked.add(str(made.get("question")))
    return {"items": out}


class GroundedBackend(Backend):
    """Offline programmatic generator and judge working from annotations (not an LLM).

    ``vision`` is True because it "sees" the image through its annotations (objects, boxes,
    attributes, captions), never through pixels.
    """

    name = "grounded"
    reads_images = False

    def __init__(self, model: str = "grounded-v1", seed: int = 0) -> None:
        self.model = model
        self.seed = int(seed)
        self.vision = True

    def seed_warnings(self, seeds: Iterable[Seed]) -> list[str]:
        """Seeds it cannot evolve: it computes questions from boxes and captions only."""
        counts = Counter(
            "bare" if not (s.objects or s.captions) else "captions" if not s.objects else "ok"
            for s in seeds
        )
        n, lines = sum(counts.values()), []
        if counts["bare"]:
            lines.append(f"{counts['bare']} of {n} seeds have neither boxes nor captions: the "
                         "grounded backend (a programmatic generator) computes questions from "
                         "those alone, so it cannot evolve them; add annotations (COCO "
                         "instances, captions) or use a model (--backend openai)")  # fmt: skip
        if counts["captions"]:
            lines.append(f"{counts['captions']} of {n} seeds have captions but no boxes: the "
                         "grounded backend evolves them from the captions only (fewer, "
                         "simpler questions); COCO instances give it boxes")  # fmt: skip
        return lines

    def identity(self) -> str:
        return f"{self.name}:{self.model}:seed={self.seed}"

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "seed": self.seed, "kind": "programmatic generator"}

    async def complete(self, call: ModelCall) -> Reply:
        context = call.context
        task = context.get("task") or call.task
        if task == "judge":
            body = judge(context)
        else:
            body = evolve(context, context_rng(context, self.seed))
        text = json.dumps(body, ensure_ascii=False)
        return Reply(
            text=text,
            model=self.model,
            usage=Usage(input_tokens=0, output_tokens=0),
            finish_reason="stop",
        )
