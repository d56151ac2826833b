"""Variety, English and crowd handling of the grounded backend (a programmatic generator, not
an LLM) on COCO-like seeds, and the template-level near-duplicate test of the per-image dedup.

The checker here is independent of the generator: it re-reads every box, step and count claim
against the seed's annotations, with crowd regions (``{"crowd": "yes"}``) counted as lower
bounds, never as one object.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from mmevol.evolve.calls import evolve_call
from mmevol.evolve.config import EvolveConfig
from mmevol.evolve.dedup import SeedDeduper
from mmevol.evolve.run import run_evolve
from mmevol.grounded import overlap as grounded_overlap
from mmevol.grounded.backend import GroundedBackend
from mmevol.grounded.scene import View
from mmevol.grounded.words import LEADS, TAILS, amount, article, extreme_word, more_than, plural
from mmevol.schema import QA, EvolveOutput, ImageRef, Obj, Seed
from mmevol.seeds import read_seeds, write_seeds
from mmevol.textsim import question_template, template_duplicate
from synthetic_data import DataSet

DIRECTIONS = ("perception", "reasoning", "interactive")
BOX = r"\[\d\.\d{3}, \d\.\d{3}, \d\.\d{3}, \d\.\d{3}\]"
NUMS = {
    w: i
    for i, w in enumerate(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    )
}
SUBSET = re.compile(r"^\s*(?:in|on|to|inside|within|near|above|below|of them|outlined)\b")


def fmt(b: list[float]) -> str:
    return "[" + ", ".join(f"{v:.3f}" for v in b) + "]"


class Truth:
    """A seed's annotations: individual instances per category, crowd regions apart."""

    def __init__(self, objects: list[Obj]) -> None:
        self.objects = objects
        self.crowd = {o.category for o in objects if o.attributes.get("crowd") == "yes"}
        self.count = Counter(o.category for o in objects if o.attributes.get("crowd") != "yes")
        self.cats = {o.category for o in objects}
        self.forms = {f: c for c in self.cats for f in (c, plural(c))}
        self.cat_re = "|".join(re.escape(f) for f in sorted(self.forms, key=len, reverse=True))

    def by_box(self, box: str) -> Obj:
        (o,) = [o for o in self.objects if o.bbox and fmt(o.bbox) == box]
        return o

    def resolve(self, phrase: str) -> list[Obj]:
        if mm := re.fullmatch(r"(first|second|third|fourth|fifth|sixth|seventh|eighth) (.+) from the left", phrase):  # fmt: skip
            ranked = sorted(self.resolve(mm[2]), key=lambda o: (o.bbox[0] + o.bbox[2]) / 2)  # type: ignore[index]
            i = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth"].index(
                mm[1]
            )
            return ranked[i : i + 1]
        words = phrase.removeprefix("the ").split()
        pos = words[0] if words and words[0] in ("leftmost", "rightmost") else None
        cat = " ".join(words[1:] if pos else words)
        found = [o for o in self.objects if o.category == cat and o.attributes.get("crowd") != "yes"]  # fmt: skip
        if pos and found:
            key = lambda o: (o.bbox[0] + o.bbox[2]) / 2  # noqa: E731
            found = [min(found, key=key) if pos == "leftmost" else max(found, key=key)]
        return found


