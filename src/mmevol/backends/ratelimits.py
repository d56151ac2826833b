"""What a server says about its rate limits, and what a client learns from its answers.

* ``Signals``: OpenAI's ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}`` headers,
  read from any reply (success or 429) that carries them;
* ``limit_from_error``: the kind (requests or tokens) and the number a 429's error body names
  ("... on tokens per min (TPM): Limit 30000 ..."), for servers that send no headers;
* ``AcceptedWindow``: the requests and tokens the server accepted over the last seconds, so
  that a 429 from a server that states no limit still yields one: at saturation, what it
  accepted is what it allows;
* ``TokenBucket``: the continuously refilled bucket that paces requests and tokens;
* ``CutTrials``: whether a limit learned from 429s answered a rate: a cut after which the
  server refuses about as often as before did not (the 429s are a faulty or overloaded
  server's noise), so it is undone and 429s teach no rate for a while;
* ``CostLearner``: how many input tokens a kind of call really costs, fitted to
  ``usage.prompt_tokens`` (text and a fixed part per call), so token reservations match what
  the server charges (image tokens differ by model and provider).

``admission.AdmissionController`` uses all five; nothing here sends or waits.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, fields

RESET_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
LIMIT_IN_TEXT = re.compile(r"\blimit\s*:?\s*(\d[\d,]*)", re.IGNORECASE)
QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached", "quota_exceeded"})
FIT_FORGET = 0.05  # ``CostLearner``: the weight an observation loses with each newer one
MIN_SPAN_S = 2.0  # ``AcceptedWindow`` never divides by less than this
# ``CutTrials``: sends after a cut that judge it; a cut is undone when their refused share is
# at least this part of the share before it (and below the share of a window refusing all)
TRIAL_SENDS, TRIAL_SAME_SHARE, TRIAL_ALL_REFUSED = 16, 0.5, 0.9
NOISE_QUIET_S = 60.0  # after an undone cut, 429s teach no rate for this long


class TokenBucket:
    """A continuously refilled bucket; ``reserve`` takes tokens now and says how long to wait.

    The level may go negative: each reservation queues behind the earlier ones, so waiters
    leave in order, one by one, at exactly the refill rate.
    """

    def __init__(self, per_minute: float, burst_s: float) -> None:
        self.burst_s = burst_s
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * burst_s)
        self.level = self.capacity
        self._stamp = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self._stamp) * self.rate)
        self._stamp = now

    def set_rate(self, per_minute: float) -> None:
        """A new steady rate; what is queued now drains at it."""
        self._refill()
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * self.burst_s)
        self.level = min(self.level, self.capacity)

    def reserve(self, n: float) -> float:
        """Take ``n`` tokens; return the seconds to wait before they are really available.

        As a provider counts: a call needs ``min(n, capacity)`` in the bucket and then takes
        all ``n`` (a call larger than the bucket goes when it is full and leaves it in debt)."""
        self._refill()
        self.level -= n
        floor = min(n, self.capacity) - n  # the level at which this call may go
        return 0.0 if self.level >= floor else (floor - self.level) / self.rate

    def give_back(self, n: float) -> None:
        """Return tokens (``n`` > 0) or charge more (``n`` < 0) after the fact."""
        self._refill()
        self.level = min(self.capacity, self.level + n)

    def drain(self) -> None:
        """The server says it is full: start again from empty (queued reservations stay)."""
        self._refill()
        self.level = min(self.level, 0.0)

    def take_now(self, n: float) -> float:
        """Take ``n`` tokens if the bucket holds them (0.0); else take none, return the wait."""
        self._refill()
        if self.level >= n:
            self.level -= n
            return 0.0
        return (n - self.level) / self.rate


def parse_reset(text: str | None) -> float | None:
    """Seconds from OpenAI's reset format ("1s", "120ms", "6m0s", "1h2m3.5s") or a number."""
    if not text:
        return None
    text = text.strip().lower()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    parts = RESET_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text.replace(" ", ""):
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[u] for n, u in parts)


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Signals:
    """The rate-limit headers of one reply (None: not sent)."""

    limit_requests: int | None = None
    limit_tokens: int | None = None
    remaining_requests: int | None = None
    remaining_tokens: int | None = None
    reset_requests_s: float | None = None
    reset_tokens_s: float | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Signals:
        def get(name: str) -> str | None:
            return headers.get(f"x-ratelimit-{name}")

        return cls(
            limit_requests=_int(get("limit-requests")),
            limit_tokens=_int(get("limit-tokens")),
            remaining_requests=_int(get("remaining-requests")),
            remaining_tokens=_int(get("remaining-tokens")),
            reset_requests_s=parse_reset(get("reset-requests")),
            reset_tokens_s=parse_reset(get("reset-tokens")),
        )

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))


def limit_from_error(kind: str | None, message: str) -> tuple[str | None, int | None]:
    """(``"requests"`` / ``"tokens"`` / None, the per-minute limit named, or None) of a 429."""
    low = message.lower()
    if kind not in ("requests", "tokens"):
        if "tokens per min" in low or "(tpm)" in low or " tpm" in low:
            kind = "tokens"
        elif "requests per min" in low or "(rpm)" in low or " rpm" in low:
            kind = "requests"
        else:
            kind = None
    m = LIMIT_IN_TEXT.search(message)
    limit = int(m.group(1).replace(",", "")) if m else None
    return kind, limit if limit and limit > 0 else None


