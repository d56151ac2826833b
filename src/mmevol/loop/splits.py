"""Scene sets of the closed loop: base training, dev (mining), held-out (reporting), fresh pools.

This module owns where scenes come from and which split they belong to. Every scene is drawn
from its own named random stream (``"<namespace>:<seed>:<index>"``), and the namespaces of the
splits differ, so the splits come from disjoint seeds. On top of that the scene graphs are
compared by content digest: a scene that happens to equal a held-out or dev scene is never put
in training data or in a generation pool. It also owns the pixel cache the model reads
(renders downscaled to the model's input size) and the JSONL snapshots of scenes and questions.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mmevol.fsutil import write_jsonl
from mmevol.world.questions import QTYPES, PopeStats, Question, questions_for_scene
from mmevol.world.scenes import Scene, make_scene, render

SPLITS = ("train", "dev", "heldout")


class WorldConfig(BaseModel):
    """How the loop's scenes are drawn (``world.make_scene``): Zipf-like skew of kinds and
    colours, the chance that a pair partner comes along, and the printed word's size; which
    question ``types`` the world asks (all nine by default); and ``base_share``: the fraction
    of base training scenes that carry questions of a type (1 when absent), so a type can be
    rare in the base data (a data-starved world, see ``WORLDS``). Dev and held-out scenes
    always carry every type of the world."""

    model_config = ConfigDict(extra="forbid")

    name: str = "default"
    skew: float = Field(default=1.0, ge=0, le=3)
    pair_prob: float = Field(default=0.6, ge=0, le=1)
    text_scale: float = Field(default=0.45, gt=0, le=0.5)
    text_prob: float = Field(default=0.5, ge=0, le=1)
    text_stroke: float = Field(default=0.1, ge=0, le=0.3)
    types: list[str] = Field(default_factory=lambda: list(QTYPES), min_length=1)
    base_share: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_types(self) -> WorldConfig:
        unknown = [t for t in [*self.types, *self.base_share] if t not in QTYPES]
        if unknown:
            raise ValueError(f"unknown question types {unknown} (known: {', '.join(QTYPES)})")
        self.types = [t for t in QTYPES if t in self.types]  # canonical order
        if any(not 0 <= v <= 1 for v in self.base_share.values()):
            raise ValueError("base_share values are fractions in [0, 1]")
        return self

    def starved(self) -> list[str]:
        """The types rarer than the others in the base training data."""
        return [t for t in self.types if self.base_share.get(t, 1.0) < 1.0]


# Named worlds (``mmevol loop --world NAME``). ``starved``: only the types whose dev accuracy
# rises with their training data for the tiny VLM (benchmarks/starved_world.py curve; OCR,
# spatial relations, attribute, counting and reasoning stay flat at this size), with two of
# them rare in the base training set (10 % of the scenes carry them), the situation
# MLLM-DataEngine's bad-case sampling targets.
WORLDS: dict[str, WorldConfig] = {
    "default": WorldConfig(),
    "starved": WorldConfig(
        name="starved",
        types=["existence", "grounding", "referring", "comparison"],
        base_share={"grounding": 0.1, "referring": 0.1},
    ),
}


def world_named(name: str) -> WorldConfig:
    """A copy of the named world (``WORLDS``)."""
    if name not in WORLDS:
        raise ValueError(f"unknown world {name!r} (known: {', '.join(WORLDS)})")
    return WORLDS[name].model_copy(deep=True)


def scene_digest(scene: Scene) -> str:
    """A content digest of the scene graph (identical graphs, identical pixels)."""
    blob = json.dumps(scene.model_dump(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


@dataclass
class Split:
    """Named scenes and the questions asked about them."""

    name: str
    scenes: dict[str, Scene] = field(default_factory=dict)
    questions: list[Question] = field(default_factory=list)

    def digests(self) -> set[str]:
        return {scene_digest(s) for s in self.scenes.values()}


def draw_scenes(
    namespace: str, seed: int, n: int, reserved: set[str], world: WorldConfig | None = None
) -> dict[str, Scene]:
    """``n`` scenes from the stream ``namespace:seed``, skipping any whose digest is reserved
    (and adding the new digests to ``reserved``)."""
    w = world or WorldConfig()
    out: dict[str, Scene] = {}
    i = 0
    while len(out) < n:
        scene = make_scene(
            random.Random(f"{namespace}:{seed}:{i}"),
            text_prob=w.text_prob,
            skew=w.skew,
            pair_prob=w.pair_prob,
            text_scale=w.text_scale,
            text_stroke=w.text_stroke,
        )
        digest = scene_digest(scene)
        if digest not in reserved:
            reserved.add(digest)
            out[f"{namespace}-{seed}-{i:05d}"] = scene
        i += 1
    return out


def build_splits(
    seed: int,
    n_train: int,
    n_dev: int,
    n_heldout: int,
    per_type: int = 1,
    world: WorldConfig | None = None,
) -> tuple[dict[str, Split], PopeStats, set[str]]:
    """The three fixed splits of a run, the POPE statistics (from training scenes only) and
    the set of digests already used (pass it on to every later pool)."""
    used: set[str] = set()
    scenes = {
        "heldout": draw_scenes("heldout", seed, n_heldout, used, world),
        "dev": draw_scenes("dev", seed, n_dev, used, world),
        "train": draw_scenes("train", seed, n_train, used, world),
    }
    stats = PopeStats.from_scenes(scenes["train"].values())
    w = world or WorldConfig()
    splits: dict[str, Split] = {}
    for name in SPLITS:
        split = Split(name, scenes[name])
        for sid, scene in split.scenes.items():
            rng = random.Random(f"questions:{sid}")
            split.questions += questions_for_scene(scene, sid, rng, stats, per_type, w.types)
        splits[name] = split
    splits["train"].questions = starve(splits["train"], w.base_share)
    return splits, stats, used


def starve(split: Split, share: dict[str, float]) -> list[Question]:
    """The split's questions with a type of ``share`` ``s`` kept only on the first
    ``round(s * n)`` of its ``n`` scenes (in drawing order)."""
    ids = list(split.scenes)
    keep = {t: set(ids[: round(s * len(ids))]) for t, s in share.items()}
    return [q for q in split.questions if q.qtype not in keep or q.scene_id in keep[q.qtype]]


class ImageCache:
    """Renders of scenes, downscaled to ``size`` px, as uint8 arrays (H, W, 3), by scene id."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._arrays: dict[str, np.ndarray] = {}

    def add(self, scenes: dict[str, Scene]) -> None:
        for sid, scene in scenes.items():
            if sid not in self._arrays:
                img = render(scene).resize((self.size, self.size), Image.Resampling.BOX)
                self._arrays[sid] = np.asarray(img, dtype=np.uint8)

    def batch(self, ids: list[str]) -> np.ndarray:
        """Stacked arrays (N, H, W, 3) of the given scenes (which must have been added)."""
        return np.stack([self._arrays[i] for i in ids])


def write_scenes(path: Path, scenes: dict[str, Scene]) -> None:
    write_jsonl(path, ({"id": sid, "scene": s.model_dump()} for sid, s in scenes.items()))


def read_scenes(path: Path) -> dict[str, Scene]:
    out: dict[str, Scene] = {}
    for line in Path(path).read_text("utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            out[rec["id"]] = Scene.model_validate(rec["scene"])
    return out


def write_questions(path: Path, questions: Iterable[Question]) -> None:
    write_jsonl(path, (q.model_dump() for q in questions))


def read_questions(path: Path) -> list[Question]:
    lines = Path(path).read_text("utf-8").splitlines()
    return [Question.model_validate_json(line) for line in lines if line.strip()]
