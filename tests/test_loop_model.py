"""The tiny VLM: tokenizer, trains above chance on a tiny set, same seed -> same metrics."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from collections import defaultdict

import numpy as np

from mmevol.loop.evaluate import embed_images, evaluate
from mmevol.loop.model import tokenize
from mmevol.loop.splits import ImageCache, build_splits
from mmevol.loop.train import TrainConfig, train_model


def test_tokenizer_turns_boxes_into_centre_cells() -> None:
    toks = tokenize("Which box holds the red circle? A [0.00, 0.00, 0.25, 0.25] B [0.5, 0.5, 1, 1]")
    assert toks[:6] == ["which", "box", "holds", "the", "red", "circle"]
    assert toks[6:] == ["?", "opt_A", "cx1", "cy1", "opt_B", "cx6", "cy6"]


def _run(splits, cache, seed: int):
    cfg = TrainConfig(epochs=4)
    trained = train_model(splits["train"].questions, cache, cfg, seed=seed)
    return trained, evaluate(trained, splits["heldout"].questions, cache)


def test_trains_above_chance_and_is_deterministic() -> None:
    splits, _, _ = build_splits(5, 60, 10, 40)
    cache = ImageCache(64)
    for s in splits.values():
        cache.add(s.scenes)
    trained, ev = _run(splits, cache, seed=1)
    assert 100_000 <= trained.log["parameters"] <= 2_000_000
    losses = trained.log["epoch_loss"]
    assert losses[-1] < losses[0]
    answers = defaultdict(set)
    for q in splits["train"].questions:
        answers[q.qtype].add(q.answer)
    chance = float(np.mean([1 / len(a) for a in answers.values()]))  # uniform guess per type
    assert ev.macro > chance + 0.05
    _, again = _run(splits, cache, seed=1)
    assert again.summary() == ev.summary()
    assert again.predictions == ev.predictions
    emb = embed_images(trained, list(splits["dev"].scenes)[:3], cache)
    assert emb.shape[0] == 3
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0)
