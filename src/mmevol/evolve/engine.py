"""The evolution engine: for each seed image, rounds of evolve -> normalise -> eliminate -> dedup.

Elimination runs in order: rule checks and degenerate-text checks (``eliminate``,
``degenerate``), then the fact checker (``facts``), then the judge, then near-duplicates.

A *unit* is one image in one round: one evolve call covering all of the image's surviving items
(as the authors did) and one judge call for the evolutions that passed the rule checks. Each
round evolves the previous round's survivors and the judge compares every evolution with its
parent in that previous round. Units of different images run concurrently; the rounds of one
image run in order. Everything is journalled in ``store.Store`` so a re-run resumes exactly.

A seed with more than ``MAX_ITEMS_PER_SEED`` items is evolved with its first that many items
(a one-line warning names the seed and the count left out): a cap rather than a refusal, as
seeds are validated before the run folder exists and one oversized seed should not stop a run
of thousands; the cut is deterministic, so a resumed run agrees with the first.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel

from mmevol.backends.base import Backend
from mmevol.backends.batch_api import MAX_REQUESTS
from mmevol.calls import BudgetExceeded, CallError, ModelCall, ParseFailed, Reply
from mmevol.evolve.calls import evolve_call, judge_call
from mmevol.evolve.config import EvolveConfig
from mmevol.evolve.dedup import SeedDeduper
from mmevol.evolve.degenerate import item_problems, sibling_problems
from mmevol.evolve.eliminate import Candidate, fact_verdict, rule_problems, rule_verdict
from mmevol.facts import Annotations, check_item
from mmevol.parse import parse_reply, reask_messages
from mmevol.prompts import Template
from mmevol.schema import (
    DIRECTIONS,
    PRODUCER_FIELDS,
    QA,
    EvolveOutput,
    JudgeItem,
    JudgeOutput,
    Lineage,
    Sample,
    Seed,
    Verdict,
    seed_samples,
)
from mmevol.store import Store
from mmevol.vocab.normalize import normalize_item

T = TypeVar("T", bound=BaseModel)
# items of one seed evolved at most (the first ones; the rest are left out with a warning). One
# unit sends all of a seed's items in one call, so this bounds a call, its reply and the
# per-unit checks; 512 is far above what real sources hold (LLaVA: < 40 turns per image).
MAX_ITEMS_PER_SEED = 512


def pick_direction(run_seed: int, seed_id: str, round_: int, weights: dict[str, float]) -> str:
    """Seeded draw of an evolution direction for one image and round (order-independent)."""
    digest = hashlib.sha256(f"{run_seed}:{seed_id}:{round_}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64 * sum(weights.values())
    acc = 0.0
    order = (*DIRECTIONS, *sorted(d for d in weights if d not in DIRECTIONS))
    for d in order:
        acc += weights.get(d, 0.0)
        if u < acc:
            return d
    return next(d for d in reversed(order) if weights.get(d, 0.0) > 0)


def unit_id(seed_id: str, round_: int) -> str:
    return f"{seed_id}@r{round_}"


def child_id(parent_id: str, round_: int) -> str:
    """The id of a parent's evolution in ``round_``: '<seed>#<item>@r<round>'."""
    return f"{parent_id.split('@', 1)[0]}@r{round_}"


@dataclass
class Counters:
    """Live counters shown by the progress display and the final summary."""

    units_done: int = 0
    units_failed: int = 0
    units_skipped: int = 0
    in_flight: int = 0
    calls: int = 0
    cached_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    kept: int = 0
    dropped: int = 0
    failures_by_class: Counter[str] = field(default_factory=Counter)
    items_capped: int = 0  # seed items left out by MAX_ITEMS_PER_SEED


