"""Why units failed, in words a user can act on: open failures counted by unit and by cause,
unparseable replies sorted by kind (cut off at the token limit, no JSON, JSON of the wrong shape)
with the repair-ladder rungs that found JSON in them and the first reply of each kind, and a hint
when most replies stopped at the token limit. ``compute_stats`` puts this in ``stats.json`` under
``failure_causes``; the CLI prints ``failure_lines`` after a run that did not finish.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from mmevol.parse import json_values
from mmevol.store import Store

EXAMPLE_CHARS = 300
# the share of replies stopped by the token limit above which --max-tokens is the likely cause
LENGTH_HINT_SHARE = 0.5


def parse_kind(message: str, finish_reason: str | None) -> str:
    """``cut_off``, ``wrong_shape`` or ``not_json``: what was wrong with an unparseable reply."""
    if finish_reason == "length" or "cut off" in message:
        return "cut_off"
    if message.startswith("reply does not match"):
        return "wrong_shape"
    return "not_json"


def _rungs(text: str) -> str:
    """The ladder rungs that found the first JSON value in ``text`` ("none": no JSON at all)."""
    for rungs, value in json_values(text):
        if isinstance(value, (dict, list)):
            return "+".join(rungs)
    return "none"


def failure_details(store: Store) -> dict[str, Any]:
    """Open failures by unit and cause, and what the unparseable replies looked like."""
    opened = store.failures(open_only=True)
    units = {f["unit"] for f in opened}
    first_message: dict[str, str] = {}
    for f in opened:
        first_message.setdefault(f["error_class"], " ".join(str(f["message"]).split())[:200])
    kinds: Counter[str] = Counter()
    rungs: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for _unit, task, message, reply, finish in store.open_parse_failures():
        kind = parse_kind(str(message), finish)
        kinds[f"{task}:{kind}"] += 1
        text = str(reply or "")
        rungs[_rungs(text)] += 1
        examples.setdefault(f"{task}:{kind}", " ".join(text.split())[:EXAMPLE_CHARS])
    replies = Counter[str]()
    for _task, finish, n in store.finish_reasons():
        replies["length" if finish == "length" else "other"] += n
    total = sum(replies.values())
    hint = None
    if total and replies["length"] / total >= LENGTH_HINT_SHARE:
        hint = (f"{replies['length']} of {total} replies stopped at the token limit "
                "(finish_reason=length): raise --max-tokens")  # fmt: skip
    return {
        "units": len(units),
        "first_message": first_message,
        "parse": {"by_kind": dict(kinds), "rungs": dict(rungs), "examples": examples},
        "replies_at_token_limit": replies["length"],
        "hint": hint,
    }


def printable(text: str) -> str:
    """``text`` safe for a terminal: control characters (ANSI escapes too) shown as ``?``."""
    return "".join(c if c.isprintable() else "?" for c in text)


def failure_lines(stats: dict[str, Any]) -> list[str]:
    """The causes of a run's open failures, one line each, for the console (model and server
    text made printable: a reply cannot drive the terminal)."""
    causes = stats.get("failure_causes") or {}
    lines = []
    by_class = (stats.get("failures") or {}).get("by_class") or {}
    first = causes.get("first_message") or {}
    for cls, n in sorted(by_class.items(), key=lambda kv: -kv[1]):
        lines.append(f"{cls} x{n}: {first.get(cls, '')}")
    parse = causes.get("parse") or {}
    for kind, n in sorted((parse.get("by_kind") or {}).items(), key=lambda kv: -kv[1]):
        example = (parse.get("examples") or {}).get(kind, "")
        lines.append(f"  {kind} x{n}, e.g. {example[:120]!r}")
    if causes.get("hint"):
        lines.append(f"hint: {causes['hint']}")
    return [printable(line) for line in lines]
