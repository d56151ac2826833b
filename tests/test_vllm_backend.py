"""The ``vllm`` backend: its batch queue and request shape everywhere, the engine on a GPU.

The GPU test runs only with vLLM installed, a CUDA device and ``MMEVOL_VLLM_MODEL`` naming a
small local vision-language model folder (e.g. a SmolVLM or Qwen2-VL download made elsewhere).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmevol.backends.base import make_backend
from mmevol.backends.local import BatchQueue
from mmevol.backends.vllm import conversation
from mmevol.calls import ClientError, Message, ModelCall, Reply
from mmevol.cli.app import app
from mmevol.evolve.calls import evolve_call
from mmevol.seeds import write_seeds
from mmevol.world.scenes import write_demo_set

HAVE_VLLM = importlib.util.find_spec("vllm") is not None


def test_batch_queue_batches_what_is_pending_and_keeps_errors_apart() -> None:
    seen: list[list[int]] = []

    def work(items: Sequence[int]) -> list[int | Exception]:
        seen.append(list(items))
        return [ValueError(f"odd {i}") if i % 5 == 3 else i * i for i in items]

    queue: BatchQueue[int, int] = BatchQueue(work, max_batch=4)

    async def go() -> list[int | BaseException]:
        return await asyncio.gather(*(queue.submit(i) for i in range(10)), return_exceptions=True)

    results = asyncio.run(go())
    assert queue.batch_sizes == [4, 4, 2] and [i for b in seen for i in b] == list(range(10))
    for i, r in enumerate(results):
        if i % 5 == 3:
            assert isinstance(r, ValueError) and str(r) == f"odd {i}"
        else:
            assert r == i * i


def test_conversation_puts_the_image_with_the_first_user_message() -> None:
    call = ModelCall(
        task="judge",
        template="t",
        template_version="t@1",
        messages=[
            Message(role="system", content="Judge."),
            Message(role="user", content="first"),
            Message(role="assistant", content="ok"),
            Message(role="user", content="second"),
        ],
        context={},
    )
    conv = conversation(call, "data:image/jpeg;base64,AAAA")
    assert conv[0] == {"role": "system", "content": "Judge."}
    assert conv[1]["content"][0] == {
        "type": "image_url",
        "image_url": {"url": "data:image/jpeg;base64,AAAA"},
    }
    assert conv[1]["content"][1] == {"type": "text", "text": "first"}
    assert conv[3] == {"role": "user", "content": "second"}
    assert conversation(call, None)[1] == {"role": "user", "content": "first"}


@pytest.mark.skipif(HAVE_VLLM, reason="vLLM is installed here")
def test_without_vllm_the_command_says_how_to_install(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.jsonl"
    write_seeds(write_demo_set(tmp_path / "scenes", n=1, seed=1), seeds)
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    run = tmp_path / "run"
    args = ["evolve", str(seeds), "--out", str(run), "--backend", "vllm", "--model", str(model)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "pip install 'mmevol[gpu]'" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and not run.exists()


def _gpu_model() -> Path:
    if not HAVE_VLLM:
        pytest.skip("vLLM is not installed (pip install 'mmevol[gpu]')")
    folder = os.environ.get("MMEVOL_VLLM_MODEL")
    if not folder:
        pytest.skip("set MMEVOL_VLLM_MODEL to a small local VLM folder")
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    return Path(folder)


@pytest.mark.gpu
@pytest.mark.timeout(900)
def test_vllm_engine_batches_calls_and_runs_evolve(tmp_path: Path) -> None:
    model = _gpu_model()
    scenes = write_demo_set(tmp_path / "scenes", n=4, seed=6)
    backend = make_backend("vllm", model=str(model), max_model_len=4096, concurrency=8)
    calls = [
        evolve_call(s, list(s.items), "reasoning", 1, temperature=0.0, max_tokens=64)
        for s in scenes
    ]
    too_long = calls[0].model_copy(
        update={"messages": [Message(role="user", content="word " * 9000)], "image": None}
    )

    async def go() -> list[Reply | BaseException]:
        jobs = [backend.complete(c) for c in [*calls, too_long]]
        return await asyncio.gather(*jobs, return_exceptions=True)

    results = asyncio.run(go())
    assert max(backend._queue.batch_sizes) > 1  # the pending calls went out together
    for r in results[:-1]:
        assert isinstance(r, Reply) and r.usage.input_tokens > 0 and r.usage.output_tokens > 0
    assert isinstance(results[-1], ClientError)  # only the bad call failed, typed
    again = asyncio.run(backend.complete(calls[0]))
    assert isinstance(results[0], Reply) and again.text == results[0].text  # greedy is stable

    seeds = tmp_path / "seeds.jsonl"
    write_seeds(scenes, seeds)
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "mmevol.cli", "evolve", str(seeds), "--out", str(run)]
    cmd += ["--backend", "vllm", "--model", str(model), "--rounds", "1", "--max-tokens", "512"]
    cmd += ["--backend-option", "max_model_len=8192", "--max-error-rate", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=800)
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr[-2000:]
    for line in (run / "failures.jsonl").read_text().splitlines():
        assert json.loads(line)["error_class"] in {"parse_failed", "client_error", "server_error"}
