"""Claims about numbers: count comparisons, arithmetic written out, and "name: count" tallies.

- "more cups than plates", "as many dogs as cats" — both counts exact in the annotations;
- "2 + 3 = 6", "0.71 > 0.8" — arithmetic in a step or answer is checked as arithmetic;
- lines such as "person: 3" — a tally of the whole image.
"""

from __future__ import annotations

import re

from mmevol.facts.annotations import NUMBER_RE, Annotations, Finding, Status, number_value
from mmevol.facts.claims import NEG
from mmevol.facts.lexicon import Sense

EXACT = {"same", "group"}  # kinds whose annotated count is the count

_N = rf"({NUMBER_RE})"
_KIND = r"((?:[a-z]+ ){0,2}[a-z]+)"  # up to three words; the lexicon finds the thing in them
# (pattern, which group holds X, Y and the difference; "more", "fewer" or "differ")
# fmt: off
_COMPARE: list[tuple[re.Pattern[str], int, int, int | None, str]] = [
    (re.compile(rf"\b(?:{_N} )?more {_KIND} than (?:the )?{_KIND}\b(?! to)"), 2, 3, 1, "more"),
    (re.compile(rf"\b(?:{_N} )?(?:fewer|less) {_KIND} than (?:the )?{_KIND}\b(?! to)"), 2, 3, 1, "fewer"),
    (re.compile(rf"\b{_KIND} (?:outnumber|outnumbers|exceed|exceeds) (?:the )?{_KIND} by {_N}\b"), 1, 2, 3, "more"),
    (re.compile(rf"\b{_KIND} (?:outnumber|outnumbers|exceed|exceeds) (?:the )?{_KIND}\b(?! by)"), 1, 2, None, "more"),
    (re.compile(rf"\b{_KIND} (?:are|is) outnumbered by (?:the )?{_KIND}\b"), 1, 2, None, "fewer"),
    (re.compile(rf"\b{_KIND} (?:are|is) (?:the )?(?:more|most) (?:numerous|common|frequent)(?: (?:group|kind|one))?(?: than (?:the )?{_KIND})?\b"), 1, 2, None, "more"),
    (re.compile(rf"\b{_KIND} (?:are|is) (?:the )?(?:less|least|fewer) (?:numerous|common|frequent)(?: (?:group|kind|one))?(?: than (?:the )?{_KIND})?\b"), 1, 2, None, "fewer"),
    (re.compile(rf"^(?!.*\bthan\b)(?:there are )?more {_KIND}\b"), 1, 2, None, "more"),
    (re.compile(rf"^(?!.*\bthan\b).*?\b{_KIND} (?:are|is) (?:fewer|less) (?:in number|numerous|common)\b"), 1, 2, None, "fewer"),
    (re.compile(rf"\bdifference between (?:the (?:number|count)s? of )?(?:the )?{_KIND} and (?:the )?{_KIND} is {_N}\b"), 1, 2, 3, "differ"),
]
# fmt: on
_SAME = re.compile(
    r"\b(?:as many ([a-z ]+?) as ([a-z ]+)|the same number of ([a-z ]+?) and ([a-z ]+))"
)


def _exact(ann: Annotations, text: str | None, last: bool = False) -> tuple[Sense, int] | None:
    """A kind whose count the annotations know exactly, with that count (the first thing the
    words name, or the ``last`` one)."""
    found = ann.lexicon.find(text) if text else []
    sense = (found[-1] if last else found[0])[2] if found else None
    if not sense or sense.relation not in EXACT or not ann.is_closed(sense):
        return None
    have = ann.count(sense)
    return None if have.crowd else (sense, have.n)


