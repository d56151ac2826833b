"""Loop questions: answers agree with the scene graph, absent objects are absent, splits disjoint."""

from __future__ import annotations

import random
import re

from mmevol.loop.splits import build_splits, draw_scenes, scene_digest
from mmevol.world.questions import (
    ABSENT_VARIANTS,
    ANSWERS,
    QTYPES,
    PopeStats,
    absent_name,
    make_questions,
    relation,
)
from mmevol.world.scenes import SIZES, make_scene

SIZE_RANK = {s: i for i, s in enumerate(SIZES)}


def _scenes(n: int = 40) -> list:
    return [make_scene(random.Random(f"t:{i}")) for i in range(n)]


def test_every_answer_is_in_the_vocabulary_and_every_type_appears() -> None:
    splits, _, _ = build_splits(0, 30, 10, 10)
    qs = splits["train"].questions
    assert {q.qtype for q in qs} == set(QTYPES)
    assert all(q.answer in ANSWERS for q in qs)
    assert len({q.id for q in qs}) == len(qs)


def test_answers_match_the_scene_graph() -> None:
    stats = PopeStats.from_scenes(_scenes())
    for i, scene in enumerate(_scenes()):
        rng = random.Random(i)
        names = {s.name: s for s in scene.shapes}
        for qtype in QTYPES:
            for q in make_questions(scene, f"s{i}", qtype, 20, rng, stats):
                text = q.text
                if qtype == "existence":
                    name = re.match(r"Is there a (.+) in the image\?", text).group(1)
                    assert (q.answer == "yes") == (name in names)
                elif qtype == "counting" and "in total" in text:
                    assert int(q.answer) == len(scene.shapes)
                elif qtype == "counting" and "shapes are there" in text:
                    color = text.split()[2]
                    assert int(q.answer) == scene.count(color=color)
                elif qtype == "counting":
                    kind = text.split()[2][:-1]
                    assert int(q.answer) == scene.count(shape=kind)
                elif qtype == "ocr":
                    name = re.search(r"on the (.+)\?", text).group(1)
                    assert names[name].text == q.answer
                elif qtype == "grounding":
                    name = re.search(r"holds the (.+)\? A", text).group(1)
                    boxes = q.meta["boxes"]
                    assert boxes["ABCD".index(q.answer)] == names[name].bbox
                elif qtype == "referring":
                    box = [float(v) for v in re.search(r"\[(.+)\]", text).group(1).split(",")]
                    hit = [s for s in scene.shapes if [round(v, 2) for v in s.bbox] == box]
                    assert len(hit) == 1
                    assert q.answer in (hit[0].shape, hit[0].color)
                    assert q.answer == (hit[0].shape if q.variant == "shape" else hit[0].color)
                elif qtype == "spatial":
                    a, b = re.match(r"Where is the (.+) relative to the (.+)\?", text).groups()
                    assert relation(names[a], names[b]) == q.answer
                elif qtype == "comparison" and q.variant == "size":
                    a, b = re.match(r"Is the (.+) bigger than the (.+)\?", text).groups()
                    bigger = SIZE_RANK[names[a].size] > SIZE_RANK[names[b].size]
                    assert (q.answer == "yes") == bigger
                elif qtype == "reasoning" and q.variant == "same_color":
                    name = re.search(r"color as the (.+)\?", text).group(1)
                    same = [s for s in scene.shapes if s.color == names[name].color]
                    assert int(q.answer) == len(same) - 1


def test_absent_objects_are_really_absent_in_every_variant() -> None:
    scenes = _scenes(60)
    stats = PopeStats.from_scenes(scenes)
    for i, scene in enumerate(scenes):
        present = {s.name for s in scene.shapes}
        for variant in ABSENT_VARIANTS:
            name = absent_name(scene, variant, random.Random(i), stats)
            assert name is not None and name not in present


def test_popular_variant_prefers_frequent_names() -> None:
    scenes = _scenes(60)
    stats = PopeStats.from_scenes(scenes)
    top = {n for n, _ in stats.freq.most_common(12)}
    picks = [absent_name(s, "popular", random.Random(i), stats) for i, s in enumerate(scenes)]
    assert sum(p in top for p in picks) > len(picks) * 0.7


def test_splits_are_disjoint_and_deterministic() -> None:
    a, _, used = build_splits(3, 25, 15, 15)
    b, _, _ = build_splits(3, 25, 15, 15)
    assert [q.model_dump() for q in a["heldout"].questions] == [
        q.model_dump() for q in b["heldout"].questions
    ]
    ids = [set(s.scenes) for s in a.values()]
    digests = [s.digests() for s in a.values()]
    for i in range(3):
        for j in range(i + 1, 3):
            assert not ids[i] & ids[j]
            assert not digests[i] & digests[j]
    pool = draw_scenes("pool0", 3, 20, used)
    pool_digests = {scene_digest(s) for s in pool.values()}
    assert not pool_digests & (a["heldout"].digests() | a["dev"].digests())
    qids = {q.scene_id for q in a["heldout"].questions}
    assert qids <= set(a["heldout"].scenes)
