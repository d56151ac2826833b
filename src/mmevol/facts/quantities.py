"""Claims about numbers: count comparisons, arithmetic written out, and "name: count" tallies.

- "more cups than plates", "as many dogs as cats" — both counts exact in the annotations;
- "2 + 3 = 6", "0.71 > 0.8" — arithmetic in a step or answer is checked as arithmetic;
- lines such as "person: 3" — a tally of the whole image.
"""

from __future__ import annotations

import re

from mmevol.facts.annotations import Annotations, Finding, Status
from mmevol.facts.claims import NEG

_MORE = re.compile(r"\b(more|fewer|less)\s+([a-z ]+?)\s+than\s+([a-z ]+?)(?:\b|$)")
_SAME = re.compile(
    r"\b(?:as many ([a-z ]+?) as ([a-z ]+)|the same number of ([a-z ]+?) and ([a-z ]+))"
)


def count_comparisons(clause: str, ann: Annotations) -> list[Finding]:
    found: list[Finding] = []
    for m in _MORE.finditer(clause):
        a, b = ann.lexicon.sense(m.group(2)), ann.lexicon.sense(m.group(3))
        if not a or not b or a.relation != "same" or b.relation != "same":
            continue
        ca, cb = ann.count(a), ann.count(b)
        if ca.crowd or cb.crowd or not (ann.is_closed(a) and ann.is_closed(b)):
            continue
        negated = bool(NEG.search(clause[max(0, m.start() - 15) : m.start()]))
        truth = ca.n > cb.n if m.group(1) == "more" else ca.n < cb.n
        claim = f"{m.group(1)} {a.word} than {b.word}"
        status: Status = "refuted" if truth == negated else "confirmed"
        found.append(Finding(status, claim, f"{ca.n} {a.word} vs {cb.n} {b.word} annotated"))
    for m in _SAME.finditer(clause):
        x, y = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        a, b = ann.lexicon.sense(x), ann.lexicon.sense(y)
        if not a or not b or a.relation != "same" or b.relation != "same":
            continue
        ca, cb = ann.count(a), ann.count(b)
        if ca.crowd or cb.crowd or NEG.search(clause[max(0, m.start() - 15) : m.start()]):
            continue
        same: Status = "confirmed" if ca.n == cb.n else "refuted"
        found.append(Finding(same, f"as many {a.word} as {b.word}", f"{ca.n} vs {cb.n} annotated"))
    return found


_ARITH = re.compile(
    r"(?<![\d.\[,])(\d+(?:\.\d+)?(?:\s*[-+*/×x÷]\s*\d+(?:\.\d+)?)+)\s*=\s*(-?\d+(?:\.\d+)?)(?![\d.]*\s*[,\]])"
)
_CMP = re.compile(
    r"(?<![\d.\[,])(-?\d+(?:\.\d+)?)\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?)(?![\d.]*\s*[,\]])"
)


def _evaluate(expr: str) -> float | None:
    """The value of ``a op b op c ...`` (numbers and + - * / only, usual precedence)."""
    tokens = re.findall(r"\d+(?:\.\d+)?|[-+*/×x÷]", expr.replace(" ", ""))
    if "".join(tokens) != expr.replace(" ", "") or len(tokens) % 2 == 0:
        return None
    ops = {"×": "*", "x": "*", "÷": "/"}
    terms: list[float] = [float(tokens[0])]
    signs: list[str] = []
    for op, num in zip(tokens[1::2], tokens[2::2], strict=True):
        op, value = ops.get(op, op), float(num)
        if op == "*":
            terms[-1] *= value
        elif op == "/":
            if value == 0:
                return None
            terms[-1] /= value
        else:
            signs.append(op)
            terms.append(value)
    total = terms[0]
    for sign, value in zip(signs, terms[1:], strict=True):
        total = total + value if sign == "+" else total - value
    return total


def arithmetic(clause: str, ann: Annotations) -> list[Finding]:
    found: list[Finding] = []
    for m in _ARITH.finditer(clause):
        value, said = _evaluate(m.group(1)), float(m.group(2))
        if value is None:
            continue
        ok = abs(value - said) <= max(0.011, abs(value) * 0.01)
        found.append(
            Finding(
                "confirmed" if ok else "refuted", f"{m.group(1)} = {m.group(2)}", f"it is {value:g}"
            )
        )
    for m in _CMP.finditer(clause):
        a, op, b = float(m.group(1)), m.group(2), float(m.group(3))
        ok = {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
        if not ok:
            found.append(Finding("refuted", f"{m.group(1)} {op} {m.group(3)}", "false arithmetic"))
    return found


_TALLY = re.compile(r"^\W*([a-z][a-z ]{0,40}?)\s*[:=]\s*(\d{1,4})\W*$")


def tallies(text: str, ann: Annotations) -> list[Finding]:
    """Lines of the form "name: count" (a tally of the whole image)."""
    found: list[Finding] = []
    for line in text.lower().splitlines():
        m = _TALLY.match(line)
        spans = ann.lexicon.find(m.group(1)) if m else []
        if m and len(spans) == 1 and spans[0][1] == len(m.group(1)):
            n = int(m.group(2))
            found.append(ann.exact_count(spans[0][2], n, f"{m.group(1)}: {n}", total=True))
    return found
