"""Does an answer have the shape its question asks for? Form, length and placeholder checks.

A yes/no question needs a yes, a no or a sentence that restates or negates it; lettered options
need a letter or an option's text; "how many" needs a quantity; a blank needs filling. Each
check returns a short reason or None, and passes anything it cannot read with confidence.
"""

from __future__ import annotations

import re

from mmevol.evolve.degenerate_lang import vocab
from mmevol.textsim import normalize_text

WORD_RE = re.compile(r"\w+")
DENSE_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
AUXILIARIES = vocab(
    "is are does do can was were has have could would should will did am may must isn't aren't"
    " doesn't don't can't wasn't weren't hasn't haven't didn't"
)
POLITE = re.compile(r"^(?:can|could|would|will)\s+you\b", re.I)
YES_NO_WORDS = vocab(
    "yes no yeah yep nope true false correct incorrect right wrong accurate inaccurate not none"
    " nothing nobody never neither nor cannot maybe perhaps possibly probably likely unlikely"
    " unclear uncertain impossible indeed certainly definitely absolutely sure partly partially"
    " both only si sí oui non ja nein да нет"
) | {"n't", "はい", "いいえ", "是", "否", "不", "没有"}
STOPWORDS = vocab(
    "the a an is are was were be been does do did can could would should will has have had this"
    " that these those there here what which who whom whose where when why how of in on at to for"
    " with from by and or it its image picture photo shown visible any some you your"
)
NUMBER_WORDS = vocab(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
    " fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty"
    " ninety hundred hundreds thousand thousands million dozen dozens single couple pair both"
    " once twice a an none no nobody nothing several few many multiple some numerous lots lot"
    " plenty all neither countless various handful only lone each every more fewer less"
)
PRONOUNS = vocab("he she it they this that these those i we you his her their its")
EXISTENCE_RE = re.compile(r"^(?:is|are)\s+there\b", re.I)
HEDGES = vocab("hard difficult unclear uncertain unknown impossible cannot tell countable")
OPTION_RE = re.compile(r"(?:^|(?<=[\s(\[:]))\(?([A-H])[).:](?=\s)")
LETTER_ANSWER_RES = (
    re.compile(r"\(([A-H])\)"),
    re.compile(r"(?<![A-Za-z])([A-H])[).:](?=\s|$)"),
    re.compile(r"\b(?:option|answer|choice)\s*(?:is\s*)?\(?([A-H])\b", re.I),
    re.compile(r"^\s*([A-H])\s*$"),
)
NONE_OF = re.compile(r"\b(?:none of|all of|neither|both of)\b", re.I)
BLANK_RE = re.compile(r"_{3,}|\[blank\]|\(blank\)|<blank>", re.I)
TRUE_FALSE_RE = re.compile(r"\btrue or false\b", re.I)

LONG_FORMATS = frozenset({"detailed_description", "step_by_step", "creative_writing", "dialogue"})
MIN_LONG_WORDS = 8
MAX_WORDS = 600
MAX_CHARS = 5000
# lists of instances grow with the image: a counting list on a crowded photo may be long
LIST_FORMATS = frozenset({"counting_list", "matching", "ordering", "region_selection"})
LIST_SCALE = 6

PLACEHOLDER_RES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<![\\\w$])\{\s*[A-Za-z][A-Za-z _-]{0,30}\}"), "template slot"),
    (re.compile(r"<\s*([A-Za-z][A-Za-z _-]{0,30}?)\s*>"), "template slot"),
    (
        re.compile(
            r"\[\s*(?:insert|your|object|name|number|count|colou?r|answer|item|noun|location"
            r"|position|value|label|category|class|type|thing|target|attribute|adjective|verb"
            r"|description|reason|explanation|option|placeholder)\b[^\]\[]{0,40}\]",
            re.I,
        ),
        "template slot",
    ),
    (re.compile(r"\b(?:X{3,}|x{3,})\b|\b(?:TODO|TBD|FIXME)\b|lorem ipsum", re.I), "filler"),
)
KNOWN_TAGS = vocab(
    "image img video audio ref box quad point br b i u s p em strong sub sup span div think"
    " tr td th li ul ol"
)


def word_count(text: str) -> int:
    """Words, counting two CJK or Hangul characters as one word."""
    dense = len(DENSE_RE.findall(text))
    return len(WORD_RE.findall(DENSE_RE.sub(" ", text))) + dense // 2


