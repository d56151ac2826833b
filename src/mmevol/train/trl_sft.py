"""Supervised fine-tuning of a Hugging Face vision-language model with TRL's ``SFTTrainer``.

It owns one training run: check the model folder and the data before anything is written,
load both offline (``local_files_only``; never a hub download), train with the requested
epochs / steps / learning rate / batch size on CPU or GPU, refuse a run whose loss is not
finite, and write the result whole or not at all: ``OUT/`` holds the model and its processor,
``metrics.json`` (per-step losses, steps, runtime) and ``train_config.json`` (settings, data
digest, library versions). The folder is built beside ``OUT`` and renamed into place at the end.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mmevol import __version__
from mmevol.backends.local import check_model_dir, first_line, offline
from mmevol.errors import InputError, MmevolError
from mmevol.fsutil import write_json
from mmevol.io.export import atomic_dir, check_replaceable
from mmevol.train.data import load_records, records_digest

log = logging.getLogger(__name__)
INSTALL_HINT = "mmevol train needs TRL: pip install 'mmevol[train]'"


class SFTSettings(BaseModel):
    """What ``mmevol train`` was asked to do (saved as ``train_config.json``)."""

    model_config = ConfigDict(extra="forbid")

    model: str
    data: str
    out: str
    epochs: float = Field(default=1.0, gt=0)
    lr: float = Field(default=1e-5, gt=0)
    max_steps: int | None = Field(default=None, ge=1)
    batch_size: int = Field(default=1, ge=1)
    grad_accum: int = Field(default=1, ge=1)
    seed: int = 0
    device: str = "auto"


def _libraries() -> tuple[Any, Any, Any, Any]:
    offline()
    try:
        import datasets
        import torch
        import transformers
        import trl
    except ImportError:
        raise MmevolError(INSTALL_HINT) from None
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    return datasets, torch, transformers, trl


def _dataset(datasets: Any, records: list[dict[str, Any]]) -> Any:
    """Records as a ``datasets.Dataset`` whose ``images`` decode to PIL images on access."""
    image_list = getattr(datasets, "List", None) or datasets.Sequence
    ds = datasets.Dataset.from_list(records)
    return ds.cast_column("images", image_list(datasets.Image()))


def _load(transformers: Any, torch: Any, path: Path) -> tuple[Any, Any]:
    try:
        processor = transformers.AutoProcessor.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InputError(path, None, f"cannot load a processor ({first_line(err)})") from None
    if getattr(processor, "image_processor", None) is None:
        raise InputError(path, None, "not a vision-language model (no image processor)")
    try:
        # float32 weights: a bf16 checkpoint trained in bf16 loses most small updates
        model = transformers.AutoModelForImageTextToText.from_pretrained(
            path, local_files_only=True, dtype=torch.float32
        )
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as err:
        raise InputError(path, None, f"cannot load the model ({first_line(err)})") from None
    return processor, model


def _trainer(
    trl: Any,
    model: Any,
    processor: Any,
    dataset: Any,
    tmp: Path,
    settings: SFTSettings,
    device: str,
) -> tuple[Any, str]:
    """The ``SFTTrainer``, with the loss on the assistant's answers only when the model's chat
    template allows it (TRL needs ``{% generation %}`` markers or a template it can patch);
    otherwise on the whole conversation, said in ``metrics.json`` (``loss_on``) and printed."""
    for assistant_only in (True, False):
        args = trl.SFTConfig(
            output_dir=str(tmp / "trainer"),
            num_train_epochs=settings.epochs,
            max_steps=settings.max_steps or -1,
            per_device_train_batch_size=settings.batch_size,
            gradient_accumulation_steps=settings.grad_accum,
            learning_rate=settings.lr,
            logging_steps=1,
            save_strategy="no",
            report_to=[],
            use_cpu=device == "cpu",
            seed=settings.seed,
            data_seed=settings.seed,
            dataloader_num_workers=0,
            disable_tqdm=True,
            max_length=None,  # cutting a sequence would cut its image tokens
            assistant_only_loss=assistant_only,
        )
        try:
            trainer = trl.SFTTrainer(
                model=model, args=args, train_dataset=dataset, processing_class=processor
            )
        except ValueError as err:
            if assistant_only and "chat template" in str(err):
                log.warning(
                    "the model's chat template does not mark the assistant's turns; the loss "
                    "covers the whole conversation (questions and image tokens too)"
                )
                continue
            raise MmevolError(
                f"{settings.model}: cannot set up training ({first_line(err)})"
            ) from None
        return trainer, "assistant turns" if assistant_only else "whole conversation"
    raise AssertionError("unreachable")


def _earlier_output(folder: Path) -> bool:
    """A folder an earlier ``mmevol train`` wrote (it may be replaced)."""
    return (folder / "train_config.json").is_file()


def train_sft(settings: SFTSettings) -> dict[str, Any]:
    """Run the training and write ``settings.out``; returns the metrics written."""
    model_dir, _ = check_model_dir(settings.model)
    records = load_records(Path(settings.data))
    out = Path(settings.out)
    if out.resolve() == model_dir:
        raise InputError(out, None, "--out must differ from --model (the base stays as it was)")
    check_replaceable(out, _earlier_output)  # before the slow part
    datasets, torch, transformers, trl = _libraries()
    processor, model = _load(transformers, torch, model_dir)
    device = settings.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dataset = _dataset(datasets, records)

    with atomic_dir(out, _earlier_output) as tmp:
        trainer, loss_on = _trainer(trl, model, processor, dataset, tmp, settings, device)
        start = time.monotonic()
        try:
            result = trainer.train()
        except (RuntimeError, ValueError) as err:
            raise MmevolError(f"{model_dir}: training failed ({first_line(err)})") from None
        runtime = time.monotonic() - start
        losses = [
            {"step": int(h["step"]), "loss": float(h["loss"])}
            for h in trainer.state.log_history
            if "loss" in h and "step" in h
        ]
        bad = next((x for x in losses if not math.isfinite(x["loss"])), None)
        if bad is not None or not math.isfinite(result.training_loss):
            step = bad["step"] if bad else trainer.state.global_step
            raise MmevolError(
                f"{model_dir}: training diverged (loss is not finite at step {step}); "
                "lower --lr and try again"
            )
        trainer.save_model(str(tmp))
        processor.save_pretrained(str(tmp))
        shutil.rmtree(tmp / "trainer", ignore_errors=True)
        metrics: dict[str, Any] = {
            "steps": int(trainer.state.global_step),
            "epochs": float(trainer.state.epoch or 0.0),
            "train_loss": float(result.training_loss),
            "final_loss": losses[-1]["loss"] if losses else None,
            "losses": losses,
            "records": len(records),
            "runtime_s": round(runtime, 3),
            "device": device,
            "loss_on": loss_on,
        }
        write_json(tmp / "metrics.json", metrics)
        config = {
            "settings": settings.model_dump(mode="json"),
            "base_model": str(model_dir),
            "architecture": type(model).__name__,
            "data_sha256": records_digest(records),
            "trainer": "trl.SFTTrainer",
            "versions": {
                "mmevol": __version__,
                "trl": trl.__version__,
                "transformers": transformers.__version__,
                "torch": torch.__version__,
                "datasets": datasets.__version__,
            },
        }
        write_json(tmp / "train_config.json", config)
    return metrics
