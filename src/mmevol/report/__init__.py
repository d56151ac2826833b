"""``mmevol report``: the paper's analyses of a run as one self-contained HTML file (or JSON).

``figures`` computes the numbers (``objects`` maps items' object names to annotated classes,
``verbnoun`` finds the instruction verb–noun pairs), ``plots`` and ``plots_run`` draw them
(``draw``: one axes per chart, inline SVG; ``colours``: one colour per thing in every figure)
and ``html`` lays out the page; ``write_report`` ties them together.
"""

from __future__ import annotations

import json
from pathlib import Path

from mmevol.fsutil import atomic_writer
from mmevol.report.figures import run_figures
from mmevol.report.html import render_report
from mmevol.store import Store


def _seed_ids(run_dir: Path) -> set[str]:
    """The seed ids of a run (an image's id is its content digest, so runs on the same images
    share them; an import that kept two records of one image marks the second with ``~``)."""
    store = Store(run_dir / "run.sqlite")
    try:
        ids = store.seed_ids()
    finally:
        store.close()
    return {i.split("~", 1)[0] for i in ids}


def write_report(
    run_dir: Path, out: Path, *, compare: Path | None = None, as_json: bool = False
) -> Path:
    """Write the HTML report (or, with ``as_json``, every figure's data) of a run to ``out``."""
    runs = [run_figures(run_dir)]
    shared = None
    if compare is not None:
        runs.append(run_figures(compare))
        shared = len(_seed_ids(run_dir) & _seed_ids(compare))
        for f in runs:
            f["shared_seeds"] = shared
    if as_json:
        text = json.dumps(runs[0] if len(runs) == 1 else runs, indent=2, sort_keys=True)
    else:
        text = render_report(runs, shared)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(out, "w") as fh:
        fh.write(text)
    return out
