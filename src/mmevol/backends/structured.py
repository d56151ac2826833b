"""Structured output per server family: how each OpenAI-compatible server is asked for JSON that
follows a schema, which family an endpoint is, and the mode an endpoint is on now.

Servers that speak the OpenAI chat API take different spellings of "answer in this schema":

| mode        | request                                                        | servers          |
|-------------|----------------------------------------------------------------|------------------|
| ``schema``  | ``response_format: {type: json_schema, json_schema: {schema}}`` | OpenAI, vLLM, SGLang, llama.cpp's ``llama-server``, Ollama |
| ``object_schema`` | ``response_format: {type: json_object, schema}`` (grammar-constrained) | llama-cpp-python, ``llama-server`` |
| ``guided``  | ``guided_json: schema`` (a top-level field)                     | vLLM             |
| ``format``  | ``format: schema`` (a top-level field)                          | Ollama           |
| ``object``  | ``response_format: {type: json_object}`` (JSON, any shape)      | most             |
| ``none``    | nothing: the prompt alone asks for JSON                         | all              |

The family is read once per endpoint from ``GET /models`` (``owned_by`` and the ``Server``
header): it picks the ladder of modes to go down, strongest first. A mode the server refuses (a
4xx/5xx naming the field) steps the endpoint down one rung, once however many calls were in
flight, with one warning. What was detected and the mode in use are recorded with the run
(``stats.json`` -> ``backend``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


def _schema(body: dict[str, Any], schema: dict[str, Any], task: str) -> None:
    body["response_format"] = {
        "type": "json_schema",
        "json_schema": {"name": f"mmevol_{task}", "schema": schema, "strict": False},
    }


def _object_schema(body: dict[str, Any], schema: dict[str, Any], task: str) -> None:
    body["response_format"] = {"type": "json_object", "schema": schema}


def _guided(body: dict[str, Any], schema: dict[str, Any], task: str) -> None:
    body["guided_json"] = schema


def _format(body: dict[str, Any], schema: dict[str, Any], task: str) -> None:
    body["format"] = schema


def _object(body: dict[str, Any], schema: dict[str, Any], task: str) -> None:
    body["response_format"] = {"type": "json_object"}


def _none(body: dict[str, Any], schema: dict[str, Any], task: str) -> None:
    return None


# mode -> how it changes a request body (given the call's JSON schema and task)
MODES: dict[str, Callable[[dict[str, Any], dict[str, Any], str], None]] = {
    "schema": _schema,
    "object_schema": _object_schema,
    "guided": _guided,
    "format": _format,
    "object": _object,
    "none": _none,
}
# the body fields a mode adds: a server error naming one of them refuses the mode
MODE_FIELDS = {
    "schema": ("response_format", "json_schema"),
    "object_schema": ("response_format", "schema"),
    "guided": ("guided_json",),
    "format": ("format",),
    "object": ("response_format", "json_object"),
    "none": (),
}
SCHEMA_MODES = frozenset({"schema", "object_schema", "guided", "format"})

# family -> the modes to try, strongest first
LADDERS: dict[str, tuple[str, ...]] = {
    "openai": ("schema", "object", "none"),
    "llama-cpp-python": ("object_schema", "object", "none"),
    "llama.cpp": ("schema", "object_schema", "object", "none"),
    "vllm": ("schema", "guided", "object", "none"),
    "sglang": ("schema", "object", "none"),
    "ollama": ("schema", "format", "object", "none"),
    "unknown": ("schema", "object_schema", "object", "none"),
}
# ``owned_by`` of ``GET /models`` -> family (what each server writes there)
OWNERS = {
    "me": "llama-cpp-python",
    "llamacpp": "llama.cpp",
    "vllm": "vllm",
    "sglang": "sglang",
    "library": "ollama",
    "ollama": "ollama",
    "openai": "openai",
    "system": "openai",
    "openai-internal": "openai",
}
# families served by one local process that generates for one request at a time unless told
LOCAL_FAMILIES = frozenset({"llama-cpp-python", "llama.cpp", "ollama"})


def detect_family(models: Any, server_header: str | None = None) -> str:
    """The family an endpoint belongs to, from its ``GET /models`` body and ``Server`` header."""
    if server_header and "llama.cpp" in server_header.lower():
        return "llama.cpp"
    data = models.get("data") if isinstance(models, Mapping) else None
    owners = {
        str(m.get("owned_by", "")).lower()
        for m in (data if isinstance(data, list) else [])
        if isinstance(m, Mapping)
    }
    for owner in sorted(owners):
        if owner in OWNERS:
            return OWNERS[owner]
    return "unknown"


def names_mode(text: str, mode: str) -> bool:
    """Whether a server's error text refuses ``mode``: it names a field the mode sends."""
    fields = MODE_FIELDS.get(mode, ())
    return bool(fields) and fields[0] in text


@dataclass
class EndpointFormat:
    """The structured-output state of one backend's endpoint: calls in flight share it, so a
    refusal steps it down once and warns once."""

    name: str
    family: str | None = None  # None: not detected yet
    slots: int | None = None  # requests the server generates at once, when it says
    ladder: tuple[str, ...] = LADDERS["unknown"]
    mode: str = "schema"
    refused: list[str] = field(default_factory=list)
    fixed: bool = False  # a mode the user chose (``--json-mode``): detection does not change it
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def settle_family(self, family: str, slots: int | None = None) -> None:
        """Record the detected family; the ladder starts at its strongest mode."""
        with self._lock:
            if self.family is not None:
                return
            self.family, self.slots = family, slots
            if self.fixed:
                return
            self.ladder = LADDERS.get(family, LADDERS["unknown"])
            self.mode = next((m for m in self.ladder if m not in self.refused), "none")

    def step_down(self, refused: str, reason: str) -> bool:
        """After the server refused ``refused``: the next rung, once (True when this call moved
        the endpoint; calls that were in flight with the same mode only retry)."""
        with self._lock:
            if refused != self.mode:
                return refused != "none"
            self.refused.append(refused)
            later = self.ladder[self.ladder.index(refused) + 1 :] if refused in self.ladder else ()
            self.mode = later[0] if later else "none"
        log.warning("%s does not take structured mode %r; using %r from now on (%s)",
                    self.name, refused, self.mode, reason)  # fmt: skip
        return True

    def record(self) -> dict[str, Any]:
        return {
            "family": self.family or "not detected",
            "structured_mode": self.mode,
            "refused_modes": list(self.refused),
            "slots": self.slots,
        }


def apply_mode(body: dict[str, Any], mode: str, schema: dict[str, Any] | None, task: str) -> None:
    """Add ``mode``'s fields to ``body`` (a schema mode without a schema asks for any JSON)."""
    if schema is None:
        if mode in SCHEMA_MODES or mode == "object":
            _object(body, {}, task)
        return
    MODES[mode](body, schema, task)


__all__ = [
    "LADDERS",
    "LOCAL_FAMILIES",
    "MODES",
    "EndpointFormat",
    "apply_mode",
    "detect_family",
    "names_mode",
]
