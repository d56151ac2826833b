"""Claims an item makes through its structure, not only its sentences.

- a yes/no or true/false question is a statement whose truth the answer's yes or no asserts
  ("Is the cup left of the laptop?" + "No" claims it is not);
- a how-many question and the number its answer gives;
- steps: a grounding step's box must show what the step names ("grounding_1(leftmost dog) ->
  bbx_1" and the box of another dog is refuted), a referring step's box must show what its
  description names, and a how-many answer must say what the last calculate step found;
- a multiple-choice answer: its letter and its text agree, and the chosen option is true (a
  count, the class at a box, a region for a target, a "which is ..." slot filled in);
- a fill-in-the-blank sentence with the answer put in the blank.
"""

from __future__ import annotations

import re

from mmevol.facts.annotations import (
    NUMBER_RE,
    Annotations,
    Finding,
    a,
    amount,
    clauses,
    number_value,
)
from mmevol.facts.claims import extremes, superlative
from mmevol.facts.lexicon import lemma
from mmevol.facts.reading import DENIABLE, READERS, REPORTED, flip, plain, read_text
from mmevol.geometry import BOX_RE, as_box
from mmevol.schema import QA

_POLARITY = re.compile(r"^\W*(yes|no|true|false|correct|incorrect|right|wrong)\b", re.I)
_VERDICT = re.compile(r"^\W*(?:yes|no|true|false|correct|incorrect)\s*(?:[.,;:!]|$)", re.I)
AUX = re.compile(r"^\s*(is|are|does|do|can|was|were|has|have)\s+(.*)$", re.S)
_HOW_MANY = re.compile(
    r"^\W*(?:the )?number of\s+|\b(?:how many|(?:what is|what's|determine|find|give|report|state|work out|tell me) the "
    r"(?:total )?(?:number|count) of|"
    r"count (?:all |every |each )?(?:of )?the)\b\s*|^\s*count\s+(?:all |every |each )?"
)
_TOTAL_Q = re.compile(
    r"^\s*(?:are|is|can you see|do you see|can be seen)?\s*(?:there|visible|present|shown|pictured|"
    r"depicted)?\s*(?:in (?:the|this) (?:image|picture|photo|photograph|scene|frame))?\s*"
    r"(?:in total|altogether|overall|exactly|precisely|in all)?\s*[?.!]?\s*$"
)
_STATED_NUM = re.compile(
    rf"\b(?:the (?:final )?answer is|answer:|the (?:total|count|result) is)\s+(?:(?:res|bbx)_\d+\s*=\s*)?({NUMBER_RE}|none|zero)\b"
)
_INDEX = re.compile(r"\b(?:bbx|res|tgt|txt|step)_?\d+\b")
_ANSWER_NUM = re.compile(
    rf"^\W*(?:(?:haha|hmm|well|ok|okay|so)\W+)?(?:(?:there (?:is|are)|i (?:can )?(?:see|count)|i'?d say|i would say|i think|the answer is|answer:|a total of|"
    rf"(?:the )?(?:final |total )?(?:count|number|result|tally|total) (?:is|comes to|=|:)|"
    rf"in total,?|exactly|only)\s+)*({NUMBER_RE}|no|none|zero)\b"
)
OPTION = re.compile(r"(?:^|\n|\s)\(?([A-Da-d])[).:]\s+(.+?)(?=\s+\(?[A-Da-d][).:]\s|\n|$)")
_LETTER = re.compile(
    r"^\W*(?:(?i:(?:the )?(?:correct |right |best )?(?:answer|option|choice|region|box|area|image)(?: is)?)\s*:?\s*)?"
    r"\(?([A-D])\b(?:[).:]|\s|$)"
)


_BARE_PRESENCE = re.compile(
    r"^(?:there (?:is|are)|the (?:image|picture|photo|scene) (?:shows?|contains?|has|includes?)|"
    r"you (?:can )?see)\s+(?:an?|any|some)?\s*([a-z][a-z ]*?)\s*"
    r"(?:in (?:the|this) (?:image|picture|photo|scene)|visible|present)?\s*$"
)


_TRUE_FALSE = re.compile(
    r"^\W*(?:true or false|is (?:this|the following)(?: statement)? (?:true|correct))\W*(.+)$", re.S
)