def count_comparisons(
    clause: str, ann: Annotations, others: list[str] | None = None
) -> list[Finding]:
    """ "more cups than plates", "2 more dogs than cats", "forks outnumber spoons", "the
    difference between bowls and cups is 3", "as many X as Y" ("``others``: kinds the question
    names, for "the handbags are the more numerous group")."""
    found: list[Finding] = []
    for pattern, gx, gy, gn, how in _COMPARE:
        for m in pattern.finditer(clause):
            if NEG.search(clause[max(0, m.start() - 15) : m.start()]) or NEG.search(m.group(0)):
                continue
            a = _exact(ann, m.group(gx), last=gx < gy and gx == 1)
            b_text = m.group(gy) if gy <= pattern.groups and m.group(gy) else None
            pairs = [_exact(ann, b_text)] if b_text else [_exact(ann, o) for o in others or []]
            n = number_value(m.group(gn)) if gn and m.group(gn) else None
            for b in pairs:
                if a is None or b is None or a[0].categories == b[0].categories:
                    continue
                (sa, ca), (sb, cb) = a, b
                if how == "differ":
                    truth = abs(ca - cb) == n
                elif n is not None:
                    truth = ca - cb == n if how == "more" else cb - ca == n
                else:
                    truth = ca > cb if how == "more" else ca < cb
                claim = f"{'' if n is None else f'{n} '}{how} {sa.word} than {sb.word}"
                status: Status = "confirmed" if truth else "refuted"
                found.append(Finding(status, claim, f"{ca} {sa.word} vs {cb} {sb.word} annotated"))
    for m in _SAME.finditer(clause):
        x, y = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        a, b = _exact(ann, x), _exact(ann, y)
        if a is None or b is None or NEG.search(clause[max(0, m.start() - 15) : m.start()]):
            continue
        same: Status = "confirmed" if a[1] == b[1] else "refuted"
        found.append(Finding(same, f"as many {a[0].word} as {b[0].word}", f"{a[1]} vs {b[1]} annotated"))  # fmt: skip
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


_TALLY = re.compile(rf"^\W*([a-z][a-z ]{{0,40}}?)\W*\s*[:=]\s*({NUMBER_RE})\W*$")
_GENERIC = {"computer", "computers", "item", "items", "object", "objects", "unit", "units", "set", "sets"}  # fmt: skip


MAX_TALLY = 500


def tallies(text: str, ann: Annotations) -> list[Finding]:
    """Lines of the form "name: count" (a tally of the whole image)."""
    found: list[Finding] = []
    for line in text.lower().replace("*", "").replace("`", "").splitlines()[:MAX_TALLY]:
        m = _TALLY.match(line)
        name = m.group(1).strip() if m else ""
        spans = ann.lexicon.find(name)
        rest = set(name[spans[0][1] :].split()) if len(spans) == 1 else {"?"}
        n = number_value(m.group(2)) if m else None
        if m and n is not None and len(spans) == 1 and spans[0][0] == 0 and rest <= _GENERIC:
            found.append(ann.exact_count(spans[0][2], n, f"{name}: {n}", total=True))
    return found


_SUM = re.compile(
    rf"\b{_N}\s+[a-z -]{{1,30}}?\s+(?:plus|and|together with)\s+{_N}\s+[a-z -]{{1,30}}?,?\s*"
    rf"(?:gives|give|makes|make|equals|equal|is|are|totals?|comes? to|adds? up to|=)\s+{_N}\b"
)
_DIFF = re.compile(
    rf"\b{_N}\s+[a-z -]{{1,30}}?\s+(?:versus|vs\.?|against|compared (?:with|to)|and)\s+{_N}\s+"
    rf"[a-z -]{{1,30}}?[;,.]?\s*(?:so |thus |hence |and )?the difference (?:is|comes to|=)\s+{_N}\b"
)


def worded_arithmetic(text: str) -> list[Finding]:
    """Sums and differences written in words: "one oven plus two glasses gives 5 objects",
    "two cars versus one bus; the difference is 2"."""
    found: list[Finding] = []
    low = text.lower()[:20_000]
    for pattern, op in ((_SUM, "+"), (_DIFF, "-")):
        for m in pattern.finditer(low):
            a, b, c = (number_value(m.group(k)) for k in (1, 2, 3))
            if a is None or b is None or c is None:
                continue
            value = a + b if op == "+" else abs(a - b)
            status: Status = "confirmed" if value == c else "refuted"
            found.append(Finding(status, f"{a} {op} {b} = {c}", f"it is {value}"))
    return found
