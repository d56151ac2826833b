"""Throughput at a realistic provider's limits: mmevol's OpenAI backend vs Bespoke Curator vs
distilabel, the same work timed the same way for each.

The server is the project's fake OpenAI-compatible server in its provider mode
(``mmevol fake-server --provider-*``, its own process, a fresh one per run): continuously
refilled request and token buckets holding 1 s, 429 with an integer ``Retry-After`` (>= 1 s),
OpenAI's error body and ``x-ratelimit-*`` headers on every reply, tokens charged at arrival as
text/4 + 255 per image + ``max_tokens`` (never refunded), lognormal latency (median 0.5 s,
p99 2 s), and optionally a share of 5xx answers. Every system sends the same N requests (a
distinct prompt + a distinct 512x384 JPEG data URL; mmevol's encoder makes the data URLs before
any clock starts, and mmevol's own encoder cache is filled with them before its timer starts)
and is told the same things (concurrency, requests/min, tokens/min where the scenario tells
one). Scenarios (``SCENARIOS``):

* ``rpm600``: the server allows 600 requests/min; everyone is told so; concurrency 64;
* ``nolimit``: no rate limit; concurrency 32; the bound is what an ideal client keeping 32
  calls in flight at every instant (no overhead at all) would take on the latencies the
  server drew in that run (``ideal_span``); concurrency / mean latency is shown beside it;
* ``wrong_rpm_5xx``: the server allows 300/min and answers 10 % of what it accepts with a 5xx;
  everyone is told 600/min;
* ``tpm160k``: 160k tokens/min binds before the 600 requests/min; nobody is told the tokens.

Measured per run, on the server's clock (``/_fake/stats`` "limits"): the binding limit's use
(accepted requests, or charged tokens, per minute from the first arrival to the last
completion, over the limit; for ``nolimit``: the ideal client's span over the run's span),
requests sent per request needed (arrivals / (N + the 5xx answers the server chose
to give, which any client has to ask again)), 429s, answers the server completed that the
system did not return (paid, then lost); on the driver's clock: wall time and completed
requests. Three interleaved repetitions (each repetition runs every scenario and system in
turn); the 1-minute load average before each run is recorded. Writes
``benchmarks/results/throughput.{json,md}``.

    .venv/bin/python benchmarks/throughput.py [--n 300] [--reps 3] [--scenarios ...]

The peers run from their own virtual environments (``--curator-python``,
``--distilabel-python``: bespokelabs-curator 0.1.31 and distilabel[openai] 1.5.3); a peer
whose interpreter is missing is skipped and says so.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import heapq
import json
import math
import os
import platform
import random
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from statistics import median
from typing import Any

import httpx
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PEERS = HERE / "peers"
ROOT = HERE.parent
SYSTEMS = ("mmevol", "curator", "distilabel")
MAX_TOKENS = 256
MODEL = "fake-mllm"
API_KEY = "sk-bench-not-a-secret"
LATENCY_MEDIAN_S, LATENCY_P99_S = 0.5, 2.0
NO_TOKEN_LIMIT = (
    1_000_000_000  # what "the endpoint has no token limit" is told as (Curator needs a number)
)
NO_REQUEST_LIMIT = 1_000_000
SCENARIOS: dict[str, dict[str, Any]] = {
    "rpm600": {"server": {"rpm": 600}, "told": {"rpm": 600, "tpm": NO_TOKEN_LIMIT},
               "concurrency": 64, "binding": ("requests", 600)},
    "nolimit": {"server": {}, "told": {"rpm": NO_REQUEST_LIMIT, "tpm": NO_TOKEN_LIMIT},
                "concurrency": 32, "binding": ("concurrency", None)},
    "wrong_rpm_5xx": {"server": {"rpm": 300, "error_rate": 0.1},
                      "told": {"rpm": 600, "tpm": NO_TOKEN_LIMIT},
                      "concurrency": 64, "binding": ("requests", 300)},
    "tpm160k": {"server": {"rpm": 600, "tpm": 160_000}, "told": {"rpm": 600},
                "concurrency": 64, "binding": ("tokens", 160_000)},
}  # fmt: skip


def mean_latency() -> float:
    """The lognormal's mean from its median and 99th percentile."""
    sigma = math.log(LATENCY_P99_S / LATENCY_MEDIAN_S) / 2.326
    return LATENCY_MEDIAN_S * math.exp(sigma**2 / 2)


