"""SIGKILL at random moments of ``mmevol evolve --backend openai``, restart until done, compare.

Three kinds of kill moment, drawn from a seeded generator:

* ``random`` - after a random delay: anywhere, including mid-commit in SQLite and during
  start-up. Such a kill can land after the server answered a request and before the client
  journalled the answer; that request is then sent again on the restart, legitimately (the
  client never recorded it). Those are counted apart as *answered but unrecorded at the kill*.
* ``held`` - the server holds every later answer (``/_fake/hold``) and the kill waits until
  the journal holds every answer given: nothing is answered-and-unrecorded, so any repeat
  would be a paid call repeated, and the server's ``repeated_completed`` must stay 0.
* ``outputs`` - right after the last unit is journalled, while the final files are written.

Before each restart the journal's recorded calls are compared with what the server answers
afterwards: a *repeated paid call* is an answer to a request the journal already held (0).
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

from reliability_cases.common import (
    CategoryReport,
    compare_runs,
    done_units,
    evolve_argv,
    fake_server,
    free_port,
    journal_keys,
    journal_ok,
    leftover_temps,
    run_cli,
    run_env,
    server_keys,
    server_post,
    server_stats,
    wait_for,
)

TIMEOUT = 20.0  # no client time-outs: a re-sent request is then due to a kill only
SERVER = {"latency": (0.01, 0.04), "seed": 5, "bad_rate": 0.2, "broken_json_rate": 0.0}
# runs alternate: random kills (+ one at the outputs), then held kills (+ one at the outputs);
# a run with no random kill must show zero repeated completed requests at the server
SCHEDULES = (("random", "random", "random", "outputs"), ("held", "held", "held", "outputs"))


def _kill(proc: subprocess.Popen[bytes]) -> bool:
    """SIGKILL ``proc``; True when it was alive to be killed."""
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return proc.returncode == -signal.SIGKILL


def _outputs_started(run_dir: Path) -> bool:
    if (run_dir / "dataset.jsonl").exists() or any(run_dir.glob(".dataset.jsonl.*.tmp")):
        return True
    return (run_dir / "rounds").is_dir()


def _kill_held(proc: subprocess.Popen[bytes], url: str, out: Path, rng: random.Random) -> bool:
    """Let the run make some progress, hold the server's answers, wait until the journal has
    every answer given, then kill with requests in flight."""
    start = len(server_keys(url))
    target = start + rng.randint(2, 25)
    wait_for(lambda: proc.poll() is not None or len(server_keys(url)) >= target, 120)
    if proc.poll() is not None:
        return False
    server_post(url, "hold")
    try:
        ok = wait_for(
            lambda: (
                proc.poll() is not None
                or (set(server_keys(url)) <= journal_keys(out) and server_stats(url)["held"] > 0)
            ),
            60,
        )
        killed = ok and _kill(proc)
        if not killed:
            _kill(proc)  # stuck outside a call (e.g. writing outputs): a plain kill
        wait_for(lambda: server_stats(url)["held"] == 0, 30)
    finally:
        server_post(url, "release")
    return killed


def _kill_at_outputs(
    proc: subprocess.Popen[bytes], out: Path, units: int, rng: random.Random
) -> bool:
    """Kill once every unit is journalled (the final files are being written), or as soon as
    the first final file appears."""
    ok = wait_for(
        lambda: proc.poll() is not None or done_units(out) >= units or _outputs_started(out),
        300,
        step=0.002,
    )
    if not ok or proc.poll() is not None:
        return False
    time.sleep(rng.uniform(0.0, 0.03))
    return _kill(proc)


class CrashSuite:
    """Clean run + runs killed ``kills`` times in all, restarted until done, compared."""

    def __init__(
        self, seeds: Path, root: Path, *, n_seeds: int, rounds: int = 3, seed: int = 0
    ) -> None:
        self.seeds = seeds
        self.root = root
        self.units = n_seeds * rounds
        self.rounds = rounds
        self.rng = random.Random(seed)
        self.port = free_port()
        self.report = CategoryReport("crash (SIGKILL)")
        self.modes: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self.clean_s = 0.0

    def clean_run(self) -> Path:
        out = self.root / "clean"
        with fake_server(self.port, **SERVER) as url:
            t0 = time.monotonic()
            proc = run_cli(
                evolve_argv(self.seeds, out, url, rounds=self.rounds, timeout=TIMEOUT), run_env()
            )
            self.clean_s = time.monotonic() - t0
            if proc.returncode != 0:
                raise RuntimeError(f"the uninterrupted run failed: {proc.stderr[-1000:]}")
            self.counts["clean_repeated"] += server_stats(url)["repeated_completed"]
        return out

    def run(self, kills: int) -> CategoryReport:
        t0 = time.monotonic()
        clean = self.clean_run()
        k = 0
        run_no = 0
        while k < kills and run_no < 4 * kills:
            run_no += 1
            schedule = SCHEDULES[(run_no - 1) % len(SCHEDULES)][: kills - k]
            k += self._one_run(clean, run_no, schedule)
        c = self.counts
        self.report.notes = {
            "kills": k,
            "kills_by_moment": dict(self.modes),
            "runs": run_no,
            "restarts": c["restarts"],
            "answered_but_unrecorded_at_kill": c["answered_unrecorded"],
            "answered_but_unrecorded_at_held_kills": c["held_unrecorded"],
            "repeated_paid_calls_of_recorded_answers": c["repeated_recorded"],
            "server_repeated_completed": c["server_repeated"],
            "server_repeated_completed_held_only_runs": c["held_run_repeated"],
            "kills_while_final_files_written": c["in_outputs"],
            "kills_after_last_unit_before_files": c["after_last_unit"],
            "journal_integrity_failures": c["integrity"],
            "answered_twice_in_one_attempt": c["answered_twice_in_one_attempt"],
            "uninterrupted_run_repeated_completed": c["clean_repeated"],
            "uninterrupted_run_s": round(self.clean_s, 2),
        }
        self.report.repeated_paid = c["repeated_recorded"] + c["held_run_repeated"]
        self.report.seconds = round(time.monotonic() - t0, 1)
        return self.report

    def _one_run(self, clean: Path, run_no: int, schedule: tuple[str, ...]) -> int:
        """One run directory killed as ``schedule`` says (fewer if it finishes first), then
        finished; returns the number of kills."""
        out = self.root / f"run-{run_no}"
        argv = evolve_argv(self.seeds, out, "", rounds=self.rounds, timeout=TIMEOUT)
        c = self.counts
        kills = 0
        modes_used: set[str] = set()
        problems: list[str] = []
        with fake_server(self.port, **SERVER) as url:
            argv[argv.index("--base-url") + 1] = url
            recorded: set[str] = set()
            answered = 0
            while True:
                mode = schedule[kills] if kills < len(schedule) else None
                proc = subprocess.Popen(
                    argv, env=run_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
                )
                if mode == "random":
                    delay = self.rng.uniform(0.05, max(0.3, 0.9 * self.clean_s))
                    time.sleep(delay)
                    killed = _kill(proc)
                elif mode == "held":
                    killed = _kill_held(proc, url, out, self.rng)
                elif mode == "outputs":
                    killed = _kill_at_outputs(proc, out, self.units, self.rng)
                else:
                    killed = False
                if not killed:
                    _, err = proc.communicate(timeout=600)
                    if proc.returncode != 0:
                        problems.append(f"run {run_no}: exit {proc.returncode}: {err[-300:]!r}")
                    break
                proc.communicate(timeout=30)
                kills += 1
                modes_used.add(mode or "")
                self.modes[mode or ""] += 1
                keys = server_keys(url)
                if (bad := journal_ok(out)) is not None:
                    c["integrity"] += 1
                    problems.append(bad)
                if mode == "outputs":
                    if _outputs_started(out):
                        c["in_outputs"] += 1
                    elif done_units(out) >= self.units:
                        c["after_last_unit"] += 1
                # answers re-sent although the journal held them at the previous kill
                c["repeated_recorded"] += sum(1 for x in keys[answered:] if x in recorded)
                recorded = journal_keys(out)
                segment = keys[answered:]
                c["answered_twice_in_one_attempt"] += len(segment) - len(set(segment))
                unrecorded = sum(1 for x in set(segment) if x not in recorded)
                c["answered_unrecorded"] += unrecorded
                if mode == "held":
                    c["held_unrecorded"] += unrecorded
                answered = len(keys)
                c["restarts"] += 1
            keys = server_keys(url)
            c["repeated_recorded"] += sum(1 for x in keys[answered:] if x in recorded)
            repeated = int(server_stats(url)["repeated_completed"])
            c["server_repeated"] += repeated
            if modes_used <= {"held", "outputs"}:
                c["held_run_repeated"] += repeated
        lost, dup, differ = compare_runs(clean, out, self.rounds)
        temps = leftover_temps(out)
        self.report.lost += lost
        self.report.duplicated += dup
        if differ:
            problems.append(f"run {run_no}: differs from the uninterrupted run: {differ}")
        if temps:
            problems.append(f"run {run_no}: temp files left: {temps}")
        # every kill of this run is a case: it survives when the finished run is exact
        for _ in range(kills):
            self.report.case(not problems, "; ".join(problems)[:500] or None)
        if kills == 0 and problems:
            self.report.problems.extend(problems)
        return kills


def crash_category(
    seeds: Path, root: Path, *, n_seeds: int, kills: int, rounds: int = 3, seed: int = 0
) -> CategoryReport:
    return CrashSuite(seeds, root, n_seeds=n_seeds, rounds=rounds, seed=seed).run(kills)
