"""``mmevol evolve --estimate``: expected calls, tokens and cost, computed without any call.

Prompt sizes are measured by rendering the real round-1 prompts of (up to) 200 seeds; output
sizes and the survival rate between rounds are stated assumptions, printed with the figures.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from pydantic import BaseModel

from mmevol.backends.pricing import OUT_TOKENS_PER_ITEM
from mmevol.calls import Usage
from mmevol.evolve.calls import evolve_call, judge_call
from mmevol.evolve.config import EvolveConfig
from mmevol.evolve.run import validate_seeds
from mmevol.seeds import read_seeds

SAMPLE_SEEDS = 200
CHARS_PER_TOKEN = 4
IMAGE_TOKENS = {"low": 85, "high": 765, "auto": 765}
SURVIVAL = 0.8
# backends whose calls nobody bills: what they are instead of a price
FREE = {
    "grounded": "offline: a programmatic generator in this process, no model calls",
    "fake": "offline: the test model in this process",
    "hf": "a local model in this process: your hardware's time, no bill",
    "vllm": "a local model in this process: your hardware's time, no bill",
}


class Estimate(BaseModel):
    seeds: int
    items: int
    rounds: int
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    batch_cost_usd: float | None = None  # the same calls at the Batch API price
    mode: str = "online"
    model: str
    assumptions: list[str]
    free: str | None = None  # why nothing is billed (an offline or local backend)


def _tokens(call_text: str) -> int:
    return len(call_text) // CHARS_PER_TOKEN + 1


def estimate_run(config: EvolveConfig) -> Estimate:
    from mmevol.backends.pricing import PriceTable

    n_seeds, n_items, _ = validate_seeds(Path(config.seeds))
    sample = list(itertools.islice(read_seeds(Path(config.seeds)), SAMPLE_SEEDS))
    image = IMAGE_TOKENS.get(config.detail, 765) if config.vision else 0
    ev_in = ju_in = 0
    for seed in sample:
        if not seed.items:
            continue
        t, mt = config.temperature, config.max_tokens
        ev = evolve_call(
            seed, seed.items, "reasoning", 1, temperature=t, max_tokens=mt, vision=config.vision
        )
        pairs = [(q, q) for q in seed.items]
        ju = judge_call(
            seed, pairs, "reasoning", 1, temperature=t, max_tokens=mt, vision=config.vision
        )
        ev_in += _tokens("".join(m.content for m in ev.messages)) + image
        ju_in += _tokens("".join(m.content for m in ju.messages)) + image
    with_items = max(1, sum(1 for s in sample if s.items))
    per_seed_in = (ev_in + ju_in) / with_items
    survive = sum(SURVIVAL**k for k in range(config.rounds))
    seeds_with_items = n_seeds * with_items / max(1, len(sample))
    calls = round(seeds_with_items * 2 * survive)
    input_tokens = round(seeds_with_items * per_seed_in * survive)
    out_per_item = OUT_TOKENS_PER_ITEM["evolve"] + OUT_TOKENS_PER_ITEM["judge"]
    output_tokens = round(n_items * out_per_item * survive)
    model = config.model or config.backend
    prices = PriceTable(config.prices_file)
    usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens)
    cost = prices.cost(model, usage) if prices.known(model) else None
    return Estimate(
        seeds=n_seeds,
        items=n_items,
        rounds=config.rounds,
        calls=calls,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=None if cost is None else round(cost, 4),
        batch_cost_usd=None if cost is None else round(cost * prices.batch_factor(model), 4),
        mode=config.mode,
        model=model,
        free=FREE.get(config.backend),
        assumptions=[
            f"prompt sizes measured on {len(sample)} seeds at {CHARS_PER_TOKEN} chars/token",
            f"{image} image tokens per call (detail={config.detail}, vision={config.vision})"
            if config.backend not in FREE
            else "tokens: what an LLM backend would be sent for the same run (none is billed)",
            f"output tokens per item: {OUT_TOKENS_PER_ITEM}",
            f"share of items surviving each round: {SURVIVAL} (the authors saw 0.72-0.92)",
        ],
    )


def render_estimate(est: Estimate) -> str:
    cost = "unknown price (add it with --prices)" if est.cost_usd is None else f"${est.cost_usd}"
    if est.free:
        cost = f"free ({est.free})"
    elif est.batch_cost_usd is not None:
        online, batch = f"${est.cost_usd} online", f"${est.batch_cost_usd} with --mode batch"
        cost = f"{batch} ({online})" if est.mode != "online" else f"{online} ({batch})"
        cost += "; batch prices are typically half, hybrid falls between"
    lines = [
        f"seeds {est.seeds}, items {est.items}, rounds {est.rounds}, model {est.model}",
        f"expected calls {est.calls}, input tokens {est.input_tokens}, "
        f"output tokens {est.output_tokens}, cost {cost}",
        "assumptions: " + json.dumps(est.assumptions),
    ]
    return "\n".join(lines)
