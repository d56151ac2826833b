"""Interactive Prompt Optimization (IPO): reviews of generated samples -> a revised prompt.

This module owns the step from reviews (gathered by ``loop.ipo_reviews``) to a new prompt
version (stored by ``prompts.versions``). By default only reviews of samples made by the
*current* version are used, with the type-level notes. The revision is asked of an LLM backend
(current prompt + reviewed samples + notes in the ``<context>`` block, a ``PromptRevision``
JSON reply, one re-ask when the reply is unusable); a failed call is recorded in
``prompts/<name>/failures.jsonl`` and the current version stays. Without an LLM the person
edits the prompt (``mmevol prompts edit``); a programmatic backend is refused, since its output
would not be an LLM's revision.
"""

from __future__ import annotations

import asyncio
import time
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, Field

from mmevol.backends.base import Backend
from mmevol.calls import CallError, ModelCall, ParseFailed, Reply
from mmevol.errors import MmevolError
from mmevol.loop.ipo_reviews import Reviewed, collect_reviews
from mmevol.prompts import Template
from mmevol.prompts.versions import (
    PromptStore,
    PromptVersion,
    allowed_placeholders,
    check_prompt,
    content_hash,
    kind_of,
    name_of_version,
)

__all__ = ["PromptRevision", "Reviewed", "RevisionFailed", "collect_reviews", "revise"]

MAX_SAMPLES = 24  # reviewed samples sent per revision (bad ones first)
PROGRAMMATIC = ("grounded",)


class PromptRevision(BaseModel):
    """What the LLM must reply: the complete new prompt and why."""

    prompt: str = Field(min_length=40)
    rationale: str = ""


class InvalidRevision(CallError):
    """The model replied with JSON, but the prompt in it breaks the prompt rules."""

    error_class = "invalid_prompt"


class RevisionFailed(MmevolError):
    """A revision the LLM did not deliver (the current version stays current)."""

    def __init__(self, name: str, err: CallError, record: Path) -> None:
        super().__init__(
            f"revision of {name!r} failed ({err.error_class}: {str(err)[:200]}); "
            f"the current version stays; recorded in {record}"
        )
        self.error_class = err.error_class


def made_by(version_tag: str | None, v: PromptVersion) -> bool:
    """Whether a lineage tag names this version's text (bundled tags carry the same hash)."""
    if not version_tag or name_of_version(version_tag) != v.name:
        return False
    return version_tag.rsplit("@", 1)[-1] == v.content_hash[:10]


def select(
    reviewed: list[Reviewed], current: PromptVersion, all_versions: bool = False
) -> list[Reviewed]:
    """The reviews that bear on ``current``: its samples (or all of the name's) + type notes."""
    mine = [r for r in reviewed if r.name == current.name]
    if all_versions:
        return mine
    return [r for r in mine if r.ref.sample_id is None or made_by(r.version, current)]


def revise_template() -> Template:
    path = resources.files("mmevol.prompts").joinpath("templates", "revise_prompt.md")
    return Template("revise_prompt", path.read_text("utf-8"))


def revision_call(
    v: PromptVersion, text: str, reviews: list[Reviewed], custom: tuple[str, ...] = ()
) -> ModelCall:
    """The request asking an LLM to revise ``text`` (version ``v``) given the reviews
    (``custom``: the run's custom directions)."""
    ordered = sorted(reviews, key=lambda r: r.ref.verdict != "bad")  # bad ones first
    samples = [r for r in ordered if r.ref.sample_id is not None][:MAX_SAMPLES]
    context = {
        "task": "revise_prompt",
        "prompt_name": v.name,
        "prompt_kind": kind_of(v.name, custom),
        "version": v.id,
        "current_prompt": text,
        "reviewed_samples": [
            {"sample_id": r.ref.sample_id, "verdict": r.ref.verdict, "question": r.question,
             "answer": r.answer, "note": r.ref.note}
            for r in samples
        ],
        "notes": [
            {"verdict": r.ref.verdict, "note": r.ref.note}
            for r in ordered if r.ref.sample_id is None
        ],
    }  # fmt: skip
    t = revise_template()
    names = allowed_placeholders(v.name, custom)
    fills = {
        "placeholders": ", ".join("{{" + n + "}}" for n in names),
        "context_placeholder": "{{context}}",
    }
    return ModelCall(
        task="revise_prompt",
        template=t.name,
        template_version=t.version,
        messages=t.render(context, fills),
        context=context,
        json_schema=PromptRevision.model_json_schema(),
        temperature=0.2,
        max_tokens=4096,
    )