def check_item(t: Truth, item: dict[str, Any]) -> None:
    """Assert that nothing in the item contradicts the annotations."""
    q, a = item["question"], item["answer"]
    annotated = {fmt(o.bbox) for o in t.objects if o.bbox}
    for text in [q, a] + [s["manipulation"] + " " + s["description"] for s in item["steps"]]:
        for box in re.findall(r"\[[^\]]*\d[^\]]*\]", text):
            assert box in annotated, f"{box} is not an annotated box"
    for s in item["steps"]:
        man, desc = s["manipulation"], s["description"]
        if mm := re.fullmatch(r"grounding_\d+\((.+)\) -> bbx_\d+", man):
            found = t.resolve(mm[1])
            assert len(found) == 1 and fmt(found[0].bbox or []) in desc, (man, desc)
        elif mm := re.fullmatch(r"calculate\(count of (.+) \+ count of .+\) -> res_\d+", man):
            cats = re.findall(r"count of (.+?)(?= \+|\)$)", man.split(" -> ")[0])
            assert desc == " + ".join(str(t.count[c]) for c in cats) + f" = {sum(t.count[c] for c in cats)}"  # fmt: skip
        elif mm := re.fullmatch(r"calculate\(count of (.+)\) -> res_\d+", man):
            c = mm[1].removeprefix("individually outlined ")
            if "crowd region" in desc:
                assert c in t.crowd and f"at least {t.count[c]}," in desc, desc
            elif desc.endswith("count is zero"):
                assert c not in t.cats, desc
            else:
                assert c not in t.crowd and desc.endswith(f"= {t.count[c]}"), desc
        elif mm := re.fullmatch(rf"referring_\d+\(({BOX})\) -> tgt_\d+", man):
            o = t.by_box(mm[1])
            crowd = o.attributes.get("crowd") == "yes"
            assert desc.endswith(f"{plural(o.category) if crowd else o.category}."), desc
            assert crowd == bool(re.search(r"contains an? (?:crowd|group) of", desc)), desc
    low = a.lower()
    for bound, num, form, after in re.findall(rf"(at least |exactly |only )?\b(\d+|{'|'.join(NUMS)}) ({t.cat_re})\b(?=(.{{0,12}}))", low):  # fmt: skip
        c, n = t.forms[form], int(num) if num.isdigit() else NUMS[num]
        if bound == "at least ":
            assert t.count[c] >= n, (num, form, a)
        elif not SUBSET.match(after):
            assert c not in t.crowd, f"exact count of {form} despite a crowd region: {a}"
            assert t.count[c] == n, (num, form, t.count[c], a)
    for yes, form in re.findall(rf"\b(yes|no),? there (?:is|are) (?:no |an? |\d+ )?({t.cat_re})\b", low):  # fmt: skip
        assert (yes == "yes") == (t.forms[form] in t.cats), (yes, form)
    for box, form in re.findall(rf"({BOX}) contains an? ({t.cat_re})\b", low):
        o = t.by_box(box)
        assert t.forms[form] == o.category and o.attributes.get("crowd") != "yes", (box, form)
    for form, box in re.findall(rf"\ban? ({t.cat_re}) (?:is )?at ({BOX})", low):
        o = t.by_box(box)
        assert t.forms[form] == o.category and o.attributes.get("crowd") != "yes", (form, box)
    english = re.sub(r'"[^"]*"', '""', f"{q} {a}")  # quoted captions are the annotators' words
    plurals = "|".join(plural(c) for c in t.cats if plural(c) != c)
    assert not re.search(rf"\b(?:1|one) (?:{plurals}|objects|kinds)\b(?! of)", english), english
    assert not re.search(r"\bmore than 1\b", english), english
    assert not re.search(r"\ba (?=[aeiou][a-z])(?!one\b|use)", english), english


def evolve_rounds(seed: Seed, backend_seed: int, direction: str) -> list[dict[str, Any]]:
    backend = GroundedBackend(seed=backend_seed)
    items, out = list(seed.items), []
    for r in (1, 2, 3):
        call = evolve_call(seed, items, direction, r, temperature=1.0, max_tokens=4096)  # type: ignore[arg-type]
        reply = EvolveOutput.model_validate_json(asyncio.run(backend.complete(call)).text)
        made = [it.model_dump(exclude={"source"}) for it in reply.items]
        out.extend(made)
        items = [QA.model_validate(m) for m in made]
    return out


def crowd_seed() -> Seed:
    """Two people and a crowd region of people, with a dog, a frisbee and a bench."""
    objects = [
        Obj(category="person", bbox=[0.05, 0.20, 0.25, 0.90]),
        Obj(category="person", bbox=[0.75, 0.30, 0.95, 0.95]),
        Obj(category="person", bbox=[0.30, 0.05, 0.70, 0.30], attributes={"crowd": "yes"}),
        Obj(category="dog", bbox=[0.28, 0.60, 0.45, 0.80]),
        Obj(category="frisbee", bbox=[0.50, 0.40, 0.58, 0.47]),
        Obj(category="bench", bbox=[0.55, 0.75, 0.70, 0.90]),
    ]
    return Seed(
        id="img-crowd",
        image=ImageRef(path="x.jpg", digest="sha256:01", width=640, height=480),
        captions=["Two people play frisbee with a dog while a crowd watches."],
        objects=objects,
        items=[
            QA(
                question="Describe what this image shows in one sentence.",
                answer="People play frisbee with a dog.",
                format="short_answer",
            )
        ],
    )


