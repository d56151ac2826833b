"""Turning seeds and items into rendered ``ModelCall``s: the evolve call and the judge call.

The context dicts built here are the contract of docs/ARCHITECTURE.md: they are embedded in the
prompt verbatim and are all that the grounded backend and the fake model read.
"""

from __future__ import annotations

from typing import Any

from mmevol.calls import ModelCall
from mmevol.evolve.reply_schema import evolve_schema, judge_schema
from mmevol.prompts import Template, load_template
from mmevol.schema import PRODUCER_FIELDS, QA, Seed
from mmevol.vocab import FORMAT_HELP, FORMATS, MANIPULATION_HELP, MANIPULATIONS, SKILL_HELP, SKILLS

CONTEXT_SHAPE = (
    "captions and annotated objects with normalised boxes [x1, y1, x2, y2] "
    "(0..1, origin top-left, three decimals)"
)
# what the model is told it has: the image and the context, or (text-only) the context alone
SIGHT = {
    True: {
        "given": f"You are given the image and its symbolic context: {CONTEXT_SHAPE}.",
        "given_judge": "You are given the image, its symbolic context (captions, annotated "
        "objects with normalised boxes) and pairs of items: the parent and its rewrite.",
        "evidence": "the image and its annotations support",
        "evidence_short": "supported by the annotations or clearly visible in the image",
        "judge_evidence": "the image and the captions",
    },
    False: {
        "given": "You do not see the image. You are given only its symbolic context: "
        f"{CONTEXT_SHAPE}. Everything you write must follow from these captions and boxes alone.",
        "given_judge": "You do not see the image: you are given only its symbolic context "
        "(captions, annotated objects with normalised boxes) and pairs of items: the parent "
        "and its rewrite. Judge every claim by the captions and boxes alone.",
        "evidence": "the captions or annotated objects state",
        "evidence_short": "stated by the captions or the annotated objects (nothing else counts: "
        "you cannot see the image)",
        "judge_evidence": "the captions and the annotated objects",
    },
}
DIRECTION_GOALS = {
    "perception": "a closer, more detailed look at the image (more objects, attributes, regions).",
    "reasoning": "a longer chain of explicit reasoning steps over what is in the image.",
    "interactive": "a new task format that needs the image.",
}


def _fills(vision: bool = True, direction: str | None = None) -> dict[str, str]:
    fills = {
        "skills": "; ".join(f"{s} ({SKILL_HELP[s]})" for s in SKILLS),
        "manipulations": "; ".join(MANIPULATION_HELP[m] for m in MANIPULATIONS),
        "formats": "; ".join(f"{f} ({FORMAT_HELP[f]})" for f in FORMATS),
        **SIGHT[vision],
    }
    if direction is not None:
        fills |= {"direction": direction, "direction_goal": DIRECTION_GOALS.get(direction, "")}
    return fills


def item_context(qa: QA) -> dict[str, Any]:
    """An item as it appears inside a context (no score, no None fields)."""
    return qa.model_dump(mode="json", exclude_none=True, exclude={"score", *PRODUCER_FIELDS})


def scene_context(seed: Seed) -> dict[str, Any]:
    """The symbolic context of an image: size, captions and annotated objects."""
    return {
        "image": {"width": seed.image.width, "height": seed.image.height},
        "captions": list(seed.captions),
        "objects": [o.model_dump(mode="json", exclude_none=True) for o in seed.objects],
    }


def evolve_call(
    seed: Seed,
    items: list[QA],
    direction: str,
    round_: int,
    *,
    temperature: float,
    max_tokens: int,
    template: Template | None = None,
    focus: dict[str, Any] | None = None,
    vision: bool = True,
) -> ModelCall:
    """The call asking a model to evolve every item of one image in one direction
    (``template``: a run's own version of the direction's prompt, else the bundled one;
    ``focus``: a targeted round's question type and bad cases, see ``EvolveConfig.focus``;
    ``vision``: whether the model sees the image; a text-only prompt says it does not)."""
    template = template or load_template(direction)
    context: dict[str, Any] = {
        "task": "evolve",
        "direction": direction,
        "round": round_,
        **scene_context(seed),
        "items": [{"index": i, **item_context(qa)} for i, qa in enumerate(items)],
    }
    if focus:
        context["focus"] = focus
    if template.like:  # a custom direction: offline generators answer as the built-in one
        context["like"] = template.like
    return ModelCall(
        task="evolve",
        template=template.name,
        template_version=template.version,
        messages=template.render(context, _fills(vision)),
        context=context,
        image=seed.image,
        json_schema=evolve_schema(len(items)),
        temperature=temperature,
        max_tokens=max_tokens,
    )


def judge_call(
    seed: Seed,
    pairs: list[tuple[QA, QA]],
    direction: str,
    round_: int,
    *,
    temperature: float,
    max_tokens: int,
    notes: list[dict[str, list[str]]] | None = None,
    vision: bool = True,
) -> ModelCall:
    """The call asking a judge to compare each evolved item with its parent (``notes``: per
    pair, the claims the fact checker confirmed or could not settle)."""
    template = load_template("judge")
    context = {
        "task": "judge",
        "direction": direction,
        "round": round_,
        **scene_context(seed),
        "pairs": [
            {
                "index": i,
                "parent": item_context(p),
                "evolved": item_context(e),
                **({"fact_checks": notes[i]} if notes and notes[i] else {}),
            }
            for i, (p, e) in enumerate(pairs)
        ],
    }
    return ModelCall(
        task="judge",
        template=template.name,
        template_version=template.version,
        messages=template.render(context, _fills(vision, direction)),
        context=context,
        image=seed.image,
        json_schema=judge_schema(len(pairs)),
        temperature=temperature,
        max_tokens=max_tokens,
    )
