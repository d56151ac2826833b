"""Generation through the evolution engine: world scenes -> seeds -> evolved samples -> questions.

This module owns the bridge between the closed loop and ``mmevol.evolve``:

1. ``scenes_to_seeds`` renders scenes and writes their ``Seed`` records (symbolic context:
   objects with boxes and attributes, captions, seed Q&A), remembering which scene each is;
2. ``evolve_scenes`` runs the engine (``evolve.engine.Engine``) on them with any backend (the
   grounded one by default, an LLM backend, or ``loop.perturb``'s erring generator), and
   returns every candidate, kept or dropped, with its verdict;
3. ``to_questions`` maps an evolved sample to questions the tiny VLM can learn, i.e. whose
   answer is one word of its closed answer space. It reads only the evolved text;
4. ``engine_for_type`` is the loop's generation step for one type's quota through the engine
   (``mmevol loop --generator engine``): only questions of that type count, more query images
   are evolved while it is short (bounded attempts), and what is still missing is reported.

Which evolved forms are used (everything else is dropped and counted by ``why_dropped``):

- one-question forms whose answer starts with the answer: yes/no and true/false questions
  (``yes_no``, ``true_false_justify``, short yes/no reasoning), ``short_answer`` seed items
  (colour, count, printed word), multiple choice naming an object (mapped to the object's kind);
  "is X above or below Y" (the relation word of the answer);
- multi-part forms split into one question per part, each part's answer read from its own
  sentence: existence checks ("Yes, there is a star ..." / "No, there is no star."), colour of
  each object ("The square is blue ..."), counts ("There are 2 circles ... and 1 diamond"),
  region descriptions ("The region [box] contains a medium orange triangle") and region
  matching ("1-b (circle)"), error correction ("the square is blue, not yellow"), printed
  words ('The red circle carries the word "TEA"', 'the word on the square ("GO", 2 letters)').

Dropped: answers that are boxes (the tiny VLM outputs no coordinates), orderings, fill-in-the-
blank, region selection, open descriptions, and any part whose answer is not in its space.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mmevol.backends.base import Backend
from mmevol.evolve.config import BadCase, EvolveConfig, Focus
from mmevol.evolve.engine import Engine
from mmevol.prompts import Template
from mmevol.schema import Sample, Seed
from mmevol.store import Store
from mmevol.world.questions import FAMILY_OF, RELATIONS, Question
from mmevol.world.scenes import COLORS, NUMBER_WORDS, SHAPES, WORDS, Scene, render, scene_to_seed

_NUM = {w: str(i) for i, w in enumerate(NUMBER_WORDS)} | {str(i): str(i) for i in range(10)}
_SHAPE = "|".join(SHAPES)
_COLOR = "|".join(COLORS)
_EXIST_PART = re.compile(rf"\b(yes|no),? there (?:is|are) (?:no |an? |\d+ )?((?:[a-z]+ )*?(?:{_SHAPE}))s?\b")  # fmt: skip
_COLOUR_PART = re.compile(rf"\bthe ((?:[a-z]+ )*?(?:{_SHAPE})) is ({_COLOR})\b")
_COUNT_PART = re.compile(rf"\b(\d+|{'|'.join(NUMBER_WORDS)}) ((?:[a-z]+ )*?(?:{_SHAPE}))s?\b")
_REGION_PART = re.compile(rf"(\[[\d., ]+\]) contains an? (?:[a-z]+ )?({_COLOR}) ({_SHAPE})")
_RELATION = re.compile(r"\bis (above|below|to the left of|to the right of)\b")
_OCR_PART = re.compile(
    r'\b[Tt]he (?:word on the )?((?:[a-z]+ )*?[a-z]+)(?: carries the word | \()"([A-Z]+)"'
)


@dataclass
class Mapped:
    """Questions made from evolved samples, and why the rest were dropped."""

    questions: list[Question] = field(default_factory=list)
    why_dropped: Counter[str] = field(default_factory=Counter)


def scenes_to_seeds(scenes: dict[str, Scene], image_dir: Path) -> tuple[list[Seed], dict[str, str]]:
    """Render every scene to ``image_dir`` and build its seed; returns the seeds and a map
    seed id -> scene id."""
    image_dir.mkdir(parents=True, exist_ok=True)
    seeds, owner = [], {}
    for sid, scene in scenes.items():
        path = image_dir / f"{sid}.png"
        render(scene).save(path, format="PNG")
        seed = scene_to_seed(scene, path)
        seeds.append(seed)
        owner[seed.id] = sid
    return seeds, owner


def evolve_scenes(
    seeds: list[Seed],
    run_dir: Path,
    backend: Backend,
    rounds: int = 1,
    seed: int = 0,
    focus: Focus | None = None,
    templates: dict[str, Template] | None = None,
) -> list[Sample]:
    """Run the engine on ``seeds``; every sample: the seed items (round 0) and every candidate
    of every round, kept or dropped. ``focus`` goes into every evolve call's context;
    ``templates``: a run's own versions of the direction prompts."""
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg = EvolveConfig(
        seeds=str(run_dir / "seeds.jsonl"), out=str(run_dir), rounds=rounds, seed=seed,
        backend=backend.name, progress=False, concurrency=4, max_error_rate=1.0, focus=focus,
    )  # fmt: skip
    store = Store(run_dir / "run.sqlite")
    engine = Engine(cfg, store, backend, templates)
    asyncio.run(engine.run(seeds))
    return list(store.iter_samples(kept_only=False))


