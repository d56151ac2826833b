"""Send the benchmark's requests with distilabel (run by the distilabel venv's python).

Configured as distilabel's docs describe for an OpenAI-compatible endpoint: a ``Pipeline``
with ``LoadDataFromDicts`` >> ``TextGenerationWithImage(llm=OpenAILLM(base_url=..., api_key=...,
model=...), image_type="url")``; the step's ``input_batch_size`` is the concurrency (each batch
is sent concurrently by ``AsyncLLM``). distilabel has no requests/minute setting of its own:
429s are retried by the OpenAI SDK (``max_retries``, default 6, honouring Retry-After).
``pipeline.run(use_cache=False)`` so every request is really sent. The image goes as the
same base64 JPEG data URL the other systems send. Prints ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sys
import tempfile
import time

MAX_TOKENS = 256


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", required=True)
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--rpm", type=int, required=True)  # no distilabel setting takes it
    ap.add_argument("--concurrency", type=int, required=True)
    ap.add_argument("--tpm", type=int)  # no distilabel setting takes it either
    args = ap.parse_args()

    from distilabel.models.llms import OpenAILLM
    from distilabel.pipeline import Pipeline
    from distilabel.steps import LoadDataFromDicts
    from distilabel.steps.tasks import TextGenerationWithImage

    with open(args.requests) as fh:
        rows = [
            {"id": r["id"], "instruction": r["prompt"], "image": r["image_url"]}
            for r in map(json.loads, fh)
        ]
    workdir = os.environ.get("WORKDIR") or tempfile.mkdtemp(prefix="distilabel-bench-")
    with Pipeline(name="mmevol-throughput", cache_dir=os.path.join(workdir, "cache")) as pipeline:
        load = LoadDataFromDicts(data=rows, batch_size=args.concurrency)
        generate = TextGenerationWithImage(
            llm=OpenAILLM(
                model="fake-mllm",
                base_url=args.base_url,
                api_key=os.environ.get("OPENAI_API_KEY", "sk-bench"),
                generation_kwargs={"max_new_tokens": MAX_TOKENS, "temperature": 1.0},
            ),
            image_type="url",
            input_batch_size=args.concurrency,
        )
        load >> generate
    logging.getLogger("distilabel").setLevel(logging.WARNING)
    start = time.perf_counter()
    distiset = pipeline.run(use_cache=False)
    wall = time.perf_counter() - start
    out_rows = list(distiset["default"]["train"]) if distiset else []
    ok = {r["id"] for r in out_rows if r.get("generation") is not None}
    out = {
        "wall_s": wall,
        "completed": len(ok),
        "failed": len(rows) - len(ok),
        "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "children_maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    }
    print("RESULT " + json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