def _usable(
    name: str, reply: Reply, current_text: str, custom: tuple[str, ...] = ()
) -> PromptRevision:
    from mmevol.parse import parse_reply

    value = parse_reply(reply.text, PromptRevision).value
    try:
        check_prompt(name, value.prompt, custom)
    except ValueError as e:
        raise InvalidRevision(f"the revised prompt is not usable: {e}") from None
    if content_hash(value.prompt) == content_hash(current_text):
        raise InvalidRevision("the revised prompt is identical to the current one")
    return value


async def ask_revision(
    backend: Backend,
    call: ModelCall,
    name: str,
    current_text: str,
    custom: tuple[str, ...] = (),
) -> tuple[PromptRevision, list[Reply]]:
    """Call the backend; on an unusable reply ask once more with the reason; else raise.
    Returns the revision and every reply it took (their usage is what the revision cost)."""
    from mmevol.parse import reask_messages

    try:
        reply = await backend.complete(call)
        try:
            return _usable(name, reply, current_text, custom), [reply]
        except (ParseFailed, InvalidRevision) as first:
            again = call.model_copy(
                update={
                    "messages": reask_messages(call.messages, reply.text, str(first)),
                    "retry": 1,
                }
            )
            second = await backend.complete(again)
            return _usable(name, second, current_text, custom), [reply, second]
    finally:
        await backend.aclose()


def revise(
    store: PromptStore,
    name: str,
    reviewed: list[Reviewed],
    backend: Backend,
    *,
    all_versions: bool = False,
) -> PromptVersion:
    """Ask ``backend`` for a revision of ``name``'s current prompt; store it as a new version."""
    if backend.name in PROGRAMMATIC or backend.describe().get("kind") == "programmatic generator":
        raise MmevolError(
            f"backend {backend.name!r} is a programmatic generator, not an LLM: it cannot revise "
            "a prompt; edit it yourself with `mmevol prompts edit`"
        )
    current = store.get(name)
    text = store.text(current)
    used = select(reviewed, current, all_versions)
    if not any(r.ref.verdict == "bad" for r in used):
        raise MmevolError(
            f"no 'bad' review bears on {current.id} ({len(used)} reviews of its samples or "
            "type); review its samples in `mmevol view` or pass --notes"
        )
    custom = tuple(store.custom())
    call = revision_call(current, text, used, custom)
    try:
        result, replies = asyncio.run(ask_revision(backend, call, name, text, custom))
    except CallError as err:
        record = store.record_failure(
            name,
            {"time": round(time.time(), 3), "base_version": current.id,
             "error_class": err.error_class, "message": str(err)[:2000],
             "attempts": err.attempts, "backend": backend.name, "model": backend.model},
        )  # fmt: skip
        raise RevisionFailed(name, err, record) from None
    return store.add(
        name,
        result.prompt,
        author="llm",
        reason=result.rationale or f"revised from {len(used)} reviews",
        reviews=[r.ref for r in used],
        backend=backend.name,
        model=backend.model,
        expected_parent=current.version,  # a person's edit meanwhile is not silently overridden
        usage=(
            sum(r.usage.input_tokens for r in replies),
            sum(r.usage.output_tokens for r in replies),
            sum(r.cost_usd for r in replies),
        ),
    )
