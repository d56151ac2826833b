"""The Ray reply ledger's claims: one worker asks, the others wait for its reply (``scale.ledger``)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from mmevol.scale import ledger as ledger_module
from mmevol.scale.ledger import COST, ReplyLedger


def _row(key: str, cost: float = 0.5) -> list[object]:
    row: list[object] = [key] + [None] * 14
    row[COST] = cost
    return row


def test_one_claimant_the_others_wait_then_collect_the_reply() -> None:
    ledger = ReplyLedger(spent=0.0)
    row, mine, _, _ = ledger.claim("k")
    assert row is None and mine
    row, mine, _, _ = ledger.claim("k")
    assert row is None and not mine  # another worker is asking now
    ledger.put(_row("k"))
    row, mine, spent, _ = ledger.claim("k")
    assert row is not None and row[0] == "k" and not mine and spent == 0.5


def test_a_failed_claimant_releases_and_a_lost_one_lapses(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]  # the ledger's clock, moved by hand: a slow machine cannot lapse a lease
    monkeypatch.setattr(ledger_module, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    ledger = ReplyLedger(spent=0.0, lease_s=0.05)
    assert ledger.claim("a")[1] and not ledger.claim("a")[1]
    ledger.release("a")
    assert ledger.claim("a")[1]  # the next asker may try
    assert ledger.claim("b")[1]
    clock[0] += 0.04
    assert not ledger.claim("b")[1]  # still within the claimant's lease
    clock[0] += 0.02
    assert ledger.claim("b")[1]  # the claimant was lost: its lease ran out


def test_a_waited_for_reply_outlives_the_merge_of_its_unit() -> None:
    ledger = ReplyLedger(spent=0.0)
    ledger.claim("w")
    ledger.claim("w")  # someone waits for it
    ledger.claim("x")
    ledger.put(_row("w"))
    ledger.put(_row("x"))
    ledger.forget(["w", "x"])  # the driver merged both units into the journal
    assert ledger.claim("w")[0] is not None  # the waiter still collects it
    assert ledger.claim("x")[0] is None  # no one waited: dropped, as before
