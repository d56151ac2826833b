"""Rich tables for run statistics (the terminal face of ``evolve.stats.compute_stats``)."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from mmevol.evolve.diagnose import failure_lines


def stats_tables(stats: dict[str, Any]) -> list[RenderableType]:
    """The tables ``mmevol stats`` and ``evolve`` print; the legend of the rounds table is its
    own paragraph (a table caption is cut to the table's width on an 80-column terminal), and a
    table with nothing to show is left out."""
    ds = stats["dataset"]
    title = (
        f"dataset: {ds['total']} samples = {ds['seed_items']} seed items + {ds['evolved']} evolved"
    )
    caption = (
        "dropped by rules / fact check / degenerate text / judge / near-duplicate; improved%:"
        " of the judged, the share the judge called improved; mean judge score, steps, skills"
        " of the kept"
    )
    rounds = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 0))
    for col in (" rnd", " units", " cand", " kept", " kept%", " rules", " facts", " degen",
                " judge", " dup", " impr%", " score", " steps", " skills"):  # fmt: skip
        rounds.add_column(col, justify="right", no_wrap=True, min_width=len(col))
    for r in stats["rounds"]:
        rounds.add_row(
            str(r["round"]),
            str(r["units"]),
            str(r["candidates"]),
            str(r["kept"]),
            f"{100 * r['kept_share']:.1f}",
            str(r.get("dropped_rules", 0)),
            str(r.get("dropped_facts", 0)),
            str(r.get("dropped_degenerate", 0)),
            str(r.get("dropped_judge", 0)),
            str(r.get("dropped_duplicate", 0)),
            f"{100 * r['improved_share']:.1f}" if r.get("judged") else "-",
            _num(r["mean_judge_score_kept"]),
            _num(r["mean_steps_kept"]),
            _num(r["mean_skills_kept"]),
        )
    directions = Table(title="Kept / candidates (improved % of the judged) by direction and round")
    directions.add_column("round", justify="right")
    names = sorted({d for r in stats["rounds"] for d in r["by_direction"]})
    for d in names:
        directions.add_column(d, justify="right")
    for r in stats["rounds"]:
        cells = []
        for d in names:
            v = r["by_direction"].get(d)
            if not v:
                cells.append("-")
                continue
            judged = v.get("judged", 0)
            improved = f" ({100 * v['improved_share']:.0f}%)" if judged else ""
            cells.append(f"{v['kept']}/{v['candidates']}{improved}")
        directions.add_row(str(r["round"]), *cells)
    other = Table(title="Parsing, normalisation, failures, calls", show_header=False)
    for k, v in stats["repairs"].items():
        task, _, rung = k.partition("_rung_")
        other.add_row(f"{task} replies parsed by rung '{rung}'", str(v))
    vocab = stats.get("vocabulary")
    for k, v in stats["normalization"].items():
        if not (vocab and k.startswith(("skill", "format"))):  # those have a table of their own
            other.add_row(f"normalised {k}", str(v))
    tables: list[RenderableType] = [rounds, Text(caption, style="dim")]
    tables += [directions, other] if names else [other]
    if vocab:
        tables.append(vocabulary_table(vocab))
    f = stats["failures"]
    other.add_row("failures open / resolved", f"{f['open']} / {f['resolved']}")
    for k, v in f["by_class"].items():
        other.add_row(f"  open {k}", str(v))
    if causes := stats.get("failure_causes"):
        other.add_row("units failed", str(causes.get("units", 0)))
        for line in failure_lines(stats)[len(f["by_class"]) :]:  # kinds, examples, the hint
            other.add_row(Text(line), "")
    if backend := stats.get("backend"):
        other.add_row("server family / structured mode",
                      Text(f"{backend.get('family')} / {backend.get('structured_mode')}"))  # fmt: skip
    c = stats["calls"]
    other.add_row("calls", str(c["total"]))
    other.add_row("tokens in / out", f"{c['input_tokens']} / {c['output_tokens']}")
    other.add_row("cost (USD)", f"{c['cost_usd']:.4f}")
    other.add_row("complete", str(stats.get("complete")))
    return tables


def vocabulary_table(vocab: dict[str, Any]) -> Table:
    """Skill and format strings by how they met the vocabulary, then the unknown ones."""
    t = Table(title="Vocabulary: strings exact / mapped / kept as other:", show_header=True)
    for col in ("", "strings", "exact", "mapped", "unknown (other:)"):
        t.add_column(col, justify="left" if not col else "right")
    for name in ("skills", "formats"):
        m = vocab[name]
        t.add_row(
            name,
            str(m["total"] or "-"),
            _count_share(m["exact"], m["exact_share"]),
            _count_share(m["mapped"], m["mapped_share"]),
            _count_share(m["unknown"], m["unknown_share"]),
        )
    for name in ("skills", "formats"):
        found = vocab[f"unknown_{name}"]
        if found:
            listed = ", ".join(f"{k!r} ×{n}" for k, n in list(found.items())[:15])
            more = f" (+{len(found) - 15} more)" if len(found) > 15 else ""
            t.add_row(f"unknown {name}", f"{len(found)} distinct", "", "", listed + more)
    return t


def _count_share(n: int | None, share: float | None) -> str:
    return "-" if n is None or share is None else f"{n} ({100 * share:.1f}%)"


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"
