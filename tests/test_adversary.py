"""The adversarial model: every kind is written, its lies are false and its truths true (checked
here with independent code against the annotations), items are well-formed, the ledger finds an
item again from a run's sample, and a run over real HTTP is scored per kind."""

from __future__ import annotations

import json
import os
import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from mmevol.evolve.calls import evolve_call, judge_call
from mmevol.evolve.config import EvolveConfig
from mmevol.evolve.degenerate import item_problems
from mmevol.evolve.eliminate import rule_problems
from mmevol.evolve.run import run_evolve
from mmevol.schema import QA, EvolveOutput, ImageRef, JudgeOutput, Obj, Seed
from mmevol.seeds import read_seeds
from mmevol.testing.adversary import Adversary, AdversaryConfig, seed_scene_key
from mmevol.testing.adversary_scene import ALIASES, KINDS, Scene
from mmevol.testing.adversary_score import score
from mmevol.testing.server import FakeServerConfig, running_server
from mmevol.vocab.normalize import normalize_item

DIRECTIONS = ("perception", "reasoning", "interactive")
CAPTIONS = [
    "A brown dog sits next to a white cat on a street.",
    "Two people walk past a red car while a crowd watches.",
    "A dog and a cat near a parked red car and a bench.",
]
OBJECTS = [
    ("dog", [0.05, 0.55, 0.25, 0.85], {}),
    ("cat", [0.30, 0.60, 0.42, 0.80], {}),
    ("car", [0.55, 0.40, 0.95, 0.75], {}),
    ("person", [0.45, 0.05, 0.52, 0.35], {}),
    ("person", [0.80, 0.05, 0.88, 0.38], {}),
    ("person", [0.00, 0.00, 0.40, 0.25], {"crowd": "yes"}),
    ("bench", [0.10, 0.05, 0.30, 0.20], {}),
    ("bench", [0.60, 0.85, 0.75, 0.98], {}),
    ("bottle", [0.90, 0.88, 0.94, 0.97], {}),
]


def synthetic_seed() -> Seed:
    return Seed(
        id="img-synthetic",
        image=ImageRef(path="x.jpg", digest="sha256:" + "0" * 64, width=640, height=480),
        captions=CAPTIONS,
        objects=[Obj(category=c, bbox=b, attributes=a) for c, b, a in OBJECTS],
        items=[QA(question="What animals are in the picture?", answer="A dog and a cat.")],
    )


def context(seed: Seed, direction: str = "perception") -> dict[str, Any]:
    return evolve_call(seed, seed.items, direction, 1, temperature=1.0, max_tokens=512).context


