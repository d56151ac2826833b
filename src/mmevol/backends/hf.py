"""The ``hf`` backend: a Hugging Face model run in-process with transformers (``--backend hf``).

It owns loading a model from a local folder (``--model DIR``; never a hub download: offline
mode and ``local_files_only``), rendering a ``ModelCall`` through the model's own chat template
with the image as the processor expects it, generating on a worker thread one call at a time
(a batch queue of size one: generation is not thread-safe, and batching with padding would make
a reply depend on its neighbours), and mapping every outcome onto a ``Reply`` with token counts
or a typed ``CallError``. Image-text-to-text models get the pixels; a text-only causal LM folder
works too, as a model without vision. Temperature 0 is greedy decoding; above 0 the sampler is
seeded from the run seed and the request, so the same request gets the same reply.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from mmevol.backends.base import Backend
from mmevol.backends.local import (
    BatchQueue,
    call_seed,
    chat_messages,
    check_model_dir,
    context_limit,
    first_line,
    folder_fingerprint,
    load_image,
    offline,
    quiet_transformers,
)
from mmevol.calls import CallError, ClientError, ModelCall, Reply, ServerError, Usage
from mmevol.errors import InputError

INSTALL_HINT = "the hf backend needs transformers: pip install 'mmevol[hf]'"


class HFBackend(Backend):
    """A local transformers model; ``vision`` is on when the folder has an image processor."""

    name = "hf"

    def __init__(
        self,
        model: str,
        vision: bool = True,
        image_long_side: int = 512,
        seed: int = 0,
        device: str = "auto",
        dtype: str = "auto",
    ) -> None:
        offline()
        self.path, self.config = check_model_dir(model)
        self.model = str(self.path)
        self.seed = int(seed)
        self.image_long_side = image_long_side
        torch, transformers = quiet_transformers(INSTALL_HINT)
        self._torch = torch
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.dtype = dtype
        self.fingerprint = folder_fingerprint(self.path)
        self._load(transformers)
        self.vision = bool(vision) and self._image_model
        self.limit = context_limit(self.config)
        self._queue: BatchQueue[ModelCall, Reply] = BatchQueue(self._work, max_batch=1)

    # --- loading ---------------------------------------------------------------------------------
    def _load(self, transformers: Any) -> None:
        path = self.path
        kw: dict[str, Any] = {"local_files_only": True}
        try:
            processor = transformers.AutoProcessor.from_pretrained(path, **kw)
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise InputError(path, None, f"cannot load a processor ({first_line(err)})") from None
        self._image_model = getattr(processor, "image_processor", None) is not None
        tokenizer = getattr(processor, "tokenizer", processor)
        if not callable(getattr(tokenizer, "decode", None)):
            raise InputError(path, "tokenizer", "the folder has no tokenizer")
        if not (getattr(processor, "chat_template", None) or tokenizer.chat_template):
            raise InputError(path, "chat_template", "the folder's tokenizer has no chat template")
        auto = (
            transformers.AutoModelForImageTextToText
            if self._image_model
            else transformers.AutoModelForCausalLM
        )
        dtype = self.dtype if self.dtype == "auto" else getattr(self._torch, self.dtype, None)
        if dtype is None:
            raise InputError(path, "dtype", f"unknown torch dtype {self.dtype!r}")
        try:
            net = auto.from_pretrained(path, dtype=dtype, **kw)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as err:
            raise InputError(path, None, f"cannot load the model ({first_line(err)})") from None
        self._processor = processor
        self._tokenizer = tokenizer
        self._net = net.to(self.device).eval()
        eos = net.generation_config.eos_token_id
        eos_ids = eos if isinstance(eos, list) else [eos]
        if tokenizer.eos_token_id is not None:
            eos_ids.append(tokenizer.eos_token_id)
        self._eos = {int(e) for e in eos_ids if e is not None}
        pad = tokenizer.pad_token_id
        self._pad = int(pad) if pad is not None else min(self._eos, default=0)

    # --- what it is ----------------------------------------------------------------------------
    def identity(self) -> str:
        return f"hf:{self.model}:{self.fingerprint}:seed={self.seed}"

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "kind": "transformers (in-process)",
            "architecture": type(self._net).__name__,
            "device": self.device,
            "dtype": self.dtype,
            "context": self.limit,
            "fingerprint": self.fingerprint,
            "seed": self.seed,
        }

    def __repr__(self) -> str:
        return f"HFBackend(model={self.model!r}, device={self.device!r})"

    # --- the call --------------------------------------------------------------------------------
    async def complete(self, call: ModelCall) -> Reply:
        return await self._queue.submit(call)

    def _work(self, calls: Sequence[ModelCall]) -> list[Reply | Exception]:
        out: list[Reply | Exception] = []
        for call in calls:
            try:
                out.append(self.generate(call))
            except CallError as err:
                out.append(err)
            except Exception as err:  # a model that breaks mid-generation: typed, not a crash
                out.append(ServerError(f"hf {self.path.name}: {first_line(err)}", status=500))
        return out

    def _inputs(self, call: ModelCall) -> dict[str, Any]:
        with_image = self.vision and call.image is not None
        messages = chat_messages(call, with_image)
        if not self._image_model:  # a text tokenizer's template takes plain string contents
            messages = [{"role": m["role"], "content": m["content"][-1]["text"]} for m in messages]
        prompt = self._processor.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False
        )
        if with_image and call.image is not None:
            image = load_image(call.image, self.image_long_side)
            # the chat template already wrote any BOS token: the tokenizer must not add one
            enc = self._processor(
                text=prompt, images=[image], return_tensors="pt", add_special_tokens=False
            )
        else:
            enc = self._tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        return {k: v.to(self.device) for k, v in enc.items()}

    def generate(self, call: ModelCall) -> Reply:
        """Answer one call on this thread (the batch queue calls it one at a time)."""
        torch = self._torch
        start = time.monotonic()
        inputs = self._inputs(call)
        n_in = int(inputs["input_ids"].shape[1])
        if n_in >= self.limit:
            raise ClientError(
                f"hf {self.path.name}: the prompt is {n_in} tokens; the model's context is "
                f"{self.limit}"
            )
        budget = min(call.max_tokens, self.limit - n_in)
        sample = call.temperature > 0
        gen: dict[str, Any] = {"max_new_tokens": budget, "do_sample": sample}
        gen["pad_token_id"] = self._pad
        if sample:
            gen.update(temperature=call.temperature, top_p=1.0, top_k=0)
        else:
            gen.update(temperature=None, top_p=None, top_k=None)
        devices = [torch.device(self.device)] if self.device.startswith("cuda") else []
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            torch.manual_seed(call_seed(self.seed, call, self.identity()))
            out = self._net.generate(**inputs, **gen)
        new = out[0, n_in:].tolist()
        finish = "length"
        if new and int(new[-1]) in self._eos:
            finish = "stop"
        text = self._tokenizer.decode(new, skip_special_tokens=True)
        return Reply(
            text=text,
            model=self.model,
            usage=Usage(input_tokens=n_in, output_tokens=len(new)),
            cost_usd=0.0,
            latency_s=time.monotonic() - start,
            finish_reason=finish,
        )
