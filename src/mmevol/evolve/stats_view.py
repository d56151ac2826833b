"""Rich tables for run statistics (the terminal face of ``evolve.stats.compute_stats``)."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.table import Table


def stats_tables(stats: dict[str, Any]) -> list[Table]:
    ds = stats["dataset"]
    title = (
        f"dataset: {ds['total']} samples = {ds['seed_items']} seed items + {ds['evolved']} evolved"
    )
    caption = "dropped by rules/judge/dup; mean judge score, steps, skills of the kept"
    rounds = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, padding=(0, 0))
    for col in (" rnd", " units", " cand", " kept", " kept%", " rules", " judge", " dup",
                " score", " steps", " skills"):  # fmt: skip
        rounds.add_column(col, justify="right", no_wrap=True, min_width=len(col))
    for r in stats["rounds"]:
        rounds.add_row(
            str(r["round"]),
            str(r["units"]),
            str(r["candidates"]),
            str(r["kept"]),
            f"{100 * r['kept_share']:.1f}",
            str(r["dropped_rules"]),
            str(r["dropped_judge"]),
            str(r["dropped_duplicate"]),
            _num(r["mean_judge_score_kept"]),
            _num(r["mean_steps_kept"]),
            _num(r["mean_skills_kept"]),
        )
    directions = Table(title="Kept share by direction and round")
    directions.add_column("round", justify="right")
    names = sorted({d for r in stats["rounds"] for d in r["by_direction"]})
    for d in names:
        directions.add_column(d, justify="right")
    for r in stats["rounds"]:
        cells = []
        for d in names:
            v = r["by_direction"].get(d)
            cells.append(f"{v['kept']}/{v['candidates']}" if v else "-")
        directions.add_row(str(r["round"]), *cells)
    other = Table(title="Parsing, normalisation, failures, calls", show_header=False)
    for k, v in stats["repairs"].items():
        task, _, rung = k.partition("_rung_")
        other.add_row(f"{task} replies parsed by rung '{rung}'", str(v))
    for k, v in stats["normalization"].items():
        other.add_row(f"normalised {k}", str(v))
    f = stats["failures"]
    other.add_row("failures open / resolved", f"{f['open']} / {f['resolved']}")
    for k, v in f["by_class"].items():
        other.add_row(f"  open {k}", str(v))
    c = stats["calls"]
    other.add_row("calls", str(c["total"]))
    other.add_row("tokens in / out", f"{c['input_tokens']} / {c['output_tokens']}")
    other.add_row("cost (USD)", f"{c['cost_usd']:.4f}")
    other.add_row("complete", str(stats.get("complete")))
    return [rounds, directions, other]


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"
