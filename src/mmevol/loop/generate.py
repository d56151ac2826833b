"""One round's targeted generation: per question type, query images, new questions, shortfall.

This module owns the step between ABS's quotas and the next round's data. For every type with
a quota it picks query images (``abs.pick_query_images``: half most similar to the type's bad
cases, half random; then the rest of the pool as spare), asks a generator for the quota, and
records what came out:

- generators, by name (``GENERATORS``): ``scene_graph`` (``abs.generate_for_type``) or
  ``engine`` (``evolved.engine_for_type``: the evolution engine, only questions of the type
  count, more query images are evolved while it is short, in bounded attempts);
- when a type still falls short, a shortfall policy, by name (``SHORTFALL``): ``report`` (the
  missing count goes into ``abs.json`` and the printed table) or ``scene_graph`` (also fill it
  from the scene graph on the same query scenes, counted as ``filled``).

Each type's record: ``quota``, ``made`` (all questions of the type, fill included),
``shortfall`` (quota minus made), ``filled``, and with the engine its attempts, query images,
the other types its evolutions mapped to and why the rest was dropped.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mmevol.backends.base import Backend
from mmevol.loop.abs import generate_for_type, pick_query_images
from mmevol.loop.evaluate import embed_images
from mmevol.loop.evolved import engine_for_type
from mmevol.loop.splits import ImageCache
from mmevol.loop.train import Trained
from mmevol.prompts import Template
from mmevol.world.questions import PopeStats, Question
from mmevol.world.scenes import Scene

if TYPE_CHECKING:
    from mmevol.loop.run import LoopConfig

Made = tuple[list[Question], dict[str, object]]


class Generation:
    """The generation step after round ``k`` (query pool ``pool``, bad cases ``cases``)."""

    def __init__(
        self,
        cfg: LoopConfig,
        k: int,
        rdir: Path,
        trained: Trained,
        cache: ImageCache,
        pool: dict[str, Scene],
        cases: dict[str, list[dict[str, str]]],
        rng: random.Random,
        stats: PopeStats,
        backend: Backend | None,
    ) -> None:
        self.cfg, self.k, self.rdir, self.trained, self.cache = cfg, k, rdir, trained, cache
        self.pool, self.cases, self.rng, self.stats, self.backend = pool, cases, rng, stats, backend
        self.pool_ids = list(pool)
        self.pool_emb = embed_images(trained, self.pool_ids, cache)
        self.taken: set[str] = set()
        self.queries: dict[str, dict[str, list[str]]] = {}
        self.guidance: dict[str, tuple[str, str]] = {}
        self.templates: dict[str, Template] = {}

    def run(
        self,
        quota: dict[str, int],
        guidance: dict[str, tuple[str, str]] | None = None,
        templates: dict[str, Template] | None = None,
    ) -> tuple[list[Question], dict[str, dict[str, object]]]:
        """New questions for every type's quota, and the per-type record."""
        self.guidance, self.templates = guidance or {}, templates or {}
        new: list[Question] = []
        records: dict[str, dict[str, object]] = {}
        for t, q in quota.items():
            if q == 0:
                records[t] = {"quota": 0, "made": 0, "shortfall": 0, "filled": 0}
                continue
            order = self.query_order(t, q)
            made, rec = GENERATORS[self.cfg.generator](self, t, q, order)
            self.taken.update(x.scene_id for x in made)
            fill = SHORTFALL[self.cfg.shortfall](self, t, q - len(made), order)
            self.taken.update(x.scene_id for x in fill)
            made += fill
            records[t] = {**rec, "quota": q, "made": len(made),
                          "shortfall": max(0, q - len(made)), "filled": len(fill)}  # fmt: skip
            new += made
        return new, records

    def query_order(self, t: str, quota: int) -> list[str]:
        """ABS's query images for type ``t`` (similar, then random), then every other free
        pool scene as spare (some scenes cannot carry a type: no word to read, ...)."""
        n_img = math.ceil(quota / self.cfg.per_image)
        abs_ = self.cfg.strategy == "abs"
        bad_ids = [c["scene_id"] for c in self.cases.get(t, [])] if abs_ else []
        bad_emb = embed_images(self.trained, bad_ids, self.cache) if bad_ids else np.zeros((0, 1))
        sim, rand = pick_query_images(
            n_img, self.pool_ids, self.pool_emb, bad_emb, self.rng, self.taken
        )
        self.queries[t] = {"similar": sim, "random": rand}
        order = sim + rand
        chosen = set(order)
        return order + [s for s in self.pool_ids if s not in self.taken and s not in chosen]


def _scene_graph(gen: Generation, t: str, quota: int, order: list[str]) -> Made:
    c = gen.cfg
    made = generate_for_type(t, quota, order, gen.pool, gen.rng, gen.stats, c.per_image, gen.k)
    return made, {}


def _engine(gen: Generation, t: str, quota: int, order: list[str]) -> Made:
    assert gen.backend is not None, "generator 'engine' needs a backend"
    c = gen.cfg
    got = engine_for_type(
        t, quota, order, gen.pool, c.per_image, gen.k, gen.rdir / "engine" / t, gen.backend,
        gen.cases.get(t) if c.strategy == "abs" else None, gen.guidance.get(t), gen.templates,
        attempts=c.engine_attempts,
    )  # fmt: skip
    return got.questions, got.record(quota)


GENERATORS: dict[str, Callable[[Generation, str, int, list[str]], Made]] = {
    "scene_graph": _scene_graph,
    "engine": _engine,
}


def _report(gen: Generation, t: str, missing: int, order: list[str]) -> list[Question]:
    return []


def _fill_scene_graph(gen: Generation, t: str, missing: int, order: list[str]) -> list[Question]:
    """The missing questions from the scene graph, on query scenes the type has not used."""
    if missing <= 0:
        return []
    free = [s for s in order if s not in gen.taken]
    c = gen.cfg
    made = generate_for_type(t, missing, free, gen.pool, gen.rng, gen.stats, c.per_image, gen.k)
    for q in made:
        q.id = f"{q.id}:fill"
        q.meta["filled"] = "scene_graph"
    return made


SHORTFALL: dict[str, Callable[[Generation, str, int, list[str]], list[Question]]] = {
    "report": _report,
    "scene_graph": _fill_scene_graph,
}
