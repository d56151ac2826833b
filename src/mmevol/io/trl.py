"""The TRL conversational vision format: one record per conversation, ``images`` + ``messages``.

Follows TRL v1.16's docs ("Dataset formats": vision datasets; "SFT Trainer": training
vision-language models) as ``trl.trainer.sft_trainer.DataCollatorForVisionLanguageModeling``
(trl 1.16) reads it: rows with an ``images`` list and a ``messages`` list whose contents are
typed blocks, ``{"type": "image"}`` placeholders (filled in order from ``images``) and
``{"type": "text", "text": ...}``. We put the image block where the first item's
``image_position`` says (after the text for ``end``, else in front). Any ``<image>`` token left
inside question or answer text is removed, so each record has exactly one image placeholder
for its one image.

``images`` holds path strings: after ``datasets.load_dataset("json", ...)`` the collator hands
them to the processor, which opens a path (transformers' ``load_image``), or they can be cast
to ``datasets.Image()`` to decode to PIL images as TRL's examples show. Either way a path must
resolve from the trainer's working directory: the export writes absolute paths unless asked
for relative ones (``mmevol train`` resolves those against the file's folder).
"""

from __future__ import annotations

from typing import Any

from mmevol.io.llava import strip_image_token
from mmevol.schema import QA


def plain(text: str) -> str:
    """The text with stray ``<image>`` tokens removed."""
    return strip_image_token(text)[0]


def trl_record(image: str, items: list[QA], record_id: str | None = None) -> dict[str, Any]:
    """One conversation about ``image`` (a path) as TRL's ``messages`` + ``images``."""
    messages: list[dict[str, Any]] = []
    for k, qa in enumerate(items):
        text = {"type": "text", "text": plain(qa.question)}
        if k == 0:
            blocks = [text, {"type": "image"}]
            if qa.image_position != "end":
                blocks.reverse()
        else:
            blocks = [text]
        messages.append({"role": "user", "content": blocks})
        answer = [{"type": "text", "text": plain(qa.answer)}]
        messages.append({"role": "assistant", "content": answer})
    rec: dict[str, Any] = {"images": [image], "messages": messages}
    if record_id is not None:
        rec["id"] = record_id
    return rec
