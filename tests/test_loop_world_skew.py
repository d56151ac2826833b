"""The loop's skewed world: Zipf-like frequencies, co-occurring pairs, POPE variants that differ,
and answer families (one per question form) that the tiny VLM's mask relies on."""

from __future__ import annotations

import random
import statistics
from collections import Counter, defaultdict

from mmevol.loop.splits import WorldConfig, draw_scenes
from mmevol.world.questions import (
    FAMILIES,
    FAMILY_OF,
    QTYPES,
    PopeStats,
    absent_name,
    make_questions,
)
from mmevol.world.scenes import PAIRS, SHAPES, make_scene


def test_skewed_world_has_popular_kinds_and_co_occurring_pairs() -> None:
    scenes = list(draw_scenes("skew", 0, 400, set(), WorldConfig()).values())
    kinds = Counter(s.shape for sc in scenes for s in sc.shapes)
    assert kinds[SHAPES[0]] > 2.5 * kinds[SHAPES[-1]]
    uniform = [make_scene(random.Random(i)) for i in range(400)]
    flat = Counter(s.shape for sc in uniform for s in sc.shapes)
    assert max(flat.values()) < 1.6 * min(flat.values())
    a, b = PAIRS[0]
    with_a = [sc for sc in scenes if any(s.name == a for s in sc.shapes)]
    p_b_given_a = statistics.mean(any(s.name == b for s in sc.shapes) for sc in with_a)
    p_b = statistics.mean(any(s.name == b for s in sc.shapes) for sc in scenes)
    assert len(with_a) > 20 and p_b_given_a > p_b + 0.15


def test_pope_popular_and_cooccurring_absent_objects_differ_from_random() -> None:
    scenes = list(draw_scenes("pope", 0, 300, set(), WorldConfig()).values())
    stats = PopeStats.from_scenes(scenes)
    freq: dict[str, list[int]] = defaultdict(list)
    partner_hits: dict[str, list[bool]] = defaultdict(list)
    partner = {x: y for p in PAIRS for x, y in (p, p[::-1])}
    for i, sc in enumerate(scenes[:150]):
        names = {s.name for s in sc.shapes}
        wanted = {partner[n] for n in names if n in partner and partner[n] not in names}
        for variant in ("random", "popular", "cooccur"):
            name = absent_name(sc, variant, random.Random(i), stats)
            assert name is not None and name not in names
            freq[variant].append(stats.freq[name])
            if wanted:  # a pair member is here and its partner is not
                partner_hits[variant].append(name in wanted)
    assert statistics.mean(freq["popular"]) > 3 * statistics.mean(freq["random"])
    assert len(partner_hits["cooccur"]) > 20
    hit_rate = statistics.mean(partner_hits["cooccur"])
    assert hit_rate > 0.15 and hit_rate > 4 * statistics.mean(partner_hits["random"])


def test_each_question_form_asks_for_one_answer_family() -> None:
    scenes = list(draw_scenes("fam", 0, 60, set(), WorldConfig()).values())
    stats = PopeStats.from_scenes(scenes)
    families: dict[tuple[str, str], set[str]] = defaultdict(set)
    for i, sc in enumerate(scenes):
        for qtype in QTYPES:
            for q in make_questions(sc, f"s{i}", qtype, 30, random.Random(i), stats):
                assert q.family == FAMILY_OF[q.answer] == q.answer_family()
                kind = q.variant if q.variant not in ("random", "popular", "cooccur", "present") else ""  # fmt: skip
                families[(qtype, kind)].add(q.family)
    assert all(len(f) == 1 for f in families.values()), families
    assert {f for fs in families.values() for f in fs} == set(FAMILIES)
