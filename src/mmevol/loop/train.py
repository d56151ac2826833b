"""Training the tiny VLM from a fresh initialisation, deterministically under a seed.

This module owns the training settings (``TrainConfig``), the batching (questions grouped by
scene, so each image is encoded once per step however many questions it carries) and the
training loop. The same seed, data and thread count give the same weights: the initialisation
comes from ``torch.manual_seed``, the order of scenes from a ``random.Random`` of the seed, and
torch runs on a fixed number of threads.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from pydantic import BaseModel, ConfigDict, Field

from mmevol.loop.model import (
    FAMILY_NAMES,
    TinyVLM,
    Vocab,
    box_cells,
    encode_batch,
    n_parameters,
)
from mmevol.loop.splits import ImageCache
from mmevol.world.questions import ANSWERS, Question

ANSWER_INDEX = {a: i for i, a in enumerate(ANSWERS)}


class TrainConfig(BaseModel):
    """How the tiny VLM is trained (saved beside every run's outputs)."""

    model_config = ConfigDict(extra="forbid")

    image_size: int = Field(default=64, ge=32, le=256)
    width: int = Field(default=32, ge=4, le=256)
    epochs: int = Field(default=10, ge=1)
    lr: float = Field(default=1.5e-3, gt=0)
    weight_decay: float = Field(default=1e-4, ge=0)
    batch_questions: int = Field(default=32, ge=1)
    threads: int = Field(default=1, ge=1)
    glimpses: int = Field(default=2, ge=1, le=4)


@dataclass
class Batch:
    images: torch.Tensor
    image_index: torch.Tensor
    tokens: torch.Tensor
    lengths: torch.Tensor
    boxes: torch.Tensor
    family: torch.Tensor
    questions: list[Question]

    def logits(self, model: TinyVLM) -> torch.Tensor:
        return model(
            self.images, self.image_index, self.tokens, self.lengths, self.boxes, self.family
        )


def make_batch(questions: list[Question], cache: ImageCache, vocab: Vocab) -> Batch:
    scene_ids = list(dict.fromkeys(q.scene_id for q in questions))
    where = {sid: i for i, sid in enumerate(scene_ids)}
    images = torch.from_numpy(cache.batch(scene_ids))
    index = torch.tensor([where[q.scene_id] for q in questions], dtype=torch.long)
    tokens, lengths = encode_batch(vocab, [q.text for q in questions])
    boxes = torch.stack([box_cells(q.text) for q in questions])
    family = torch.tensor([FAMILY_NAMES.index(q.answer_family()) for q in questions])
    return Batch(images, index, tokens, lengths, boxes, family, questions)


def scene_batches(
    questions: list[Question], per_batch: int, rng: random.Random | None
) -> Iterator[list[Question]]:
    """Questions grouped by scene, whole scenes per batch (shuffled when ``rng`` is given)."""
    by_scene: dict[str, list[Question]] = {}
    for q in questions:
        by_scene.setdefault(q.scene_id, []).append(q)
    order = list(by_scene)
    if rng is not None:
        rng.shuffle(order)
    cur: list[Question] = []
    for sid in order:
        cur += by_scene[sid]
        if len(cur) >= per_batch:
            yield cur
            cur = []
    if cur:
        yield cur


def set_determinism(seed: int, threads: int) -> None:
    torch.manual_seed(seed)
    torch.set_num_threads(threads)


@dataclass
class Trained:
    model: TinyVLM
    vocab: Vocab
    log: dict[str, object]


def train_model(
    questions: list[Question], cache: ImageCache, cfg: TrainConfig, seed: int
) -> Trained:
    """Train a fresh model on ``questions`` (their scenes must be in ``cache``)."""
    set_determinism(seed, cfg.threads)
    vocab = Vocab.build([q.text for q in questions])
    model = TinyVLM(len(vocab), len(ANSWERS), width=cfg.width, glimpses=cfg.glimpses)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    most_batches = len(questions) // cfg.batch_questions + 1  # whole scenes per batch: at most
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, total_steps=cfg.epochs * most_batches, pct_start=0.15
    )
    rng = random.Random(seed)
    losses: list[float] = []
    t0 = time.perf_counter()
    model.train()
    for _ in range(cfg.epochs):
        total, count = 0.0, 0
        for qs in scene_batches(questions, cfg.batch_questions, rng):
            b = make_batch(qs, cache, vocab)
            target = torch.tensor([ANSWER_INDEX[q.answer] for q in qs], dtype=torch.long)
            loss = torch.nn.functional.cross_entropy(b.logits(model), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(qs)
            count += len(qs)
        losses.append(round(total / max(count, 1), 4))
    model.eval()
    log: dict[str, object] = {
        "n_questions": len(questions),
        "n_scenes": len({q.scene_id for q in questions}),
        "parameters": n_parameters(model),
        "epoch_loss": losses,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    return Trained(model, vocab, log)