def test_crowd_regions_are_lower_bounds_never_single_objects() -> None:
    seed = crowd_seed()
    view = View({"objects": [o.model_dump() for o in seed.objects]})
    assert view.count("person") == 2 and view.crowded("person") and "person" not in view.countable()  # fmt: skip
    assert view.how_many("person").startswith("at least 2 people")
    assert all(t.category != "person" or t.crowd is False for t in view.boxed())
    truth, crowd_box = Truth(seed.objects), fmt([0.30, 0.05, 0.70, 0.30])
    seen_crowd = 0
    for s in range(6):
        for d in DIRECTIONS:
            for item in evolve_rounds(seed, s, d):
                check_item(truth, item)
                text = " ".join([item["answer"], *(st["description"] for st in item["steps"])])
                assert not re.search(r"(?<!least )\b(?:2|3|two|three) people\b", text), text
                assert not re.search(r"\b(?:a|one|the) person (?:is )?at " + re.escape(crowd_box), text)  # fmt: skip
                seen_crowd += crowd_box in text
    assert seen_crowd > 0  # the crowd region was talked about, as a crowd


def test_coco_like_seed_with_an_unboxed_object() -> None:
    objects = [
        Obj(category="person", bbox=[0.05, 0.20, 0.25, 0.90]),
        Obj(category="person", bbox=[0.40, 0.25, 0.55, 0.85]),
        Obj(category="person", bbox=[0.75, 0.30, 0.95, 0.95]),
        Obj(category="dog", bbox=[0.28, 0.60, 0.45, 0.80]),
        Obj(category="dog", bbox=[0.60, 0.70, 0.72, 0.85]),
        Obj(category="frisbee", bbox=[0.50, 0.05, 0.58, 0.12]),
        Obj(category="car"),  # annotated without a box
    ]
    items = [
        QA(question="What are the people doing?", answer="They are playing with their dogs."),
        QA(
            question="How many dogs are there?",
            answer="2",
            skills=["calculating"],
            format="short_answer",
        ),
    ]
    seed = Seed(
        id="img-coco",
        image=ImageRef(path="x.jpg", digest="sha256:00", width=640, height=480),
        captions=["Three people play frisbee with two dogs in a park."],
        objects=objects,
        items=items,
    )
    truth = Truth(seed.objects)
    made = [it for s in range(4) for d in DIRECTIONS for it in evolve_rounds(seed, s, d)]
    for item in made:
        check_item(truth, item)
        assert "no car" not in item["answer"]
    unchanged = {(q.question, q.answer) for q in items}
    assert sum((it["question"], it["answer"]) in unchanged for it in made) == 0
    assert len({question_template(it["question"]) for it in made}) >= 30


def test_grammar_helpers() -> None:
    assert plural("person") == "people" and plural("bus") == "buses" and plural("knife") == "knives"  # fmt: skip
    assert plural("potted plant") == "potted plants" and plural("sheep") == "sheep"
    assert more_than(1, "sink") == "more than one sink" and more_than(3, "sink") == "more than 3 sinks"  # fmt: skip
    assert amount(1, "sink") == "1 sink" and amount(2, "person") == "2 people"
    assert extreme_word("largest", 2) == "larger" and extreme_word("largest", 3) == "largest"
    assert article("oven") == "an" and article("sink") == "a"


def test_synthetic_coco_items_are_true_and_varied() -> None:
    seed = crowd_seed()
    seed.objects.extend([Obj(category="car", bbox=[0.02, 0.02, 0.12, 0.10]), Obj(category="car", bbox=[0.85, 0.05, 0.98, 0.15])])  # fmt: skip
    truth = Truth(seed.objects)
    items = [it for s in range(8) for d in DIRECTIONS for it in evolve_rounds(seed, s, d)]
    for item in items:
        check_item(truth, item)
    templates = {question_template(it["question"]) for it in items}
    assert len(templates) >= 0.6 * len(items), (len(templates), len(items))
    assert statistics.median(len(it["answer"].split()) for it in items) >= 30