def _content(text: str) -> set[str]:
    out = set()
    for word in WORD_RE.findall(text.lower()):
        if len(word) < 3 or word in STOPWORDS or word.isdigit():
            continue
        for suffix in ("ing", "ed", "es", "s"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                break
        out.add(word)
    return out


def _questions(question: str) -> list[str]:
    """The interrogative sentences of a question, each from its last sentence break."""
    return [
        re.split(r"[.!:;\n]\s", part)[-1].strip()
        for part in question.split("?")[:-1]
        if part.strip()
    ]


def is_yes_no(question: str, fmt: str) -> bool:
    """A polar question: every interrogative sentence opens with an auxiliary verb and offers
    no alternatives ("Is it red or blue?" is not polar; "Can you describe ...?" is a request)."""
    if fmt in {"yes_no", "true_false_justify"} or TRUE_FALSE_RE.search(question):
        return True
    asked = _questions(question)
    if not asked:
        return False
    for sentence in asked:
        first = sentence.split(maxsplit=1)[0].lower() if sentence.split() else ""
        if first not in AUXILIARIES or POLITE.match(sentence) or re.search(r"\bor\b", sentence):
            return False
    return True


def _words(text: str) -> set[str]:
    return {w.lower() for w in WORD_RE.findall(text)} | ({"n't"} if "n't" in text else set())


def yes_no_problem(question: str, answer: str, fmt: str) -> str | None:
    """Passes yes/no words, negations and hedges, a restatement (a shared content word), an
    answer that opens with a pronoun subject ("He looks cheerful.") and, for "Is there / Are
    there" questions, a quantity ("Three of them.")."""
    if not is_yes_no(question, fmt):
        return None
    words = _words(answer)
    if words & YES_NO_WORDS or _content(answer) & _content(question):
        return None
    first = WORD_RE.search(answer)
    if first and first.group(0).lower() in PRONOUNS:
        return None
    quantity = words & NUMBER_WORDS or re.search(r"\d", answer)
    if quantity and EXISTENCE_RE.match(question.strip()):
        return None
    return "a yes/no question answered with neither yes/no nor a sentence about what it asks"


def options(question: str) -> dict[str, str]:
    """Lettered options A, B, C, ... in order, with their normalised text ({} if fewer than 2)."""
    found: list[tuple[str, int, int]] = []
    for m in OPTION_RE.finditer(question):
        if m.group(1) == "ABCDEFGH"[len(found)]:
            found.append((m.group(1), m.start(), m.end()))
    if len(found) < 2:
        return {}
    out = {}
    for k, (letter, _, end) in enumerate(found):
        stop = found[k + 1][1] if k + 1 < len(found) else len(question)
        text = re.split(r"[?\n]", question[end:stop])[0]
        out[letter] = normalize_text(text)
    return out


def choice_problem(question: str, answer: str) -> str | None:
    opts = options(question)
    if not opts:
        return None
    for pattern in LETTER_ANSWER_RES:
        if any(m.group(1) in opts for m in pattern.finditer(answer)):
            return None
    said = f" {normalize_text(answer)} "
    if any(text and f" {text} " in said for text in opts.values()) or NONE_OF.search(answer):
        return None
    return "a multiple-choice answer that names no option letter and no option"


def count_problem(question: str, answer: str, fmt: str) -> str | None:
    if not re.search(r"\bhow many\b", question, re.I) and fmt != "counting_list":
        return None
    if re.search(r"\d", answer) or DENSE_RE.search(answer):
        return None
    if _words(answer) & (NUMBER_WORDS | YES_NO_WORDS | HEDGES):
        return None
    return "a 'how many' question answered without any number or quantity"


def copy_problem(question: str, answer: str) -> str | None:
    if BLANK_RE.search(question) and BLANK_RE.search(answer):
        return "the answer leaves the blank unfilled"
    norm = normalize_text(answer)
    if len(norm.split()) >= 3 and norm == normalize_text(question):
        return "the answer repeats the question word for word"
    return None


def length_problem(answer: str, fmt: str, n_steps: int) -> str | None:
    text = answer.strip()
    if not text:
        return None  # the rule checks report empty answers
    if not WORD_RE.search(text):
        return f"the answer {text[:20]!r} has no words"
    words = word_count(text)
    scale = LIST_SCALE if fmt in LIST_FORMATS else 1
    if words > MAX_WORDS * scale or len(text) > MAX_CHARS * scale:
        return f"the answer is too long ({words} words, {len(text)} characters)"
    if (
        fmt in LONG_FORMATS
        and words < MIN_LONG_WORDS
        and not (fmt == "step_by_step" and n_steps >= 2)
    ):
        return f"a {fmt} answer of only {words} word(s)"
    return None


def placeholder_problem(text: str, where: str) -> str | None:
    for pattern, kind in PLACEHOLDER_RES:
        for m in pattern.finditer(text):
            if m.groups() and m.group(1).strip().lower() in KNOWN_TAGS:
                continue
            return f"{where} has an unfilled {kind}: {m.group(0)!r}"
    return None
