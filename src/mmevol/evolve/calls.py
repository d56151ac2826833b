"""Turning seeds and items into rendered ``ModelCall``s: the evolve call and the judge call.

The context dicts built here are the contract of docs/ARCHITECTURE.md: they are embedded in the
prompt verbatim and are all that the grounded backend and the fake model read.
"""

from __future__ import annotations

from typing import Any

from mmevol.calls import ModelCall
from mmevol.prompts import Template, load_template
from mmevol.schema import PRODUCER_FIELDS, QA, Direction, EvolveOutput, JudgeOutput, Seed
from mmevol.vocab import FORMAT_HELP, FORMATS, MANIPULATION_HELP, MANIPULATIONS, SKILL_HELP, SKILLS


def _fills() -> dict[str, str]:
    return {
        "skills": "; ".join(f"{s} ({SKILL_HELP[s]})" for s in SKILLS),
        "manipulations": "; ".join(MANIPULATION_HELP[m] for m in MANIPULATIONS),
        "formats": "; ".join(f"{f} ({FORMAT_HELP[f]})" for f in FORMATS),
    }


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
    direction: Direction,
    round_: int,
    *,
    temperature: float,
    max_tokens: int,
    template: Template | None = None,
    focus: dict[str, Any] | None = None,
) -> ModelCall:
    """The call asking a model to evolve every item of one image in one direction
    (``template``: a run's own version of the direction's prompt, else the bundled one;
    ``focus``: a targeted round's question type and bad cases, see ``EvolveConfig.focus``)."""
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
    return ModelCall(
        task="evolve",
        template=template.name,
        template_version=template.version,
        messages=template.render(context, _fills()),
        context=context,
        image=seed.image,
        json_schema=EvolveOutput.model_json_schema(),
        temperature=temperature,
        max_tokens=max_tokens,
    )


def judge_call(
    seed: Seed,
    pairs: list[tuple[QA, QA]],
    direction: Direction,
    round_: int,
    *,
    temperature: float,
    max_tokens: int,
    notes: list[dict[str, list[str]]] | None = None,
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
        messages=template.render(context, _fills()),
        context=context,
        image=seed.image,
        json_schema=JudgeOutput.model_json_schema(),
        temperature=temperature,
        max_tokens=max_tokens,
    )
