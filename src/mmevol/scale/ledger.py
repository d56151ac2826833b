"""The reply ledger: a Ray actor that carries every new model reply to the driver's journal.

A worker reports each reply the moment it arrives (``put``) and before it uses it; the driver
drains the ledger a few times a second and journals what it finds. So a reply that the server
completed is in ``run.sqlite`` within a fraction of a second, whether or not its unit ever
finishes, and a driver killed mid-run loses no completed call. The ledger also answers, before a
call, whether this session already has the reply (a unit that Ray Data re-runs after a worker
died asks the ledger instead of the model) or another worker is asking for it now (two seeds
with the same image and items make the same request: the second waits for the first's reply
instead of paying again; a claim lapses after ``lease_s``, so a lost worker blocks no one),
holds the money spent so far for ``--max-cost`` and the stop flag that tells workers not to
start new seeds.
"""

from __future__ import annotations

import time
from typing import Any

Row = list[Any]
COST = 10  # index of ``cost`` in a row of the ``calls`` table
LEASE_S = 600.0  # a claim older than this is taken for a lost worker's


class ReplyLedger:
    """Plain class; the driver runs it as ``ray.remote(ReplyLedger)`` (one per run)."""

    def __init__(self, spent: float, lease_s: float = LEASE_S) -> None:
        self._spent = spent
        self._lease_s = lease_s
        self._claims: dict[str, float] = {}  # keys a worker is asking the model for now
        # keys some worker waited for: their rows stay to the end of the session (only requests
        # made twice, as by duplicated seeds), since a waiter may collect them late
        self._waited: set[str] = set()
        self._known: dict[str, Row] = {}  # replies of this session not yet merged by the driver
        self._fresh: list[Row] = []  # replies not yet drained into the journal
        self._stop: str | None = None

    def before_call(self, key: str) -> tuple[Row | None, float, str | None]:
        """(the reply this session already has for ``key`` or None, money spent, stop reason)."""
        return self._known.get(key), self._spent, self._stop

    def claim(self, key: str) -> tuple[Row | None, bool, float, str | None]:
        """Like ``before_call``, and whether the caller may ask the model now (True) or another
        worker is asking for the same reply (False: wait for it, then ask again)."""
        row = self._known.get(key)
        now = time.monotonic()
        mine = row is None and now - self._claims.get(key, -self._lease_s) >= self._lease_s
        if mine:
            self._claims[key] = now
        elif row is None:
            self._waited.add(key)
        return row, mine, self._spent, self._stop

    def release(self, key: str) -> None:
        """The claimant did not get a reply (failed, stopped): the next asker may try."""
        self._claims.pop(key, None)

    def put(self, row: Row) -> None:
        key = str(row[0])
        self._claims.pop(key, None)
        if key in self._known:
            return
        self._known[key] = row
        self._fresh.append(row)
        self._spent += float(row[COST] or 0.0)

    def drain(self) -> list[Row]:
        rows, self._fresh = self._fresh, []
        return rows

    def forget(self, keys: list[str]) -> None:
        """Drop replies whose units the driver has merged (they are in the journal now)."""
        for key in keys:
            if key not in self._waited:  # a waited-for reply may still be collected
                self._known.pop(key, None)

    def stop(self, reason: str) -> None:
        self._stop = self._stop or reason

    def stopping(self) -> str | None:
        return self._stop