class Engine:
    """Runs the evolve stage of one run directory."""

    def __init__(
        self,
        config: EvolveConfig,
        store: Store,
        backend: Backend,
        templates: dict[str, Template] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.backend = backend
        self.counters = Counters()
        self.stop_reason: str | None = None
        self._spent = store.spent()
        self._reserved = 0.0  # estimated cost of the calls running now (``--max-cost``)
        self._last_error = ""
        # the run's own prompt versions (``mmevol prompts``) replace the bundled templates
        self.templates = templates or {}
        # requests being asked now: the same request from another unit (two seeds with the
        # same image and items) waits for that answer instead of paying for it again
        self._asking: dict[str, asyncio.Event] = {}

    # --- model calls ------------------------------------------------------------------------
    async def call_model(self, call: ModelCall, unit: str) -> Reply:
        """Answer from the journal when this exact request completed before; else call and journal."""
        key = call.cache_key(self.backend.identity())
        while (asking := self._asking.get(key)) is not None:
            await asking.wait()  # then the journal has it, or that call failed: ask ourselves
        cached = self.store.cached_reply(key)
        if cached is not None:
            self.counters.cached_calls += 1
            return cached
        self._asking[key] = asking = asyncio.Event()
        try:
            return await self._ask(call, unit, key)
        finally:
            del self._asking[key]
            asking.set()

    async def _ask(self, call: ModelCall, unit: str, key: str) -> Reply:
        est = 0.0
        if self.config.max_cost is not None:  # what runs now is reserved, so no phase overshoots
            est = self.backend.cost_estimate(call)
            limit = self.config.max_cost
            if self._spent >= limit or self._spent + self._reserved + est > limit:
                raise BudgetExceeded(
                    f"spent ${self._spent:.4f} (+${self._reserved:.4f} running) of --max-cost ${limit}"
                )
        self._reserved += est
        try:
            reply = await self.backend.complete(call)
        finally:
            self._reserved -= est
        self.store.put_call(key, unit, self.backend.name, call, reply)
        self._spent += reply.cost_usd
        c = self.counters
        c.calls += 1
        c.input_tokens += reply.usage.input_tokens
        c.output_tokens += reply.usage.output_tokens
        c.cost += reply.cost_usd
        return reply

    async def call_and_parse(
        self, call: ModelCall, model: type[T], unit: str, stats: Counter[str]
    ) -> T:
        """One call through the repair ladder; one re-ask with the validation error if allowed.

        A unit whose replies could not be parsed before is asked anew (``retry``), since its
        journaled replies would only fail the same way again.
        """
        tries = self.store.failure_count(unit, ParseFailed.error_class)
        if tries:
            call = call.model_copy(update={"retry": tries})
        try:
            reply = await self.call_model(call, unit)
            try:
                parsed = parse_reply(reply.text, model)
                rungs = list(parsed.rungs)
            except CallError as err:
                if not self.config.reask:
                    raise
                reask = call.model_copy(
                    update={"messages": reask_messages(call.messages, reply.text, str(err))}
                )
                parsed = parse_reply((await self.call_model(reask, unit)).text, model)
                rungs = [*parsed.rungs, "reask"]
        except CallError as err:
            err.task = err.task or call.task  # the failure record names the call that failed
            raise
        for rung in rungs:
            stats[f"{call.task}_rung_{rung}"] += 1
        return parsed.value

    def cap_items(self, seed: Seed) -> Seed:
        """The seed with at most ``MAX_ITEMS_PER_SEED`` items (the first ones); a one-line
        warning names the seed and how many were left out."""
        left_out = len(seed.items) - MAX_ITEMS_PER_SEED
        if left_out <= 0:
            return seed
        self.counters.items_capped += left_out
        print(f"warning: seed {seed.id}: {left_out} of {len(seed.items)} items left out (evolve "
              f"takes the first {MAX_ITEMS_PER_SEED} items of a seed)", file=sys.stderr)  # fmt: skip
        return seed.model_copy(update={"items": seed.items[:MAX_ITEMS_PER_SEED]})

    # --- one unit: one image, one round -----------------------------------------------------
    async def run_unit(
        self, seed: Seed, parents: list[Sample], round_: int
    ) -> tuple[list[Sample], Counter[str]]:
        unit = unit_id(seed.id, round_)
        direction = pick_direction(self.config.seed, seed.id, round_, self.config.direction_weights)
        stats: Counter[str] = Counter()
        call = evolve_call(
            seed,
            [p.qa for p in parents],
            direction,
            round_,
            temperature=self.config.temperature,
            max_tokens=self.config.max_tokens,
            template=self.templates.get(direction),
            focus=self.config.focus.model_dump() if self.config.focus else None,
            vision=self.backend.vision,
        )
        output = await self.call_and_parse(call, EvolveOutput, unit, stats)
        by_source: dict[int, QA] = {}
        for item in output.items:
            if item.source < len(parents) and item.source not in by_source:
                by_source[item.source] = QA.model_validate(
                    item.model_dump(exclude={"source", *PRODUCER_FIELDS})
                )
            else:
                stats["extra_items"] += 1
        stats["missing_items"] += len(parents) - len(by_source)

        candidates: list[Candidate] = []
        for i, parent in enumerate(parents):
            if i in by_source:
                qa = normalize_item(by_source[i], stats)
                cand = Candidate(parent, qa, rule_problems(qa, parent.qa, seed))
                cand.degenerate = item_problems(qa, parent.qa)
                candidates.append(cand)
        siblings = sibling_problems([c.qa for c in candidates], [p.qa for p in parents])
        ann = Annotations(seed) if self.config.fact_check else None
        for k, cand in enumerate(candidates):
            cand.degenerate += siblings.get(k, [])
            if ann is not None and not cand.problems and not cand.degenerate:
                try:
                    cand.facts = check_item(cand.qa, ann)
                except Exception:  # a checker fault never drops an item nor stops a run
                    stats["facts_checker_errors"] += 1
                    continue
                for f in cand.facts.findings:
                    stats[f"facts_{f.status}"] += 1
        to_judge = [c for c in candidates if c.judged]
        verdicts: dict[int, JudgeItem] = {}
        if to_judge:
            jcall = judge_call(
                seed,
                [(c.parent.qa, c.qa) for c in to_judge],
                direction,
                round_,
                temperature=self.config.judge_temperature,
                max_tokens=self.config.max_tokens,
                notes=[c.facts.for_judge() if c.facts else {} for c in to_judge],
                vision=self.backend.vision,
            )
            judged = await self.call_and_parse(jcall, JudgeOutput, unit, stats)
            for v in judged.verdicts:
                verdicts.setdefault(v.index, v)
        samples = self._decide(
            seed, round_, direction, call.template_version, candidates, verdicts, stats
        )
        return samples, stats

    def _decide(
        self,
        seed: Seed,
        round_: int,
        direction: str,
        prompt_version: str,
        candidates: list[Candidate],
        verdicts: dict[int, JudgeItem],
        stats: Counter[str],
    ) -> list[Sample]:
        dedup = SeedDeduper(
            self.store.seed_questions(seed.id),
            self.config.near_dup_threshold,
            categories=[o.category for o in seed.objects],
        )
        samples: list[Sample] = []
        judged = 0
        for cand in candidates:
            parent, qa = cand.parent, cand.qa
            verdict: Verdict | None
            if cand.problems:
                verdict, kept = rule_verdict(cand.problems), False
                reason = f"rule: {cand.problems[0]}"
                stats["dropped_rules"] += 1
            elif cand.degenerate:
                verdict, kept = rule_verdict(cand.degenerate), False
                reason = f"rule: degenerate: {cand.degenerate[0]}"
                stats["dropped_degenerate"] += 1
            elif cand.facts and cand.facts.refuted:
                verdict, kept = fact_verdict(cand.facts.refuted), False
                reason = f"fact: {cand.facts.refuted[0].text()}"
                stats["dropped_facts"] += 1
            else:
                item = verdicts.get(judged)
                judged += 1
                if item is None:
                    verdict, kept, reason = None, False, "judge: no verdict returned"
                    stats["dropped_judge"] += 1
                else:
                    verdict = Verdict(
                        improved=item.improved,
                        score=item.score,
                        reason=item.reason,
                        judge=self.backend.label(),
                    )
                    kept = item.improved and item.score >= self.config.min_judge_score
                    reason = "judge: improved" if kept else f"judge: not improved ({item.reason})"
                    stats["kept" if kept else "dropped_judge"] += 1
            if kept and not dedup.admit(qa.question):
                kept, reason = False, "near-duplicate of a kept question of this image"
                stats["kept"] -= 1
                stats["dropped_duplicate"] += 1
            if verdict is not None:
                qa = qa.model_copy(update={"score": verdict.score})
            samples.append(
                Sample(
                    id=child_id(parent.id, round_),
                    seed_id=seed.id,
                    image=seed.image,
                    round=round_,
                    qa=qa,
                    lineage=Lineage(
                        parent_id=parent.id,
                        round=round_,
                        direction=direction,
                        prompt_version=prompt_version,
                        backend=self.backend.name,
                        model=self.backend.model,
                        verdict=verdict,
                        kept=kept,
                        reason=reason,
                    ),
                )
            )
        stats["candidates"] += len(candidates)
        return samples

    # --- one image through all rounds -------------------------------------------------------
    async def run_seed(self, seed: Seed) -> None:
        seed = self.cap_items(seed)
        initial = seed_samples(seed)
        self.store.add_seed_samples(initial)
        parents = initial
        for round_ in range(1, self.config.rounds + 1):
            unit = unit_id(seed.id, round_)
            if self.store.unit_status(unit) == "done":
                parents = self.store.kept_samples(seed.id, round_)
                self.counters.units_skipped += 1
                continue
            if self.stop_reason:
                return
            if not parents:
                self.store.commit_unit(unit, seed.id, round_, None, [], {"no_parents": 1})
                continue
            self.counters.in_flight += 1
            try:
                samples, stats = await self.run_unit(seed, parents, round_)
            except BudgetExceeded as err:
                self.stop_reason = (
                    f"budget reached: {err}. Re-run with a higher --max-cost to continue."
                )
                return
            except CallError as err:
                self._record_failure(seed, round_, err)
                return
            finally:
                self.counters.in_flight -= 1
            direction = pick_direction(
                self.config.seed, seed.id, round_, self.config.direction_weights
            )
            self.store.commit_unit(unit, seed.id, round_, direction, samples, dict(stats))
            self.counters.units_done += 1
            self.counters.kept += sum(s.lineage.kept for s in samples)
            self.counters.dropped += sum(not s.lineage.kept for s in samples)
            parents = [s for s in samples if s.lineage.kept]

    def _record_failure(self, seed: Seed, round_: int, err: CallError) -> None:
        unit = unit_id(seed.id, round_)
        self.store.add_failure(
            unit, seed.id, round_, err.task or "unit", err.error_class, str(err), err.attempts
        )
        c = self.counters
        c.units_failed += 1
        c.failures_by_class[err.error_class] += 1
        self.check_error_rate(f"{err.error_class}: {err}")

    def check_error_rate(self, last_error: str) -> None:
        """Set ``stop_reason`` once the share of failed units passes ``max_error_rate``."""
        c = self.counters
        self._last_error = last_error
        attempted = c.units_done + c.units_failed
        if (
            attempted >= self.config.min_units_for_error_rate
            and c.units_failed / attempted > self.config.max_error_rate
            and not self.stop_reason
        ):
            self.stop_reason = (
                f"{c.units_failed} of {attempted} units failed (over the --max-error-rate of "
                f"{self.config.max_error_rate:.0%}); last error: {self._last_error[:200]}. "
                "Check the endpoint and settings, then re-run the same command to resume."
            )

    async def run(self, seeds: Iterable[Seed]) -> None:
        """Evolve every seed; stops scheduling new units once ``stop_reason`` is set."""
        limit = max(4, self.config.concurrency * 2)
        if self.config.mode != "online":  # a round's calls must be queued together to share a batch
            limit = max(limit, MAX_REQUESTS)
        slots = asyncio.Semaphore(limit)
        tasks: list[asyncio.Task[None]] = []
        try:
            for seed in seeds:
                if self.stop_reason:
                    break
                await slots.acquire()
                task = asyncio.create_task(self.run_seed(seed))
                task.add_done_callback(lambda _t: slots.release())
                tasks.append(task)
                if len(tasks) >= 4 * limit:
                    done = [t for t in tasks if t.done()]
                    for t in done:
                        t.result()
                    tasks = [t for t in tasks if not t.done()]
            for t in tasks:
                await t
        except BaseException:
            # one unit raised (a full disk, a bug): stop the others and collect their errors,
            # so the first one is reported alone instead of tracebacks of the rest at exit
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
