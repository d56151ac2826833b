"""The reply ledger: a Ray actor that carries every new model reply to the driver's journal.

A worker reports each reply the moment it arrives (``put``) and before it uses it; the driver
drains the ledger a few times a second and journals what it finds. So a reply that the server
completed is in ``run.sqlite`` within a fraction of a second, whether or not its unit ever
finishes, and a driver killed mid-run loses no completed call. The ledger also answers, before a
call, whether this session already has the reply (a unit that Ray Data re-runs after a worker
died asks the ledger instead of the model), holds the money spent so far for ``--max-cost`` and
the stop flag that tells workers not to start new seeds.
"""

from __future__ import annotations

from typing import Any

Row = list[Any]
COST = 10  # index of ``cost`` in a row of the ``calls`` table


class ReplyLedger:
    """Plain class; the driver runs it as ``ray.remote(ReplyLedger)`` (one per run)."""

    def __init__(self, spent: float) -> None:
        self._spent = spent
        self._known: dict[str, Row] = {}  # replies of this session not yet merged by the driver
        self._fresh: list[Row] = []  # replies not yet drained into the journal
        self._stop: str | None = None

    def before_call(self, key: str) -> tuple[Row | None, float, str | None]:
        """(the reply this session already has for ``key`` or None, money spent, stop reason)."""
        return self._known.get(key), self._spent, self._stop

    def put(self, row: Row) -> None:
        key = str(row[0])
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
            self._known.pop(key, None)

    def stop(self, reason: str) -> None:
        self._stop = self._stop or reason

    def stopping(self) -> str | None:
        return self._stop