_BARE_ABSENCE = re.compile(
    r"^(?:there (?:is|are) no|no)\s+([a-z][a-z ]*?)\s*(?:(?:is|are|can be)\s+)?(?:present|visible|"
    r"shown|seen|in (?:the|this) (?:image|picture|photo|scene))?\s*[.!]?$"
)


def yes_no(question: str, answer: str, ann: Annotations) -> list[Finding]:
    """A yes/no (or true/false) question read as a statement whose truth the answer asserts."""
    polarity = _POLARITY.match(answer)
    q = question.strip().lower().rstrip("?. ")
    tf = _TRUE_FALSE.match(q)
    aux = None if tf else AUX.match(q)
    if not polarity or not (tf or aux) or "\n" in question or OPTION.search(question):
        return []
    if tf:
        statement = tf.group(1).strip(" \"'“”")
    else:
        assert aux is not None
        verb, statement = aux.group(1), aux.group(2)
        if statement.startswith("there "):
            statement = f"there {verb} {statement[6:]}"
    statement = re.sub(r"^you (see|notice)", r"you can \1", statement)
    statement = re.sub(
        r"^(the (?:image|picture|photo|scene)) (show|contain|include|have|feature|depict)\b",
        r"\1 \2s",
        statement,
    )
    if REPORTED.search(statement) or " or " in statement:
        return []
    says_yes = polarity.group(1).lower() in {"yes", "true", "correct", "right"}
    if says_yes:
        return [f for c in clauses(statement) for r in READERS.values() for f in r(c, ann)]
    found: list[Finding] = []
    bare = _BARE_PRESENCE.match(statement)
    gone = _BARE_ABSENCE.match(statement)
    gone_spans = ann.lexicon.find(gone.group(1)) if gone else []
    if gone and len(gone_spans) == 1 and gone_spans[0] == (0, len(gone.group(1)), gone_spans[0][2]):
        sense = gone_spans[0][2]  # "No backpacks are present." -> "False."
        return [ann.presence(sense, True, f"{a(sense.word)} is in the image")]
    spans = ann.lexicon.find(bare.group(1)) if bare else []
    if bare and len(spans) == 1 and spans[0][0] == 0 and spans[0][1] == len(bare.group(1)):
        sense = spans[0][2]
        found.append(ann.presence(sense, False, f"no {lemma(sense.word)} in the image"))
        return found
    for c in clauses(statement):
        found += READERS["box_class"](c, ann)  # "the cup at [box]": presupposed, not asked
        for name in ("count", "relation", "count_comparison", "frame_position", "proximity"):
            found += [
                flip(f) for f in READERS[name](c, ann) if name != "count" or f.status != "unsettled"
            ]
    return found


def how_many(question: str, answer: str, ann: Annotations) -> list[Finding]:
    """The number a how-many answer gives, against the count of what the question asks about."""
    q = question.lower()
    m = _HOW_MANY.search(q)
    if not m:
        return []
    phrases = [p for p in ann.lexicon.find(q) if p[0] >= m.end()]
    if not phrases or not re.fullmatch(r"(?:[a-z-]+\s+){0,2}", q[m.end() : phrases[0][0]]):
        # "Humans: how many?"
        phrases = [p for p in ann.lexicon.find(q) if p[1] <= m.start() and re.fullmatch(r"\s*[:\-–—]\s*", q[p[1] : m.start()])][-1:]  # fmt: skip
        if not phrases:
            return []
        start, end, sense = phrases[0]
        num = _ANSWER_NUM.match(answer.lower()) or _STATED_NUM.search(answer.lower())
        n = number_value(num.group(1)) if num else None
        return [] if n is None else [ann.exact_count(sense, n, amount(n, sense.word), True)]
    start, end, sense = phrases[0]
    if re.match(r"\s*(?:and|or|,|plus)\b", q[end:]):
        return []  # "how many chairs and tvs": a sum, not a count of chairs
    total = not q[m.end() : start].strip() and bool(_TOTAL_Q.match(q[end:]))
    num = _ANSWER_NUM.match(answer.lower()) or _STATED_NUM.search(answer.lower())
    if not num:
        return []
    n = number_value(num.group(1))
    if n is None:
        return []
    return [ann.exact_count(sense, n, amount(n, sense.word), total)]


