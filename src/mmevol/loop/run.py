"""The closed loop end to end: train -> evaluate -> ABS -> targeted generation, in rounds.

This module owns the loop's config (``LoopConfig``, saved as ``config.json`` beside the
outputs) and the run directory it writes:

    config.json              the resolved config
    data/{train,dev,heldout}_scenes.jsonl, data/{...}_questions.jsonl   the fixed splits
    round_K/metrics.json     dev (mining) and held-out (reporting) accuracy per type, training log
    round_K/abs.json         error rates, weights, quotas, what was generated per type and the
                             shortfall against each quota, bad cases, query images (K < rounds)
    round_K/generated_*.jsonl  the scenes and questions generated after round K
    round_K/engine/TYPE/     with ``generator="engine"``: the engine's images and run.sqlite
    metrics.json, table.md, accuracy.png, accuracy.svg   every round together

Round 0 trains on the base set only; round K trains a fresh model (same seed) on the base set
plus everything generated after rounds 0..K-1, as the MLLM-DataEngine paper retrains from the
base each round. Only the dev split is mined; the held-out split is only ever scored.
New questions come from the scene graph or, with ``generator="engine"``, from the evolution
engine on the same query scenes (``loop.generate``); a type that falls short of its quota is
reported (``shortfall``) or filled from the scene graph. ``world`` picks the scenes, the
question types and how often each type occurs in the base data (``loop.splits.WORLDS``).
"""

from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.table import Table

from mmevol.backends.base import Backend, make_backend
from mmevol.errors import MmevolError
from mmevol.fsutil import write_json
from mmevol.loop.abs import bad_cases, quotas, type_weights
from mmevol.loop.evaluate import Evaluation, evaluate
from mmevol.loop.generate import Generation
from mmevol.loop.splits import (
    ImageCache,
    WorldConfig,
    build_splits,
    draw_scenes,
    write_questions,
    write_scenes,
)
from mmevol.loop.train import TrainConfig, train_model
from mmevol.prompts import Template
from mmevol.prompts.versions import SEPARATOR, PromptStore, active_templates, kind_of
from mmevol.world.questions import QTYPES, Question


class LoopConfig(BaseModel):
    """Everything that decides a loop run (written to ``config.json``)."""

    model_config = ConfigDict(extra="forbid")

    rounds: int = Field(default=3, ge=0, le=20)
    strategy: Literal["abs", "uniform"] = "abs"
    weighting: Literal["linear", "sqrt", "gain"] = "linear"
    floor: float = Field(default=0.03, ge=0, le=0.11)
    budget: int = Field(default=600, ge=1)
    seed: int = 0
    n_train: int = Field(default=300, ge=1)
    n_dev: int = Field(default=150, ge=1)
    n_heldout: int = Field(default=200, ge=1)
    per_image: int = Field(default=3, ge=1)
    pool_factor: int = Field(default=3, ge=1)
    bad_cases_per_type: int = Field(default=8, ge=0)
    train: TrainConfig = Field(default_factory=lambda: TrainConfig())
    world: WorldConfig = Field(default_factory=lambda: WorldConfig())
    # scene_graph: questions computed from the scene graph; engine: the query scenes go
    # through the evolution engine with ``engine_backend`` (loop.evolved.engine_for_type)
    generator: Literal["scene_graph", "engine"] = "scene_graph"
    engine_backend: str = "grounded"
    engine_options: dict[str, str] = Field(default_factory=dict)
    # with the engine: attempts per type, each on twice as many fresh query images as the last
    engine_attempts: int = Field(default=3, ge=1, le=6)
    # what to do when a type still falls short of its quota: report it (abs.json "shortfall",
    # the printed table), or also fill it from the scene graph on the same query scenes
    shortfall: Literal["report", "scene_graph"] = "report"


def _round_dir(out: Path, k: int) -> Path:
    d = out / f"round_{k}"
    d.mkdir(parents=True, exist_ok=True)
    return d


# what may be in a loop's --out before its first run: versioned prompts (``mmevol prompts``)
BEFORE_A_LOOP = frozenset({"prompts"})


def check_loop_out(out: Path, cfg: LoopConfig) -> None:
    """``--out`` is new, empty, holds only prompts, or is a loop run made with these settings
    (re-running it redoes the rounds; the engine's journalled calls are reused). A loop run with
    other settings or someone else's files is refused, so two runs never mix in one folder."""
    if out.exists() and not out.is_dir():
        raise MmevolError(f"{out}: --out: is not a folder")
    if not out.is_dir():
        return
    config = out / "config.json"
    if config.is_file():
        try:
            old = json.loads(config.read_text("utf-8"))
        except (ValueError, UnicodeDecodeError):
            old = None
        if not isinstance(old, dict) or "world" not in old or "generator" not in old:
            raise MmevolError(f"{out}: --out: holds a config.json that is not an mmevol loop's; "
                              "use a new folder")  # fmt: skip
        new = json.loads(json.dumps(cfg.model_dump()))
        diff = [f"{k}: {old.get(k)!r} then, {v!r} now" for k, v in new.items() if old.get(k) != v]
        if diff:
            raise MmevolError(f"{out}: --out: holds a loop run with other settings "
                              f"({'; '.join(diff)[:300]}); use a new folder")  # fmt: skip
        return
    foreign = sorted(p.name for p in out.iterdir() if p.name not in BEFORE_A_LOOP)
    if foreign:
        shown = ", ".join(foreign[:3]) + (" ..." if len(foreign) > 3 else "")
        raise MmevolError(f"{out}: --out: holds files that are not an mmevol loop run ({shown}); "
                          "use a new folder")  # fmt: skip