# --- the requests ------------------------------------------------------------------------------
def render_image(i: int, size: tuple[int, int] = (512, 384)) -> Image.Image:
    """A distinct picture per ``i``: a gradient, a dozen shapes and a little noise."""
    rng = random.Random(i)
    w, h = size
    base = tuple(rng.randrange(256) for _ in range(3))
    img = Image.linear_gradient("L").resize(size).convert("RGB")
    img = Image.blend(img, Image.new("RGB", size, base), 0.6)  # type: ignore[arg-type]
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        x1, y1 = x0 + rng.randrange(20, 160), y0 + rng.randrange(20, 160)
        fill = tuple(rng.randrange(256) for _ in range(3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape([x0, y0, x1, y1], fill=fill, outline=(0, 0, 0))  # type: ignore[arg-type]
    noise = Image.effect_noise(size, 24).convert("RGB")
    return Image.blend(img, noise, 0.12)


def build_requests(n: int, folder: Path) -> Path:
    """Render ``n`` images (PNG files) and write ``requests.jsonl``; return its path.

    Each line: id, prompt, image path + digest (what mmevol reads) and the JPEG data URL that
    mmevol's own encoder makes of that file (what the peers send): the same bytes on the wire.
    """
    from mmevol.backends.payload import image_data_url
    from mmevol.schema import ImageRef

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "requests.jsonl"
    with path.open("w") as fh:
        for i in range(n):
            png = folder / f"img_{i:05d}.png"
            render_image(i).save(png, compress_level=1)
            digest = hashlib.sha256(png.read_bytes()).hexdigest()
            url = image_data_url(ImageRef(path=str(png), digest=digest), 512)
            prompt = f"Request {i}: in one sentence, what shapes and colours are in this image?"
            row = {"id": i, "prompt": prompt, "image_path": str(png), "image_digest": digest}
            row["image_url"] = url
            fh.write(json.dumps(row) + "\n")
    return path


# --- the mmevol child ----------------------------------------------------------------------------
async def _mmevol_send(requests: Path, base_url: str, told: dict[str, Any],
                       concurrency: int) -> dict[str, Any]:  # fmt: skip
    from mmevol.backends import payload
    from mmevol.backends.openai_compat import OpenAIBackend
    from mmevol.calls import CallError, Message, ModelCall
    from mmevol.schema import ImageRef

    os.environ["MMEVOL_BENCH_KEY"] = API_KEY
    backend = OpenAIBackend(
        MODEL,
        base_url=base_url,
        api_key_env="MMEVOL_BENCH_KEY",
        json_mode="none",
        concurrency=concurrency,
        rpm=told.get("rpm"),
        tpm=told.get("tpm"),
        timeout_s=120,
    )
    rows = [json.loads(line) for line in requests.read_text().splitlines()]
    images = [ImageRef(path=r["image_path"], digest=r["image_digest"]) for r in rows]
    payload.CACHE.maxsize = max(payload.CACHE.maxsize, len(images))
    for image in images:  # the peers get the data URLs ready-made: so does mmevol
        payload.image_data_url(image, 512)
    calls = [
        ModelCall(
            task="evolve",
            template="bench",
            template_version="bench@1",
            messages=[Message(role="user", content=r["prompt"])],
            context={},
            image=image,
            temperature=1.0,
            max_tokens=MAX_TOKENS,
        )
        for r, image in zip(rows, images, strict=True)
    ]
    failures: list[str] = []

    async def one(call: ModelCall) -> bool:
        try:
            await backend.complete(call)
            return True
        except CallError as err:
            failures.append(f"{err.error_class}: {err}")
            return False

    start = time.perf_counter()
    done = await asyncio.gather(*(one(c) for c in calls))
    wall = time.perf_counter() - start
    await backend.aclose()
    return {
        "wall_s": wall,
        "completed": sum(done),
        "failed": len(done) - sum(done),
        "errors": failures[:5],
        "client": backend.admission.counters.snapshot(),
        "encodes_in_window": payload.CACHE.encodes - len(images),
    }


def mmevol_child(
    requests: Path, base_url: str, told: dict[str, Any], concurrency: int
) -> dict[str, Any]:
    """Send every request through mmevol; what a driver prints (wall, results, ru_maxrss)."""
    out = asyncio.run(_mmevol_send(requests, base_url, told, concurrency))
    out["maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return out


def _tree_rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants (Linux /proc), in KiB."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            parents[int(entry)] = int(fields[1])
            rss[int(entry)] = int(fields[21]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo.extend(c for c, pp in parents.items() if pp == p)
    return total


class _PeakRss(threading.Thread):
    """Samples the child's process-tree RSS every ``every`` seconds."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.peak_kib = pid, every, 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak_kib = max(self.peak_kib, _tree_rss_kib(self.pid))
            self._halt.wait(self.every)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


def start_server(scenario: dict[str, Any], seed: int) -> tuple[subprocess.Popen[bytes], str]:
    """A fresh provider-mode fake server in its own process; (process, root URL)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = scenario["server"]
    opts = ["--latency-median", str(LATENCY_MEDIAN_S), "--latency-p99", str(LATENCY_P99_S),
            "--bad-rate", "0", "--broken-json-rate", "0", "--seed", str(seed)]  # fmt: skip
    for key, flag in (("rpm", "--provider-rpm"), ("tpm", "--provider-tpm"),
                      ("error_rate", "--error-rate")):  # fmt: skip
        if key in server:
            opts += [flag, str(server[key])]
    cmd = [sys.executable, "-m", "mmevol.cli", "fake-server", "--port", str(port), *opts]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    root = f"http://127.0.0.1:{port}"
    for _ in range(400):
        try:
            httpx.get(f"{root}/_fake/stats", timeout=1)
            return proc, root
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the fake server did not start")


def _command(
    system: str, args: argparse.Namespace, name: str, requests: Path, url: str
) -> list[str]:
    sc = SCENARIOS[name]
    common = ["--requests", str(requests), "--base-url", url,
              "--rpm", str(sc["told"]["rpm"]), "--concurrency", str(sc["concurrency"])]  # fmt: skip
    if sc["told"].get("tpm"):
        common += ["--tpm", str(sc["told"]["tpm"])]
    if system == "mmevol":
        return [sys.executable, str(Path(__file__).resolve()), "--child", "mmevol", *common]
    python = args.curator_python if system == "curator" else args.distilabel_python
    return [python, str(PEERS / f"{system}_driver.py"), *common]


def ideal_span(latencies: list[float], concurrency: int) -> float:
    """How long the same calls take a client that keeps ``concurrency`` of them in flight at
    every instant with no overhead: each call starts when the earliest slot frees."""
    slots = [0.0] * concurrency
    end = 0.0
    for latency in latencies:
        start = heapq.heappop(slots)
        end = max(end, start + latency)
        heapq.heappush(slots, start + latency)
    return end


def limit_use(name: str, lim: dict[str, Any]) -> float | None:
    """The binding limit's use over the run, on the server's clock (see the module doc)."""
    span = lim.get("span_s")
    if not span:
        return None
    kind, limit = SCENARIOS[name]["binding"]
    if kind == "concurrency":
        return ideal_span(lim["latencies_s"], SCENARIOS[name]["concurrency"]) / span
    if kind == "tokens":
        return lim["tokens_charged"] * 60 / span / limit
    accepted = lim["received"] - sum(lim["rejected_429"].values())
    return accepted * 60 / span / limit


def measure(system: str, name: str, rep: int, args: argparse.Namespace, requests: Path,
            workdir: Path) -> dict[str, Any]:  # fmt: skip
    """Run one system on one scenario against a fresh server; its row."""
    env = dict(os.environ)
    env.update({
        "OPENAI_API_KEY": API_KEY, "CURATOR_DISABLE_CACHE": "1",
        "CURATOR_CACHE_DIR": str(workdir / f"{system}-{name}-{rep}-cache"),
        "TELEMETRY_ENABLED": "false", "DISTILABEL_LOG_LEVEL": "WARNING",
        "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True", "WORKDIR": str(workdir / f"{system}-{name}-{rep}"),
    })  # fmt: skip
    load = os.getloadavg()[0]
    proc_server, root = start_server(SCENARIOS[name], seed=rep)
    try:
        log = workdir / f"{system}-{name}-{rep}.log"
        with log.open("w") as fh:
            proc = subprocess.Popen(_command(system, args, name, requests, f"{root}/v1"),
                                    stdout=subprocess.PIPE, stderr=fh, text=True, env=env,
                                    cwd=ROOT)  # fmt: skip
            rss = _PeakRss(proc.pid)
            rss.start()
            try:
                stdout, _ = proc.communicate(timeout=args.timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                stdout, _ = proc.communicate()
            rss.stop()
        stats = httpx.get(f"{root}/_fake/stats", timeout=5).json()
    finally:
        proc_server.terminate()
        proc_server.wait(10)
    row: dict[str, Any] = {"system": system, "scenario": name, "rep": rep,
                           "load_1min_before": round(load, 2)}  # fmt: skip
    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        row["error"] = f"exit {proc.returncode}; stderr tail: {log.read_text()[-600:]}"
        return row
    out = json.loads(lines[-1][len("RESULT ") :])
    lim = stats["limits"]
    needed = args.n + lim["server_errors"]
    use = limit_use(name, lim)
    row |= {
        "completed": out["completed"],
        "failed": out["failed"],
        "wall_s": round(out["wall_s"], 3),
        "driver_requests_per_s": round(out["completed"] / out["wall_s"], 3),
        "server_span_s": lim["span_s"],
        "limit_use": None if use is None else round(use, 3),
        "use_of_concurrency_over_mean_latency": round(
            lim["completed"] / lim["span_s"] / (SCENARIOS[name]["concurrency"] / mean_latency()), 3
        ),
        "sent_per_needed": round(lim["received"] / needed, 3),
        "sent_per_item": round(lim["received"] / args.n, 3),
        "received": lim["received"],
        "rejected_429": sum(lim["rejected_429"].values()),
        "server_errors": lim["server_errors"],
        "tokens_charged": lim["tokens_charged"],
        "server_completed": lim["completed"],
        "paid_then_lost": max(0, lim["completed"] - out["completed"]),
        "repeated_completed": stats.get("repeated_completed"),
        "maxrss_mib": round(out["maxrss_kib"] / 1024, 1),
        "tree_peak_rss_mib": round(rss.peak_kib / 1024, 1),
        "driver": {k: v for k, v in out.items() if k not in {"wall_s", "completed", "failed"}},
    }
    return row


NOTES = [
    "mmevol: `OpenAIBackend(concurrency, rpm, tpm, json_mode='none')`, every call through its "
    "endpoint's admission controller: request and token buckets paced at the limits in force "
    "(the configured ones, lowered to what the server states in `x-ratelimit-limit-*` or a "
    "429's message, or learned from what it accepted); token reservations corrected by what "
    "`usage` says calls cost; a 429 waits its Retry-After without using up an attempt; a 5xx "
    "is retried with backoff and is not taken for a rate signal; told no rate at all, one call "
    "goes first and the rest wait for its answer's headers.",
    "Curator: `curator.LLM(backend='openai', backend_params={base_url, api_key, "
    "max_requests_per_minute, max_concurrent_requests, [max_tokens_per_minute], "
    "require_all_responses=False})`, prompts `(text, curator.types.Image(url=data URL))`, "
    "`CURATOR_DISABLE_CACHE=1`. Told no tokens/min it reads the server's headers from a probe "
    "request (`messages: []`), which counts in its requests sent. Where the endpoint has no "
    "token limit every system is told 1e9 tokens/min (Curator's default of 100k with a "
    "4096-token output guess would otherwise throttle it).",
    "distilabel: `Pipeline` with `LoadDataFromDicts >> TextGenerationWithImage(llm=OpenAILLM("
    "base_url, api_key, model), image_type='url', input_batch_size=concurrency)`, "
    "`run(use_cache=False)`. distilabel has no requests/min or tokens/min setting: each batch "
    "of `input_batch_size` requests goes out at once and 429s are retried by the OpenAI SDK "
    "(`max_retries=6`, honouring `Retry-After`); one request that fails fails its whole batch "
    "(`asyncio.gather`) and those rows come back with `generation=None`, although the server "
    "answered (and charged) the others of the batch: 'paid then lost'.",
]


def _med(rows: list[dict[str, Any]], key: str) -> float | None:
    vals = [r[key] for r in rows if r.get(key) is not None]
    return round(median(vals), 3) if vals else None


def summarize(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name in dict.fromkeys(r["scenario"] for r in rows):
        for system in dict.fromkeys(r["system"] for r in rows if r["scenario"] == name):
            runs = [r for r in rows if r["scenario"] == name and r["system"] == system]
            ok = [r for r in runs if "error" not in r]
            out.setdefault(name, {})[system] = {
                "runs": len(runs),
                "errors": len(runs) - len(ok),
                "limit_use": _med(ok, "limit_use"),
                "use_of_concurrency_over_mean_latency": _med(
                    ok, "use_of_concurrency_over_mean_latency"
                ),
                "sent_per_needed": _med(ok, "sent_per_needed"),
                "sent_per_item": _med(ok, "sent_per_item"),
                "driver_requests_per_s": _med(ok, "driver_requests_per_s"),
                "rejected_429": _med(ok, "rejected_429"),
                "failed": sum(r["failed"] for r in ok),
                "paid_then_lost": sum(r["paid_then_lost"] for r in ok),
                "tree_peak_rss_mib": _med(ok, "tree_peak_rss_mib"),
            }
    return out


def verdict(summary: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """Per scenario: mmevol against the goals (>= 0.97 of the limit, <= 1.05 sent per needed,
    ahead of or tied with the better peer: within 2 %), and every place a peer does better."""
    lines = []
    for name, by in summary.items():
        me = by.get("mmevol")
        if not me or me["limit_use"] is None:
            lines.append(f"{name}: mmevol did not finish.")
            continue
        peers = {s: r for s, r in by.items() if s != "mmevol" and r["limit_use"] is not None}
        best = max(peers.items(), key=lambda kv: kv[1]["limit_use"], default=None)
        parts = [f"{name}: mmevol {me['limit_use']:.3f} of the limit "
                 f"({'met' if me['limit_use'] >= 0.97 else 'MISSED'} >= 0.97), "
                 f"{me['sent_per_needed']:.3f} sent per needed "
                 f"({'met' if me['sent_per_needed'] <= 1.05 else 'MISSED'} <= 1.05)"]  # fmt: skip
        if best:
            s, b = best
            tied = me["limit_use"] >= 0.98 * b["limit_use"]
            parts.append(f"the better peer ({s}) {b['limit_use']:.3f}: mmevol "
                         f"{'ahead or tied' if tied else 'BEHIND'}")  # fmt: skip
        for s, r in peers.items():
            wins = []
            if r["limit_use"] > 1.02 * me["limit_use"]:
                wins.append("more of the limit")
            if r["sent_per_needed"] < me["sent_per_needed"] - 0.02:
                wins.append(f"fewer requests sent ({r['sent_per_needed']:.3f})")
            if r["failed"] < me["failed"]:
                wins.append("fewer failures")
            if wins:
                parts.append(f"{s} does better on: {', '.join(wins)}")
        lines.append("; ".join(parts) + ".")
    return lines


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
    }


def _peer_version(python: str, module: str) -> str | None:
    code = f"import importlib.metadata as m; print(m.version({module!r}))"
    try:
        res = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    except OSError:
        return None
    return res.stdout.strip() or None


def render_markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# Throughput at a realistic provider's limits",
        "",
        f"Command: `{report['command']}`",
        "",
        f"Machine: {m['platform']}, {m['cpus']} CPUs ({m['cpus_usable']} usable), Python "
        f"{m['python']}. Peers: bespokelabs-curator {report['peer_versions']['curator']}, "
        f"distilabel {report['peer_versions']['distilabel']}. {report['n']} requests per run, "
        f"{report['reps']} interleaved repetitions; medians shown. Latency lognormal, median "
        f"{LATENCY_MEDIAN_S} s, p99 {LATENCY_P99_S} s (mean {mean_latency():.3f} s).",
        "",
        "| scenario | system | limit use | sent / needed | sent / item | 429s | req/s (driver) "
        "| failed | paid then lost | peak RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, by in report["summary"].items():
        for system, r in by.items():
            if r["limit_use"] is None:
                lines.append(f"| {name} | {system} | errors: {r['errors']}/{r['runs']} "
                             "||||||||")  # fmt: skip
                continue
            lines.append(
                f"| {name} | {system} | {r['limit_use']:.3f} | {r['sent_per_needed']:.3f} "
                f"| {r['sent_per_item']:.3f} | {r['rejected_429']:g} "
                f"| {r['driver_requests_per_s']:.2f} | {r['failed']} | {r['paid_then_lost']} "
                f"| {r['tree_peak_rss_mib']:.0f} |"
            )
    lines += [
        "",
        "Limit use: on the server's clock, from the first arrival to the last completion, the "
        "accepted requests (or charged tokens) per minute over the binding limit; for "
        "`nolimit`, the span an ideal client would take (one that keeps every slot busy at every "
        "instant, with no overhead, on the latencies the server drew in that run) over the "
        "run's span. Sent / needed: "
        "arrivals at the server over (N + the 5xx answers the server gave, which any client "
        "must ask again). Sent / item: arrivals over N. Failed and paid-then-lost are summed "
        "over the repetitions.",
        "",
        "## Scenarios",
        "",
    ]
    for name, sc in SCENARIOS.items():
        if name in report["summary"]:
            lines.append(f"- `{name}`: server {sc['server'] or 'no rate limit'}; every system "
                         f"told {sc['told']}, concurrency {sc['concurrency']}.")  # fmt: skip
    if "nolimit" in report["summary"]:
        bound = {
            s: r["use_of_concurrency_over_mean_latency"]
            for s, r in report["summary"]["nolimit"].items()
            if r["limit_use"] is not None
        }
        lines += ["", "`nolimit` measured instead against concurrency / mean latency (a bound "
                  f"no client reaches in {report['n']} calls: start and the last calls' "
                  "long tail are in the span): "
                  + ", ".join(f"{s} {v:.3f}" for s, v in bound.items()) + "."]  # fmt: skip
    lines += ["", "## Verdict", ""] + [f"- {v}" for v in report["verdict"]]
    lines += ["", "## How each system was set up", ""] + [f"- {n}" for n in NOTES] + [""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=300, help="requests per run")
    ap.add_argument("--reps", type=int, default=3, help="interleaved repetitions")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--curator-python", default="/work/peers/curator/bin/python")
    ap.add_argument("--distilabel-python", default="/work/peers/distilabel/bin/python")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per run")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--name", default="throughput", help="results file stem")
    ap.add_argument("--child", choices=["mmevol"], help=argparse.SUPPRESS)
    ap.add_argument("--requests", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--base-url", help=argparse.SUPPRESS)
    ap.add_argument("--rpm", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--tpm", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--concurrency", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child == "mmevol":
        told = {"rpm": args.rpm, "tpm": args.tpm}
        out = mmevol_child(args.requests, args.base_url, told, args.concurrency)
        print("RESULT " + json.dumps(out), flush=True)
        return 0

    names = [s for s in args.scenarios.split(",") if s]
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        ap.error(f"--scenarios: unknown {sorted(unknown)}; known: {', '.join(SCENARIOS)}")
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    skipped: dict[str, str] = {}
    for system, python in (("curator", args.curator_python),
                           ("distilabel", args.distilabel_python)):  # fmt: skip
        if system in systems and not Path(python).exists():
            skipped[system] = f"interpreter {python} not found"
            systems.remove(system)
            print(f"{system}: skipped ({skipped[system]})", flush=True)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="mmevol-throughput-") as tmp:
        workdir = Path(tmp)
        requests = build_requests(args.n, workdir / "requests")
        for rep in range(args.reps):
            for name in names:
                for system in systems:
                    row = measure(system, name, rep, args, requests, workdir)
                    rows.append(row)
                    brief = {k: row.get(k) for k in ("limit_use", "sent_per_needed", "failed",
                                                     "paid_then_lost", "error")}  # fmt: skip
                    print(f"rep {rep} {name} {system}: {brief}", flush=True)
    summary = summarize(rows)
    command = ".venv/bin/python benchmarks/throughput.py " + " ".join(
        f"--{k} {v}"
        for k, v in (("n", args.n), ("reps", args.reps), ("scenarios", ",".join(names)))
    )
    report = {
        "command": command,
        "machine": machine(),
        "n": args.n,
        "reps": args.reps,
        "scenarios": {n: SCENARIOS[n] for n in names},
        "latency": {
            "median_s": LATENCY_MEDIAN_S,
            "p99_s": LATENCY_P99_S,
            "mean_s": round(mean_latency(), 4),
        },
        "max_tokens": MAX_TOKENS,
        "peer_versions": {
            "curator": _peer_version(args.curator_python, "bespokelabs-curator"),
            "distilabel": _peer_version(args.distilabel_python, "distilabel"),
        },
        "skipped": skipped,
        "summary": summary,
        "verdict": verdict(summary),
        "rows": rows,
    }
    md = render_markdown(report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / f"{args.name}.md").write_text(md)
    print()
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
