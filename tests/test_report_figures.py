"""``mmevol report``'s figures as a reader sees them: object classes (not referring phrases)
in the long tail, "none" in place of empty axes, one colour per format in both runs of a
comparison, legends outside the plot area, questions and answers with their line breaks."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from matplotlib.colors import to_rgb
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from typer.testing import CliRunner

from mmevol.cli.app import app
from mmevol.report import write_report
from mmevol.report.colours import Colours
from mmevol.report.draw import Chart
from mmevol.report.figures import run_figures
from mmevol.report.objects import CLASSES, NAMES, ClassIndex
from mmevol.report.plots import PLOTS
from mmevol.schema import QA, ImageRef, Lineage, Obj, Sample, Seed, Verdict
from mmevol.seeds import write_seeds
from mmevol.store import Store

IMAGE = ImageRef(path="a.png", digest="sha256:aa")


def _sample(sid: str, seed: str, round_: int, question: str, objects: list[str], *,
            fmt: str = "open_ended", answer: str = "An answer.") -> Sample:  # fmt: skip
    qa = QA(question=question, answer=answer, objects=objects, skills=["grounding"], format=fmt)
    lineage = Lineage() if round_ == 0 else Lineage(
        parent_id=sid.rsplit("@", 1)[0], round=round_, direction="perception", kept=True,
        reason="judge: improved", verdict=Verdict(improved=True, score=8.0, reason="ok"),
    )  # fmt: skip
    return Sample(id=sid, seed_id=seed, image=IMAGE, round=round_, qa=qa, lineage=lineage)


def _run(root: Path, seeds: list[Seed] | None, r0: list[Sample], r1: list[Sample]) -> Path:
    """A run directory of one round: seeds.jsonl (when given), the seed items, one unit."""
    root.mkdir(parents=True)
    (root / "config.json").write_text(json.dumps({"config": {"rounds": 1, "backend": "grounded"}}))
    if seeds is not None:
        write_seeds(seeds, root / "seeds.jsonl")
    store = Store(root / "run.sqlite")
    store.add_seed_samples(r0)
    if r1:
        store.commit_unit("u@r1", r1[0].seed_id, 1, "perception", r1, {"kept": len(r1)})
    store.close()
    return root


def _seed(sid: str, *categories: str) -> Seed:
    return Seed(id=sid, image=IMAGE, objects=[Obj(category=c) for c in categories])


@pytest.fixture()
def phrase_run(tmp_path: Path) -> Path:
    """Items that name their objects by referring phrases, on seeds that annotate classes."""
    seeds = [_seed("a", "person", "car", "potted plant"), _seed("b", "orange", "car", "bus")]
    r0 = [
        _sample("a#0", "a", 0, "Who is leftmost?", ["leftmost person", "person"]),
        _sample("a#1", "a", 0, "Which car?", ["second car from the left", "rightmost car"]),
        _sample("b#0", "b", 0, "What colour?", ["orange car", "leftmost orange"]),
    ]
    r1 = [
        _sample("a#0@r1", "a", 1, "How many people?", ["people", "Potted Plants", "unicorn"]),
        _sample("b#0@r1", "b", 1, "Count the buses.", ["buses", "car on the left"]),
    ]
    return _run(tmp_path / "run", seeds, r0, r1)


def test_long_tail_counts_annotated_classes_not_phrases(phrase_run: Path, tmp_path: Path) -> None:
    f = run_figures(phrase_run)
    # each item counts a class once; phrases count as the class they name
    assert dict(f["objects_long_tail"]) == {
        "person": 2, "car": 3, "orange": 1, "potted plant": 1, "bus": 1,
    }  # fmt: skip
    assert f["objects_counted"] == CLASSES and f["objects_annotated_classes"] == 5
    assert f["objects_unmapped"] == {"unicorn": 1}
    html = write_report(phrase_run, tmp_path / "r.html").read_text()
    assert "Object classes: long tail (5 object classes)" in html
    assert "leftmost person" not in re.sub(r"<p class=muted>Counted.*?</p>", "", html, flags=re.S)
    assert "Counted: items of the dataset" in html and "unicorn (1)" in html


def test_class_of_prefers_the_head_and_the_image_own_classes() -> None:
    index = ClassIndex({"a": frozenset({"orange", "car"}), "b": frozenset({"dining table"})})
    assert index.class_of("orange car", "a") == "car"  # the head noun, not the colour
    assert index.class_of("the leftmost orange", "a") == "orange"
    assert index.class_of("Car parked next to the orange", "a") == "car"
    assert index.class_of("dining tables", "a") == "dining table"  # any seed's class, plural
    assert index.class_of("zebra", "a") is None


def test_a_run_without_annotations_counts_the_names(tmp_path: Path) -> None:
    r0 = [_sample("s#0", "s", 0, "Where?", ["Dog", "dog ", "the cat"])]
    f = run_figures(_run(tmp_path / "run", None, r0, []))
    assert f["objects_counted"] == NAMES
    assert dict(f["objects_long_tail"]) == {"dog": 1, "the cat": 1}


def test_grounded_run_on_world_scenes_counts_only_scene_classes(
    world_seeds: tuple[Path, list[Seed]], tmp_path: Path
) -> None:
    path, seeds = world_seeds
    run = tmp_path / "run"
    res = CliRunner().invoke(app, ["evolve", str(path), "--out", str(run), "--rounds", "2"])
    assert res.exit_code == 0, res.output
    f = run_figures(run)
    categories = {o.category for s in seeds for o in s.objects}
    assert f["objects_long_tail"] and {c for c, _ in f["objects_long_tail"]} <= categories
    # the grounded backend makes calls but reports no tokens, no cost and no failures
    html = write_report(run, tmp_path / "r.html").read_text()
    assert "none: the backend reported no token counts" in html
    assert "none: the backend reported no cost (0 USD)" in html
    svg_text = " ".join(re.findall(r">([^<>]+)</text>", html))
    assert "(none)" not in svg_text and "0.04" not in svg_text  # no fake rows, no empty ranges


def _charts(runs: list[dict[str, Any]]) -> list[list[Chart]]:
    colours = Colours(runs)
    return [plot(f, colours) for f in runs for _, plot in PLOTS.values()]


def _has_data(fig: Figure) -> bool:
    ax = fig.axes[0]
    bars = [p for p in ax.patches if not isinstance(p, Rectangle) or p.get_width() * p.get_height()]
    lines = [line for line in ax.lines if len(line.get_xdata()) > 0]  # type: ignore[arg-type]
    return bool(bars or lines or ax.collections or ax.texts)  # texts: bar values, "no pairs"


def test_a_plot_without_data_says_none(tmp_path: Path) -> None:
    """Seeds only: no evolutions, no model calls, no failures -> sentences, not empty axes."""
    r0 = [_sample("s#0", "s", 0, "Describe the dog.", ["dog"])]
    run = _run(tmp_path / "run", [_seed("s", "dog")], r0, [])
    for charts in _charts([run_figures(run)]):
        for c in charts:
            assert (c.fig is None) == bool(c.none), c.title
            assert c.fig is None or _has_data(c.fig), f"{c.title}: axes without data"
    html = write_report(run, tmp_path / "r.html").read_text()
    for sentence in ("none: no unit has an open failure", "none: the run recorded no model calls",
                     "none: no evolution has a judge score",
                     "none: the run has no evolved candidates"):  # fmt: skip
        assert sentence in html
    svg_text = " ".join(re.findall(r">([^<>]+)</text>", html))
    assert "(none)" not in svg_text and "0.04" not in svg_text  # no fake rows, no empty ranges


def _run_with_formats(root: Path, formats: list[str]) -> Path:
    r0 = [_sample(f"s#{i}", "s", 0, f"Q{i}?", ["dog"], fmt=f) for i, f in enumerate(formats)]
    r1 = [_sample(f"s#{i}@r1", "s", 1, f"R{i}?", ["dog"], fmt=f) for i, f in enumerate(formats)]
    return _run(root, [_seed("s", "dog")], r0, r1)


def _legend_colours(svg: str) -> dict[str, str]:
    """Legend label -> the fill of the patch drawn before it (matplotlib's SVG order)."""
    pairs = re.findall(
        r'fill: (#[0-9a-f]{6})[^"]*"/>\s*</g>\s*<g id="text_\d+">\s*<text[^>]*>([^<]+)</text>', svg
    )
    return {text: colour for colour, text in pairs}


def test_compare_gives_a_format_one_colour_in_both_runs(tmp_path: Path) -> None:
    a = _run_with_formats(tmp_path / "a", ["open_ended", "yes_no", "yes_no"])
    b = _run_with_formats(tmp_path / "b", ["counting_list", "short_answer", "yes_no"])
    html = write_report(a, tmp_path / "cmp.html", compare=b).read_text()
    section = html.split("<h2>Formats</h2>", 1)[1].split("<h2>", 1)[0]
    svgs = re.findall(r"<svg.*?</svg>", section, flags=re.S)
    assert len(svgs) == 2
    left, right = (_legend_colours(s) for s in svgs)
    assert {"open_ended", "yes_no"} <= set(left) and {"yes_no", "short_answer"} <= set(right)
    assert left["yes_no"] == right["yes_no"]
    shared = {**left, **right}
    assert len(set(shared.values())) == len(shared)  # and different formats differ
    # the same holds for the bars themselves, and for the rounds in every per-round figure
    fa, fb = run_figures(a), run_figures(b)
    colours = Colours([fa, fb])
    for f in (fa, fb):
        (chart,) = PLOTS["formats"][1](f, colours)
        assert chart.fig is not None
        for bars in chart.fig.axes[0].containers:
            assert isinstance(bars, BarContainer)
            want = to_rgb(colours.format(str(bars.get_label())))
            assert {to_rgb(p.get_facecolor()) for p in bars} == {want}
    assert colours.round(1) != colours.round(0)


def test_legends_and_labels_stay_off_the_plot_area(phrase_run: Path, tmp_path: Path) -> None:
    runs = [run_figures(phrase_run), run_figures(_run_with_formats(tmp_path / "b", ["yes_no"]))]
    seen = 0
    for charts in _charts(runs):
        for c in charts:
            if c.fig is None:
                continue
            renderer = c.fig.canvas.get_renderer()  # type: ignore[attr-defined]
            c.fig.draw(renderer)
            ax = c.fig.axes[0]
            legend = ax.get_legend()
            if legend is None:
                continue
            seen += 1
            box = legend.get_window_extent(renderer)
            assert not box.overlaps(ax.get_window_extent(renderer)), c.title
            for text in ax.texts:  # nouns written after a bar end before the legend starts
                assert not box.overlaps(text.get_window_extent(renderer)), (c.title, text)
    assert seen >= 6


def test_questions_and_answers_keep_their_line_breaks(tmp_path: Path) -> None:
    q = "Which one is missing?\nA. <cat>\nB. dog"
    long = "Line one.\nLine two & more.\n" + "word " * 300
    r0 = [_sample("s#0", "s", 0, "Where is the dog?", ["dog"])]
    r1 = [_sample("s#0@r1", "s", 1, q, ["dog"], answer=long)]
    run = _run(tmp_path / "run", [_seed("s", "dog")], r0, r1)
    html = write_report(run, tmp_path / "r.html").read_text()
    assert "<div class=q>Which one is missing?\nA. &lt;cat&gt;\nB. dog</div>" in html
    assert "<div class=a>Line one.\nLine two &amp; more.\nword" in html
    assert re.search(r"\.step \.q,\.step \.a[^{]*\{white-space:pre-wrap", html)
    assert "word …</div>" in html  # a shortened answer says so


def test_compare_page_never_grows_wider_than_the_window(phrase_run: Path, tmp_path: Path) -> None:
    html = write_report(phrase_run, tmp_path / "c.html", compare=phrase_run).read_text()
    assert ".row>*,.grid>*{min-width:0}" in html and "overflow-x:auto" in html
    lineages = html.split("<h2>Example lineages</h2>", 1)[1]
    assert "row two" not in lineages  # wide chains one run under the other, each scrolling
    rounds = html.split("<h2>Rounds</h2>", 1)[1].split("<h2>", 1)[0]
    assert "row two" not in rounds and rounds.count("<table>") == 2