def run_loop(cfg: LoopConfig, out: Path, console: Console | None = None) -> list[dict[str, object]]:
    """Run every round, write the run directory, return the per-round metrics."""
    console = console or Console(quiet=True)
    check_loop_out(out, cfg)
    backend: Backend | None = None
    if cfg.generator == "engine":  # a backend that cannot be made stops before anything is written
        backend = make_backend(cfg.engine_backend, **cfg.engine_options)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", cfg.model_dump())
    splits, stats, used = build_splits(
        cfg.seed, cfg.n_train, cfg.n_dev, cfg.n_heldout, world=cfg.world
    )
    (out / "data").mkdir(exist_ok=True)
    for name, split in splits.items():
        write_scenes(out / "data" / f"{name}_scenes.jsonl", split.scenes)
        write_questions(out / "data" / f"{name}_questions.jsonl", split.questions)
    cache = ImageCache(cfg.train.image_size)
    scenes = {sid: s for split in splits.values() for sid, s in split.scenes.items()}
    cache.add(scenes)
    generated: list[Question] = []
    history: list[dict[str, object]] = []
    guidance: dict[str, tuple[str, str]] = {}
    templates: dict[str, Template] = {}
    if cfg.generator == "engine":
        guidance, templates = run_prompts(out)
    rng = random.Random(f"loop:{cfg.seed}")
    types = cfg.world.types
    for k in range(cfg.rounds + 1):
        t0 = time.perf_counter()
        trained = train_model(splits["train"].questions + generated, cache, cfg.train, cfg.seed)
        dev = evaluate(trained, splits["dev"].questions, cache)
        held = evaluate(trained, splits["heldout"].questions, cache)
        record: dict[str, object] = {
            "round": k,
            "n_generated": len(generated),
            "dev": dev.summary(),
            "heldout": held.summary(),
            "train": trained.log,
        }
        rdir = _round_dir(out, k)
        if k < cfg.rounds:
            errors = {t: round(1 - dev.per_type.get(t, 0.0), 4) for t in types}
            mode = "uniform" if cfg.strategy == "uniform" else cfg.weighting
            gains = learnability(
                splits["train"].questions + generated, splits["dev"].questions, cache, cfg, dev, k
            )
            weights = type_weights(errors, mode, cfg.floor, gains if mode == "gain" else None)
            quota = quotas(weights, cfg.budget)
            cases = bad_cases(
                splits["dev"].questions, dev.predictions, cfg.bad_cases_per_type, rng, types
            )
            n_pool = cfg.pool_factor * (math.ceil(cfg.budget / cfg.per_image) + len(types))
            pool = draw_scenes(
                f"pool{k}", cfg.seed, n_pool, used, cfg.world
            )  # never dev or held-out
            cache.add(pool)
            gen = Generation(cfg, k, rdir, trained, cache, pool, cases, rng, stats, backend)
            new, made = gen.run(quota, guidance, templates)
            generated += new
            gen_scenes = {sid: pool[sid] for sid in dict.fromkeys(q.scene_id for q in new)}
            write_scenes(rdir / "generated_scenes.jsonl", gen_scenes)
            write_questions(rdir / "generated_questions.jsonl", new)
            made_per_type = {t: made[t]["made"] for t in types}
            short = {t: made[t]["shortfall"] for t in types}
            write_json(
                rdir / "abs.json",
                {"strategy": cfg.strategy, "weighting": mode, "error_rates_dev": errors,
                 "gains_dev": gains,
                 "weights": weights, "quotas": quota, "generated": made_per_type,
                 "shortfall": short, "generation": made,
                 "bad_cases": cases, "query_images": gen.queries},
            )  # fmt: skip
            record["generated_per_type"] = made_per_type
            record["shortfall"] = short
            record["quotas"] = quota
        record["seconds"] = round(time.perf_counter() - t0, 2)
        write_json(rdir / "metrics.json", record)
        history.append(record)
        console.print(
            f"round {k}: held-out macro {held.macro:.3f} (dev {dev.macro:.3f}), "
            f"{trained.log['n_questions']} training questions, {record['seconds']} s"
        )
        if k < cfg.rounds:
            console.print(quota_table(k, quota, made))
    write_json(out / "metrics.json", history)
    table = results_table(history)
    console.print(table)
    (out / "table.md").write_text(markdown_table(history), "utf-8")
    plot_history(history, out / "accuracy.png", out / "accuracy.svg", cfg)
    return history


