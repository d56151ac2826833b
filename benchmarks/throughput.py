"""Throughput at a rate limit: mmevol's OpenAI backend vs Bespoke Curator vs distilabel.

One command sends the same N multimodal requests (a distinct short prompt + a distinct
512x384 JPEG as a base64 data URL, byte-identical for every system) to the project's fake
OpenAI-compatible server on loopback: latency uniform in ``--latency`` (0.2-1.0 s, mean 0.6 s)
and an ``--rpm`` limit answered with 429 + Retry-After. Each system gets a fresh server (so the
server's counters are its own) and runs in its own subprocess:

* mmevol: ``OpenAIBackend`` with its admission controller (``concurrency``, ``rpm``);
* Curator: ``curator.LLM(backend="openai", backend_params={base_url, max_requests_per_minute,
  max_concurrent_requests, ...})`` with ``curator.types.Image`` prompts, cache disabled
  (``CURATOR_DISABLE_CACHE=1``) -- driver in ``benchmarks/peers/curator_driver.py``;
* distilabel: a ``Pipeline`` with ``TextGenerationWithImage`` on ``OpenAILLM(base_url=...)``,
  ``input_batch_size`` = concurrency, ``use_cache=False`` -- ``benchmarks/peers/distilabel_driver.py``.

Per system: achieved requests/s (N completed / wall of the send), its ratio to the limit
``min(concurrency / mean latency, rpm / 60)``, requests sent per request needed (server
``received`` / N: every extra one is a wasted 429), p50/p99 end-to-end latency as the server saw
it (first time a conversation arrived -> its first completed answer, retries included), peak
memory and failures. Writes ``benchmarks/results/throughput.{json,md}``.

    .venv/bin/python benchmarks/throughput.py [--n 300] [--rpm 600] [--concurrency 32]

The peers live in their own virtual environments (``--curator-python``,
``--distilabel-python``); a peer whose interpreter is missing is skipped and says so.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, ImageDraw

from mmevol.backends.fakeserver import FakeServerConfig, running_server

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PEERS = HERE / "peers"
ROOT = HERE.parent
SYSTEMS = ("mmevol", "curator", "distilabel")
MEAN_LATENCY_S = 0.6
MAX_TOKENS = 256
MODEL = "fake-mllm"
API_KEY = "sk-bench-not-a-secret"


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
async def _mmevol_send(requests: Path, base_url: str, rpm: int, concurrency: int) -> dict[str, Any]:
    from mmevol.backends.base import CallError, Message, ModelCall
    from mmevol.backends.openai_compat import OpenAIBackend
    from mmevol.schema import ImageRef

    os.environ["MMEVOL_BENCH_KEY"] = API_KEY
    backend = OpenAIBackend(
        MODEL,
        base_url=base_url,
        api_key_env="MMEVOL_BENCH_KEY",
        json_mode="none",
        concurrency=concurrency,
        rpm=rpm,
        timeout_s=120,
    )
    rows = [json.loads(line) for line in requests.read_text().splitlines()]
    calls = [
        ModelCall(
            task="evolve",
            template="bench",
            template_version="bench@1",
            messages=[Message(role="user", content=r["prompt"])],
            context={},
            image=ImageRef(path=r["image_path"], digest=r["image_digest"]),
            temperature=1.0,
            max_tokens=MAX_TOKENS,
        )
        for r in rows
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
    }


def mmevol_child(requests: Path, base_url: str, rpm: int, concurrency: int) -> dict[str, Any]:
    """Send every request through mmevol; what a driver prints (wall, results, ru_maxrss)."""
    out = asyncio.run(_mmevol_send(requests, base_url, rpm, concurrency))
    out["maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return out


# --- measuring one system --------------------------------------------------------------------------
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


class _Watcher(threading.Thread):
    """Samples the child's process-tree RSS and the server's counters every ``every`` s."""

    def __init__(self, pid: int, stats_url: str, n: int, every: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid, self.stats_url, self.n, self.every = pid, stats_url, n, every
        self.peak_kib = 0
        self.first_received: float | None = None
        self.last_completed: float | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._halt.is_set():
                now = time.monotonic()
                self.peak_kib = max(self.peak_kib, _tree_rss_kib(self.pid))
                try:
                    st = client.get(self.stats_url).json()
                except httpx.HTTPError:
                    st = {}
                if self.first_received is None and st.get("received", 0) > 0:
                    self.first_received = now
                if self.last_completed is None and st.get("completed", 0) >= self.n:
                    self.last_completed = now
                self._halt.wait(self.every)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


def _command(system: str, args: argparse.Namespace, requests: Path, url: str) -> list[str]:
    common = [
        "--requests",
        str(requests),
        "--base-url",
        url,
        "--rpm",
        str(args.rpm),
        "--concurrency",
        str(args.concurrency),
    ]
    if system == "mmevol":
        return [sys.executable, str(Path(__file__).resolve()), "--child", "mmevol", *common]
    python = args.curator_python if system == "curator" else args.distilabel_python
    return [python, str(PEERS / f"{system}_driver.py"), *common]


def measure(system: str, args: argparse.Namespace, requests: Path, workdir: Path) -> dict[str, Any]:
    """Run one system against a fresh fake server; its row of the table."""
    config = FakeServerConfig(
        port=0,
        latency=args.latency,
        rpm=args.rpm,
        fault_rate=0.0,
        bad_rate=0.0,
        broken_json_rate=0.0,
        seed=args.seed,
    )
    env = dict(os.environ)
    env.update(
        {
            "OPENAI_API_KEY": API_KEY,
            "CURATOR_DISABLE_CACHE": "1",
            "CURATOR_CACHE_DIR": str(workdir / f"{system}-cache"),
            "TELEMETRY_ENABLED": "false",
            "DISTILABEL_LOG_LEVEL": "WARNING",
            "TOKENIZERS_PARALLELISM": "false",
            "HF_HUB_OFFLINE": "1",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "WORKDIR": str(workdir / system),
        }
    )
    with running_server(config) as url:
        stats_url = url.replace("/v1", "/_fake/stats")
        log = workdir / f"{system}.log"
        with log.open("w") as fh:
            started = time.monotonic()
            proc = subprocess.Popen(
                _command(system, args, requests, url),
                stdout=subprocess.PIPE,
                stderr=fh,
                text=True,
                env=env,
                cwd=ROOT,
            )
            watcher = _Watcher(proc.pid, stats_url, args.n)
            watcher.start()
            stdout, _ = proc.communicate(timeout=args.timeout)
            watcher.stop()
            elapsed = time.monotonic() - started
        stats = httpx.get(stats_url, timeout=5).json()
    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = log.read_text()[-2000:]
        return {"system": system, "error": f"exit {proc.returncode}; stderr tail:\n{tail}"}
    out = json.loads(lines[-1][len("RESULT ") :])
    n = args.n
    limit = min(args.concurrency / MEAN_LATENCY_S, args.rpm / 60.0)
    rps = out["completed"] / out["wall_s"]
    span = None
    if watcher.first_received is not None and watcher.last_completed is not None:
        span = watcher.last_completed - watcher.first_received
    lat = stats.get("latency_s") or {}
    return {
        "system": system,
        "n": n,
        "completed": out["completed"],
        "failed": out["failed"],
        "wall_s": round(out["wall_s"], 3),
        "process_s": round(elapsed, 3),
        "server_span_s": round(span, 2) if span is not None else None,
        "requests_per_s": round(rps, 3),
        "ratio_to_limit": round(rps / limit, 3),
        "sent_per_needed": round(stats["received"] / n, 3),
        "server": {
            k: stats.get(k) for k in ("received", "completed", "repeated_completed", "by_status")
        },
        "with_image": stats.get("with_image"),
        "latency_p50_s": lat.get("p50"),
        "latency_p99_s": lat.get("p99"),
        "latency_mean_s": lat.get("mean"),
        "maxrss_mib": round(out["maxrss_kib"] / 1024, 1),
        "tree_peak_rss_mib": round(watcher.peak_kib / 1024, 1),
        "driver": {k: v for k, v in out.items() if k not in {"wall_s", "completed", "failed"}},
    }


NOTES = [
    "mmevol: `OpenAIBackend(concurrency, rpm, json_mode='none')`, every call through its "
    "endpoint's admission controller (requests/min bucket holding 0.5 s, checked again at the "
    "moment of sending; AIMD concurrency; shared Retry-After pause); all N calls gathered at once.",
    "Curator: `curator.LLM(backend='openai', backend_params={base_url, api_key, "
    "max_requests_per_minute, max_concurrent_requests, max_tokens_per_minute=1e9, "
    "require_all_responses=False})`, prompts `(text, curator.types.Image(url=data URL))`, "
    "`CURATOR_DISABLE_CACHE=1`. The high tokens/min is there because the endpoint has none: "
    "Curator's default (100k/min with a 4096-token output estimate for a model litellm does not "
    "know) would hold it near 0.4 requests/s. It makes one probe request (`messages: []`, "
    "answered 400) to read rate-limit headers; it counts in its requests sent. Offline, "
    "tiktoken's cl100k_base is read from the copy litellm ships (`TIKTOKEN_CACHE_DIR`).",
    "distilabel: `Pipeline` with `LoadDataFromDicts >> TextGenerationWithImage(llm=OpenAILLM("
    "base_url, api_key, model), image_type='url', input_batch_size=concurrency)`, "
    "`run(use_cache=False)`. distilabel has no requests/minute setting: each batch of "
    "`input_batch_size` requests goes out at once and 429s are retried by the OpenAI SDK "
    "(`max_retries=6`, waiting the server's `retry-after-ms`), so a batch far above the burst "
    "the server allows exhausts its retries; one failed request fails its whole batch "
    "(`asyncio.gather`), and its rows come back with `generation=None`. Its venv needed "
    "`requests` installed (distilabel 1.5.3 imports it without declaring it).",
    "Images: 512x384 PNGs rendered per request, sent as the JPEG data URL mmevol's encoder makes "
    "(the peers get that exact string; mmevol encodes it itself during its run, off the loop).",
]


# --- the report ------------------------------------------------------------------------------------
def _fmt(v: Any, spec: str = "") -> str:
    return "-" if v is None else format(v, spec)


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| system | completed | failed | wall s | req/s | ratio to limit | sent / needed "
        "| p50 s | p99 s | peak RSS MiB (process / tree) |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n"
    )
    body = []
    for r in rows:
        if "error" in r:
            body.append(f"| {r['system']} | error: {r['error'].splitlines()[0]} |||||||||")
            continue
        body.append(
            f"| {r['system']} | {r['completed']}/{r['n']} | {r['failed']} | {r['wall_s']:.1f} "
            f"| {r['requests_per_s']:.2f} | {r['ratio_to_limit']:.3f} "
            f"| {r['sent_per_needed']:.3f} | {_fmt(r['latency_p50_s'], '.2f')} "
            f"| {_fmt(r['latency_p99_s'], '.2f')} "
            f"| {r['maxrss_mib']:.0f} / {r['tree_peak_rss_mib']:.0f} |"
        )
    return head + "\n".join(body) + "\n"


def verdict(rows: list[dict[str, Any]]) -> list[str]:
    """The goals for mmevol and, plainly, every column where a peer does better."""
    ok = {r["system"]: r for r in rows if "error" not in r}
    lines: list[str] = []
    me = ok.get("mmevol")
    if me is None:
        return ["mmevol did not finish: no verdict."]
    peers = [r for s, r in ok.items() if s != "mmevol"]
    best = max(peers, key=lambda r: r["requests_per_s"], default=None)
    lines.append(
        f"mmevol: {me['ratio_to_limit']:.3f} of the limit (goal >= 0.95: "
        f"{'met' if me['ratio_to_limit'] >= 0.95 else 'MISSED'}); "
        f"{me['sent_per_needed']:.3f} requests sent per request needed (goal <= 1.02: "
        f"{'met' if me['sent_per_needed'] <= 1.02 else 'MISSED'})."
    )
    if best is not None:
        x = me["requests_per_s"] / best["requests_per_s"]
        lines.append(
            f"mmevol vs the faster peer ({best['system']}): {x:.2f}x requests/s "
            f"(goal >= 1.2x: {'met' if x >= 1.2 else 'MISSED'})."
        )
        if x < 1.2 and best["ratio_to_limit"] * 1.2 > 1.0:
            lines.append(
                f"The 1.2x goal cannot be met here: {best['system']} already runs at "
                f"{best['ratio_to_limit']:.3f} of the limit and no client can go above the "
                f"limit, so the most any system can have over it is "
                f"{1 / best['ratio_to_limit']:.2f}x."
            )
    for p in peers:  # a "win" is a margin of more than 2 %, not a rounding difference
        wins = []
        if p["requests_per_s"] > 1.02 * me["requests_per_s"]:
            wins.append(
                f"more requests/s ({p['requests_per_s']:.2f} vs {me['requests_per_s']:.2f})"
            )
        if p["sent_per_needed"] < me["sent_per_needed"] - 0.02:
            wins.append(f"fewer requests sent ({p['sent_per_needed']:.3f})")
        for key, name in (("latency_p50_s", "p50"), ("latency_p99_s", "p99")):
            if p[key] is not None and me[key] is not None and p[key] < 0.98 * me[key]:
                wins.append(f"lower {name} latency ({p[key]:.2f} s vs {me[key]:.2f} s)")
        if p["maxrss_mib"] < 0.98 * me["maxrss_mib"]:
            wins.append(f"lower process peak RSS ({p['maxrss_mib']:.0f} MiB)")
        if p["tree_peak_rss_mib"] < 0.98 * me["tree_peak_rss_mib"]:
            wins.append(f"lower process-tree peak RSS ({p['tree_peak_rss_mib']:.0f} MiB)")
        if p["failed"] < me["failed"]:
            wins.append("fewer failures")
        lines.append(
            f"Where {p['system']} wins: "
            + ("; ".join(wins) if wins else "nowhere in this table (by more than 2 %).")
        )
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=300, help="requests per system")
    ap.add_argument("--rpm", type=int, default=600, help="the server's requests/minute limit")
    ap.add_argument("--concurrency", type=int, default=32, help="concurrent requests allowed")
    ap.add_argument("--latency", default="0.2,1.0", help="server latency range, seconds")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--curator-python", default="/work/peers/curator/bin/python")
    ap.add_argument("--distilabel-python", default="/work/peers/distilabel/bin/python")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per system")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--name", default="throughput", help="results file stem")
    ap.add_argument("--child", choices=["mmevol"], help=argparse.SUPPRESS)
    ap.add_argument("--requests", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--base-url", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child == "mmevol":
        out = mmevol_child(args.requests, args.base_url, args.rpm, args.concurrency)
        print("RESULT " + json.dumps(out), flush=True)
        return 0

    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    rows: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="mmevol-throughput-") as tmp:
        workdir = Path(tmp)
        t = time.perf_counter()
        requests = build_requests(args.n, workdir / "requests")
        first = json.loads(requests.read_text().splitlines()[0])
        print(
            f"built {args.n} requests in {time.perf_counter() - t:.1f} s "
            f"(image data URL {len(first['image_url']) / 1024:.1f} KiB)",
            flush=True,
        )
        for system in systems:
            python = {"curator": args.curator_python, "distilabel": args.distilabel_python}.get(
                system
            )
            if python is not None and not Path(python).exists():
                skipped[system] = f"interpreter {python} not found"
                print(f"{system}: skipped ({skipped[system]})", flush=True)
                continue
            print(f"{system}: sending {args.n} requests ...", flush=True)
            row = measure(system, args, requests, workdir)
            rows.append(row)
            if "error" in row:
                print(f"{system}: FAILED: {row['error']}", flush=True)
            else:
                print(
                    f"{system}: {row['completed']}/{args.n} in {row['wall_s']:.1f} s, "
                    f"{row['requests_per_s']:.2f} req/s, sent/needed {row['sent_per_needed']:.3f}",
                    flush=True,
                )
    limit = min(args.concurrency / MEAN_LATENCY_S, args.rpm / 60.0)
    versions = {
        "curator": _peer_version(args.curator_python, "bespokelabs-curator"),
        "distilabel": _peer_version(args.distilabel_python, "distilabel"),
    }
    command = ".venv/bin/python benchmarks/throughput.py " + " ".join(
        f"--{k} {v}"
        for k, v in (("n", args.n), ("rpm", args.rpm), ("concurrency", args.concurrency))
    )
    if args.name != "throughput":
        command += f" --name {args.name}"
    report = {
        "command": command,
        "machine": machine(),
        "settings": {
            "n": args.n,
            "rpm": args.rpm,
            "concurrency": args.concurrency,
            "latency_s": args.latency,
            "mean_latency_s": MEAN_LATENCY_S,
            "limit_requests_per_s": round(limit, 3),
            "image": "512x384 JPEG data URL (mmevol's encoder), distinct per request",
            "max_tokens": MAX_TOKENS,
        },
        "peer_versions": versions,
        "skipped": skipped,
        "rows": rows,
        "verdict": verdict(rows),
    }
    md = render_markdown(report)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n")
        (args.out / f"{args.name}.md").write_text(md)
    print()
    print(md)
    return 0


def render_markdown(report: dict[str, Any]) -> str:
    s, m = report["settings"], report["machine"]
    lines = [
        "# Throughput at a rate limit",
        "",
        f"Command: `{report['command']}`",
        "",
        f"Machine: {m['platform']}, {m['cpus']} CPUs ({m['cpus_usable']} usable), "
        f"Python {m['python']}. Peers: bespokelabs-curator {report['peer_versions']['curator']}, "
        f"distilabel {report['peer_versions']['distilabel']}.",
        "",
        f"Fake OpenAI-compatible server on loopback, latency uniform {s['latency_s']} s, "
        f"{s['rpm']} requests/min (429 + Retry-After above it), a fresh server per system. "
        f"{s['n']} requests, each a distinct prompt + a distinct {s['image']}; every system "
        f"allowed {s['concurrency']} concurrent requests and {s['rpm']} rpm. "
        f"Limit = min({s['concurrency']} / {s['mean_latency_s']} s, {s['rpm']} / 60) = "
        f"{s['limit_requests_per_s']} requests/s.",
        "",
        table(report["rows"]),
        "req/s = completed / the driver's wall time of the whole send (its setup and imports "
        "excluded); sent / needed = requests the server received / requests needed (each extra "
        "one is a 429 or a repeat); p50/p99 = end-to-end latency the server measured from a "
        "conversation's first arrival to its first answer, retries included; peak RSS: the "
        "driver's own `ru_maxrss`, and the sampled peak of its whole process tree.",
        "",
    ]
    for r in report["rows"]:
        if "error" in r:
            continue
        lines.append(
            f"- {r['system']}: server saw {r['server']['received']} requests, statuses "
            f"{r['server']['by_status']}; first arrival to last answer "
            f"{_fmt(r['server_span_s'])} s; subprocess total {r['process_s']:.1f} s."
        )
    for name, why in report["skipped"].items():
        lines.append(f"- {name}: skipped ({why}).")
    lines += ["", "## Verdict", ""] + [f"- {v}" for v in report["verdict"]]
    lines += ["", "## How each system was set up", ""] + [f"- {n}" for n in NOTES] + [""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
