"""Answers written as data — JSON, markdown tables, "label: name" pairs — read as sentences.

A model asked for a JSON list of objects or a table of counts states the same claims a sentence
would: ``{"object": "cup", "count": 3, "bbox": [...]}`` says there are three cups and that the
box shows a cup; a row ``| chair | 1 | left |`` under the header ``Object | Count | Position``
says there is one chair, on the left. ``as_sentences`` writes those claims out so the clause
readers check them; ``region_names`` ties "region 2: bottle" in an answer to the box the
question labelled "Region 2". Nothing here decides truth; malformed data yields nothing.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mmevol.geometry import BOX_RE

MAX_ITEMS = 200
_NAME = {"object", "name", "category", "label", "class", "item", "type", "thing", "kind"}
_COUNT = {"count", "number", "quantity", "n", "amount", "total", "instances"}
_BOX = {"bbox", "box", "bounding_box", "boundingbox", "coordinates", "region", "coords"}
_WHERE = {"position", "location", "side", "where", "horizontal_position", "vertical_position",
          "horizontal position", "vertical position", "place"}  # fmt: skip
_SIDES = {"left", "right", "top", "bottom", "upper", "lower"}
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def _json_value(text: str) -> Any:
    for candidate in (*_FENCE.findall(text), text):
        candidate = candidate.strip()
        start = min((i for i in (candidate.find("{"), candidate.find("[")) if i >= 0), default=-1)
        if start < 0:
            continue
        end = max(candidate.rfind("}"), candidate.rfind("]"))
        try:
            return json.loads(candidate[start : end + 1])
        except (ValueError, RecursionError):
            continue
    return None


def _record(fields: dict[str, Any]) -> list[str]:
    """Sentences for one object record (keys already lower-cased)."""
    name = next((str(v) for k, v in fields.items() if k in _NAME and isinstance(v, str)), None)
    if not name:
        return []
    out: list[str] = []
    count = next((v for k, v in fields.items() if k in _COUNT), None)
    if isinstance(count, int | str) and str(count).strip().isdigit():
        out.append(f"there are {int(str(count).strip())} {name} in the image")
    box = next((v for k, v in fields.items() if k in _BOX), None)
    if isinstance(box, list) and len(box) == 4 and all(isinstance(x, int | float) for x in box):
        out.append(f"the {name} at [{', '.join(f'{float(x):.3f}' for x in box)}]")
    elif isinstance(box, str) and BOX_RE.search(box):
        out.append(f"the {name} at {BOX_RE.search(box).group(0)}")  # type: ignore[union-attr]
    where = next((str(v).lower() for k, v in fields.items() if k in _WHERE), "")
    side = [w for w in re.findall(r"[a-z]+", where) if w in _SIDES]
    if side:
        out.append(f"the {name} is on the {'-'.join(side[:2])} side of the image")
    return out


def _walk(value: Any, out: list[str], depth: int = 0) -> None:
    if depth > 6 or len(out) > MAX_ITEMS:
        return
    if isinstance(value, list):
        for v in value[:MAX_ITEMS]:
            _walk(v, out, depth + 1)
    elif isinstance(value, dict):
        fields = {str(k).lower().strip(): v for k, v in value.items()}
        if fields and all(isinstance(v, int) and not isinstance(v, bool) for v in fields.values()):
            out += [f"{k}: {v}" for k, v in fields.items()]  # a tally {"cups": 2, ...}
            return
        out += _record(fields)
        for v in fields.values():
            if isinstance(v, dict | list):
                _walk(v, out, depth + 1)


def _table(text: str) -> list[str]:
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.strip().startswith("|")
    ]
    rows = [r for r in rows if not all(re.fullmatch(r":?-{2,}:?", c) for c in r if c)]
    if len(rows) < 2:
        return []
    header = [h.lower() for h in rows[0]]
    out: list[str] = []
    for row in rows[1:MAX_ITEMS]:
        fields = dict(zip(header, row, strict=False))
        named = {("object" if k in _NAME else k): v for k, v in fields.items()}
        out += _record(named)
    return out


def as_sentences(answer: str) -> str:
    """The claims of a JSON or markdown-table answer, one per line ("" when it is neither)."""
    out: list[str] = []
    value = _json_value(answer) if re.search(r"[{\[]\s*[\"{\[]", answer) else None
    if value is not None:
        _walk(value, out)
    if "|" in answer:
        out += _table(answer)
    return "\n".join(out[:MAX_ITEMS])


_LABEL = re.compile(r"([a-z0-9]+)\W{0,3}$")


def _key(label: str) -> str:
    m = re.search(r"([a-z]|\d+)$", label.lower().strip())
    return m.group(1) if m else ""


def region_names(question: str, answer: str) -> str:
    """ "[box] shows a NAME" for each region the question labelled and the answer named."""
    boxes: dict[str, str] = {}
    q = question.lower()
    for m in BOX_RE.finditer(q):
        label = _LABEL.search(q[max(0, m.start() - 20) : m.start()])
        if label:
            boxes.setdefault(_key(label.group(1)), m.group(0))
    if len(boxes) < 2:
        return ""
    pairs: list[tuple[str, str]] = []
    value = _json_value(answer)
    if isinstance(value, dict):
        pairs += [(str(k), str(v)) for k, v in value.items() if isinstance(v, str)]
    pairs += re.findall(r"(?im)^\W*(?:region|box|area)?\s*([a-z0-9_]{1,12})\s*[:=\-–>]+\s*(?:an?\s+|the\s+)?([a-z][a-z ]{1,30})$", answer)  # fmt: skip
    said = [f"{boxes[_key(k)]} shows a {v.strip()}" for k, v in pairs if _key(k) in boxes]
    return "\n".join(said)
