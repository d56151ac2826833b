"""Prompt templates (one file per direction + the judge), their version hashes, and rendering.

A template file holds a system part and a user part separated by a line ``=== user ===``.
``{{name}}`` placeholders are filled from the vocabularies and the call's context; the context
itself is embedded verbatim as JSON between ``<context>`` tags, so any model (and the fake
server) sees the exact symbolic data the prompt was built from. The version of a template is
``name@<first 10 hex of sha256(file text)>``: editing a file changes the version, which changes
cache keys and is recorded in every sample's lineage.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache
from importlib import resources
from typing import Any

from mmevol.calls import Message

CONTEXT_RE = re.compile(r"<context>\s*(\{.*\})\s*</context>", re.S)
PLACEHOLDER_RE = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
TEMPLATE_NAMES = ("perception", "reasoning", "interactive", "judge")


class Template:
    """A loaded template: its name, text and version."""

    def __init__(self, name: str, text: str) -> None:
        if "=== user ===" not in text:
            raise ValueError(f"template {name!r} has no '=== user ===' separator line")
        self.name = name
        self.text = text
        self.version = f"{name}@{hashlib.sha256(text.encode()).hexdigest()[:10]}"
        # a custom direction: the built-in one it behaves like (``prompts.directions``)
        self.like: str | None = None
        system, user = text.split("=== user ===", 1)
        self.system = system.strip()
        self.user = user.strip()

    def render(self, context: dict[str, Any], fills: dict[str, str]) -> list[Message]:
        """Fill placeholders; ``{{context}}`` becomes the JSON context block."""
        values = dict(fills)
        values["context"] = embed_context(context)

        def sub(m: re.Match[str]) -> str:
            key = m.group(1)
            if key not in values:
                raise KeyError(f"template {self.name!r} uses unknown placeholder {{{{{key}}}}}")
            return values[key]

        return [
            Message(role="system", content=PLACEHOLDER_RE.sub(sub, self.system)),
            Message(role="user", content=PLACEHOLDER_RE.sub(sub, self.user)),
        ]


@cache
def load_template(name: str) -> Template:
    """Load a bundled template by name (``perception``, ``reasoning``, ``interactive``, ``judge``)."""
    if name not in TEMPLATE_NAMES:
        raise ValueError(f"unknown template {name!r}; known: {', '.join(TEMPLATE_NAMES)}")
    text = resources.files("mmevol.prompts").joinpath("templates", f"{name}.md").read_text("utf-8")
    return Template(name, text)


def embed_context(context: dict[str, Any]) -> str:
    """The context as a tagged JSON block (compact, keys sorted, non-ASCII kept)."""
    return "<context>\n" + json.dumps(context, ensure_ascii=False, sort_keys=True) + "\n</context>"


def extract_context(text: str) -> dict[str, Any] | None:
    """The JSON context embedded in a rendered prompt, or None when there is none."""
    m = CONTEXT_RE.search(text)
    if not m:
        return None
    try:
        value = json.loads(m.group(1))
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