@pytest.fixture(scope="module")
def coco_run(data_set: DataSet, tiny_coco_seeds: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Seed], list[dict[str, Any]], float]:  # fmt: skip
    """A grounded run over every tiny-COCO seed, and the share of distinct core templates (%)
    its kept items must reach: 80 on the real files (82.5 measured); 72 on the synthetic copy,
    whose value over generator seeds 1-6 and 2017 spread from 76.5 to 85.4 (the share is a draw
    of the backend's random choices, so its floor sits below that spread)."""
    work = tmp_path_factory.mktemp("coco-variety")
    (work / "all.jsonl").write_bytes(tiny_coco_seeds.read_bytes())
    seeds = list(read_seeds(work / "all.jsonl"))
    write_seeds(seeds, work / "seeds.jsonl")
    run_evolve(EvolveConfig(seeds=str(work / "seeds.jsonl"), out=str(work / "run"), progress=False))  # fmt: skip
    rows = [json.loads(x) for x in (work / "run" / "dataset.jsonl").read_text().splitlines() if x]
    floor = 80.0 if data_set.name == "shared" else 72.0
    return {s.id: s for s in seeds}, [r for r in rows if r["round"] > 0], floor


def test_tiny_coco_evolutions_are_true_varied_and_explained(coco_run: tuple) -> None:
    seeds, kept, _ = coco_run
    assert len(kept) >= 150
    for r in kept:
        check_item(Truth(seeds[r["seed_id"]].objects), r["qa"])
    templates = {question_template(r["qa"]["question"]) for r in kept}
    assert 100 * len(templates) / len(kept) >= 80
    by_seed: dict[str, list[str]] = {}
    for r in kept:
        by_seed.setdefault(r["seed_id"], []).append(r["qa"]["question"])
    dups = sum(
        any(template_duplicate(q, o) for j, o in enumerate(qs) if j != i)
        for qs in by_seed.values()
        for i, q in enumerate(qs)
    )
    assert dups / len(kept) <= 0.02
    assert statistics.median(len(r["qa"]["answer"].split()) for r in kept) >= 40


def core_template(question: str) -> str:
    """The masked question without the drawn opening and closing request."""
    for lead in LEADS:
        if question.lower().startswith(lead.lower()):
            question = question[len(lead) :]
            break
    for tail in TAILS:
        question = question.removesuffix(" " + tail)
    return question_template(question)


def test_tiny_coco_core_templates_vary_without_openings_and_closings(coco_run: tuple) -> None:
    _, kept, floor = coco_run
    cores = Counter(core_template(r["qa"]["question"]) for r in kept)
    assert 100 * len(cores) / len(kept) >= floor, (len(cores), len(kept))
    assert max(cores.values()) <= 8, cores.most_common(3)
    by_seed: dict[str, list[str]] = {}
    for r in kept:
        by_seed.setdefault(r["seed_id"], []).append(core_template(r["qa"]["question"]))
    shared = sum(len(qs) - len(set(qs)) for qs in by_seed.values())
    assert shared / len(kept) <= 0.02, shared


def test_core_template_strips_only_the_drawn_opening_and_closing() -> None:
    a = core_template("Looking at the image, how many dogs are there? Explain how you worked it out.")  # fmt: skip
    b = core_template("How many cats are there?")
    assert a == b == question_template("How many dogs are there?")
    assert core_template("Which cat is furthest left?") != core_template("Going from the left edge, what is the first cat you reach?")  # fmt: skip


def geometry_view(world: bool = False) -> View:
    cats = ("circle", "square", "star") if world else ("dog", "cat", "frisbee")
    boxes = ([0.10, 0.10, 0.50, 0.60], [0.40, 0.40, 0.60, 0.70], [0.80, 0.05, 0.90, 0.15])
    objects = [{"category": c, "bbox": b, "attributes": {}} for c, b in zip(cats, boxes, strict=True)]  # fmt: skip
    captions = [] if world else ["A dog sits next to a cat on the grass."]
    return View({"objects": objects, "captions": captions})


