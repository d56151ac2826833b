"""The ``hf`` backend on a tiny randomly initialised LLaVA-style model (CPU, no download).

Random weights answer gibberish, so a run must end in typed ``parse_failed`` failure records
(never empty samples), journal every call, exit 1 with the usual message, and a re-run must ask
again only the failed units, with fresh requests.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmevol.backends.base import make_backend
from mmevol.calls import ClientError, Message, ModelCall
from mmevol.cli.app import app
from mmevol.evolve.calls import evolve_call
from mmevol.schema import ImageRef, Sample
from mmevol.seeds import write_seeds
from mmevol.world.scenes import write_demo_set

pytest.importorskip("transformers")


def _calls(run: Path) -> list[tuple[str, str, str, int, int, str]]:
    con = sqlite3.connect(run / "run.sqlite")
    try:
        return con.execute(
            "SELECT key, unit, backend, input_tokens, output_tokens, request FROM calls"
        ).fetchall()
    finally:
        con.close()


@pytest.mark.timeout(240)
def test_evolve_with_a_random_model_gives_typed_failures_and_resumes(
    tiny_vlm: Path, tmp_path: Path
) -> None:
    seeds = tmp_path / "seeds.jsonl"
    write_seeds(write_demo_set(tmp_path / "scenes", n=3, seed=5), seeds)
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "mmevol.cli", "evolve", str(seeds), "--out", str(run)]
    cmd += ["--backend", "hf", "--model", str(tiny_vlm), "--rounds", "1", "--max-tokens", "24"]
    cmd += ["--temperature", "0", "--max-error-rate", "1"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=200)
    assert first.returncode == 1, first.stderr[-2000:]
    assert "Traceback" not in first.stderr
    assert "3 unit(s) failed" in first.stderr and "re-run the same command" in first.stderr
    assert "parse_failed x3" in first.stderr  # the cause, not only a count

    failures = [json.loads(x) for x in (run / "failures.jsonl").read_text().splitlines()]
    assert len(failures) == 3
    assert {f["error_class"] for f in failures} == {"parse_failed"}
    assert all(f["message"] and f["unit"].endswith("@r1") for f in failures)
    failed_units = {f["unit"] for f in failures}
    # nothing evolved was kept or invented: the dataset is the seeds, round 1 holds no sample
    assert (run / "rounds" / "round_1.jsonl").read_text().strip() == ""
    for line in (run / "dataset.jsonl").read_text().splitlines():
        sample = Sample.model_validate_json(line)
        assert sample.round == 0 and sample.qa.question and sample.qa.answer
    config = json.loads((run / "config.json").read_text())
    assert config["backend"]["backend"] == "hf" and config["backend"]["vision"] is True

    calls = _calls(run)
    assert len(calls) == 6  # one ask and one re-ask with the parse error, per unit
    assert {c[1] for c in calls} == failed_units and {c[2] for c in calls} == {"hf"}
    assert all(c[3] > 100 and 0 < c[4] <= 24 for c in calls)
    assert all(json.loads(c[5])["image"].startswith("sha256:") for c in calls)

    second = subprocess.run(cmd, capture_output=True, text=True, timeout=200)
    assert second.returncode == 1 and "Traceback" not in second.stderr
    again = _calls(run)
    assert again[: len(calls)] == calls  # the first run's journal is kept as it was
    new = again[len(calls) :]
    assert len(new) == 6 and {c[1] for c in new} <= failed_units
    assert not {c[0] for c in new} & {c[0] for c in calls}  # asked anew, not from the cache


def _backend(tiny_vlm: Path):  # type: ignore[no-untyped-def]
    return make_backend("hf", model=str(tiny_vlm), seed=3)


def test_replies_are_deterministic_and_counted(tiny_vlm: Path, tmp_path: Path) -> None:
    seed = write_demo_set(tmp_path / "scenes", n=1, seed=2)[0]
    backend = _backend(tiny_vlm)
    greedy = evolve_call(seed, list(seed.items), "perception", 1, temperature=0.0, max_tokens=12)
    sampled = greedy.model_copy(update={"temperature": 1.0})

    async def ask() -> list[str]:
        replies = await asyncio.gather(
            backend.complete(greedy), backend.complete(sampled), backend.complete(greedy)
        )
        for r in replies:
            assert r.usage.input_tokens > 100 and 1 <= r.usage.output_tokens <= 12
            assert r.finish_reason in {"stop", "length"} and r.model == str(tiny_vlm)
        return [r.text for r in replies]

    first, second = asyncio.run(ask()), asyncio.run(ask())
    assert first == second and first[0] == first[2]
    # the image is really read: another picture changes the prompt length
    text_only = greedy.model_copy(update={"image": None})
    with_img = asyncio.run(backend.complete(greedy))
    without = asyncio.run(backend.complete(text_only))
    assert with_img.usage.input_tokens > without.usage.input_tokens


def test_bad_calls_are_typed_errors(tiny_vlm: Path, tmp_path: Path) -> None:
    backend = _backend(tiny_vlm)
    long = ModelCall(
        task="evolve",
        template="t",
        template_version="t@1",
        messages=[Message(role="user", content="a red circle " * 4000)],
        context={},
        max_tokens=8,
    )
    with pytest.raises(ClientError, match="context is 8192"):
        asyncio.run(backend.complete(long))
    missing = long.model_copy(
        update={
            "messages": [Message(role="user", content="hi")],
            "image": ImageRef(
                path=str(tmp_path / "gone.png"), digest="sha256:00", width=4, height=4
            ),
        }
    )
    with pytest.raises(ClientError, match=r"gone\.png: cannot read the image"):
        asyncio.run(backend.complete(missing))


def test_a_text_only_model_folder_runs_without_vision(tmp_path: Path) -> None:
    from hf_tiny import build_tiny_lm

    backend = make_backend("hf", model=str(build_tiny_lm(tmp_path / "lm")))
    assert backend.vision is False and backend.describe()["architecture"] == "LlamaForCausalLM"
    seed = write_demo_set(tmp_path / "scenes", n=1, seed=2)[0]
    call = evolve_call(seed, list(seed.items), "reasoning", 1, temperature=0.0, max_tokens=6)
    reply = asyncio.run(backend.complete(call))  # the image is left out, not an error
    assert reply.usage.input_tokens > 100 and 1 <= reply.usage.output_tokens <= 6


@pytest.mark.parametrize("case", ["missing", "no-config", "bad-json"])
def test_bad_model_folder_is_one_line_and_writes_nothing(tmp_path: Path, case: str) -> None:
    seeds = tmp_path / "seeds.jsonl"
    write_seeds(write_demo_set(tmp_path / "scenes", n=1, seed=1), seeds)
    model = tmp_path / "model"
    if case != "missing":
        model.mkdir()
    if case == "bad-json":
        (model / "config.json").write_text("{nope")
    run = tmp_path / "run"
    result = CliRunner().invoke(
        app, ["evolve", str(seeds), "--out", str(run), "--backend", "hf", "--model", str(model)]
    )
    assert result.exit_code == 2
    line = " ".join(result.output.split())
    expected = {
        "missing": "model folder not found",
        "no-config": "config.json: missing",
        "bad-json": "config.json: not valid JSON",
    }[case]
    assert expected in line and "Traceback" not in result.output
    assert not run.exists()
