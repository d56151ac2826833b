"""Test helper: writes a small run folder in the exact shape the MMEvol authors' pipeline leaves.

Version followed: github.com/RainBowLuoCS/MMEvol at commit
4ba46699bea6977347b415b23100096e6aa57f52 (``dataengine/multi_round.py``: the per-image
evolution call and the three filter functions; ``dataengine/utils/data_process.py``: the
fence stripping and field repair of raw model text; ``dataengine/score_process/
difficulty_scoring_v123.py``: which images get judged). Nothing of theirs is copied; what
their code does to the files is re-implemented here so that importer tests see real shapes:

- ``evo_path`` holds the drawn direction as a JSON string; it is written after ``gen_qa``.
- ``gen_qa`` is the model's text verbatim. ``gen_qa_corrected`` is that text with everything
  up to the last json fence opener and from the next fence on cut away; it is re-dumped with
  ``indent=4`` (ASCII escapes) only when it failed their item check and a repair changed it:
  a bare object becomes a one-item list, and text that does not parse gets smart quotes
  flattened, ``//`` comments and a few trailing commas removed. When that still does not
  parse, the stripped, invalid text stays on disk.
- Their judge step skips an image whose candidate file does not load, so such an image has no
  ``score_gpt4_mini*`` files at all. The judge text is only fence-stripped, never repaired.
- The filter keeps a candidate when its verdict's ``improved`` is exactly ``"yes"`` (adding the
  verdict's ``score``); any error (missing or unreadable file, a verdict list shorter than the
  candidates) empties that image's round. The record's key order is id, image,
  conversations_v0..v{n}, topic_name (``[]`` when absent), caption, det, hash_id.
- ``hash_id`` is ``"{index}_{image path with / replaced by _}"``; files are ``<hash_id>.json``.
- A round evolves the latest non-empty ``conversations_v`` list of the previous record (their
  code hard-codes v2, v1, v0, the same thing for up to three rounds).

``write_authors_run`` returns ground truth computed while writing, never by reading back:
``rounds`` (per round: candidates and verdicts in files that load strictly, verdicts exactly
``"yes"``, survivors kept, direction per image with an ``evo_path`` file), ``images``,
``records`` (each image's last filtered record), ``parents`` (``(round, hash_id, candidate
index)`` -> index in the evolved list, None for in-breadth items), plus ``evolved_from``
(which ``conversations_v`` each image's round evolved), ``quirks`` (name -> ``(round, hash_id)``,
round 0 for record-level ones) and ``seeds`` (the round-0 records, never written: their seed
folder lives outside the run). With ``quirks`` on, the defects in ``QUIRK_PLAN`` are planted.
"""

from __future__ import annotations

import copy
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

AUTHORS_REPO = "RainBowLuoCS/MMEvol"
AUTHORS_COMMIT = "4ba46699bea6977347b415b23100096e6aa57f52"
SUB_FOLDERS = ("evo_path", "gen_qa", "gen_qa_corrected", "score_gpt4_mini",
               "score_gpt4_mini_corrected", "filtered_qa")  # fmt: skip
DIRECTIONS = ("df_format", "df_cot", "bf_in_breath")
DIRECTION_WEIGHTS = (0.25, 0.25, 0.5)  # their draw: interactive, reasoning, perception
SKILLS = ("Grounding Ability", "Referencing Ability", "Calculating Ability", "OCR Ability",
          "Existence Ability", "Relationship Description Ability",
          "Context Understanding Ability", "Behavior Prediction Ability",
          "Knowledge Integration Ability")  # fmt: skip
INTERACTIVE_FORMATS = ("Multi-choice", "multi_choice", "Multiple Choice", "fill_in_the_blank",
                       "True/False", "region_selection")  # fmt: skip
COLOURS = {"red": (205, 35, 35), "blue": (40, 70, 210), "green": (40, 160, 60),
           "yellow": (230, 210, 40), "white": (245, 245, 245), "black": (15, 15, 15),
           "orange": (240, 140, 30), "purple": (130, 50, 160), "brown": (120, 80, 40)}  # fmt: skip
