"""ABS: weights, floor and quotas against hand-computed values; query-image picking; generation."""

from __future__ import annotations

import random

import numpy as np
import pytest

from mmevol.loop.abs import generate_for_type, pick_query_images, quotas, type_weights
from mmevol.loop.splits import draw_scenes
from mmevol.world.questions import PopeStats


def test_linear_weights_with_floor_by_hand() -> None:
    # errors 0.6, 0.3, 0.1, 0.0; floor 0.05 -> 0.05 + 0.8 * e / 1.0
    w = type_weights({"a": 0.6, "b": 0.3, "c": 0.1, "d": 0.0}, "linear", floor=0.05)
    assert w == pytest.approx({"a": 0.53, "b": 0.29, "c": 0.13, "d": 0.05})
    assert sum(w.values()) == pytest.approx(1.0)


def test_sqrt_weights_by_hand() -> None:
    # sqrt(0.64)=0.8, sqrt(0.16)=0.4 -> shares 2/3 and 1/3, no floor
    w = type_weights({"a": 0.64, "b": 0.16}, "sqrt", floor=0.0)
    assert w == pytest.approx({"a": 2 / 3, "b": 1 / 3})
    lin = type_weights({"a": 0.64, "b": 0.16}, "linear", floor=0.0)
    assert lin == pytest.approx({"a": 0.8, "b": 0.2})  # sqrt is flatter than linear


def test_gain_weights_follow_the_probe_not_the_error_by_hand() -> None:
    errors = {"ocr": 0.94, "grounding": 0.5, "existence": 0.3}  # ocr: at chance, learns nothing
    gains = {"ocr": -0.01, "grounding": 0.15, "existence": 0.05}
    # floor 0.1 -> 0.1 + 0.7 * g / 0.2 (a negative gain counts as none)
    w = type_weights(errors, "gain", floor=0.1, gains=gains)
    assert w == pytest.approx({"ocr": 0.1, "grounding": 0.625, "existence": 0.275})
    assert type_weights(errors, "linear", floor=0.1)["ocr"] > 0.4  # the paper's ABS: most to ocr
    # no type gained: nothing to tell them apart but the errors
    flat = {"ocr": 0.0, "grounding": -0.02, "existence": 0.0}
    assert type_weights(errors, "gain", 0.1, flat) == type_weights(errors, "linear", 0.1)
    with pytest.raises(ValueError, match="gains"):
        type_weights(errors, "gain")


def test_uniform_and_no_errors_give_equal_weights() -> None:
    assert type_weights({"a": 0.9, "b": 0.1}, "uniform") == {"a": 0.5, "b": 0.5}
    assert type_weights({"a": 0.0, "b": 0.0}, "linear") == {"a": 0.5, "b": 0.5}
    with pytest.raises(ValueError):
        type_weights({"a": 0.5, "b": 0.5}, "linear", floor=0.6)


def test_quotas_largest_remainder_by_hand() -> None:
    # 10 * (0.53, 0.29, 0.13, 0.05) = 5.3, 2.9, 1.3, 0.5 -> floors 5, 2, 1, 0 (8), +1 to b (.9), +1 to d (.5)
    q = quotas({"a": 0.53, "b": 0.29, "c": 0.13, "d": 0.05}, 10)
    assert q == {"a": 5, "b": 3, "c": 1, "d": 1}
    # ties go to the type listed first
    assert quotas({"x": 0.5, "y": 0.5}, 3) == {"x": 2, "y": 1}
    assert sum(quotas({"a": 0.2, "b": 0.3, "c": 0.5}, 601).values()) == 601


def test_floor_keeps_every_type_alive() -> None:
    w = type_weights({"a": 1.0, "b": 0.0, "c": 0.0}, "linear", floor=0.05)
    assert min(quotas(w, 100).values()) >= 5


def test_query_images_half_similar_half_random() -> None:
    ids = [f"p{i}" for i in range(10)]
    emb = np.eye(10)
    bad = emb[[3]]  # the bad case looks exactly like p3
    sim, rand = pick_query_images(4, ids, emb, bad, random.Random(0), taken=set())
    assert sim == ["p3", "p0"]  # p3 first; the rest tie at 0 and keep pool order
    assert len(rand) == 2 and not set(rand) & set(sim)
    sim2, rand2 = pick_query_images(4, ids, emb, bad, random.Random(0), taken={"p3"})
    assert "p3" not in sim2 + rand2
    no_bad, rand3 = pick_query_images(4, ids, emb, np.zeros((0, 10)), random.Random(0), set())
    assert no_bad == [] and len(rand3) == 4


def test_generation_fills_the_quota_on_pool_scenes() -> None:
    pool = draw_scenes("pool0", 0, 30, set())
    qs = generate_for_type(
        "counting", 10, list(pool), pool, random.Random(0), PopeStats(), per_image=3, round_=0
    )
    assert len(qs) == 10
    assert {q.qtype for q in qs} == {"counting"}
    assert all(q.scene_id in pool and q.id.startswith("r0:") for q in qs)
    assert len({q.id for q in qs}) == 10
