"""The ``vllm`` backend: a local model run in-process by vLLM's offline engine (``LLM.chat``).

It owns starting the engine on a local model folder (``--model DIR``, offline mode, never a
hub download), turning each ``ModelCall`` into one chat conversation (the image as a base64
``image_url`` part of the first user message, the way vLLM's chat API documents it), and
batching: the calls that are pending while the engine works are sent together in one
``LLM.chat`` call with one ``SamplingParams`` each (temperature, max tokens, a seed derived from
the request, and the JSON schema as structured output where vLLM offers it). A batch that
fails is retried call by call so only the offending call becomes a typed failure. vLLM is an
optional extra (``mmevol[gpu]``) imported only when the backend is built; without it the
command stops with one line saying how to install it.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Sequence
from typing import Any

from mmevol.backends.base import Backend
from mmevol.backends.local import (
    BatchQueue,
    call_seed,
    check_model_dir,
    first_line,
    folder_fingerprint,
    offline,
)
from mmevol.backends.payload import image_data_url
from mmevol.calls import CallError, ClientError, ModelCall, Reply, ServerError, Usage
from mmevol.errors import MmevolError

INSTALL_HINT = "the vllm backend needs vLLM and a GPU: pip install 'mmevol[gpu]'"


def conversation(call: ModelCall, image_url: str | None) -> list[dict[str, Any]]:
    """One call as an OpenAI-style conversation; the image goes with the first user message."""
    messages: list[dict[str, Any]] = []
    for msg in call.messages:
        if msg.role == "user" and image_url is not None:
            content: Any = [
                {"type": "image_url", "image_url": {"url": image_url}},
                {"type": "text", "text": msg.content},
            ]
            image_url = None
        else:
            content = msg.content
        messages.append({"role": msg.role, "content": content})
    return messages


class VLLMBackend(Backend):
    """vLLM's offline engine on a local model folder; pending calls go out as one batch."""

    name = "vllm"

    def __init__(
        self,
        model: str,
        vision: bool = True,
        image_long_side: int = 512,
        seed: int = 0,
        json_mode: str = "auto",
        concurrency: int = 16,
        max_model_len: int | None = None,
        gpu_memory_utilization: float | None = None,
        tensor_parallel_size: int | None = None,
        dtype: str | None = None,
        enforce_eager: bool | None = None,
        max_num_seqs: int | None = None,
    ) -> None:
        offline()
        self.path, self.config = check_model_dir(model)
        self.model = str(self.path)
        self.seed = int(seed)
        self.image_long_side = image_long_side
        self.json_mode = json_mode
        multimodal = isinstance(self.config.get("vision_config"), dict)
        self.vision = bool(vision) and multimodal
        try:
            self._vllm = importlib.import_module("vllm")
        except ImportError:
            raise MmevolError(INSTALL_HINT) from None
        options = {
            "max_model_len": max_model_len,
            "gpu_memory_utilization": gpu_memory_utilization,
            "tensor_parallel_size": tensor_parallel_size,
            "dtype": dtype,
            "enforce_eager": enforce_eager,
            "max_num_seqs": max_num_seqs,
        }
        engine: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
        if self.vision:
            engine["limit_mm_per_prompt"] = {"image": 1}
        self.engine_options = engine
        try:
            self._llm = self._vllm.LLM(model=self.model, seed=self.seed, **engine)
        except Exception as err:  # no GPU, unsupported architecture, out of memory ...
            raise MmevolError(f"{self.path}: vLLM cannot start ({first_line(err)})") from None
        self.fingerprint = folder_fingerprint(self.path)
        self._queue: BatchQueue[ModelCall, Reply] = BatchQueue(
            self._work, max_batch=max(1, int(concurrency))
        )

    def identity(self) -> str:
        return f"vllm:{self.model}:{self.fingerprint}:seed={self.seed}"

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "kind": "vLLM offline engine (in-process)",
            "vllm_version": getattr(self._vllm, "__version__", None),
            "engine": self.engine_options,
            "json_mode": self.json_mode,
            "max_batch": self._queue.max_batch,
            "fingerprint": self.fingerprint,
            "seed": self.seed,
        }

    def __repr__(self) -> str:
        return f"VLLMBackend(model={self.model!r})"

    async def complete(self, call: ModelCall) -> Reply:
        return await self._queue.submit(call)

    # --- request building ------------------------------------------------------------------------
    def _structured(self, call: ModelCall) -> dict[str, Any]:
        """SamplingParams keywords asking for JSON (schema or object) in this vLLM's dialect."""
        if self.json_mode == "none":
            return {}
        sp = importlib.import_module("vllm.sampling_params")
        wanted: dict[str, Any] = {}
        if self.json_mode in {"auto", "schema"} and call.json_schema is not None:
            wanted["json"] = call.json_schema
        else:
            wanted["json_object"] = True
        if hasattr(sp, "StructuredOutputsParams"):  # vLLM >= 0.11
            return {"structured_outputs": sp.StructuredOutputsParams(**wanted)}
        if hasattr(sp, "GuidedDecodingParams"):
            return {"guided_decoding": sp.GuidedDecodingParams(**wanted)}
        return {}

    def sampling_params(self, call: ModelCall) -> Any:
        return self._vllm.SamplingParams(
            temperature=call.temperature,
            max_tokens=call.max_tokens,
            seed=call_seed(self.seed, call, self.identity()),
            **self._structured(call),
        )

    def _conversation(self, call: ModelCall) -> list[dict[str, Any]]:
        url = None
        if self.vision and call.image is not None:
            try:
                url = image_data_url(call.image, self.image_long_side)
            except ValueError as err:
                raise ClientError(str(err)) from None
        return conversation(call, url)

    # --- the batch ---------------------------------------------------------------------------------
    def _work(self, calls: Sequence[ModelCall]) -> list[Reply | Exception]:
        results: list[Reply | Exception] = []
        ready: list[tuple[int, list[dict[str, Any]], Any]] = []
        for i, call in enumerate(calls):
            try:
                ready.append((i, self._conversation(call), self.sampling_params(call)))
                results.append(ServerError("not run"))
            except CallError as err:
                results.append(err)
        if not ready:
            return results
        try:
            replies = self._chat([c for _, c, _ in ready], [p for _, _, p in ready])
        except CallError as err:
            if len(ready) == 1:
                results[ready[0][0]] = err
                return results
            for i, conv, params in ready:  # find the call that broke the batch
                try:
                    results[i] = self._chat([conv], [params])[0]
                except CallError as one:
                    results[i] = one
            return results
        for (i, _, _), reply in zip(ready, replies, strict=True):
            results[i] = reply
        return results

    def _chat(self, convs: list[list[dict[str, Any]]], params: list[Any]) -> list[Reply]:
        start = time.monotonic()
        try:
            outputs = self._llm.chat(convs, sampling_params=params, use_tqdm=False)
        except ValueError as err:  # vLLM's word for a request it will not take (too long ...)
            raise ClientError(f"vllm {self.path.name}: {first_line(err)}") from None
        except Exception as err:
            raise ServerError(f"vllm {self.path.name}: {first_line(err)}", status=500) from None
        latency = (time.monotonic() - start) / max(1, len(convs))
        if len(outputs) != len(convs):
            raise ServerError(f"vllm: {len(convs)} conversations gave {len(outputs)} outputs")
        replies = []
        for out in outputs:
            if not out.outputs:
                raise ServerError(f"vllm {self.path.name}: a request came back without output")
            best = out.outputs[0]
            replies.append(
                Reply(
                    text=best.text,
                    model=self.model,
                    usage=Usage(
                        input_tokens=len(out.prompt_token_ids or []),
                        output_tokens=len(best.token_ids or []),
                    ),
                    latency_s=latency,
                    finish_reason=best.finish_reason,
                )
            )
        return replies
