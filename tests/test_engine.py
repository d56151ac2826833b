"""The evolve engine on in-process backends: rounds, lineage, elimination, resume, stop rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from mmevol.backends.base import Backend
from mmevol.calls import ModelCall, Reply, ServerError, Usage
from mmevol.errors import ConfigError, InputError
from mmevol.evolve.config import EvolveConfig
from mmevol.evolve.engine import pick_direction
from mmevol.evolve.run import run_evolve
from mmevol.grounded.backend import GroundedBackend
from mmevol.schema import Sample
from mmevol.store import Store


def config(seeds: Path, out: Path, **kw: Any) -> EvolveConfig:
    return EvolveConfig(seeds=str(seeds), out=str(out), progress=False, **kw)


def read_dataset(run_dir: Path) -> list[Sample]:
    return [
        Sample.model_validate_json(x) for x in (run_dir / "dataset.jsonl").read_text().splitlines()
    ]


def test_three_rounds_grounded(world_seeds: tuple[Path, list[Any]], tmp_path: Path) -> None:
    seeds_path, seeds = world_seeds
    result = run_evolve(config(seeds_path, tmp_path / "run"))
    assert result.complete and result.stop_reason is None
    data = read_dataset(tmp_path / "run")
    by_id = {s.id: s for s in data}
    n_seed_items = sum(len(s.items) for s in seeds)
    assert sum(1 for s in data if s.round == 0) == n_seed_items
    evolved = [s for s in data if s.round > 0]
    assert evolved, "no evolution survived"
    assert {s.round for s in evolved} == {1, 2, 3}
    for s in evolved:  # every kept evolution chains back to a seed item through kept parents
        node = s
        while node.lineage.parent_id is not None:
            assert node.lineage.kept and node.lineage.verdict is not None
            node = by_id[node.lineage.parent_id]
        assert node.round == 0
    for k in (1, 2, 3):
        rows = (tmp_path / "run" / "rounds" / f"round_{k}.jsonl").read_text().splitlines()
        assert len(rows) >= sum(1 for s in evolved if s.round == k)
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["config"]["rounds"] == 3 and cfg["mmevol_version"]
    assert result.stats["dataset"]["total"] == len(data)  # type: ignore[index]


def test_rerun_repeats_no_call_and_gives_same_bytes(
    world_seeds: tuple[Path, list[Any]], tmp_path: Path
) -> None:
    seeds_path, _ = world_seeds
    run_evolve(config(seeds_path, tmp_path / "run"))
    first = (tmp_path / "run" / "dataset.jsonl").read_bytes()
    calls = (
        Store(tmp_path / "run" / "run.sqlite")
        .db.execute("SELECT COUNT(*) FROM calls")
        .fetchall()[0][0]
    )
    run_evolve(config(seeds_path, tmp_path / "run"))
    assert (tmp_path / "run" / "dataset.jsonl").read_bytes() == first
    again = (
        Store(tmp_path / "run" / "run.sqlite")
        .db.execute("SELECT COUNT(*) FROM calls")
        .fetchall()[0][0]
    )
    assert again == calls
    # a fresh run with the same seed gives the same dataset
    run_evolve(config(seeds_path, tmp_path / "other"))
    assert (tmp_path / "other" / "dataset.jsonl").read_bytes() == first


class SpyBackend(GroundedBackend):
    """Grounded generator that records every context it is called with."""

    name: ClassVar[str] = "grounded"
    contexts: ClassVar[list[dict[str, Any]]] = []

    async def complete(self, call: ModelCall) -> Reply:
        SpyBackend.contexts.append(call.context)
        return await super().complete(call)


def test_judge_sees_previous_round_not_seed(
    world_seeds: tuple[Path, list[Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeds_path, _ = world_seeds
    monkeypatch.setitem(
        __import__("mmevol.backends.base", fromlist=["REGISTRY"]).REGISTRY, "grounded", SpyBackend
    )
    SpyBackend.contexts.clear()
    run_evolve(config(seeds_path, tmp_path / "run"))
    data = {s.id: s for s in read_dataset(tmp_path / "run")}
    round2 = [c for c in SpyBackend.contexts if c["task"] == "judge" and c["round"] == 2]
    assert round2
    round1_questions = {s.qa.question for s in data.values() if s.round == 1}
    seed_questions = {s.qa.question for s in data.values() if s.round == 0}
    parents = [p["parent"]["question"] for c in round2 for p in c["pairs"]]
    assert all(q in round1_questions for q in parents)
    assert not any(q in seed_questions for q in parents)


def test_direction_draw_is_seeded_and_follows_weights() -> None:
    w = {"perception": 0.5, "reasoning": 0.25, "interactive": 0.25}
    draws = [pick_direction(0, f"img-{i}", 1, w) for i in range(4000)]
    assert draws == [pick_direction(0, f"img-{i}", 1, w) for i in range(4000)]
    share = draws.count("perception") / len(draws)
    assert 0.46 < share < 0.54
    assert pick_direction(0, "x", 1, {"perception": 0, "reasoning": 0, "interactive": 1}) == (
        "interactive"
    )


class FlakyBackend(Backend):
    """Fails every call for the seeds listed in ``failing``; otherwise delegates to grounded."""

    name: ClassVar[str] = "grounded"
    failing: ClassVar[set[str]] = set()

    def __init__(self, **kw: Any) -> None:
        self.inner = GroundedBackend(seed=kw.get("seed", 0))  # the run passes it every setting
        self.model = self.inner.model
        self.vision = True

    def identity(self) -> str:
        return self.inner.identity()

    async def complete(self, call: ModelCall) -> Reply:
        caps = " ".join(call.context.get("captions", []))
        if any(f in caps for f in FlakyBackend.failing) or "*" in FlakyBackend.failing:
            raise ServerError("injected 503", status=503, attempts=6)
        return await self.inner.complete(call)


def test_failures_are_records_and_rerun_retries(
    world_seeds: tuple[Path, list[Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeds_path, seeds = world_seeds
    run_evolve(config(seeds_path, tmp_path / "clean"))
    from mmevol.backends import base

    monkeypatch.setitem(base.REGISTRY, "grounded", FlakyBackend)
    FlakyBackend.failing = {seeds[0].captions[0], seeds[1].captions[0]}
    result = run_evolve(config(seeds_path, tmp_path / "run"))
    assert not result.complete
    fails = json.loads(json.dumps(result.stats["failures"]))
    assert fails["open"] == 2 and fails["by_class"] == {"server_error": 2}
    lines = (tmp_path / "run" / "failures.jsonl").read_text().splitlines()
    assert {json.loads(x)["seed_id"] for x in lines} == {seeds[0].id, seeds[1].id}
    FlakyBackend.failing = set()
    result = run_evolve(config(seeds_path, tmp_path / "run"))
    assert result.complete
    assert (tmp_path / "run" / "dataset.jsonl").read_bytes() == (
        tmp_path / "clean" / "dataset.jsonl"
    ).read_bytes()


class GarbleFirstBackend(FlakyBackend):
    """Answers garbage to first asks in round 1; a retried unit gets real answers."""

    async def complete(self, call: ModelCall) -> Reply:
        if call.retry == 0 and call.context.get("round") == 1:
            return Reply(text="Sure! I cannot do JSON today.", model="grounded-v1")
        return await self.inner.complete(call)


def test_unparsable_units_are_asked_anew_on_rerun(
    world_seeds: tuple[Path, list[Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeds_path, seeds = world_seeds
    from mmevol.backends import base

    monkeypatch.setitem(base.REGISTRY, "grounded", GarbleFirstBackend)
    first = run_evolve(config(seeds_path, tmp_path / "run"))
    assert not first.complete
    assert json.loads(json.dumps(first.stats["failures"]))["by_class"] == {
        "parse_failed": len(seeds)
    }
    again = run_evolve(config(seeds_path, tmp_path / "run"))
    assert again.complete  # the cached garbage was not served again
    store = Store(tmp_path / "run" / "run.sqlite")
    try:
        assert store.failures(open_only=True) == []
        assert len(store.failures()) == len(seeds)  # kept, marked resolved
    finally:
        store.close()


def test_error_rate_threshold_stops_with_advice(
    world_seeds: tuple[Path, list[Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeds_path, _ = world_seeds
    from mmevol.backends import base

    monkeypatch.setitem(base.REGISTRY, "grounded", FlakyBackend)
    FlakyBackend.failing = {"*"}
    result = run_evolve(config(seeds_path, tmp_path / "run", min_units_for_error_rate=3))
    FlakyBackend.failing = set()
    assert result.stop_reason and "re-run the same command" in result.stop_reason
    assert not result.complete


class PricedBackend(GroundedBackend):
    """Grounded answers billed at $0.01 a call, to exercise --max-cost."""

    name: ClassVar[str] = "grounded"
    calls: ClassVar[int] = 0

    async def complete(self, call: ModelCall) -> Reply:
        PricedBackend.calls += 1
        reply = await super().complete(call)
        return reply.model_copy(update={"cost_usd": 0.01, "usage": Usage(input_tokens=10)})


def test_max_cost_stops_then_resumes_without_repeating(
    world_seeds: tuple[Path, list[Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeds_path, _ = world_seeds
    from mmevol.backends import base

    monkeypatch.setitem(base.REGISTRY, "grounded", PricedBackend)
    PricedBackend.calls = 0
    result = run_evolve(config(seeds_path, tmp_path / "run", max_cost=0.05, concurrency=1))
    assert result.stop_reason and "budget" in result.stop_reason
    first = PricedBackend.calls
    assert 5 <= first <= 10
    result = run_evolve(config(seeds_path, tmp_path / "run", max_cost=100.0))
    assert result.complete
    store = Store(tmp_path / "run" / "run.sqlite")
    assert store.db.execute("SELECT COUNT(*) FROM calls").fetchall()[0][0] == PricedBackend.calls


def test_other_settings_refuse_to_resume(
    world_seeds: tuple[Path, list[Any]], tmp_path: Path
) -> None:
    seeds_path, _ = world_seeds
    run_evolve(config(seeds_path, tmp_path / "run"))
    with pytest.raises(ConfigError, match="seed"):
        run_evolve(config(seeds_path, tmp_path / "run", seed=7))


def test_bad_seeds_file_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "seeds.jsonl"
    bad.write_text('{"id": "x"}\n')
    with pytest.raises(InputError) as info:
        run_evolve(config(bad, tmp_path / "run"))
    assert "seeds.jsonl" in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "run").exists()