def _answer_word(text: str) -> str | None:
    word = re.match(r"\s*([A-Za-z]+|\d+)", text)
    if not word:
        return None
    w = word.group(1)
    low = w.lower()
    if low in ("yes", "true"):
        return "yes"
    if low in ("no", "false"):
        return "no"
    if w in WORDS:
        return w
    return _NUM.get(low, low)


def _parts(question: str, answer: str) -> list[tuple[str, str, str]]:
    """(question text, answer, qtype) for every part the rules can read."""
    q, a, low = question.strip(), answer.strip(), answer.lower()
    ql = q.lower()
    first = q.split("?")[0] + "?" if "?" in q else q
    out: list[tuple[str, str, str]] = []
    if ql.startswith("check the image for"):
        for yes, name in _EXIST_PART.findall(low):
            out.append((f"Is there a {name} in the image?", yes, "existence"))
    elif ql.startswith("what colour is each") or ql.startswith("find and correct"):
        for name, colour in _COLOUR_PART.findall(low.replace(", not ", ". not ")):
            out.append((f"What color is the {name}?", colour, "attribute"))
    elif (ql.startswith("how many") and " and how many " in ql) or ql.startswith("count the"):
        for n, name in _COUNT_PART.findall(low.split(":")[0]):
            out.append((f"How many {name}s are there?", _NUM[n], "counting"))
    elif ql.startswith("describe the object inside each"):
        for box, colour, kind in _REGION_PART.findall(low):
            out.append((f"What shape is in the box {box}?", kind, "referring"))
            out.append((f"What color is the shape in the box {box}?", colour, "referring"))
    elif ql.startswith("match each region"):
        boxes = re.findall(r"\d\. (\[[\d., ]+\])", q)
        for idx, kind in re.findall(rf"(\d)-[a-z] \(({_SHAPE})\)", a):
            if 0 < int(idx) <= len(boxes):
                out.append((f"What shape is in the box {boxes[int(idx) - 1]}?", kind, "referring"))
    elif ql.startswith("what word") or "the word on the " in ql:  # read a printed word
        for name, word in _OCR_PART.findall(a):
            if word in WORDS:
                out.append((f"What word is written on the {name}?", word, "ocr"))
    elif " above or below " in ql and (m := _RELATION.search(low.split(". ")[-1])):
        rel = m.group(1).split()[-2] if "of" in m.group(1) else m.group(1)
        out.append((first, rel if rel in RELATIONS else "", "spatial"))
    elif "\na. " in ql or "\nb. " in ql:  # multiple choice naming an object
        word = re.match(rf"\s*[A-D]\.\s*({_SHAPE})\b", a)
        if word:
            out.append((first, word.group(1), "referring"))
    elif "?" in q or ql.startswith("true or false"):
        ans = _answer_word(a)
        text = q.split(". ")[0] + "?" if ql.startswith("true or false") else first
        if ans in ("yes", "no"):
            spatial = any(w in ql for w in (" left ", " right ", " above ", " below "))
            exists = re.match(r"(is|are) there (a|an|any)\b", ql)
            kind = "existence" if exists else "spatial" if spatial else "comparison"
            out.append((text, ans, kind))
        elif ans is not None and ql.startswith(("what color", "what colour")):
            out.append((text, ans, "attribute"))
        elif ans is not None and ql.startswith("how many"):
            out.append((text, ans, "counting"))
        elif ans is not None and ql.startswith("what word"):
            out.append((text, ans, "ocr"))
    return out


