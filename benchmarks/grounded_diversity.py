"""Variety and correctness of the grounded backend's evolved data on real COCO seeds.

The grounded backend is an offline programmatic generator and rule judge (not an LLM). This
script builds seeds from tiny_coco (both splits), runs the default ``mmevol evolve`` (grounded,
3 rounds) and measures the kept evolved questions. The headline is distinct *core* question
templates per 100: the question with the drawn opening ("Looking at the image, ...") and closing
request ("Explain how you worked it out.") stripped, then masked by ``textsim.question_template``
(the same masking the engine's dedup uses), so cosmetic openings and closings earn no credit.
Also: how many, distinct full question templates per 100, the share with a
near-duplicate among the same image's other kept questions (``textsim.near_duplicate`` at its
default threshold, and the template test ``textsim.template_duplicate``), the median answer
length in words, counts per format and direction, grammar slips, and contradictions found by
an independent check against the annotations (counts, crowd regions, class at a box, existence).
Writes ``benchmarks/results/grounded_diversity.{json,md}``.

    .venv/bin/python benchmarks/grounded_diversity.py [--data ../shared/data/tiny_coco]
    .venv/bin/python benchmarks/grounded_diversity.py --run RUN_DIR   # measure an existing run
    .venv/bin/python benchmarks/grounded_diversity.py --before OLD_RUN  # add a baseline column

Template masking is ``textsim.question_template`` (documented there). "Core" templates strip
the drawn opening and closing request (``grounded_words.LEADS`` / ``TAILS``) first, so they
count only the variety of the question bodies.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from mmevol.grounded.words import LEADS, TAILS
from mmevol.textsim import (
    COCO_CATEGORIES,
    near_duplicate,
    plural,
    question_template,
    template_duplicate,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
BOX = re.compile(r"\[(\d\.\d+), (\d\.\d+), (\d\.\d+), (\d\.\d+)\]")
NUMS = {
    w: i
    for i, w in enumerate(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    )
}
NUM = r"(\d+|" + "|".join(NUMS) + r")"
SUBSET = re.compile(r"^\s*(?:in|on|to|inside|within|near|above|below|left|right|of them|among|closer|farther|further)\b")  # fmt: skip
PLURALS = "|".join(sorted({plural(c) for c in COCO_CATEGORIES if plural(c) != c} | {"objects", "kinds", "letters"}, key=len, reverse=True))  # fmt: skip
QUOTED = re.compile(r'"[^"]*"')
GRAMMAR = [
    (re.compile(rf"\bmore than (?:1|one) (?:{PLURALS})\b"), "more than one + plural"),
    (re.compile(rf"\b(?:1|one) (?:{PLURALS})\b(?! of)"), "one + plural"),
    (
        re.compile(
            r"\b(?:among|of|between) the [^,.?]+ and the [^,.?]+[,:] which one is (?:the )?(?:largest|smallest|highest|lowest|furthest)"
        ),
        "superlative for two",
    ),
    (re.compile(r"\ba (?=[aeiou])"), "a before a vowel"),
    (re.compile(r"\ban (?=[bcdfgjklmnpqrstvwxz])"), "an before a consonant"),
]


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


def build_and_run(data: Path, work: Path, rounds: int) -> Path:
    exe = Path(sys.executable).with_name("mmevol")
    args = [str(exe), "seeds", "build"]
    for split in ("val2017", "train2017"):
        args += ["--coco-captions", str(data / "annotations" / f"captions_{split}.json")]
        args += ["--coco-instances", str(data / "annotations" / f"instances_{split}.json")]
        args += ["--images", str(data / split)]
    seeds = work / "seeds.jsonl"
    subprocess.run([*args, "--out", str(seeds)], check=True, capture_output=True)
    run = work / "run"
    cmd = [str(exe), "evolve", str(seeds), "--out", str(run), "--rounds", str(rounds)]
    subprocess.run(cmd, check=True, capture_output=True)
    return run


class Annotations:
    """One seed's objects, read independently of the generator's own code."""

    def __init__(self, seed: dict[str, Any]) -> None:
        self.objects = seed.get("objects") or []
        self.count: Counter[str] = Counter()
        self.crowd: set[str] = set()
        for o in self.objects:
            if (o.get("attributes") or {}).get("crowd") == "yes":
                self.crowd.add(o["category"])
            else:
                self.count[o["category"]] += 1
        self.present = {o["category"] for o in self.objects}
        cats = sorted({*COCO_CATEGORIES, *self.present}, key=len, reverse=True)
        self.forms = {f: c for c in cats for f in (c, plural(c))}
        self.cat_re = "|".join(re.escape(f) for f in sorted(self.forms, key=len, reverse=True))

    def at_box(self, box: tuple[float, ...]) -> dict[str, Any] | None:
        for o in self.objects:
            if o.get("bbox") and all(
                abs(a - b) < 6e-4 for a, b in zip(o["bbox"], box, strict=False)
            ):
                return o
        return None


def contradictions(ann: Annotations, qa: dict[str, Any]) -> list[str]:
    """Claims in the answer and steps that the annotations contradict."""
    text = " ".join([qa["answer"], *(s["description"] for s in qa.get("steps") or [])]).lower()
    found: list[str] = []
    count_re = re.compile(rf"(at least |more than |over |exactly |only |just )?\b{NUM} ({ann.cat_re})\b(?=(.{{0,12}}))")  # fmt: skip
    for bound, num, form, after in count_re.findall(text):
        cat, n = ann.forms[form], int(num) if num.isdigit() else NUMS[num]
        if SUBSET.match(after) or (bound.strip() in ("more than", "over")):
            continue
        if bound.strip() == "at least":
            if ann.count[cat] < n:
                found.append(f"at least {n} {form}, annotations have {ann.count[cat]}")
        elif cat in ann.crowd:
            found.append(f"exact count {n} {form} for a category with a crowd region")
        elif n != ann.count[cat]:
            found.append(f"{n} {form}, annotations have {ann.count[cat]}")
    for form, num in re.findall(rf"number of ({ann.cat_re}) = (\d+)\b", text):
        cat = ann.forms[form]
        if cat in ann.crowd or int(num) != ann.count[cat]:
            found.append(f"step counts {num} {form}, annotations have {ann.count[cat]}")
    for form, num in re.findall(rf"^({ann.cat_re}): (\d+)$", qa["answer"].lower(), re.M):
        cat = ann.forms[form]
        if cat in ann.crowd or int(num) != ann.count[cat]:
            found.append(f"line {form}: {num}, annotations have {ann.count[cat]}")
    for yes, form in re.findall(rf"\b(yes|no),? there (?:is|are) (?:no |an? |\d+ )?({ann.cat_re})\b", text):  # fmt: skip
        if (yes == "yes") != (ann.forms[form] in ann.present):
            found.append(f"existence of {form} said {yes}")
    box_re = re.compile(rf"\b(an?|one|the|single) ((?:[a-z]+ )?)({ann.cat_re})\b(?: \w+){{0,2}} (?:at|in|inside) (\[[^\]]+\])|(\[[^\]]+\]) (?:contains|shows|holds) (an?|one) ((?:[a-z]+ ){{0,3}}?)({ann.cat_re})\b")  # fmt: skip
    for m in box_re.finditer(text):
        det, mods, form, box_text = (m[1], m[2], m[3], m[4]) if m[1] else (m[6], m[7], m[8], m[5])
        if (mods + form).strip() in ann.forms:
            mods, form = "", (mods + form).strip()
        nums = BOX.search(box_text)
        if not nums:
            continue
        obj = ann.at_box(tuple(float(v) for v in nums.groups()))
        if obj is None:
            continue
        crowd = (obj.get("attributes") or {}).get("crowd") == "yes"
        if ann.forms[form] != obj["category"]:
            found.append(f"{box_text} called {form}, annotated {obj['category']}")
        elif crowd and not re.search(r"crowd|group|cluster", mods + form):
            found.append(f"crowd region {box_text} called {det} {form}")
    return found


def grammar(qa: dict[str, Any]) -> list[str]:
    text = QUOTED.sub('""', qa["question"] + " " + qa["answer"])  # quoted captions are not ours
    return [name for pattern, name in GRAMMAR if pattern.search(text.lower())]


def core(question: str) -> str:
    """The question without a drawn opening or closing request."""
    for lead in LEADS:
        if question.lower().startswith(lead.lower()):
            question = question[len(lead) :]
            break
    for tail in TAILS:
        question = question.removesuffix(" " + tail)
    return question


def measure(run: Path) -> dict[str, Any]:
    seeds = {}
    for line in (run / "seeds.jsonl").read_text().splitlines():
        if line.strip():
            rec = json.loads(line)
            seeds[rec["id"]] = rec
    rows = [json.loads(x) for x in (run / "dataset.jsonl").read_text().splitlines() if x.strip()]
    kept = [r for r in rows if r["round"] > 0 and r["lineage"].get("kept", True)]
    by_seed: dict[str, list[dict[str, Any]]] = {}
    for r in kept:
        by_seed.setdefault(r["seed_id"], []).append(r)
    text_dup = template_dup = 0
    bad: list[dict[str, Any]] = []
    slips: Counter[str] = Counter()
    for sid, group in by_seed.items():
        cats = tuple(sorted({o["category"] for o in seeds[sid].get("objects") or []}))
        qs = [r["qa"]["question"] for r in group]
        for i, q in enumerate(qs):
            others = qs[:i] + qs[i + 1 :]
            text_dup += any(near_duplicate(q, o) for o in others)
            template_dup += any(template_duplicate(q, o, cats) for o in others)
        ann = Annotations(seeds[sid])
        for r in group:
            for problem in contradictions(ann, r["qa"]):
                bad.append({"id": r["id"], "problem": problem, "answer": r["qa"]["answer"][:300]})
            slips.update(grammar(r["qa"]))
    n = len(kept)
    templates = {question_template(r["qa"]["question"]) for r in kept}
    cores = {question_template(core(r["qa"]["question"])) for r in kept}
    core_count = Counter(question_template(core(r["qa"]["question"])) for r in kept)
    words = [len(r["qa"]["answer"].split()) for r in kept]
    return {
        "seeds": len(seeds),
        "evolved_kept": n,
        "distinct_templates": len(templates),
        "core_templates_per_100": round(100 * len(cores) / n, 1) if n else 0.0,
        "distinct_core_templates": len(cores),
        "most_repeated_core_template": max(core_count.values()) if core_count else 0,
        "templates_per_100": round(100 * len(templates) / n, 1) if n else 0.0,
        "near_dup_text_share": round(text_dup / n, 4) if n else 0.0,
        "near_dup_template_share": round(template_dup / n, 4) if n else 0.0,
        "median_answer_words": statistics.median(words) if words else 0,
        "median_answer_words_by_direction": {
            d: statistics.median(
                len(r["qa"]["answer"].split()) for r in kept if r["lineage"].get("direction") == d
            )
            for d in sorted({str(r["lineage"].get("direction")) for r in kept})
        },
        "mean_answer_words": round(statistics.fmean(words), 1) if words else 0,
        "formats": dict(Counter(r["qa"]["format"] for r in kept).most_common()),
        "directions": dict(Counter(r["lineage"].get("direction") for r in kept).most_common()),
        "contradictions": len(bad),
        "contradiction_examples": bad[:10],
        "grammar_slips": dict(slips),
        "grammar_total": sum(slips.values()),
    }


def write(result: dict[str, Any], command: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "grounded_diversity.json").write_text(json.dumps(result, indent=2) + "\n")
    m, b = result["measures"], result.get("before") or {}

    def row(name: str, key: str, scale: float = 1.0, unit: str = "") -> str:
        def cell(d: dict[str, Any]) -> str:
            v = d.get(key)
            if v is None:
                return "-"
            return f"{round(v * scale, 1)}{unit}" if scale != 1.0 else f"{v}{unit}"

        return f"| {name} | {cell(b)} | {cell(m)} |"

    lines = [
        "# Grounded backend (programmatic generator + rule judge, not an LLM): variety on COCO",
        "",
        f"`{command}` on {result['machine']['platform']}, {result['machine']['cpus']} CPUs, "
        f"Python {result['machine']['python']}. {m['seeds']} tiny_coco seeds (both splits), "
        f"{result['rounds']} rounds of the default `mmevol evolve`.",
        "Before: "
        + (
            f"a run of the default `mmevol evolve` on the same seeds with the code before this change (`--before {result['before_run']}`), measured by this script."
            if result.get("before_run")
            else "not measured."
        ),
        "",
        f"**Headline: {m['core_templates_per_100']} distinct core question templates per 100 kept "
        f"evolved questions** (before: {b.get('core_templates_per_100', '-')}). A core template is "
        "the question with its drawn opening and closing request removed, masked by "
        "`textsim.question_template` (objects, numbers, boxes, colours, positions), so cosmetic "
        "openings and closings earn no credit.",
        "",
        "| measure | before | now |",
        "| --- | ---: | ---: |",
        row("**distinct core templates per 100 (no opening/closing)**", "core_templates_per_100"),
        row("evolved questions kept", "evolved_kept"),
        row("distinct core templates", "distinct_core_templates"),
        row("uses of the most repeated core template", "most_repeated_core_template"),
        row("distinct templates per 100 (with opening/closing)", "templates_per_100"),
        row("near-duplicate on the same image (text, 0.9)", "near_dup_text_share", 100, " %"),
        row("near-duplicate on the same image (template)", "near_dup_template_share", 100, " %"),
        row("median answer words", "median_answer_words"),
        row("mean answer words", "mean_answer_words"),
        row("contradictions of the annotations (independent check)", "contradictions"),
        row("grammar slips", "grammar_total"),
        "",
        "Formats now: " + ", ".join(f"{k} {v}" for k, v in m["formats"].items()),
        "",
        "Directions now: " + ", ".join(f"{k} {v}" for k, v in m["directions"].items()),
        "",
    ]
    (RESULTS / "grounded_diversity.md").write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "tiny_coco"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--run", default=None, help="measure this existing run directory instead")
    ap.add_argument("--before", default=None, help="a baseline run directory to measure too")
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args()
    if args.run:
        measures = measure(Path(args.run))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            measures = measure(build_and_run(Path(args.data), Path(tmp), args.rounds))
    command = "python benchmarks/grounded_diversity.py " + " ".join(sys.argv[1:])
    result: dict[str, Any] = {
        "machine": machine(),
        "rounds": args.rounds,
        "command": command.strip(),
        "measures": measures,
    }
    if args.before:
        result["before_run"] = args.before
        result["before"] = measure(Path(args.before))
    print(json.dumps(measures, indent=2))
    if not args.no_write:
        write(result, command.strip())


if __name__ == "__main__":
    main()