THINGS = ("bus", "dog", "person", "bicycle", "traffic light", "bench", "cup", "kite",
          "umbrella", "clock")  # fmt: skip
REQUIRED = ("objects", "skills", "format", "question", "steps", "answer")
QUIRK_NAMES = ("invalid_gen_qa", "repaired_gen_qa", "short_scores", "evolves_from_v1",
               "missing_score", "missing_evo_path", "bare_object", "capital_yes", "int_id",
               "topic_string", "topic_absent", "no_caption_det")  # fmt: skip
# (quirk, round, image index): which image's files in which round carry which defect
QUIRK_PLAN = (("invalid_gen_qa", 1, 1), ("repaired_gen_qa", 1, 5), ("short_scores", 2, 2),
              ("evolves_from_v1", 3, 2), ("missing_score", 3, 3), ("missing_evo_path", 2, 4),
              ("bare_object", 3, 0), ("capital_yes", 2, 5))  # fmt: skip
TEXT_FAULTS = {"invalid_gen_qa": "broken", "repaired_gen_qa": "repairable", "bare_object": "bare"}
SIDES = {"left": "to the left of it", "right": "to the right of it", "above": "above it",
         "below": "below it"}  # fmt: skip
Item = dict[str, Any]


@dataclass
class _Scene:
    idx: int
    hash_id: str
    things: list[tuple[str, str, list[float]]]  # label, colour name, normalised box
    record: dict[str, Any]  # the seed, then each round's filtered record


def _core(question: str) -> str:
    """The part of a question a rewrite keeps: everything before its first question mark."""
    return question.split("?")[0].rstrip(" .")


