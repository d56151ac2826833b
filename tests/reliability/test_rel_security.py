"""Secrets never reach a file or the console; model output is never used as a path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from reliability_cases.security import security_category

from mmevol.backends.base import Backend, register
from mmevol.calls import ModelCall, Reply
from mmevol.evolve.config import EvolveConfig
from mmevol.evolve.run import run_evolve
from mmevol.seeds import read_seeds, write_seeds
from mmevol.world.scenes import write_demo_set

EVIL = ["../../../evil-out", "/tmp/mmevol-evil-abs", "..\\..\\evil-win"]


def test_api_key_is_in_no_file_and_no_output(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.jsonl"
    write_seeds(write_demo_set(tmp_path / "scenes", n=3, seed=11), seeds)
    report = security_category(seeds, tmp_path, rounds=1)
    assert report.passed, report.problems


@register("hostile-test")
class HostileBackend(Backend):
    """Answers every call, with paths where a careless engine might take a file name from."""

    name: ClassVar[str] = "hostile-test"

    def __init__(self, **_: Any) -> None:
        self.model = "hostile"
        self.vision = False

    async def complete(self, call: ModelCall) -> Reply:
        ctx = call.context
        if call.task == "evolve":
            items = [
                {"source": it["index"], "question": f"What is in the image near {EVIL[0]}?",
                 "answer": EVIL[1], "image": EVIL[1], "path": EVIL[0], "file": EVIL[2],
                 "id": EVIL[0], "seed_id": EVIL[0], "objects": EVIL, "format": EVIL[0]}
                for it in ctx["items"]
            ]  # fmt: skip
            text = json.dumps({"items": items, "image": EVIL[1], "out": EVIL[0]})
        else:
            verdicts = [
                {"index": p["index"], "improved": "yes", "score": 9, "reason": EVIL[0]}
                for p in ctx["pairs"]
            ]
            text = json.dumps({"verdicts": verdicts})
        return Reply(text=text, model=self.model)


def test_model_output_is_never_a_path(tmp_path: Path) -> None:
    work = tmp_path / "a" / "b" / "c"
    work.mkdir(parents=True)
    seeds = work / "seeds.jsonl"
    write_seeds(write_demo_set(work / "scenes", n=3, seed=4), seeds)
    before = {p for p in tmp_path.rglob("*")}
    run = work / "run"
    result = run_evolve(
        EvolveConfig(seeds=str(seeds), out=str(run), backend="hostile-test", rounds=2,
                     progress=False)
    )  # fmt: skip
    assert result.complete
    created = {p for p in tmp_path.rglob("*")} - before
    assert all(p.is_relative_to(run) for p in created), sorted(map(str, created))
    assert not Path("/tmp/mmevol-evil-abs").exists()
    images = {s.id: s.image for s in read_seeds(seeds)}
    rows = [json.loads(x) for x in (run / "dataset.jsonl").read_text().splitlines()]
    assert any(r["round"] > 0 for r in rows)
    for r in rows:
        assert r["id"].startswith(r["seed_id"]) and ".." not in r["id"]
        assert r["image"] == images[r["seed_id"]].model_dump(exclude_none=True)
