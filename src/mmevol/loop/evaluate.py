"""Per-type evaluation of the tiny VLM on a split, and image embeddings for ABS.

This module owns how a model is scored: every question of a split is answered (argmax over
the closed answer vocabulary), and accuracy is reported per question type, per existence
variant (the POPE-style hallucination split), as the mean over types (``macro``, the headline
number: every type counts the same) and over questions (``micro``). The predictions are kept
so ABS can mine bad cases from the dev split.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import torch

from mmevol.loop.splits import ImageCache
from mmevol.loop.train import Trained, make_batch, scene_batches
from mmevol.world.questions import ANSWERS, QTYPES, Question


@dataclass
class Evaluation:
    """Accuracy by type (and variant), and every prediction by question id."""

    per_type: dict[str, float]
    per_variant: dict[str, float]
    macro: float
    micro: float
    n: int
    predictions: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        return {
            "per_type": self.per_type,
            "existence_variants": self.per_variant,
            "macro": self.macro,
            "micro": self.micro,
            "n": self.n,
        }


def predict(trained: Trained, questions: list[Question], cache: ImageCache) -> dict[str, str]:
    """The model's answer to every question, by question id."""
    out: dict[str, str] = {}
    with torch.no_grad():
        for qs in scene_batches(questions, 512, None):
            b = make_batch(qs, cache, trained.vocab)
            logits = b.logits(trained.model)
            for q, k in zip(qs, logits.argmax(dim=1).tolist(), strict=True):
                out[q.id] = ANSWERS[k]
    return out


def score(questions: list[Question], predictions: dict[str, str]) -> Evaluation:
    """Accuracies from predictions (rounded to 4 decimals)."""
    right: dict[str, list[int]] = defaultdict(list)
    variants: dict[str, list[int]] = defaultdict(list)
    for q in questions:
        ok = int(predictions.get(q.id) == q.answer)
        right[q.qtype].append(ok)
        if q.qtype == "existence":
            variants[q.variant].append(ok)
    per_type = {t: round(float(np.mean(right[t])), 4) for t in QTYPES if right[t]}
    per_variant = {v: round(float(np.mean(x)), 4) for v, x in sorted(variants.items())}
    total = [x for xs in right.values() for x in xs]
    return Evaluation(
        per_type=per_type,
        per_variant=per_variant,
        macro=round(float(np.mean(list(per_type.values()))), 4) if per_type else 0.0,
        micro=round(float(np.mean(total)), 4) if total else 0.0,
        n=len(total),
        predictions=predictions,
    )


def evaluate(trained: Trained, questions: list[Question], cache: ImageCache) -> Evaluation:
    return score(questions, predict(trained, questions, cache))


def embed_images(trained: Trained, scene_ids: list[str], cache: ImageCache) -> np.ndarray:
    """L2-normalised image-encoder features (N, D) of the given scenes."""
    chunks: list[np.ndarray] = []
    with torch.no_grad():
        for i in range(0, len(scene_ids), 256):
            imgs = torch.from_numpy(cache.batch(scene_ids[i : i + 256]))
            chunks.append(trained.model.image_embedding(imgs).numpy())
    emb = np.concatenate(chunks) if chunks else np.zeros((0, trained.model.feat_dim - 2))
    norm = np.linalg.norm(emb, axis=1, keepdims=True)
    return emb / np.maximum(norm, 1e-8)
