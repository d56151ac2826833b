"""The reliability suite: crashes, injected faults, bad inputs, a full disk, secrets.

Each module runs one category against the real ``mmevol`` command and returns a report with
the same counters (cases tried, survived, samples lost, duplicated, repeated paid calls).
``benchmarks/reliability.py`` runs them at full size and writes ``docs/RELIABILITY.md``;
``tests/reliability/`` runs small versions of them in the default test run.
"""