def _counts_one_thing(question: str, ann: Annotations) -> bool:
    """The question asks for one count of one named thing ("how many cups are there?")."""
    q = question.lower()
    found = list(_HOW_MANY.finditer(q))
    if len(found) != 1 or _is_sum(question, ann):
        return False
    after = [p for p in ann.lexicon.find(q) if p[0] >= found[0].end()]
    return bool(after) and bool(
        re.fullmatch(r"(?:[a-z-]+\s+){0,2}", q[found[0].end() : after[0][0]])
    )


def _is_sum(question: str, ann: Annotations) -> bool:
    """ "How many chairs and tvs are there?" asks for one number over several kinds."""
    q = question.lower()
    m = _HOW_MANY.search(q)
    after = [p for p in ann.lexicon.find(q) if m and p[0] >= m.end()]
    return len(after) >= 2 and bool(
        re.fullmatch(r"\s*(?:,|and|or|plus)\s*(?:the\s+)?", q[after[0][1] : after[1][0]])
    )


def _step_result(description: str) -> int | None:
    """The whole number a calculate step arrives at: after its last "=", "->", "is" or ":",
    else its only number (step and box indices such as ``res_1`` are not numbers)."""
    text = _INDEX.sub(" ", description.lower())
    after = re.findall(r"(?:=|->|\bis\b|:|\bequals\b|\bgives\b)\s*(\d+)(?!\d|\.\d)", text)
    if after:
        return int(after[-1])
    nums = set(re.findall(r"(?<![\d.])(\d+)(?!\d|\.\d)", text))
    return int(nums.pop()) if len(nums) == 1 else None


def steps(qa: QA, ann: Annotations) -> list[Finding]:
    """Grounding steps name what their box shows; a how-many answer says what the steps found."""
    found: list[Finding] = []
    for step in qa.steps[:40]:
        target = re.match(r"\s*ground\w*\s*\(([^()]{1,80})\)", step.manipulation.lower())
        boxes = BOX_RE.findall(step.description) or BOX_RE.findall(step.manipulation)
        if not target or not boxes:
            continue
        phrase = target.group(1)
        sense = ann.lexicon.sense(phrase)
        hits = ann.at_box(as_box([float(v) for v in boxes[0]]))
        if sense is None or not hits:
            continue
        claim = f"grounding({phrase}) gives [{', '.join(boxes[0])}]"
        if not any(x.category in sense.categories for x in hits):
            found.append(Finding("refuted", claim, f"that box is annotated as {hits[0].category}"))
            continue
        span = ann.lexicon.find(phrase)
        word = superlative(phrase, span[-1]) if span else None
        if word:
            meant = extremes([x for x in ann.countable(sense) if x.box], word)
            if meant and not any(x in hits for x in meant):
                found.append(
                    Finding("refuted", claim, f"that box is not the {word} {hits[0].category}")
                )
    for step in qa.steps[:40]:
        refer = re.match(r"\s*refer\w*\s*\(\s*(\[[^\]]*\])", step.manipulation.lower())
        if not refer or BOX_RE.search(step.description):
            continue
        boxes = BOX_RE.findall(refer.group(1))
        hits = ann.at_box(as_box([float(v) for v in boxes[0]])) if boxes else []
        named = [sense for _, _, sense in ann.lexicon.find(plain(step.description))]
        if hits and named and not any(n.categories & {x.category for x in hits} for n in named):
            words = " or ".join(dict.fromkeys(n.word for n in named))
            found.append(
                Finding(
                    "refuted",
                    f"referring([{', '.join(boxes[0])}]) finds a {words}",
                    f"that box is annotated as {hits[0].category}",
                )
            )
    calc = [s for s in qa.steps if s.manipulation.lower().lstrip().startswith(("calc", "count"))]
    # "No." / "Yes," answers a yes/no question ("two: is that how many boats there are?"),
    # not a count ("No boats" is one, and is still checked)
    verdict = _VERDICT.match(qa.answer)
    if calc and not verdict and _counts_one_thing(qa.question, ann):
        last = _step_result(calc[-1].description)
        num = _ANSWER_NUM.match(qa.answer.lower())
        said = number_value(num.group(1)) if num else None
        if last is not None and said is not None and last != said:
            found.append(
                Finding(
                    "refuted",
                    f"the answer says {said}",
                    f"the last calculate step found {last}",
                )
            )
    return found