def run_prompts(out: Path) -> tuple[dict[str, tuple[str, str]], dict[str, Template]]:
    """The loop run's own prompt versions (``mmevol prompts ... --run OUT``): per question type,
    the current version's tag and system text (the ``guidance`` of its ``focus``), and the
    direction templates the engine uses instead of the bundled ones."""
    store = PromptStore.of_run(out)
    guidance: dict[str, tuple[str, str]] = {}
    for t in QTYPES:
        if kind_of(t) == "question_type" and (v := store.current(t)) is not None:
            guidance[t] = (v.tag, store.text(v).split(SEPARATOR, 1)[0].strip())
    return guidance, active_templates(out)


def learnability(
    questions: list[Question],
    dev_questions: list[Question],
    cache: ImageCache,
    cfg: LoopConfig,
    dev: Evaluation,
    k: int,
) -> dict[str, float] | None:
    """For ``weighting="gain"``: per-type dev accuracy of the round's model minus that of a
    probe trained (same seed, same settings) on a random half of its training scenes, i.e.
    what the second half of the data did for each type. None for other weightings."""
    if cfg.strategy != "abs" or cfg.weighting != "gain":
        return None
    scenes = sorted({q.scene_id for q in questions})
    half = set(random.Random(f"probe:{cfg.seed}:{k}").sample(scenes, len(scenes) // 2))
    probe = train_model([q for q in questions if q.scene_id in half], cache, cfg.train, cfg.seed)
    probe_dev = evaluate(probe, dev_questions, cache)
    types = cfg.world.types
    return {t: round(dev.per_type.get(t, 0.0) - probe_dev.per_type.get(t, 0.0), 4) for t in types}


def _types(history: list[dict[str, object]]) -> list[str]:
    """The question types the run scored (the world's), in ``QTYPES`` order."""
    held = history[0]["heldout"] if history else {}
    assert isinstance(held, dict)
    return [t for t in QTYPES if t in held.get("per_type", {})]


def _cells(rec: dict[str, object], types: list[str]) -> list[str]:
    held = rec["heldout"]
    assert isinstance(held, dict)
    per = held["per_type"]
    return [f"{100 * per.get(t, 0):.1f}" for t in types] + [f"{100 * held['macro']:.1f}"]


def results_table(history: list[dict[str, object]]) -> Table:
    """Held-out accuracy (%) per round and type (rich)."""
    types = _types(history)
    table = Table(title="held-out accuracy (%) per round and question type")
    for col in ("round", "generated", *types, "mean"):
        table.add_column(col, justify="right")
    for rec in history:
        table.add_row(str(rec["round"]), str(rec["n_generated"]), *_cells(rec, types))
    return table


def quota_table(k: int, quota: dict[str, int], made: dict[str, dict[str, object]]) -> Table:
    """Per type: the quota, what was generated and the shortfall (rich)."""
    table = Table(title=f"round {k}: generated vs quota per question type")
    for col in ("type", "quota", "generated", "short", "filled from scene graph"):
        table.add_column(col, justify="right")
    for t, q in quota.items():
        rec = made[t]
        table.add_row(t, str(q), str(rec["made"]), str(rec["shortfall"]), str(rec.get("filled", 0)))  # fmt: skip
    return table


def markdown_table(history: list[dict[str, object]]) -> str:
    types = _types(history)
    head = ["round", "generated", *types, "mean"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for rec in history:
        cells = " | ".join(_cells(rec, types))
        lines.append(f"| {rec['round']} | {rec['n_generated']} | {cells} |")
    short = [(rec["round"], rec["shortfall"]) for rec in history if rec.get("shortfall")]
    if any(sum(v.values()) for _, v in short):  # type: ignore[attr-defined]
        lines += ["", "Short of the quota (questions not generated):", ""]
        for k, v in short:
            assert isinstance(v, dict)
            missing = ", ".join(f"{t} {n}" for t, n in v.items() if n)
            lines.append(f"- round {k}: {missing or 'none'}")
    return "\n".join(lines) + "\n"


def plot_history(history: list[dict[str, object]], png: Path, svg: Path, cfg: LoopConfig) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rounds = [int(str(r["round"])) for r in history]
    fig, ax = plt.subplots(figsize=(8, 5))
    for t in _types(history):
        ys = [100 * r["heldout"]["per_type"].get(t, 0) for r in history]  # type: ignore[index]
        ax.plot(rounds, ys, marker="o", linewidth=1, label=t)
    macro = [100 * r["heldout"]["macro"] for r in history]  # type: ignore[index]
    ax.plot(rounds, macro, marker="s", linewidth=3, color="black", label="mean over types")
    ax.set_xlabel("round (0 = base data only)")
    ax.set_ylabel("held-out accuracy (%)")
    ax.set_xticks(rounds)
    ax.set_title(f"Closed loop ({cfg.strategy}, budget {cfg.budget}/round, seed {cfg.seed})")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    fig.savefig(svg)
    plt.close(fig)