def _a(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _side(a: list[float], b: list[float]) -> str:
    dx, dy = (a[0] + a[2] - b[0] - b[2]) / 2, (a[1] + a[3] - b[1] - b[3]) / 2
    if abs(dx) >= abs(dy):
        return "left" if dx < 0 else "right"
    return "above" if dy < 0 else "below"


def _make_scene(rng: random.Random, idx: int, image_root: Path, quirky: bool) -> _Scene:
    rel = f"seed_imgs/coco/{100 + idx * 37:012d}.png"
    labels = rng.sample(THINGS, rng.randint(3, 4))
    things = []
    for label in labels:
        x1, y1 = rng.uniform(0, 0.6), rng.uniform(0, 0.6)
        box = [
            round(x1, 3),
            round(y1, 3),
            round(min(1.0, x1 + rng.uniform(0.15, 0.4)), 3),
            round(min(1.0, y1 + rng.uniform(0.15, 0.4)), 3),
        ]
        things.append((label, rng.choice(sorted(COLOURS)), box))
    img = Image.new("RGB", (32, 24), ((idx * 53) % 200 + 30, (idx * 91) % 200 + 30, 120))
    draw = ImageDraw.Draw(img)
    for _, colour, b in things:
        draw.rectangle([b[0] * 31, b[1] * 23, b[2] * 31, b[3] * 23], fill=COLOURS[colour])
    (image_root / rel).parent.mkdir(parents=True, exist_ok=True)
    img.save(image_root / rel, format="PNG")
    bare = quirky and idx == 0
    text = " and ".join(f"{_a(c)} {n}" for n, c, _ in things).capitalize() + " on a plain backdrop."
    record: dict[str, Any] = {
        "id": 100 + idx * 37 if bare else f"{100 + idx * 37:012d}",
        "image": rel,
        "conversations_v0": [_seed_item(rng, t, bare) for t in things[: rng.randint(1, 3)]],
        "topic_name": "everyday objects" if quirky and idx == 1 else ["everyday objects"],
        "caption": []
        if bare
        else [
            {"from": "human", "value": "<image>\nDescribe the image."},
            {"from": "gpt", "value": text},
        ],
        "det": [] if bare else [{"label": n, "bbox": b} for n, _, b in things],
        "hash_id": f"{idx}_{rel.replace('/', '_')}",
    }
    if quirky and idx == 5:
        del record["topic_name"]
    return _Scene(idx, record["hash_id"], things, record)


def _seed_item(rng: random.Random, thing: tuple[str, str, list[float]], no_det: bool) -> Item:
    name, colour, box = thing
    kind = rng.choice(("exist", "colour", "where"))
    look = {"manipulation": "None", "description": f"Look over the image for the {name}."}
    if kind == "exist":
        q, a, skill = f"Is there a {name} in the image?", f"Yes, there is {_a(colour)} {name}.", 4
    elif kind == "colour":
        q, a, skill = f"What colour is the {name}?", f"The {name} is {colour}.", 6
    else:
        q, a, skill = f"Where is the {name}?", f"The {name} is at {box}.", 0
        if no_det:
            a = f"The {name} is in the {'left' if box[0] + box[2] < 1 else 'right'} half."
        if not no_det:
            look = {
                "manipulation": f"grounding_1({name})->bbx_1",
                "description": f"Locate the {name} and return its box `bbx_1` {box}.",
            }
    return {
        "image_position": "single",
        "objects": [name],
        "skills": [SKILLS[skill]],
        "format": "Norm",
        "question": q,
        "steps": [look],
        "answer": a,
    }


def _child(rng: random.Random, sc: _Scene, parent: Item, direction: str, taken: set[str]) -> Item:
    """A rewrite of one parent: same opening words, one added clause, one more skill and step."""
    own = set(parent["objects"])
    others = [t for t in sc.things if t[0] not in own | taken]
    others = others or [t for t in sc.things if t[0] not in own] or sc.things
    other, colour, obox = rng.choice(others)
    anchor = next((t[2] for t in sc.things if t[0] in own), obox)
    core, skills = _core(parent["question"]), list(parent["skills"])
    extra = rng.choice([s for s in SKILLS if s not in skills] or list(SKILLS))
    step = {"manipulation": "None", "description": f"Compare the result with the {other}."}
    if sc.record["det"]:
        k = len(parent["steps"]) + 1
        step = {
            "manipulation": f"grounding_{k}({other})->bbx_{k}",
            "description": f"Find the {other} at {obox} and keep it as `bbx_{k}`.",
        }
    if direction == "df_cot":
        fmt, side = "Complex Reasoning", _side(obox, anchor)
        question = f"{core}, and on which side of it is the {other}? Let's think step by step."
        answer = f"{parent['answer']} Then locate the {other} \u2192 it lies {SIDES[side]}."
    elif direction == "df_format":
        fmt = rng.choice(INTERACTIVE_FORMATS)
        opts = [*rng.sample(sorted(set(COLOURS) - {colour}), 2), colour]
        rng.shuffle(opts)
        letter = "ABC"[opts.index(colour)]
        listed = " ".join(f"({k}) {o}" for k, o in zip("ABC", opts, strict=True))
        question = f"{core}, and what colour is the {other}? Options: {listed}"
        answer = f"{parent['answer']} The {other} is {colour}, so the answer is ({letter})."
    else:
        fmt = "Detailed Description"
        question = f"{core}, and what colour is the {other} beside it?"
        answer = f"{parent['answer']} Beside it stands {_a(colour)} {other}."
    item: Item = {"image_position": "single", "objects": [*parent["objects"], other]}
    if rng.random() < 0.15:
        del item["image_position"]
    item.update(
        skills=[*skills, extra],
        format=fmt,
        question=question,
        steps=[*parent["steps"], step],
        answer=answer,
    )
    return item


def _fresh(rng: random.Random, sc: _Scene, parents: list[Item], count: int) -> list[Item]:
    """In-breadth items, each on an object no parent mentions (the backdrop once none is left)."""
    used = {o for p in parents for o in p["objects"]}
    free = [t for t in sc.things if t[0] not in used]
    rng.shuffle(free)
    out: list[Item] = []
    for name, colour, box in free[:count]:
        where = f"; its box is {box}" if sc.record["det"] else ""
        out.append(
            {
                "image_position": "single",
                "objects": [name],
                "skills": [SKILLS[4], rng.choice(SKILLS[:4])],
                "format": "Norm",
                "question": f"Which colour does the {name} have, and is it near the top?",
                "steps": [{"manipulation": "None", "description": f"Find the {name}."}],
                "answer": f"The {name} is {colour}{where}.",
            }
        )
    if len(out) < count:
        out.append(
            {
                "image_position": "single",
                "objects": ["background"],
                "skills": [SKILLS[6]],
                "format": "Norm",
                "question": "What kind of backdrop are the objects placed on?",
                "steps": [{"manipulation": "None", "description": "Inspect the backdrop."}],
                "answer": "A plain, single-coloured backdrop.",
            }
        )
    return out


def _evolve(
    rng: random.Random, sc: _Scene, direction: str, parents: list[Item], more: bool, one: bool
) -> tuple[list[Item], list[int | None]]:
    """Candidates and, per candidate, the index of its parent (None for an in-breadth item)."""
    plan: list[int | None] = []
    fresh: list[Item] = []
    if direction == "bf_in_breath":
        fresh = _fresh(rng, sc, parents, rng.randint(1, 2) + more)
        plan = [None] * len(fresh)
        plan += rng.sample(range(len(parents)), min(len(parents), rng.randint(0, 2)))
    else:
        for k in range(len(parents)):
            plan += [k] * rng.choices((0, 1, 2), weights=(0.15, 0.6, 0.25))[0]
        plan = plan or [rng.randrange(len(parents))]
    while more and len(plan) <= len(parents):
        plan.append(rng.randrange(len(parents)))
    if one:
        plan = plan[:1]
    if rng.random() < 0.35:
        rng.shuffle(plan)
    news = iter(fresh)
    taken: dict[int, set[str]] = {k: set() for k in range(len(parents))}
    items: list[Item] = []
    for p in plan:
        if p is None:
            items.append(next(news))
        else:
            items.append(_child(rng, sc, parents[p], direction, taken[p]))
            taken[p].add(items[-1]["objects"][-1])
    return items, plan


# --- what their post-processing does to the text (re-implemented) ---------------------------


def _strip_fences(raw: str) -> str:
    text = raw
    if (cut := text.rfind("```json")) >= 0:
        text = text[cut + 7 :]
    if (end := text.find("```")) >= 0:
        text = text[:end]
    if re.fullmatch(r"[A-Za-z\s]*", text):  # nothing but words left: they write a lone "["
        text = "["
    close = text.rfind("]")
    if close >= 0 and re.fullmatch(r"[A-Za-z\s]*", text[close + 1 :]):
        text = text[: close + 1]
    return text.strip()


def _passes_item_check(text: str) -> bool:
    try:
        data = json.loads(text)
    except ValueError:
        return False
    return isinstance(data, list) and all(
        isinstance(d, dict)
        and all(k in d for k in REQUIRED)
        and all(isinstance(d[k], str) for k in ("format", "question", "answer"))
        and all(isinstance(d[k], list) for k in ("objects", "skills", "steps"))
        and all(isinstance(s, dict) for s in d["steps"])
        for d in data
    )


def _field_repair(text: str) -> str:
    if _passes_item_check(text):
        return text
    try:
        data = json.loads(text)
        changed = not isinstance(data, list)
        data = data if isinstance(data, list) else [data]
        for d in data:
            if "answer" not in d and "answers" in d:
                d["answer"], changed = d.pop("answers"), True
            if isinstance(d["answer"], list | dict):
                vals = d["answer"].values() if isinstance(d["answer"], dict) else d["answer"]
                d["answer"], changed = " ".join(str(v) for v in vals), True
        return json.dumps(data, indent=4) if changed else text
    except Exception:
        fixed = text.strip()
        if fixed and not fixed.startswith("["):
            fixed = "[\n" + fixed + "\n]"
        fixed = re.sub(r"\},\s+\]", "}]", fixed)  # a comma after the last item
        fixed = fixed.replace("\u201c", '"').replace("\u201d", '"').replace('"""', '"')
        fixed = re.sub(r"//.*$", "", fixed, flags=re.MULTILINE)  # line comments
        fixed = re.sub(r'("answer":\s*"[^"]*"),\s*(?=\n\s*["}])', r"\1", fixed)
        try:
            return json.dumps(json.loads(fixed), indent=4)
        except ValueError:
            return text


def _loads(text: str | None) -> Any:
    if text is None:
        raise FileNotFoundError("their filter opens a file that is not there")
    return json.loads(text)


def _survivors(cand_text: str | None, score_text: str | None) -> list[Item]:
    """Their filter's try/except: any failure empties the image's round."""
    try:
        items, verdicts = _loads(cand_text), _loads(score_text)
        kept = []
        for k, item in enumerate(items):
            if verdicts[k]["improved"] == "yes":
                item["score"] = verdicts[k]["score"]
                kept.append(item)
        return kept
    except Exception:
        return []


# --- the model's raw text ------------------------------------------------------------------


def _gen_text(rng: random.Random, items: list[Item], how: str) -> str:
    if how == "broken":  # quotes inside a value: flattening them later breaks the string
        first = items[0]["objects"][0]
        tagged = f"{items[0]['answer']} Its tag reads \u201c{first}\u201d."
        items = [{**items[0], "answer": tagged}, *items[1:]]
    body = json.dumps(items[0] if how == "bare" else items, indent=2, ensure_ascii=False)
    if how in ("broken", "repairable"):
        lines = body.split("\n")
        lines.insert(2, "    // rewritten from the given Q&A&S")
        body = "\n".join(lines)
        body = body[: body.rfind("}")] + "},\n]"  # a comma after the last item
        if how == "repairable":  # a comma after each answer, the last key of its item
            body = re.sub(r'("answer": "[^"]*")\n', r"\1,\n", body)
    pre = rng.choice(
        (
            "",
            "Here is the rewritten Q&A&S in JSON format:\n\n",
            "Sure! Below are the new questions.\n\n",
        )
    )
    post = rng.choice(("", "\n\nEach item now asks for more visual evidence."))
    return f"{pre}```json\n{body}\n```{post}"


def _judge(rng: random.Random, n: int, force_yes: bool) -> list[dict[str, Any]]:
    out = []
    for k in range(n):
        yes = (force_yes and k == 0) or rng.random() < 0.78
        out.append(
            {
                "improved": "yes" if yes else "no",
                "score": rng.randint(5, 9) if yes else rng.randint(1, 5),
                "reason": "More objects and solving steps than the original."
                if yes
                else "Mostly a rephrasing; little new visual content.",
            }
        )
    return out


def _judge_text(rng: random.Random, verdicts: list[dict[str, Any]]) -> str:
    rows = ",\n".join("    " + json.dumps(v) for v in verdicts)
    body = f"[\n{rows}\n]"
    return rng.choice((f"```json\n{body}\n```", f"Here is the evaluation:\n```json\n{body}\n```"))


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def write_authors_run(
    root: Path,
    *,
    image_root: Path,
    n_images: int = 6,
    rounds: int = 3,
    seed: int = 0,
    quirks: bool = True,
) -> dict[str, Any]:
    """Write ``root/round1..round{rounds}`` and the images; return the ground truth."""
    if quirks and n_images < 6:
        raise ValueError("quirks need at least 6 images")
    rng = random.Random(seed)
    scenes = [_make_scene(rng, i, image_root, quirks) for i in range(n_images)]
    h = [sc.hash_id for sc in scenes]
    plan = QUIRK_PLAN if quirks else ()
    applied = {name: (n, h[i]) for name, n, i in plan if n <= rounds}
    if quirks:
        applied |= {
            "int_id": (0, h[0]),
            "no_caption_det": (0, h[0]),
            "topic_string": (0, h[1]),
            "topic_absent": (0, h[5]),
        }
    at = {(n, h[i]): name for name, n, i in plan if n <= rounds}
    truth: dict[str, Any] = {
        "rounds": {},
        "images": h,
        "records": {},
        "parents": {},
        "evolved_from": {},
        "quirks": applied,
        "seeds": {sc.hash_id: copy.deepcopy(sc.record) for sc in scenes},
    }
    for n in range(1, rounds + 1):
        folder = root / f"round{n}"
        for sub in SUB_FOLDERS:
            (folder / sub).mkdir(parents=True, exist_ok=True)
        tally: dict[str, Any] = dict.fromkeys(("candidates", "verdicts", "improved", "kept"), 0)
        tally["directions"] = {}
        for sc in scenes:
            quirk, name = at.get((n, sc.hash_id)), f"{sc.hash_id}.json"
            rec = sc.record
            source = next(
                (f"conversations_v{k}" for k in range(n - 1, 0, -1) if rec[f"conversations_v{k}"]),
                "conversations_v0",
            )
            truth["evolved_from"][(n, sc.hash_id)] = source
            parents = rec[source]
            direction = rng.choices(DIRECTIONS, weights=DIRECTION_WEIGHTS)[0]
            more = n == 2 and (sc.idx % 3 != 2 or quirk == "short_scores")
            items, origin = _evolve(rng, sc, direction, parents, more, quirk == "bare_object")
            how = TEXT_FAULTS.get(quirk or "", "plain")
            raw = _gen_text(rng, items, how)
            _write(folder / "gen_qa" / name, raw)
            if quirk != "missing_evo_path":
                _write(folder / "evo_path" / name, json.dumps(direction, indent=4))
                tally["directions"][sc.hash_id] = direction
            cand_text: str | None = _field_repair(_strip_fences(raw))
            _write(folder / "gen_qa_corrected" / name, cand_text or "")
            try:
                cands = json.loads(cand_text or "")
            except ValueError:
                cand_text, cands = None, None  # their judge step skips this image
            score_text = None
            if cands is not None:
                tally["candidates"] += len(cands)
                for k, p in enumerate(origin):
                    truth["parents"][(n, sc.hash_id, k)] = p
                first_round_of_v1_image = quirks and n == 1 and sc.idx == 2
                verdicts = _judge(rng, len(cands), first_round_of_v1_image)
                if quirk == "short_scores":
                    verdicts = verdicts[:-1]
                if quirk == "capital_yes":
                    verdicts[0]["improved"] = "Yes"
                if quirk != "missing_score":
                    judge_raw = _judge_text(rng, verdicts)
                    score_text = _strip_fences(judge_raw)
                    _write(folder / "score_gpt4_mini" / name, judge_raw)
                    _write(folder / "score_gpt4_mini_corrected" / name, score_text)
                    tally["verdicts"] += len(verdicts)
                    tally["improved"] += sum(v["improved"] == "yes" for v in verdicts)
            kept = _survivors(cand_text, score_text)
            tally["kept"] += len(kept)
            new: dict[str, Any] = {"id": rec["id"], "image": rec["image"]}
            for k in range(n):
                new[f"conversations_v{k}"] = rec[f"conversations_v{k}"]
            new[f"conversations_v{n}"] = kept
            new |= {
                "topic_name": rec.get("topic_name", []),
                "caption": rec["caption"],
                "det": rec["det"],
                "hash_id": rec["hash_id"],
            }
            _write(folder / "filtered_qa" / name, json.dumps(new, indent=4))
            sc.record = json.loads(json.dumps(new))
        truth["rounds"][n] = tally
    truth["records"] = {sc.hash_id: sc.record for sc in scenes}
    return truth
