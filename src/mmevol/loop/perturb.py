"""A generator that errs at a known rate: the grounded backend with some answers made wrong.

``PerturbedBackend`` stands in for an LLM that hallucinates, with ground truth: it asks the
grounded generator for each evolution, then, with probability ``rate`` per item, rewrites the
answer so that it is false, and writes the item (``ledger_key``) to ``ledger`` with the kind
of error:

- ``hallucination``: an absent object is said to be there ("No, there is no star" ->
  "Yes, there is a star"; "No." -> "Yes."), the POPE failure;
- ``wrong_colour``: "the square is blue" -> another colour;
- ``wrong_count``: a count is moved by one;
- ``wrong_kind``: a region described as showing another kind of shape.

An item none of these apply to is left correct (so the realised error rate, reported from the
ledger, can be below ``rate``). Judge calls go to the grounded judge unchanged: elimination is
what is being measured. Deterministic for a given context and seed.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

from mmevol.backends.base import Backend
from mmevol.calls import ModelCall, Reply, Usage
from mmevol.grounded.backend import GroundedBackend, context_rng, evolve
from mmevol.grounded.judge import judge
from mmevol.world.scenes import COLORS, SHAPES

ERROR_KINDS = ("hallucination", "wrong_colour", "wrong_count", "wrong_kind")
_COLOUR = re.compile(rf"\b(is )({'|'.join(COLORS)})\b")
_COUNT = re.compile(r"\b(there (?:is|are) )(\d+)\b|^(\d+)\.")
_KIND = re.compile(rf"(contains an? (?:[a-z]+ )?(?:{'|'.join(COLORS)}) )({'|'.join(SHAPES)})")


def corrupt(answer: str, rng: random.Random) -> tuple[str, str] | None:
    """A false version of ``answer`` and the error kind, or None when no rule applies."""
    options: list[tuple[str, str]] = []
    no_obj = re.search(r"\bNo, there is no ([a-z ]+?)([.,]|$)", answer)
    if no_obj:
        fake = answer.replace(no_obj.group(0), f"Yes, there is a {no_obj.group(1)}{no_obj.group(2)}", 1)  # fmt: skip
        options.append((fake, "hallucination"))
    elif answer.strip() == "No.":
        options.append(("Yes.", "hallucination"))
    if m := _COLOUR.search(answer):
        other = rng.choice([c for c in COLORS if c != m.group(2)])
        options.append((answer[: m.start(2)] + other + answer[m.end(2) :], "wrong_colour"))
    if m := _COUNT.search(answer):
        g = 2 if m.group(2) else 3
        n = int(m.group(g))
        options.append((answer[: m.start(g)] + str(n + 1) + answer[m.end(g) :], "wrong_count"))
    if m := _KIND.search(answer):
        other = rng.choice([k for k in SHAPES if k != m.group(2)])
        options.append((answer[: m.start(2)] + other + answer[m.end(2) :], "wrong_kind"))
    return rng.choice(options) if options else None


def ledger_key(question: str, answer: str) -> str:
    """How the ledger names one written item (the same question may come back elsewhere)."""
    return f"{question}\n{answer}"


class PerturbedBackend(Backend):
    """The grounded generator with answers made false at ``rate`` (a ledger keeps the truth)."""

    name = "perturbed"

    def __init__(self, rate: float, seed: int = 0) -> None:
        self.inner = GroundedBackend(seed=seed)
        self.model = f"grounded-perturbed-{rate:g}"
        self.rate = rate
        self.seed = seed
        self.vision = True
        self.ledger: dict[str, str] = {}
        self.items = 0

    def identity(self) -> str:
        return f"{self.name}:{self.model}:seed={self.seed}"

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "rate": self.rate, "kind": "programmatic, errs on purpose"}

    async def complete(self, call: ModelCall) -> Reply:
        context = call.context
        if (context.get("task") or call.task) == "judge":
            body = judge(context)
        else:
            rng = context_rng(context, self.seed)
            body = evolve(context, rng)
            errs = random.Random(rng.random() + self.rate)
            for item in body["items"]:
                self.items += 1
                if errs.random() >= self.rate:
                    continue
                made = corrupt(str(item.get("answer", "")), errs)
                if made is not None:
                    item["answer"], kind = made
                    self.ledger[ledger_key(str(item.get("question", "")), item["answer"])] = kind
        return Reply(
            text=json.dumps(body, ensure_ascii=False),
            model=self.model,
            usage=Usage(input_tokens=0, output_tokens=0),
            finish_reason="stop",
        )