def to_questions(samples: list[Sample], owner: dict[str, str], kept_only: bool) -> Mapped:
    """Questions the tiny VLM can learn from evolved ``samples`` (only kept ones when
    ``kept_only``); ``owner`` maps seed ids to scene ids."""
    out = Mapped()
    seen: set[tuple[str, str]] = set()
    for s in samples:
        if kept_only and not s.lineage.kept:
            continue
        parts = _parts(s.qa.question, s.qa.answer)
        if not parts:
            out.why_dropped[f"format:{s.qa.format}"] += 1
        for k, (text, answer, qtype) in enumerate(parts):
            sid = owner[s.seed_id]
            if answer not in FAMILY_OF:
                out.why_dropped["answer outside the answer space"] += 1
                continue
            if (sid, text) in seen:
                out.why_dropped["duplicate"] += 1
                continue
            seen.add((sid, text))
            out.questions.append(
                Question(
                    id=f"evo:{s.id}:{k}", scene_id=sid, qtype=qtype, text=text, answer=answer,
                    variant="evolved", family=FAMILY_OF[answer],
                    meta={"sample": s.id, "kept": s.lineage.kept, "format": s.qa.format},
                )
            )  # fmt: skip
    return out


@dataclass
class EngineYield:
    """What ``engine_for_type`` made for one type: the questions (at most the quota), how many
    attempts and query images it took, what else the engine's evolutions mapped to (other
    types, not used), and why the rest was dropped."""

    questions: list[Question] = field(default_factory=list)
    attempts: int = 0
    query_images: int = 0
    other_types: Counter[str] = field(default_factory=Counter)
    why_dropped: Counter[str] = field(default_factory=Counter)

    def record(self, quota: int) -> dict[str, object]:
        return {"quota": quota, "made": len(self.questions),
                "shortfall": max(0, quota - len(self.questions)), "attempts": self.attempts,
                "query_images": self.query_images, "other_types_made": dict(self.other_types),
                "why_dropped": dict(self.why_dropped)}  # fmt: skip


def engine_for_type(
    qtype: str,
    quota: int,
    order: list[str],
    scenes: dict[str, Scene],
    per_image: int,
    round_: int,
    work_dir: Path,
    backend: Backend,
    bad_cases: list[dict[str, str]] | None = None,
    guidance: tuple[str, str] | None = None,
    templates: dict[str, Template] | None = None,
    attempts: int = 3,
) -> EngineYield:
    """The loop's generation step through the engine for one question type's quota.

    The query scenes (``order``: ABS's picks first, then the rest of the pool) become seeds and
    are evolved for one round, with the type and its ``bad_cases`` as the calls' ``focus``
    (in-context examples for an LLM; the grounded generator does not read them) and
    ``guidance`` (the tag and text of the run's current prompt version for the type, recorded
    in each question's ``meta.prompt_version``); the kept evolutions are mapped to questions
    and those of ``qtype`` are taken, at most ``per_image`` per scene, until ``quota``.
    While the type is short, up to ``attempts`` times, the next unused scenes of ``order`` are
    evolved, twice as many as the attempt before (the first takes ``2 * quota / per_image``).
    Questions of other types are never used to fill the quota: a type the engine's directions
    do not produce (grounding boxes, the world's multi-step colour chains) stays short, and
    the yield says by how much (``EngineYield.record``).
    """
    got = EngineYield()
    n_img = 2 * math.ceil(quota / per_image)  # slack: not every scene yields usable items
    focus = Focus(
        question_type=qtype,
        bad_cases=[
            BadCase(question=c["question"], answer=c["answer"], model_answer=c["model_answer"])
            for c in (bad_cases or [])[:16]
        ],
        guidance=guidance[1] if guidance else "",
    )
    rank = {sid: i for i, sid in enumerate(order)}
    per_scene: Counter[str] = Counter()
    used = 0
    while len(got.questions) < quota and got.attempts < attempts and used < len(order):
        batch = order[used : used + n_img]
        used += len(batch)
        seeds, owner = scenes_to_seeds({sid: scenes[sid] for sid in batch}, work_dir / "images")
        run_dir = work_dir / ("run" if got.attempts == 0 else f"run_{got.attempts + 1}")
        samples = evolve_scenes(
            seeds, run_dir, backend, rounds=1, seed=round_, focus=focus, templates=templates
        )
        mapped = to_questions([s for s in samples if s.round > 0], owner, kept_only=True)
        got.attempts += 1
        got.query_images += len(batch)
        got.why_dropped.update(mapped.why_dropped)
        got.other_types.update(q.qtype for q in mapped.questions if q.qtype != qtype)
        for q in sorted(mapped.questions, key=lambda q: rank[q.scene_id]):
            if len(got.questions) >= quota:
                break
            if q.qtype == qtype and per_scene[q.scene_id] < per_image:
                per_scene[q.scene_id] += 1
                q.id = f"r{round_}:{q.id}"
                q.meta["round"] = round_
                if guidance:
                    q.meta["prompt_version"] = guidance[0]
                got.questions.append(q)
        n_img *= 2
    return got