class AcceptedWindow:
    """Sends the server accepted (any answer but a 429) in the last ``span_s`` seconds.

    A minute, as providers count: a server that refuses everything for the rest of a window
    after a burst (a sliding or fixed minute) still shows what it accepted in that minute,
    so a limit learned from it does not fall toward zero while the refusals last."""

    def __init__(self, span_s: float = 60.0) -> None:
        self.span_s = span_s
        self._events: deque[tuple[float, float]] = deque()  # (time, tokens charged)
        self._first: float | None = None

    def add(self, tokens: float, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._first = now if self._first is None else self._first
        self._events.append((now, tokens))
        self._trim(now)

    def _trim(self, now: float) -> None:
        while self._events and self._events[0][0] < now - self.span_s:
            self._events.popleft()

    def rates(self, now: float | None = None) -> tuple[float, float] | None:
        """(requests/s, tokens/s) accepted lately; None before anything was accepted."""
        now = time.monotonic() if now is None else now
        self._trim(now)
        if self._first is None or not self._events:
            return None
        span = max(MIN_SPAN_S, min(self.span_s, now - self._first))
        return len(self._events) / span, sum(t for _, t in self._events) / span


@dataclass(frozen=True)
class Trial:
    """A learned cut under test: when it was made and the rate it replaced."""

    at: float
    prior: float | None
    prior_source: str | None


class CutTrials:
    """Recent sends (their send time, and whether a 429 refused them) and the learned cuts
    being judged by them. A real limit stops refusing once the rate is under it; refusals that
    go on at about the same share after a cut are not about the rate (a server that sheds load
    at random), and pacing to them would only slow a run toward a stop."""

    def __init__(self) -> None:
        self._sends: deque[tuple[float, bool]] = deque(maxlen=1024)
        self._trials: dict[str, Trial] = {}
        self.quiet_until = 0.0  # 429s teach no rate before this time

    def add(self, sent_at: float, refused: bool) -> None:
        self._sends.append((sent_at, refused))

    def start(self, kind: str, trial: Trial) -> None:
        self._trials[kind] = trial

    def pending(self, kind: str) -> bool:
        return kind in self._trials

    def learning(self, kind: str, now: float) -> bool:
        """May a 429 teach a rate of ``kind`` now (no cut under test, no recent noise)?"""
        return kind not in self._trials and now >= self.quiet_until

    def _share(self, start: float, end: float) -> tuple[int, float]:
        got = [refused for at, refused in self._sends if start <= at < end]
        return len(got), (sum(got) / len(got) if got else 1.0)

    def judge(self, now: float) -> list[tuple[str, Trial]]:
        """The cuts to undo now (each judged once, when enough sends after it came back)."""
        undo = []
        for kind, trial in list(self._trials.items()):
            n_after, after = self._share(trial.at, float("inf"))
            if n_after < TRIAL_SENDS:
                continue
            del self._trials[kind]
            _, before = self._share(trial.at - 60.0, trial.at)
            if TRIAL_SAME_SHARE * before <= after < TRIAL_ALL_REFUSED:
                undo.append((kind, trial))
                self.quiet_until = now + NOISE_QUIET_S
        return undo


@dataclass
class _Fit:
    """Exponentially weighted sums for a straight-line fit of observed on estimated tokens."""

    w: float = 0.0
    sx: float = 0.0
    sy: float = 0.0
    sxx: float = 0.0
    sxy: float = 0.0

    def add(self, x: float, y: float) -> None:
        d = 1.0 - FIT_FORGET
        self.w, self.sx, self.sy = self.w * d + 1, self.sx * d + x, self.sy * d + y
        self.sxx, self.sxy = self.sxx * d + x * x, self.sxy * d + x * y


class CostLearner:
    """What a kind of call (model and image detail) really costs in input tokens, learned from
    ``usage.prompt_tokens``: observed ~ slope * text tokens (our characters / 4) + a fixed
    part (the image, the message framing), fitted by least squares with old calls fading out.
    Calls of one length only give the fixed part (slope 1). A provider that charges 255 tokens
    for an image where we guessed 85 is thus matched after a call or two, for long and short
    prompts alike."""

    def __init__(self) -> None:
        self._fits: dict[str, _Fit] = {}

    def observe(self, key: str, text_tokens: int, observed: int) -> None:
        if text_tokens < 0 or observed <= 0:
            return
        self._fits.setdefault(key, _Fit()).add(float(text_tokens), float(observed))

    def estimate(self, key: str, text_tokens: int, fixed_guess: int) -> int:
        """The input tokens a call of ``key`` with this much text will be charged."""
        f = self._fits.get(key)
        if f is None or f.w <= 0:
            return max(1, text_tokens + fixed_guess)
        mx, my = f.sx / f.w, f.sy / f.w
        var = f.sxx / f.w - mx * mx
        slope = (f.sxy / f.w - mx * my) / var if var > (0.05 * mx) ** 2 and var > 1 else 1.0
        slope = min(max(slope, 0.25), 4.0)
        return max(1, round(slope * text_tokens + (my - slope * mx)))
