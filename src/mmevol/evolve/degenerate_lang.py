"""Language of a question or answer, told only when the text says so clearly.

Two cheap signals: the writing system of the letters (Latin, CJK, Hangul, Cyrillic, Arabic, ...)
and, for Latin text, a profile of function words (English against the common European
languages). Quoted passages, boxes and numbers are set aside first: an English answer that
quotes a French sign is still English. Short texts give no verdict.
"""

from __future__ import annotations

import re


def vocab(words: str) -> frozenset[str]:
    """A word set written as one space-separated string."""
    return frozenset(words.split())


MIN_LETTERS = 20  # letters of an alphabetic script needed for a verdict
MIN_DENSE = 8  # characters of a CJK or Hangul script needed for a verdict
DENSE_WEIGHT = 3  # one CJK character carries about as much as three Latin letters
SCRIPT_SHARE = 0.8
MIN_WORDS = 8  # words of Latin text needed for an English / other verdict

SCRIPT_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x0041, 0x024F, "Latin"),
    (0x0370, 0x03FF, "Greek"),
    (0x0400, 0x052F, "Cyrillic"),
    (0x0590, 0x05FF, "Hebrew"),
    (0x0600, 0x06FF, "Arabic"),
    (0x0750, 0x077F, "Arabic"),
    (0x0900, 0x097F, "Devanagari"),
    (0x0E00, 0x0E7F, "Thai"),
    (0x1100, 0x11FF, "Hangul"),
    (0x3040, 0x30FF, "CJK"),
    (0x3400, 0x4DBF, "CJK"),
    (0x4E00, 0x9FFF, "CJK"),
    (0xAC00, 0xD7AF, "Hangul"),
)
DENSE = {"CJK", "Hangul"}

SPAN = 500  # longest quoted passage set aside; the bound keeps unclosed quotes linear
QUOTED_RE = re.compile(
    rf"\"[^\"]{{0,{SPAN}}}\"|\u201c[^\u201d]{{0,{SPAN}}}\u201d|\u2018[^\u2019]{{0,{SPAN}}}\u2019"
    rf"|(?<!\w)'[^']{{0,{SPAN}}}'(?!\w)|\u300c[^\u300d]{{0,{SPAN}}}\u300d"
    rf"|\u300a[^\u300b]{{0,{SPAN}}}\u300b|\[[^\]]{{0,{SPAN}}}\]|https?://\S+"
)
LATIN_WORD_RE = re.compile(r"[A-Za-z\u00c0-\u024f]+")

ENGLISH = vocab(
    "the is are and of with there this that it to was were be has have what which where how "
    "does on an its they these those from by for not can"
)
OTHER_LATIN: dict[str, frozenset[str]] = {
    "Spanish": vocab("el los las del que es por está están qué cuántos cuál dónde se su muy"),
    "French": vocab(
        "le les des est une dans sur avec du il elle sont ce cette et au aux quel quelle combien"
        " nous vous"
    ),
    "German": vocab("der das und ist ein eine nicht mit auf dem im sind zu wie viele welche einen"),
    "Italian": vocab("il di che è della sono gli nella sul quanti dove cosa"),
    "Portuguese": vocab("os uma não são dos das em quantos onde"),
    "Dutch": vocab("het een niet zijn wat hoeveel"),
}


def _script(ch: str) -> str | None:
    code = ord(ch)
    for low, high, name in SCRIPT_RANGES:
        if low <= code <= high:
            return name
    return None


def strip_quoted(text: str) -> str:
    """The text without quoted passages, bracketed boxes and links."""
    return QUOTED_RE.sub(" ", text)


def script(text: str) -> str | None:
    """The writing system of most of the letters, or None when short or mixed."""
    weights: dict[str, int] = {}
    for ch in strip_quoted(text):
        if ch.isalpha():
            name = _script(ch)
            if name is not None:
                weights[name] = weights.get(name, 0) + (DENSE_WEIGHT if name in DENSE else 1)
    if not weights:
        return None
    top = max(weights, key=lambda k: weights[k])
    enough = MIN_DENSE * DENSE_WEIGHT if top in DENSE else MIN_LETTERS
    if weights[top] < enough or weights[top] < SCRIPT_SHARE * sum(weights.values()):
        return None
    return top


def latin_language(text: str) -> str | None:
    """English or another European language by function words, or None when unclear."""
    words = [w.lower() for w in LATIN_WORD_RE.findall(strip_quoted(text))]
    if len(words) < MIN_WORDS:
        return None
    english = sum(w in ENGLISH for w in words)
    others = {name: sum(w in vocab for w in words) for name, vocab in OTHER_LATIN.items()}
    other = max(others, key=lambda k: others[k])
    if english >= 2 and english >= 2 * sum(others.values()):
        return "English"
    if others[other] >= 3 and others[other] >= 3 * english:
        return other
    return None
