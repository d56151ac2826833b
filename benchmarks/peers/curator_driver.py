"""Send the benchmark's requests with Bespoke Curator (run by the Curator venv's python).

Configured as Curator's docs describe for an OpenAI-compatible endpoint:
``backend="openai"`` with ``base_url``, ``api_key``, ``max_requests_per_minute`` and
``max_concurrent_requests``, and ``max_tokens_per_minute`` when the scenario tells one (with
none, Curator reads the server's ``x-ratelimit-*`` headers from a probe request). Prompts are
multimodal tuples ``(text, curator.types.Image(url=<data URL>))``; the response cache is off
(``CURATOR_DISABLE_CACHE=1``, set before import). Prints ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time

os.environ.setdefault("CURATOR_DISABLE_CACHE", "1")
os.environ.setdefault("TELEMETRY_ENABLED", "false")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def _offline_tiktoken() -> None:
    """Curator loads tiktoken's cl100k_base; offline, use the copy litellm ships."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("litellm")
    if spec and spec.origin:
        cache = Path(spec.origin).parent / "litellm_core_utils" / "tokenizers"
        if cache.is_dir():
            os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(cache))


_offline_tiktoken()

from bespokelabs import curator  # noqa: E402

MAX_TOKENS = 256


class Bench(curator.LLM):
    def prompt(self, row):  # type: ignore[no-untyped-def]
        return (row["prompt"], curator.types.Image(url=row["image_url"]))

    def parse(self, row, response):  # type: ignore[no-untyped-def]
        return {"id": row["id"], "response": response}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", required=True)
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--rpm", type=int, required=True)
    ap.add_argument("--concurrency", type=int, required=True)
    ap.add_argument("--tpm", type=int)
    args = ap.parse_args()
    with open(args.requests) as fh:
        rows = [json.loads(line) for line in fh]
    for row in rows:  # Curator reads what it needs; the mmevol-only keys are dropped
        row.pop("image_path", None)
        row.pop("image_digest", None)
    llm = Bench(
        model_name="fake-mllm",
        backend="openai",
        generation_params={"max_tokens": MAX_TOKENS, "temperature": 1.0},
        backend_params={
            "base_url": args.base_url,
            "api_key": os.environ.get("OPENAI_API_KEY", "sk-bench"),
            "max_requests_per_minute": args.rpm,
            "max_concurrent_requests": args.concurrency,
            "require_all_responses": False,
        }
        | ({"max_tokens_per_minute": args.tpm} if args.tpm else {}),
    )
    workdir = os.environ.get("WORKDIR") or tempfile.mkdtemp(prefix="curator-bench-")
    start = time.perf_counter()
    result = llm(rows, working_dir=workdir)
    wall = time.perf_counter() - start
    dataset = result.dataset if hasattr(result, "dataset") else result
    got = [r for r in dataset if r.get("response") is not None]
    out = {
        "wall_s": wall,
        "completed": len({r["id"] for r in got}),
        "failed": len(rows) - len({r["id"] for r in got}),
        "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "children_maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    }
    print("RESULT " + json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
