"""What the fake server and its batch API share of the wire: chat messages flattened to text,
the digest of a request's text, and which ``response_format`` names which answer mode."""

from __future__ import annotations

import hashlib
import json
from typing import Any

FORMAT_MODES = {"json_schema": "schema", "json_object": "object", "text": "none"}


def flatten_messages(messages: Any) -> tuple[list[dict[str, str]], int]:
    """Chat messages with text content only, and how many image parts they carried."""
    if not isinstance(messages, list) or not messages:
        raise ValueError("'messages' must be a non-empty list")
    out, images = [], 0
    for m in messages:
        if not isinstance(m, dict) or "role" not in m:
            raise ValueError("each message needs a 'role' and 'content'")
        content = m.get("content")
        if isinstance(content, list):
            texts = []
            for part in content:
                if isinstance(part, dict) and part.get("type") == "image_url":
                    images += 1
                elif isinstance(part, dict) and part.get("type") == "text":
                    texts.append(str(part.get("text", "")))
            content = "\n".join(texts)
        out.append({"role": str(m["role"]), "content": str(content or "")})
    return out, images


def text_key(messages: list[dict[str, str]], temperature: Any, max_tokens: Any) -> str:
    """Digest of a request's text messages (role, content) and sampling settings: what a
    client's journal and this server both know of a request (images and formats left out)."""
    flat = [{"role": str(m["role"]), "content": str(m["content"])} for m in messages]
    blob = json.dumps([flat, temperature, max_tokens], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()