def multiple_choice(qa: QA, ann: Annotations) -> list[Finding]:
    """The chosen letter's option agrees with the answer text and is itself true."""
    options = {
        m.group(1).upper(): m.group(2).strip(" .;,").lower() for m in OPTION.finditer(qa.question)
    }
    letter = _LETTER.match(qa.answer)
    if len(options) < 2 or not letter or letter.group(1) not in options:
        return []
    chosen = options[letter.group(1)]
    rest = qa.answer[letter.end() :].strip(" .:)-").lower()
    found: list[Finding] = []
    others = [o for k, o in options.items() if k != letter.group(1) and o != chosen]
    if rest and not rest.startswith(chosen) and any(rest.startswith(o) for o in others if o):
        found.append(
            Finding(
                "refuted",
                f"answer {letter.group(1)}",
                f"its text names another option, not {chosen!r}",
            )
        )
    stem = re.split(r"\n|(?:\s|^)\(?[Aa][).:]\s", qa.question)[0]
    if (
        _HOW_MANY.search(stem.lower())
        and number_value(chosen.split()[0] if chosen else "") is not None
    ):
        found += how_many(stem, chosen, ann)
    boxes = BOX_RE.findall(stem)
    if boxes and ann.lexicon.find(chosen) and not BOX_RE.search(chosen):
        found += READERS["box_class"](f"[{', '.join(boxes[0])}] shows a {chosen}", ann)
    if BOX_RE.fullmatch(chosen.strip()):  # region selection: the chosen box shows the target
        targets = ann.lexicon.find(stem.lower())
        if targets:
            st, en, _sense = targets[-1]
            found += READERS["box_class"](f"{stem.lower()[max(0, st - 20) : en]} at {chosen}", ann)
    if len(chosen.split()) >= 4 and re.search(r"\b(?:is|are|sits|stands|lies|appears|has|have|contains|shows)\b", chosen):  # fmt: skip
        # the chosen option is a statement: the answer asserts it (or, asked for the false
        # one, denies it)
        denies = bool(re.search(r"\b(?:false|incorrect|wrong|not true|untrue)\b", stem.lower()))
        for c in clauses(plain(chosen)):
            for name, reader in READERS.items():
                turn = denies and name in DENIABLE
                found += [flip(f) if turn else f for f in reader(c, ann)]
    slot = _WH_SLOT.match(stem.strip().lower())
    if slot and ann.lexicon.find(chosen):
        statement = f"the {chosen} {slot.group(1)} {slot.group(2)}"
        for name in ("relation", "frame_position", "box_class"):
            found += [f for c in clauses(statement) for f in READERS[name](c, ann)]
    presence = re.search(
        r"\bwhich\b.*\b(?:present|visible|in the (?:image|picture|photo)|shown|appears?|missing|absent)\b",
        stem.lower(),
    )
    absent = bool(re.search(r"\b(?:not|missing|absent|cannot|can't|isn't|doesn't)\b", stem.lower()))
    sense = ann.lexicon.sense(chosen) if presence else None
    if presence and sense and ann.lexicon.find(chosen):
        found.append(ann.presence(sense, not absent, f"option {letter.group(1)}: {chosen}"))
    return found


_WH_SLOT = re.compile(
    r"^(?:which|what)\s+(?:of (?:the following|these|them)\s+)?(?:(?:object|animal|item|thing|"
    r"one|category)s?\s+)?(is|are)\s+(.+?)\s*\??$"
)
_BLANK = re.compile(r"_{2,}|\[blank\]|\(blank\)|<blank>|\.{4,}")


_FILLER = re.compile(
    r"^\W*(?:the )?(?:missing |correct |right )?(?:word|answer|filler|term|blank)(?: is|:)\s*"
    r"['\"“‘]?([^'\"”’.]{1,40})['\"”’]?\.?\s*$",
    re.I,
)


def fill_in_blank(qa: QA, ann: Annotations) -> list[Finding]:
    """The sentence with its blank filled by the answer, read as a statement."""
    for sentence in re.split(r"(?<=[.!?:])\s+|\n", qa.question):
        if _BLANK.search(sentence):
            said = _FILLER.match(qa.answer.strip())
            answer = (said.group(1) if said else qa.answer).strip().rstrip(".").strip("\"'")
            if not answer or len(answer.split()) > 6 or "\n" in answer:
                return []
            filled = _BLANK.sub(answer, sentence, count=1).strip(" \"'“”‘’")
            return read_text(plain(re.sub(r"[\"“”]", "", filled)), ann)
    return []
