"""What the in-process model backends (``hf``, ``vllm``) share: model folders, images, chat
messages and a small batch queue.

These backends run a model from a local folder inside the mmevol process, so nothing here
touches the network: ``offline()`` switches the Hugging Face libraries to offline mode before
they are imported, and ``check_model_dir`` refuses a folder that is not a saved model with a
one-line error naming the file. ``BatchQueue`` collects the calls that arrive while the model
is busy and hands them to a worker thread as one batch, so the event loop never blocks on
generation and an engine that batches (vLLM) gets many prompts at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from PIL import Image, ImageOps

from mmevol.backends.payload import to_rgb
from mmevol.calls import ClientError, ModelCall
from mmevol.errors import InputError, MmevolError
from mmevol.schema import ImageRef

T = TypeVar("T")
R = TypeVar("R")


def offline() -> None:
    """Forbid hub downloads for this process (set before transformers/vLLM are imported)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def check_model_dir(model: str | Path) -> tuple[Path, dict[str, Any]]:
    """The resolved model folder and its parsed ``config.json``, or a one-line ``InputError``.

    Only local folders are accepted: a hub id such as ``org/name`` that is not a folder here is
    refused rather than downloaded."""
    path = Path(model).expanduser()
    if not path.exists():
        raise InputError(path, None, "model folder not found (--model takes a local folder)")
    if not path.is_dir():
        raise InputError(path, None, "not a folder (--model takes a saved model folder)")
    cfg_path = path / "config.json"
    if not cfg_path.is_file():
        raise InputError(cfg_path, None, "missing (the model folder has no config.json)")
    try:
        config = json.loads(cfg_path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(cfg_path, None, f"not valid JSON ({err})") from None
    if not isinstance(config, dict):
        raise InputError(cfg_path, None, "expected a JSON object")
    return path.resolve(), config


def quiet_transformers(install_hint: str) -> tuple[Any, Any]:
    """``(torch, transformers)`` with transformers' logging and progress bars off; a missing
    package is ``MmevolError(install_hint)``."""
    try:
        import torch
        import transformers
    except ImportError:
        raise MmevolError(install_hint) from None
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return torch, transformers


def first_line(err: BaseException) -> str:
    """An exception as one short line (its type and the first line of its message)."""
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"[:300]


def folder_fingerprint(path: Path) -> str:
    """A short digest of the folder's config and weight files (names, sizes, config text), so
    cache keys change when the weights in the same folder are replaced."""
    h = hashlib.sha256((path / "config.json").read_bytes())
    for p in sorted(path.iterdir()):
        if p.suffix in {".safetensors", ".bin", ".pt", ".gguf"} and p.is_file():
            h.update(f"{p.name}:{p.stat().st_size}".encode())
    return h.hexdigest()[:12]


def context_limit(config: dict[str, Any], fallback: int = 4096) -> int:
    """The longest sequence the model's text part takes, from its config."""
    for part in (config.get("text_config"), config):
        if isinstance(part, dict):
            for key in ("max_position_embeddings", "max_sequence_length", "seq_length"):
                value = part.get(key)
                if isinstance(value, int) and value > 0:
                    return value
    return fallback


def load_image(image: ImageRef, long_side: int) -> Image.Image:
    """The call's image as RGB with its long side at most ``long_side`` pixels."""
    path = Path(image.path)
    try:
        with Image.open(path) as opened:
            opened.load()
            img = to_rgb(ImageOps.exif_transpose(opened) or opened)
    except (OSError, ValueError) as err:
        raise ClientError(f"{path}: cannot read the image ({err})") from None
    if max(img.size) > long_side:
        img.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    return img


def chat_messages(call: ModelCall, with_image: bool) -> list[dict[str, Any]]:
    """The call's messages in the structured form chat templates take; the image, if any, as a
    placeholder block in front of the first user message's text."""
    out: list[dict[str, Any]] = []
    placed = not with_image
    for msg in call.messages:
        blocks: list[dict[str, Any]] = []
        if msg.role == "user" and not placed:
            blocks.append({"type": "image"})
            placed = True
        blocks.append({"type": "text", "text": msg.content})
        out.append({"role": msg.role, "content": blocks})
    return out


def call_seed(seed: int, call: ModelCall, identity: str) -> int:
    """A sampling seed derived from the run seed and the request, so a sampled reply is the
    same whenever the same request is asked again."""
    digest = hashlib.sha256(f"{seed}\n{call.cache_key(identity)}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass
class _Pending(Generic[T, R]):
    item: T
    future: asyncio.Future[R] = field(repr=False)


class BatchQueue(Generic[T, R]):
    """Runs ``work(batch) -> results`` on a worker thread for the items submitted meanwhile.

    ``work`` gets up to ``max_batch`` items and returns one result per item, in order: either
    a value or an ``Exception``, which is raised to that item's submitter only. One batch runs at
    a time, so a model that is not thread-safe needs no lock of its own.
    """

    def __init__(self, work: Callable[[Sequence[T]], list[R | Exception]], max_batch: int) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self._work = work
        self.max_batch = max_batch
        self._waiting: list[_Pending[T, R]] = []
        self._runner: asyncio.Task[None] | None = None
        self.batch_sizes: list[int] = []

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        pending: _Pending[T, R] = _Pending(item, loop.create_future())
        self._waiting.append(pending)
        if self._runner is None or self._runner.done():
            self._runner = loop.create_task(self._drain())
        return await pending.future

    async def _drain(self) -> None:
        await asyncio.sleep(0)  # let calls scheduled in the same tick join the first batch
        loop = asyncio.get_running_loop()
        # calls left over from an event loop that has ended are nobody's to answer
        self._waiting = [p for p in self._waiting if p.future.get_loop() is loop]
        while self._waiting:
            batch = self._waiting[: self.max_batch]
            del self._waiting[: self.max_batch]
            self.batch_sizes.append(len(batch))
            try:
                results = await asyncio.to_thread(self._work, [p.item for p in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"batch of {len(batch)} gave {len(results)} results")
            except Exception as err:  # the whole batch failed: each caller gets the error
                results = [err] * len(batch)
            for pending, result in zip(batch, results, strict=True):
                if pending.future.done():  # the caller was cancelled meanwhile
                    continue
                if isinstance(result, Exception):
                    pending.future.set_exception(result)
                else:
                    pending.future.set_result(result)
