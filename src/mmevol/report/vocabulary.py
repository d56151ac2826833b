"""The report's vocabulary card: how a run's skill and format strings met the vocabulary.

Shows, from ``stats["vocabulary"]`` (``evolve.stats.vocabulary_stats``), the share of strings
that were already vocabulary entries, that were mapped onto one, and that no entry fit (kept as
``other:<string>``), then the distinct unknown strings with how many samples carry each. Every
string from data is escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

LISTED = 30


def _cell(n: int | None, share: float | None) -> str:
    if n is None or share is None:
        return "<td>-</td>"
    return f"<td>{n} ({100 * share:.1f}%)</td>"


def _unknowns(title: str, found: dict[str, int]) -> str:
    if not found:
        return f"<p class=muted>{escape(title)}: none</p>"
    rows = "".join(
        f"<tr><td class='l pre'>{escape(text)}</td><td>{n}</td></tr>"
        for text, n in list(found.items())[:LISTED]
    )
    more = f"<p class=muted>… and {len(found) - LISTED} more</p>" if len(found) > LISTED else ""
    head = f"<tr><th class=l>{escape(title)} ({len(found)} distinct)</th><th>samples</th></tr>"
    return f"<table>{head}{rows}</table>{more}"  # a string keeps its line breaks


def vocabulary_html(f: dict[str, Any]) -> str:
    """One card for one run's figures dict (runs from before this count show a note)."""
    vocab = f["stats"].get("vocabulary")
    if not vocab:
        return "<div class=card><p class=muted>no vocabulary counts in this run</p></div>"
    head = (
        "<tr><th class=l>strings</th><th>seen</th><th>exact</th><th>mapped</th>"
        "<th>unknown, kept as other:</th></tr>"
    )
    rows = "".join(
        f"<tr><td class=l>{name}</td><td>{vocab[name]['total'] or '-'}</td>"
        + _cell(vocab[name]["exact"], vocab[name]["exact_share"])
        + _cell(vocab[name]["mapped"], vocab[name]["mapped_share"])
        + _cell(vocab[name]["unknown"], vocab[name]["unknown_share"])
        + "</tr>"
        for name in ("skills", "formats")
    )
    note = (
        "<p class=muted>strings of every evolved candidate (kept or not); exact: already a "
        "vocabulary entry; mapped: another spelling of one; unknown: no entry fits, the string "
        "is kept as <code>other:&lt;string&gt;</code> and listed below</p>"
    )
    return (
        f"<div class=card><table>{head}{rows}</table>{note}"
        f"{_unknowns('unknown skill strings', vocab['unknown_skills'])}"
        f"{_unknowns('unknown format strings', vocab['unknown_formats'])}</div>"
    )