def test_box_geometry_templates_are_true() -> None:
    view = geometry_view()
    said: dict[str, set[str]] = {}
    for s in range(40):
        for name, n in (("_overlap", 3), ("_area_ratio", 3), ("_border", 3), ("_third", 2)):
            item = getattr(grounded_overlap, name)(view, n, random.Random(s))
            if item is None:
                continue
            a = item["answer"]
            said.setdefault(name, set()).add(a.split(":")[0].split(" at ")[0])
            if name == "_overlap" and {"dog", "cat"} <= set(item["objects"]):
                assert a.startswith("Yes, their boxes overlap"), a  # they share 0.1 x 0.2
            if name == "_overlap" and "frisbee" in item["objects"]:
                assert a.startswith("No, their boxes do not overlap"), a
            if name == "_area_ratio" and item["objects"][:2] == ["dog", "cat"]:
                assert "about 3.3 times" in a, a  # 0.2000 / 0.0600
            if name == "_border" and "left border" in a:  # left edges: dog .1, cat .4, frisbee .8
                first = next(c for c in ("dog", "cat", "frisbee") if c in item["objects"])
                assert a.startswith(f"The {first} "), a
            if name == "_third":  # centre x: dog .30, cat .50, frisbee .85
                alone = "dog" if "left third" in a else "frisbee"
                assert ("left third" in a or "right third" in a) and item["objects"] == [alone], a
    assert {"_overlap", "_area_ratio", "_border", "_third"} <= set(said)
    found = grounded_overlap.caption_locate(view, 1, random.Random(0))
    assert found is not None and found["objects"][0] in ("dog", "cat")  # the caption's animals
    where = {"dog": "[0.100, 0.100, 0.500, 0.600]", "cat": "[0.400, 0.400, 0.600, 0.700]"}
    assert where[found["objects"][0]] in found["answer"] and "frisbee" not in found["answer"]


def test_box_geometry_templates_leave_the_shape_world_alone() -> None:
    view = geometry_view(world=True)
    rng = random.Random(7)
    state = rng.getstate()
    for template in (*grounded_overlap.TEMPLATES, grounded_overlap.caption_locate):
        assert template(view, 3, rng) is None
    assert rng.getstate() == state  # nothing drawn: shape-world draws stay as they were


def test_template_dedup_drops_masked_duplicates() -> None:
    d = SeedDeduper(["Describe what this image shows in one sentence."], threshold=0.9)
    assert d.admit("Find the dog in the image and give its bounding box in normalised coordinates.")  # fmt: skip
    assert not d.admit("Find the red cup in the image and give its bounding box in normalised coordinates.")  # fmt: skip
    assert d.admit("Is there more than one sink in the image?")
    assert not d.admit("Are there more than 3 ovens in the image?")
    assert d.admit("Which of these regions shows the cat? (A) [0.100, 0.200, 0.300, 0.400] (B) [0.500, 0.500, 0.600, 0.700]")  # fmt: skip
    assert not d.admit("Which of these regions shows the leftmost person? (A) [0.010, 0.020, 0.300, 0.400] (B) [0.200, 0.500, 0.600, 0.900] (C) [0.700, 0.100, 0.800, 0.200]")  # fmt: skip
    assert d.admit("Is the bench in the left half or the right half of the image?")
    assert not d.admit("Is the bus in the top half or the bottom half of the image?")


def test_template_dedup_keeps_different_questions() -> None:
    base = "Look carefully at the kitchen counter on the left side of the photo and the shelf above it, then"  # fmt: skip
    d = SeedDeduper([], threshold=0.9)
    assert d.admit(f"{base} tell me how many cups are there.")
    assert d.admit(f"{base} describe what the person next to the counter is doing.")
    assert d.admit(f"{base} say which object is closest to the sink.")
    assert d.admit("How many cups are in the image?")
    assert d.admit("What colour is the cup in the image?")
    assert d.admit("Where is the cup in the image? Give its box.")
    assert not template_duplicate("How many cups are in the image?", "Where is the cup in the image?")  # fmt: skip
    long_q = "How many people are standing to the left of the red car parked near the bus stop in this image?"  # fmt: skip
    assert not template_duplicate(long_q, long_q.replace("standing", "sitting"))
    assert template_duplicate(long_q, long_q.replace("image", "picture"))
    assert template_duplicate(long_q, long_q.replace("people", "dogs").replace("red", "blue"))


def test_seed_categories_are_masked() -> None:
    assert question_template("Where is the gizmo?") != question_template("Where is the widget?")
    cats = ("gizmo", "widget")
    assert question_template("Where is the gizmo?", cats) == question_template("Where is the widget?", cats)  # fmt: skip
    d = SeedDeduper([], threshold=0.9, categories=["gizmo", "widget"])
    assert d.admit("Where is the gizmo in this picture? Give its box.")
    assert not d.admit("Where is the widget in this picture? Give its box.")
