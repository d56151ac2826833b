"""The JSON schema a call asks its reply to follow: tighter than what the parser accepts.

The parser (``mmevol.parse``) is lenient: it repairs and maps what a model returns. The schema
sent with a call is the opposite, the exact shape wanted for *this* call: as many items as the
call has inputs, each ``source`` an index that exists, names from the vocabularies, no extra
keys. A server that constrains decoding with it (llama.cpp's grammars, vLLM's guided decoding,
OpenAI's structured outputs) then cannot produce a reply of the wrong shape, which is what
makes a small local model usable at all.
"""

from __future__ import annotations

from typing import Any

from mmevol.vocab import FORMATS, MANIPULATIONS, SKILLS


def _text() -> dict[str, Any]:
    return {"type": "string", "minLength": 1}


def _list_of(item: dict[str, Any], n: int) -> dict[str, Any]:
    return {"type": "array", "items": item, "minItems": n, "maxItems": n}


def evolve_schema(n_items: int) -> dict[str, Any]:
    """One evolved item per input item, ``source`` in ``0..n_items-1``."""
    step = {
        "type": "object",
        "properties": {"manipulation": {"enum": list(MANIPULATIONS)}, "description": _text()},
        "required": ["manipulation", "description"],
        "additionalProperties": False,
    }
    item = {
        "type": "object",
        "properties": {
            "source": {"enum": list(range(n_items))},
            "question": _text(),
            "answer": _text(),
            "objects": {"type": "array", "items": {"type": "string"}},
            "skills": {"type": "array", "items": {"enum": list(SKILLS)}},
            "format": {"enum": list(FORMATS)},
            "steps": {"type": "array", "items": step},
        },
        "required": ["source", "question", "answer", "objects", "skills", "format", "steps"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"items": _list_of(item, n_items)},
        "required": ["items"],
        "additionalProperties": False,
    }


def judge_schema(n_pairs: int) -> dict[str, Any]:
    """One verdict per pair, ``index`` in ``0..n_pairs-1``, a score of 0..10."""
    verdict = {
        "type": "object",
        "properties": {
            "index": {"enum": list(range(n_pairs))},
            "improved": {"enum": ["yes", "no"]},
            "score": {"enum": list(range(11))},
            "reason": {"type": "string"},
        },
        "required": ["index", "improved", "score", "reason"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"verdicts": _list_of(verdict, n_pairs)},
        "required": ["verdicts"],
        "additionalProperties": False,
    }
