"""Provider batch mode (``mmevol evolve --mode batch|hybrid``): calls go through the Batch API.

``BatchBackend`` wraps the ``openai`` backend and owns everything between the engine's
``complete(call)`` and the provider's batch endpoints: gathering the calls the engine makes at
about the same time (rounds run in step, so one batch per round phase: the evolve calls of
round k, then its judge calls), writing them as JSONL with the call's cache key as
``custom_id``, uploading and creating the batch, polling it with backoff, collecting its output
and error files and handing each waiting call its reply or typed failure. Replies are built by
the wrapped backend exactly as online ones (same cache key, same ``Reply``; cost at the batch
price), so the engine's parse, repair, elimination and resume do not know the difference.

Crash and money safety: a batch is journalled in ``run.sqlite`` after its input is uploaded and
before it is created, with the keys it covers; its remote id is recorded as soon as the provider
returns it; its good replies are stored with its ``collected`` mark in one transaction. A re-run
first follows every batch still open (one whose creation was interrupted is looked up by its
input file) and waits for its keys instead of submitting them again. Not covered: a creation
that reached the provider but is missing from its batch listing when the re-run looks.

Modes: ``batch``: a failed line or batch is the call's typed failure (a re-run retries it);
``hybrid``: a batch still running after ``deadline_s`` is cancelled (lines it finished are kept)
and every call it did not answer well is made online through the admission-controlled path;
``online`` with batches left open by an earlier run: those are followed as in ``hybrid`` (cut
short after ``deadline_s``, what they did not answer made online), new calls go online.
In every mode, a batch whose outcome cannot be read (polling or downloading keeps failing) may
have run and be billed, so its calls are never made online meanwhile: they fail as
``batch_undelivered`` and a re-run follows the batch again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal, TypeVar

from mmevol.backends.base import Backend
from mmevol.backends.batch_api import (
    MAX_BYTES,
    MAX_REQUESTS,
    TERMINAL,
    BatchClient,
    BatchIncomplete,
    BatchUndelivered,
    NotFound,
    OutputLine,
    RequestLine,
    line_error,
    write_inputs,
)
from mmevol.backends.openai_compat import OpenAIBackend, ResponseFormatRejected
from mmevol.calls import CallError, ClientError, ModelCall, Reply
from mmevol.errors import ConfigError
from mmevol.store import Store

Mode = Literal["online", "batch", "hybrid"]
BATCH_BACKENDS = frozenset({"openai"})  # backends whose endpoint has a Batch API
Outcome = OutputLine | CallError | None  # None: the batch never existed, submit the call anew
T = TypeVar("T")

log = logging.getLogger(__name__)


@dataclass
class _Held:
    """A batch this process follows: its journal id, the keys it covers, when it was made."""

    local_id: str
    keys: set[str]
    started: float


class BatchBackend(Backend):
    """The ``openai`` backend with its calls sent as provider batches (see the module doc)."""

    name = "openai"  # what lineage and the journal record: the model answering is the same

    def __init__(
        self,
        inner: OpenAIBackend,
        store: Store,
        work_dir: Path,
        mode: Mode,
        *,
        poll_s: float = 10.0,
        poll_max_s: float = 60.0,
        idle_s: float = 0.5,
        deadline_s: float = 3600.0,
        max_requests: int = MAX_REQUESTS,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.inner, self.store, self.work_dir, self.mode = inner, store, work_dir, mode
        self.model, self.vision = inner.model, inner.vision
        self.poll_s, self.poll_max_s, self.idle_s = poll_s, max(poll_s, poll_max_s), idle_s
        self.deadline_s, self.max_requests, self.max_bytes = deadline_s, max_requests, max_bytes
        self.counters: Counter[str] = Counter()
        self._waiting: dict[str, asyncio.Future[Outcome]] = {}
        self._pending: dict[str, ModelCall] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake: asyncio.Event | None = None
        self._sent_mode: dict[str, str] = {}  # key -> structured mode its line was written with
        inner.format.settle_family("openai")  # the Batch API is OpenAI's: its modes

    def identity(self) -> str:
        return self.inner.identity()  # the same cache keys as online calls

    def runtime_record(self) -> dict[str, Any]:
        return self.inner.runtime_record()

    def label(self) -> str:
        return self.inner.label()

    def describe(self) -> dict[str, Any]:
        return {**self.inner.describe(), "mode": self.mode}

    @property
    def client(self) -> BatchClient:
        return BatchClient(
            self.inner.base_url, self.inner._http(), self.inner._headers(), self.inner._redact
        )

    # --- the engine's side ----------------------------------------------------------------------
    async def complete(self, call: ModelCall) -> Reply:
        key = call.cache_key(self.identity())
        self._start()
        while True:
            stored = self.store.batch_result(key)
            started = time.monotonic()
            try:
                if stored is not None:
                    try:
                        return self._reply(call, json.loads(stored), 0.0)
                    except CallError:  # e.g. a refusal with no text: not an answer to keep
                        self.store.drop_batch_result(key)
                        raise
                fut = self._waiting.get(key)
                if fut is None:
                    if self.mode == "online":
                        return await self.inner.complete(call)
                    fut = self._waiting[key] = asyncio.get_running_loop().create_future()
                    self._pending[key] = call
                    assert self._wake is not None
                    self._wake.set()
                outcome = await fut
                if outcome is None:
                    continue  # its batch was never created: ask again
                if isinstance(outcome, ResponseFormatRejected) and self._downgrade(key):
                    continue  # asked again in the next batch, with a simpler structured mode
                if isinstance(outcome, CallError):
                    raise outcome
                assert outcome.response is not None
                try:
                    return self._reply(call, outcome.response.body, time.monotonic() - started)
                except CallError:
                    self.store.drop_batch_result(key)
                    raise
            except CallError as err:
                if self.mode == "batch" or isinstance(err, BatchUndelivered):
                    raise  # undelivered: asking online too could pay twice for one answer
                self.counters["online_fallback"] += 1
                return await self.inner.complete(call)

    def cost_estimate(self, call: ModelCall) -> float:
        return self.inner.cost_estimate(call) * self.inner.prices.batch_factor(self.inner.model)

    def _downgrade(self, key: str) -> bool:
        """After a line was refused for its ``response_format``: step the structured mode down
        (the OpenAI ladder: schema -> object -> none) as an online call would, once per mode however many lines
        of a batch were refused; True when the call should be asked again."""
        inner, sent = self.inner, self._sent_mode.pop(key, None)
        if inner.json_mode != "auto" or sent is None or sent == "none":
            return False
        return inner.format.step_down(sent, "its batches refuse it")

    def _reply(self, call: ModelCall, body: dict[str, Any], latency: float) -> Reply:
        reply = self.inner._reply(call, body, latency)
        factor = self.inner.prices.batch_factor(self.inner.model)
        return reply.model_copy(update={"cost_usd": reply.cost_usd * factor})

    async def aclose(self) -> None:
        tasks, self._tasks = list(self._tasks), set()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.inner.aclose()

    # --- background work ------------------------------------------------------------------------
    def _spawn(self, coro: Coroutine[Any, Any, None], keys: set[str] | None = None) -> None:
        """Run ``coro`` in the background; should it crash (a bug, a full disk), the calls
        waiting on ``keys`` get its exception instead of waiting forever."""

        async def guarded() -> None:
            try:
                await coro
            except Exception as exc:  # the collector's crash fails every waiting call
                for k in list(self._waiting) if keys is None else keys:
                    fut = self._waiting.pop(k, None)
                    if fut is not None and not fut.done():
                        fut.set_exception(exc)

        task = asyncio.get_running_loop().create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _start(self) -> None:
        """On the first call: follow the batches an earlier run left open, start the collector."""
        if self._wake is not None:
            return
        self._wake = asyncio.Event()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.work_dir.glob("*.jsonl"):  # inputs of a run killed before uploading
            stale.unlink(missing_ok=True)
        loop = asyncio.get_running_loop()
        for row in self.store.open_batches():
            held = _Held(row["id"], set(row["keys"]), row["created"])
            for k in held.keys:
                self._waiting.setdefault(k, loop.create_future())
            self._spawn(self._resume(held, row["batch_id"], row["input_file_id"]), held.keys)
        self._spawn(self._collector())

    def _settle(self, held: _Held, results: dict[str, Outcome], default: Outcome) -> None:
        for k in held.keys:
            fut = self._waiting.pop(k, None)
            if fut is not None and not fut.done():
                fut.set_result(results.get(k, default))

    async def _retry(self, fn: Callable[[], Awaitable[T]], attempts: int = 4) -> T:
        for i in range(attempts):
            try:
                return await fn()
            except CallError as err:
                if not err.retryable or i == attempts - 1:
                    raise
                await asyncio.sleep(min(self.poll_max_s, self.poll_s * 2**i))
        raise AssertionError("unreachable")

    async def _collector(self) -> None:
        """Gather calls until none came for ``idle_s`` (or a batch is full), then submit them."""
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            n = -1
            while n != len(self._pending) and len(self._pending) < self.max_requests:
                n = len(self._pending)
                await asyncio.sleep(self.idle_s)
            items, self._pending = self._pending, {}
            mode = self.inner.structured_mode
            self._sent_mode.update(dict.fromkeys(items, mode))
            try:
                chunks = await asyncio.to_thread(self._write, items, mode)
            except Exception as exc:  # an unreadable image: the calls fail as online ones would
                for k in items:
                    fut = self._waiting.pop(k, None)
                    if fut is not None and not fut.done():
                        fut.set_exception(exc)
                continue
            for path, keys in chunks:
                held = _Held(uuid.uuid4().hex, set(keys), time.time())
                self._spawn(self._submit(held, path), held.keys)

    def _write(self, items: dict[str, ModelCall], mode: str) -> list[tuple[Path, list[str]]]:
        """The JSONL input files of ``items`` (split at the provider's limits); off the loop."""
        lines = (
            RequestLine(custom_id=key, body=self.inner.build_body(call, mode))
            for key, call in items.items()
        )
        return write_inputs(lines, self.work_dir, self.max_requests, self.max_bytes)

    async def _submit(self, held: _Held, path: Path) -> None:
        """Upload, journal, create; then follow the batch. A failure settles its calls."""
        try:
            try:
                file = await self._retry(lambda: self.client.upload(path))
            finally:
                path.unlink(missing_ok=True)
        except CallError as err:
            self._settle(held, {}, err)
            return
        self.store.add_batch(held.local_id, file.id, sorted(held.keys))
        try:
            batch = await self.client.create(file.id, {"mmevol_batch": held.local_id})
        except CallError as err:
            if isinstance(err, ClientError):  # refused: no batch was made
                self.store.update_batch(held.local_id, status="abandoned")
                self._settle(held, {}, err)
                return
            try:  # it may exist although the answer was lost
                found = await self._retry(lambda: self.client.find(file.id))
            except CallError:
                found = None
            if found is None:  # unknown (a listing can lag a creation): a re-run looks it up
                self._settle(held, {}, BatchUndelivered(f"batch creation unconfirmed: {err}"))
                return
            batch = found
        self.store.update_batch(
            held.local_id, batch_id=batch.id, status="submitted", remote_status=batch.status
        )
        self.counters["batches"] += 1
        await self._follow(held, batch.id)

    async def _resume(self, held: _Held, batch_id: str | None, input_file_id: str) -> None:
        """Follow a batch journalled by an earlier run (its creation may have been cut short)."""
        if batch_id is None:
            try:
                found = await self._retry(lambda: self.client.find(input_file_id))
            except CallError as err:
                self._settle(held, {}, err)  # still unknown: stays open for the next run
                return
            if found is None:
                self.store.update_batch(held.local_id, status="abandoned")
                self._settle(held, {}, None)
                return
            batch_id = found.id
            self.store.update_batch(
                held.local_id, batch_id=batch_id, status="submitted", remote_status=found.status
            )
        self.counters["resumed"] += 1
        await self._follow(held, batch_id)

    async def _follow(self, held: _Held, batch_id: str) -> None:
        """Poll until the batch ends (cancelling a hybrid straggler), then collect it."""
        delay, misses, cancelled = self.poll_s, 0, False
        while True:
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, self.poll_max_s)
            try:
                batch = await self.client.get(batch_id)
            except NotFound:  # the provider has no such batch: nothing will run or be billed
                self.store.update_batch(held.local_id, status="abandoned")
                self._settle(held, {}, None)
                return
            except CallError as err:
                misses += 1
                if not err.retryable or misses >= 8:  # stays open in the journal for a re-run
                    self._settle(held, {}, BatchUndelivered(f"batch {batch_id}: {err}"))
                    return
                continue
            misses = 0
            self.store.update_batch(held.local_id, remote_status=batch.status)
            if batch.status in TERMINAL:
                break
            late = time.time() - held.started > self.deadline_s
            if self.mode != "batch" and late and not cancelled:
                with contextlib.suppress(CallError):
                    await self.client.cancel(batch_id)
                    cancelled = True
                    self.counters["cancelled"] += 1
        where = f"batch {batch_id}"
        lines: list[OutputLine] = []
        try:
            for fid in (batch.output_file_id, batch.error_file_id):
                with contextlib.suppress(NotFound):  # deleted: its calls must be made again
                    lines += await self._retry(partial(self.client.lines, fid)) if fid else []
        except CallError as err:  # not collected: a re-run downloads it again
            self._settle(held, {}, BatchUndelivered(f"{where} ended, its output unread: {err}"))
            return
        results: dict[str, Outcome] = {}
        ok: dict[str, str] = {}
        for line in lines:
            if line.custom_id in held.keys:
                failure = line_error(line, where)
                results[line.custom_id] = failure or line
                if failure is None and line.response is not None:
                    ok[line.custom_id] = json.dumps(line.response.body)
        self.store.collect_batch(held.local_id, batch.status, ok)
        self.counters["lines_ok"] += len(ok)
        self.counters["lines_failed"] += len(held.keys) - len(ok)
        why = "; ".join(e.message for e in (batch.errors.data if batch.errors else [])[:3])
        missing = BatchIncomplete(
            f"{where} ended {batch.status!r} before this request ran" + (f": {why}" if why else "")
        )
        self._settle(held, results, missing)


def check_mode(config: Any) -> None:
    """Refuse, before anything is written, a batch mode the backend or engine cannot do."""
    if config.mode == "online":
        return
    if config.backend not in BATCH_BACKENDS:
        raise ConfigError(
            f"--mode {config.mode}: backend {config.backend!r} has no batch API; use"
            " --backend openai (an endpoint with /v1/batches) or --mode online"
        )
    if config.engine != "local":
        raise ConfigError(f"--mode {config.mode}: needs --engine local (one batch collector)")


def with_mode(backend: Backend, store: Store, config: Any) -> Backend:
    """The backend the engine should call: ``backend`` itself online, else its batch wrapper.

    An online run still follows batches an earlier run left open, so they are not paid twice."""
    if config.mode == "online" and not store.open_batches():
        return backend
    if not isinstance(backend, OpenAIBackend):
        raise ConfigError(f"--mode {config.mode}: backend {backend.name!r} has no batch API")
    return BatchBackend(
        backend,
        store,
        Path(store.path).parent / "batches",
        config.mode,
        poll_s=config.batch_poll_s,
        idle_s=min(0.5, config.batch_poll_s),
        deadline_s=config.batch_deadline_s,
    )
