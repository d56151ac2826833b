"""Adaptive Bad-case Sampling (ABS) and targeted generation of new training questions.

This module owns the step from an evaluation on the dev split to the next round's data:

1. per-type error rates -> sampling weights: ``linear`` (proportional to the error rate) or
   ``sqrt`` (to its square root, flatter), mixed with a floor so no type ever gets less than
   ``floor`` of the budget: ``w_t = floor + (1 - T * floor) * s(e_t) / sum_u s(e_u)``;
   ``uniform`` gives every type ``1 / T`` (the baseline at equal budget); ``gain`` (ours, not
   the paper's) is proportional to what more data did for the type on dev (``gains``: accuracy
   of the model minus that of a probe trained on half its data), so a type the model cannot
   learn at this size (at chance however much data it sees) gets only the floor;
2. weights -> integer quotas summing to the budget (largest remainder, ties by type order);
3. the bad cases of each type (question, gold answer, model answer) are kept as in-context
   examples for LLM backends (recorded in the round's snapshot);
4. query images: from a pool of fresh scenes (never a dev or held-out scene), half of each
   type's images are the pool scenes most similar to that type's bad-case images (cosine
   similarity of the model's image-encoder features), half are drawn at random;
5. each query image gets up to ``per_image`` questions of the type, from the scene graph.
"""

from __future__ import annotations

import math
import random
from typing import Literal

import numpy as np

from mmevol.world.questions import QTYPES, PopeStats, Question, make_questions
from mmevol.world.scenes import Scene

Weighting = Literal["linear", "sqrt", "uniform", "gain"]


def type_weights(
    error_rates: dict[str, float],
    mode: Weighting = "linear",
    floor: float = 0.02,
    gains: dict[str, float] | None = None,
) -> dict[str, float]:
    """Sampling weight per type (sums to 1; every type gets at least ``floor``). ``gain``
    needs ``gains``; when no type gained, it falls back to ``linear``."""
    types = list(error_rates)
    if not types:
        return {}
    if not 0 <= floor * len(types) <= 1:
        raise ValueError(f"floor {floor} is too large for {len(types)} types")
    if mode == "uniform":
        return {t: 1 / len(types) for t in types}
    if mode not in ("linear", "sqrt", "gain"):
        raise ValueError(f"unknown weighting {mode!r} (linear, sqrt, uniform, gain)")
    if mode == "gain":
        if gains is None:
            raise ValueError("gain weighting needs the per-type gains of a probe")
        raw = {t: max(0.0, gains.get(t, 0.0)) for t in types}
        if sum(raw.values()) > 0:
            rest = 1 - floor * len(types)
            return {t: floor + rest * raw[t] / sum(raw.values()) for t in types}
        mode = "linear"
    f = math.sqrt if mode == "sqrt" else float
    raw = {t: f(max(0.0, error_rates[t])) for t in types}
    total = sum(raw.values())
    if total == 0:  # no errors anywhere: nothing to target
        return {t: 1 / len(types) for t in types}
    rest = 1 - floor * len(types)
    return {t: floor + rest * raw[t] / total for t in types}


def quotas(weights: dict[str, float], budget: int) -> dict[str, int]:
    """Integer quotas summing to ``budget``: floors of ``budget * w``, then the leftover units
    to the largest remainders (ties go to the type listed first)."""
    exact = {t: budget * w for t, w in weights.items()}
    out = {t: math.floor(v) for t, v in exact.items()}
    left = budget - sum(out.values())
    order = sorted(weights, key=lambda t: (-(exact[t] - out[t]), list(weights).index(t)))
    for t in order[:left]:
        out[t] += 1
    return out


def bad_cases(
    questions: list[Question],
    predictions: dict[str, str],
    per_type: int,
    rng: random.Random,
    types: tuple[str, ...] | list[str] = QTYPES,
) -> dict[str, list[dict[str, str]]]:
    """Up to ``per_type`` wrongly answered questions of each of ``types`` (in-context
    examples)."""
    out: dict[str, list[dict[str, str]]] = {}
    for qtype in types:
        wrong = [q for q in questions if q.qtype == qtype and predictions.get(q.id) != q.answer]
        picked = rng.sample(wrong, min(per_type, len(wrong)))
        out[qtype] = [
            {"scene_id": q.scene_id, "question": q.text, "answer": q.answer,
             "model_answer": predictions.get(q.id, "")}
            for q in picked
        ]  # fmt: skip
    return out


def pick_query_images(
    n: int,
    pool_ids: list[str],
    pool_emb: np.ndarray,
    bad_emb: np.ndarray,
    rng: random.Random,
    taken: set[str],
    similar_share: float = 0.5,
) -> tuple[list[str], list[str]]:
    """``n`` pool scenes not yet ``taken``: the most similar to the bad-case images (highest
    maximum cosine similarity to any of them), then random ones. Returns (similar, random)."""
    free = [i for i, sid in enumerate(pool_ids) if sid not in taken]
    n_sim = round(n * similar_share) if len(bad_emb) else 0
    similar: list[str] = []
    if n_sim and free:
        sims = (pool_emb[free] @ bad_emb.T).max(axis=1)
        for k in np.argsort(-sims, kind="stable")[:n_sim]:
            similar.append(pool_ids[free[int(k)]])
    rest = [pool_ids[i] for i in free if pool_ids[i] not in set(similar)]
    randoms = rng.sample(rest, min(n - len(similar), len(rest)))
    return similar, randoms


def generate_for_type(
    qtype: str,
    quota: int,
    scene_ids: list[str],
    scenes: dict[str, Scene],
    rng: random.Random,
    stats: PopeStats,
    per_image: int,
    round_: int,
) -> list[Question]:
    """Up to ``quota`` new questions of ``qtype`` on the given scenes, in order."""
    out: list[Question] = []
    for sid in scene_ids:
        if len(out) >= quota:
            break
        made = make_questions(scenes[sid], sid, qtype, min(per_image, quota - len(out)), rng, stats)
        for q in made:
            q.id = f"r{round_}:{q.id}"
            q.meta["round"] = round_
        out += made
    return out
