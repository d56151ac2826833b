"""Token prices: what a call cost in US dollars.

A small built-in table (USD per one million input / output tokens) covers common hosted models;
users extend or override it with a JSON file ``{"model": {"input": x, "output": y}}``. Model
names match exactly, else by the longest known prefix (``gpt-4o-mini-2024-07-18`` is priced as
``gpt-4o-mini``), after dropping a ``provider/`` prefix. An unknown model costs 0.0 and is
remembered in ``unknown_models`` so the caller can warn once. Calls sent through a provider's
Batch API (``--mode batch|hybrid``) cost ``batch_factor`` of that: half by default, as hosted
APIs typically charge; a price file entry may set its own ``"batch": factor``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mmevol.calls import Usage

# output tokens per item of a call, as ``--estimate`` and the ``--max-cost`` reservation assume
OUT_TOKENS_PER_ITEM = {"evolve": 220, "judge": 45}
# USD per 1M tokens: (input, output)
BUILTIN_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-3.5-turbo": (0.50, 1.50),
}


BATCH_FACTOR = 0.5  # share of the online price a batch call typically costs


def _price_pair(model: str, entry: Any) -> tuple[float, float]:
    if isinstance(entry, Mapping) and "input" in entry and "output" in entry:
        pair = (float(entry["input"]), float(entry["output"]))
    elif isinstance(entry, (list, tuple)) and len(entry) == 2:
        pair = (float(entry[0]), float(entry[1]))
    else:
        raise ValueError(
            f"price of {model!r} must look like {{'input': x, 'output': y}} (USD per 1M tokens)"
        )
    if pair[0] < 0 or pair[1] < 0:
        raise ValueError(f"price of {model!r} is negative")
    return pair


def load_prices(path: str | Path) -> dict[str, tuple[float, float]]:
    """Read a price file ``{"model": {"input": x, "output": y}}`` (USD per 1M tokens)."""
    try:
        raw = json.loads(Path(path).read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: cannot read price file ({err})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a price file is a JSON object keyed by model name")
    return {str(k): _price_pair(str(k), v) for k, v in raw.items()}


class PriceTable:
    """Built-in prices plus the user's; ``cost`` turns usage into dollars."""

    def __init__(self, extra: Mapping[str, Any] | str | Path | None = None) -> None:
        self.prices: dict[str, tuple[float, float]] = dict(BUILTIN_PRICES)
        entries: Mapping[str, Any] = {}
        if isinstance(extra, (str, Path)):
            self.prices.update(load_prices(extra))
            entries = json.loads(Path(extra).read_text("utf-8"))
        elif extra:
            self.prices.update({str(k): _price_pair(str(k), v) for k, v in extra.items()})
            entries = extra
        self.batch_factors: dict[str, float] = {
            str(k): float(v["batch"])
            for k, v in entries.items()
            if isinstance(v, Mapping) and "batch" in v
        }
        self.unknown_models: set[str] = set()

    def batch_factor(self, model: str) -> float:
        """Share of the online price that a Batch API call of ``model`` costs."""
        return self.batch_factors.get(model.strip(), BATCH_FACTOR)

    def lookup(self, model: str) -> tuple[float, float] | None:
        """The (input, output) price of a model, or None when it is unknown."""
        name = model.strip()
        candidates = [name, name.split("/", 1)[1]] if "/" in name else [name]
        for cand in candidates:
            if cand in self.prices:
                return self.prices[cand]
        for cand in candidates:
            best = max((k for k in self.prices if cand.startswith(k)), key=len, default=None)
            if best is not None:
                return self.prices[best]
        return None

    def known(self, model: str) -> bool:
        return self.lookup(model) is not None

    def cost(self, model: str, usage: Usage | Mapping[str, int]) -> float:
        """Dollars for one call; 0.0 for an unknown model (remembered in ``unknown_models``)."""
        price = self.lookup(model)
        if price is None:
            self.unknown_models.add(model)
            return 0.0
        if isinstance(usage, Usage):
            tin, tout = usage.input_tokens, usage.output_tokens
        else:
            tin = int(usage.get("input_tokens", usage.get("prompt_tokens", 0)))
            tout = int(usage.get("output_tokens", usage.get("completion_tokens", 0)))
        return (tin * price[0] + tout * price[1]) / 1_000_000


_DEFAULT = PriceTable()


def cost(model: str, usage: Usage | Mapping[str, int]) -> float:
    """Dollars for one call with the built-in table (0.0 for an unknown model)."""
    return _DEFAULT.cost(model, usage)


def is_known(model: str) -> bool:
    """Whether the built-in table has a price for ``model``."""
    return _DEFAULT.known(model)