# --- an independent reading of the annotations ------------------------------------------------
def _iou(a: list[float], b: list[float]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union else 0.0


def _area(b: list[float]) -> float:
    return (b[2] - b[0]) * (b[3] - b[1])


def _cx(b: list[float]) -> float:
    return (b[0] + b[2]) / 2


def _cy(b: list[float]) -> float:
    return (b[1] + b[3]) / 2


def holds(claim: dict[str, Any], seed: Seed) -> bool | None:
    """Whether the annotations confirm (True) or refute (False) a claim; None: undecided."""
    objs = [o for o in seed.objects]
    solid = [o for o in objs if o.attributes.get("crowd") != "yes"]
    crowd = {o.category for o in objs if o.attributes.get("crowd") == "yes"}
    n_of = Counter(o.category for o in solid)
    words = set(re.findall(r"[a-z]+", " ".join(seed.captions).lower()))
    t = claim["type"]
    if t == "count":
        cat, n = claim["category"], claim["n"]
        if claim["mode"] == "at_least":
            return True if n <= n_of[cat] else None if cat in crowd else False
        if cat in crowd:
            return False if n <= n_of[cat] else None
        return n == n_of[cat]
    if t in ("class_at", "box_of"):
        there = any(
            o.bbox and o.category == claim["category"] and _iou(o.bbox, claim["box"]) >= 0.5
            for o in objs
        )
        return there == claim.get("holds", True)
    if t == "present":
        there = claim["category"] in {o.category for o in objs}
        if not there and claim["category"] in words:
            return None
        return there == claim["holds"]
    a, b = claim.get("a"), claim.get("b")
    if t == "left_of":
        return True if a[2] <= b[0] else False if b[2] <= a[0] else None
    if t == "above":
        return True if a[3] <= b[1] else False if b[3] <= a[1] else None
    if t == "larger":
        return True if _area(a) >= 2 * _area(b) else False if _area(b) >= 2 * _area(a) else None
    if t == "more":
        return n_of[a] > n_of[b] if not ({a, b} & crowd) else None
    if t == "extreme":
        key = {
            "leftmost": _cx,
            "rightmost": lambda x: -_cx(x),
            "topmost": _cy,
            "bottommost": lambda x: -_cy(x),
        }[claim["which"]]
        return min(claim["among"], key=key) == claim["box"]
    if t == "closest":
        to = claim["to"]
        near = min(claim["among"], key=lambda x: (_cx(x) - _cx(to)) ** 2 + (_cy(x) - _cy(to)) ** 2)
        return near == claim["box"]
    if t == "position":
        side = claim["side"]
        c = _cx(claim["box"]) if side in ("left", "right") else _cy(claim["box"])
        return c < 0.5 if side in ("left", "top") else c > 0.5
    if t == "order":
        xs = [_cx(x) for x in claim["boxes"]]
        return xs == sorted(xs)
    if t == "arith":
        return eval(claim["expr"], {"__builtins__": {}}) == claim["value"]  # digits and '+' only
    if t == "agree":
        return claim["step"] == claim["answer"]
    if t == "area":
        real = _area(claim["box"])
        return (
            True
            if abs(real - claim["share"]) <= 0.01
            else False
            if abs(real - claim["share"]) > 0.3 * real
            else None
        )
    if t == "colour":
        caption = " ".join(seed.captions).lower()
        said = re.search(rf"\b{claim['colour']}\b(\s+\w+)?\s+{claim['noun']}", caption)
        attrs = {o.attributes.get("color") for o in objs if o.category == claim["noun"]}
        if said or claim["colour"] in attrs:
            return True
        return False if claim["colour"] not in words else None
    raise AssertionError(f"unknown claim type {t}")


def check_entry(entry: dict[str, Any], seed: Seed) -> None:
    verdicts = [holds(c, seed) for c in entry["claims"]]
    where = f"{entry['kind']}/{entry['family']}: {entry['question']!r} -> {entry['answer']!r}"
    where += f" {entry['claims']}"
    assert entry["claims"], where
    if entry["truth"]:
        assert all(v is True for v in verdicts), where
    else:
        assert False in verdicts, where
        assert entry["lie"], where
    text = " ".join([entry["question"], entry["answer"]]).lower()
    for c in entry["claims"]:  # the claim's box is written, or its object named
        if "box" in c and c["type"] not in ("box_of", "extreme", "closest"):
            cats = {o.category for o in seed.objects if o.bbox == c["box"]}
            names = cats | {a for cat in cats for a in ALIASES.get(cat, ())}
            written = "[" + ", ".join(f"{v:.3f}" for v in c["box"]) + "]"
            assert written in text or any(n in text for n in names), where


# --- the tests ---------------------------------------------------------------------------------
def test_every_kind_is_written_true_and_false_in_every_direction() -> None:
    seed = synthetic_seed()
    for name, fn in KINDS.items():
        for direction in DIRECTIONS:
            for lie in (True, False):
                scene = Scene(context(seed, direction))
                drafts = [fn(scene, random.Random(i), lie, direction) for i in range(40)]
                made = [d for d in drafts if d is not None]
                assert made, f"{name} wrote nothing ({direction}, lie={lie})"
                for d in made[:10]:
                    entry = {
                        "kind": name if lie else "true",
                        "family": name,
                        "truth": not lie,
                        "question": d.question,
                        "answer": d.answer,
                        "claims": d.claims,
                        "lie": d.lie,
                    }
                    check_entry(entry, seed)
                    qa = normalize_item(QA.model_validate(d.item()), Counter())
                    assert rule_problems(qa, seed.items[0], seed) == [], (name, d.item())
                    if d.format not in ("step_by_step", "detailed_description", "dialogue"):
                        assert item_problems(qa, seed.items[0]) == [], (name, d.item())
    assert len(KINDS) >= 18


def test_the_model_replies_in_schema_and_keeps_a_ledger() -> None:
    seed = synthetic_seed()
    adv = Adversary(AdversaryConfig(true_rate=0.5, seed=3))
    kinds: Counter[str] = Counter()
    for r in range(1, 40):
        for direction in DIRECTIONS:
            call = evolve_call(seed, seed.items, direction, r, temperature=1.0, max_tokens=512)
            out = EvolveOutput.model_validate_json(adv.respond(call.messages, "schema"))
            assert [i.source for i in out.items] == [0]
            item = out.items[0]
            entry = adv.lookup(seed_scene_key(seed), item.question, item.answer)
            assert entry is not None
            check_entry(entry, seed)
            kinds[entry["kind"]] += 1
    assert kinds["true"] > 20 and len(kinds) >= 12
    again = Adversary(AdversaryConfig(true_rate=0.5, seed=3))
    call = evolve_call(seed, seed.items, "reasoning", 5, temperature=1.0, max_tokens=512)
    assert again.respond(call.messages) == adv.respond(call.messages)  # deterministic


def test_the_judges_follow_the_ledger() -> None:
    seed = synthetic_seed()
    for judge, low, high in (("lenient", 1.0, 1.0), ("noisy", 0.05, 0.5)):
        adv = Adversary(AdversaryConfig(true_rate=0.5, judge=judge, judge_reject_false=0.7))
        passed: Counter[bool] = Counter()
        total: Counter[bool] = Counter()
        for r in range(1, 80):
            call = evolve_call(
                seed, seed.items, DIRECTIONS[r % 3], r, temperature=1.0, max_tokens=512
            )
            item = EvolveOutput.model_validate_json(adv.respond(call.messages)).items[0]
            qa = QA.model_validate(item.model_dump(exclude={"source"}))
            jcall = judge_call(
                seed, [(seed.items[0], qa)], "perception", r, temperature=0.0, max_tokens=256
            )
            verdict = JudgeOutput.model_validate_json(adv.respond(jcall.messages)).verdicts[0]
            entry = adv.lookup(seed_scene_key(seed), qa.question, qa.answer)
            assert entry is not None
            truth = entry["truth"]
            total[truth] += 1
            passed[truth] += verdict.improved
        false_pass = passed[False] / total[False]
        assert low <= false_pass <= high, (judge, false_pass)
        assert passed[True] / total[True] >= 0.85


@pytest.fixture(scope="module")
def coco_seeds(tiny_coco_seeds: Path) -> list[Seed]:
    return list(read_seeds(tiny_coco_seeds))


def test_lies_and_truths_hold_on_tiny_coco(coco_seeds: list[Seed]) -> None:
    adv = Adversary(AdversaryConfig(true_rate=0.5, seed=11))
    kinds: Counter[str] = Counter()
    crowd = [s for s in coco_seeds if any(o.attributes.get("crowd") for o in s.objects)]
    for seed in coco_seeds[:40] + crowd:
        for r, direction in enumerate(DIRECTIONS, start=1):
            call = evolve_call(seed, seed.items, direction, r, temperature=1.0, max_tokens=512)
            for item in EvolveOutput.model_validate_json(adv.respond(call.messages)).items:
                entry = adv.lookup(seed_scene_key(seed), item.question, item.answer)
                assert entry is not None
                check_entry(entry, seed)
                kinds[entry["kind"]] += 1
                qa = normalize_item(
                    QA.model_validate(item.model_dump(exclude={"source"})), Counter()
                )
                assert rule_problems(qa, seed.items[0], seed) == [], item
                assert item_problems(qa, seed.items[0]) == [], item
    assert kinds["true"] >= 50 and len(kinds) >= 15, kinds


def test_a_run_over_http_is_scored_per_kind(
    world_seeds: tuple[Path, list[Seed]], tmp_path: Path
) -> None:
    _seeds_path, seeds = world_seeds
    few = tmp_path / "seeds.jsonl"
    few.write_text("".join(s.model_dump_json() + "\n" for s in seeds[:4]))
    config = FakeServerConfig(port=0, adversary=AdversaryConfig(seed=2, true_rate=0.5))
    os.environ["MMEVOL_ADV_KEY"] = "sk-test"
    with running_server(config) as url:
        out = tmp_path / "run"
        result = run_evolve(
            EvolveConfig(
                seeds=str(few),
                out=str(out),
                backend="openai",
                model="fake-mllm",
                base_url=url,
                api_key_env="MMEVOL_ADV_KEY",
                rounds=1,
                progress=False,
            )
        )
        stats = httpx.get(url.rsplit("/v1", 1)[0] + "/_fake/stats").json()
    assert result.complete
    samples = [
        json.loads(line) for line in (out / "rounds" / "round_1.jsonl").read_text().splitlines()
    ]
    entries = {e["key"]: e for e in stats["adversary"]["entries"]}
    scenes = {s.id: seed_scene_key(s) for s in seeds[:4]}
    outcome = score(samples, scenes, entries)
    assert outcome["unknown"] == 0
    generated = sum(c["generated"] for k, c in outcome["per_kind"].items() if ":" not in k)
    assert generated == len(samples) == sum(len(s.items) for s in seeds[:4])
    assert outcome["false_items"] + outcome["true_items"] == len(samples)
    for counts in outcome["per_kind"].values():
        fates = sum(
            counts[f] for f in ("rules", "facts", "judge", "duplicate", "other", "survived")
        )
        assert fates == counts["generated"]


def test_elimination_meets_the_goal_on_tiny_coco(coco_seeds: list[Seed], tmp_path: Path) -> None:
    """The issue's bar, on real COCO seeds with a judge that approves everything: at most 10 %
    of the false items survive and at least 97 % of the true ones are kept (duplicates aside)."""
    few = tmp_path / "seeds.jsonl"
    few.write_text("".join(s.model_dump_json() + "\n" for s in coco_seeds[:60]))
    config = FakeServerConfig(port=0, adversary=AdversaryConfig(seed=7, true_rate=0.5))
    os.environ["MMEVOL_ADV_KEY"] = "sk-test"
    with running_server(config) as url:
        out = tmp_path / "run"
        run_evolve(
            EvolveConfig(
                seeds=str(few), out=str(out), backend="openai", model="adversary",
                base_url=url, api_key_env="MMEVOL_ADV_KEY", rounds=2, progress=False,
            )
        )  # fmt: skip
        stats = httpx.get(url.rsplit("/v1", 1)[0] + "/_fake/stats").json()
    samples = [
        json.loads(line)
        for k in (1, 2)
        for line in (out / "rounds" / f"round_{k}.jsonl").read_text().splitlines()
    ]
    entries = {e["key"]: e for e in stats["adversary"]["entries"]}
    outcome = score(samples, {s.id: seed_scene_key(s) for s in coco_seeds[:60]}, entries)
    assert outcome["false_items"] >= 40 and outcome["true_items"] >= 40, outcome
    assert outcome["false_survival"] <= 0.10, outcome["per_kind"]
    assert outcome["true_keep_rate_excluding_duplicates"] >= 0.97, outcome["dropped_true"]
