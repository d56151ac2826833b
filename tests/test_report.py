"""``mmevol report``: figures checked against hand-computed values on a tiny hand-made run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmevol.cli.app import app
from mmevol.report.figures import run_figures
from mmevol.report.verbnoun import diversity, pair_counts, rule_pair
from mmevol.schema import QA, ImageRef, Lineage, Sample, Step, Verdict
from mmevol.store import Store

IMAGE = ImageRef(path="img/a.png", digest="sha256:aa")


def _sample(
    sid: str, round_: int, question: str, skills: int, steps: int, *, kept: bool = True,
    score: float | None = None, reason: str = "judge: improved", direction: str = "perception",
    objects: tuple[str, ...] = ("dog",),
) -> Sample:  # fmt: skip
    qa = QA(
        question=question,
        answer="An answer.",
        objects=list(objects),
        skills=["grounding", "existence", "calculating"][:skills],
        steps=[
            Step(manipulation=f"grounding_{i}(dog)->bbx_{i}", description="d") for i in range(steps)
        ],
        format="open_ended" if round_ else "short_answer",
    )
    lineage = Lineage() if round_ == 0 else Lineage(
        parent_id=sid.rsplit("@", 1)[0] + ("" if round_ == 1 else f"@r{round_ - 1}"),
        round=round_, direction=direction, kept=kept, reason=reason,  # type: ignore[arg-type]
        verdict=Verdict(improved=kept, score=score, reason="why") if score is not None else None,
    )  # fmt: skip
    return Sample(id=sid, seed_id="s", image=IMAGE, round=round_, qa=qa, lineage=lineage)


@pytest.fixture()
def tiny_run(tmp_path: Path) -> Path:
    """Seeds: 2 items. Round 1: 3 candidates (2 kept, 1 rule drop). Round 2: 2 (1 kept, 1 dup)."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"config": {"rounds": 2, "backend": "grounded"}}))
    store = Store(run / "run.sqlite")
    store.add_seed_samples(
        [
            _sample("s#0", 0, "How many dogs are there?", 1, 0),
            _sample("s#1", 0, "Describe the scene.", 1, 0, objects=("dog", "cat")),
        ]
    )
    r1 = [
        _sample("s#0@r1", 1, "Count the dogs and locate each one.", 2, 2, score=8.0),
        _sample("s#1@r1", 1, "Describe the scene and the cat.", 3, 3, score=6.0, objects=("cat",)),
        _sample("s#2@r1", 1, "Name a city.", 1, 0, kept=False, reason="rule: needs no image"),
    ]
    store.commit_unit("s@r1", "s", 1, "perception", r1, {"kept": 2, "dropped_rules": 1})
    r2 = [
        _sample("s#0@r2", 2, "Compare the dogs by size.", 3, 4, score=9.0, direction="reasoning"),
        _sample("s#1@r2", 2, "Describe the scene.", 1, 1, kept=False, score=7.0,
                reason="near-duplicate of a kept question of this image", direction="reasoning"),
    ]  # fmt: skip
    store.commit_unit("s@r2", "s", 2, "reasoning", r2, {"kept": 1, "dropped_duplicate": 1})
    store.close()
    return run


def test_figures_match_hand_computed_values(tiny_run: Path) -> None:
    f = run_figures(tiny_run)
    seeds, r1, r2 = f["per_round"]
    assert (seeds["samples"], r1["samples"], r2["samples"]) == (2, 2, 1)
    assert seeds["mean_skills"] == 1 and r1["mean_skills"] == 2.5 and r2["mean_skills"] == 3
    assert r1["steps_per_sample"] == {"2": 1, "3": 1} and r1["mean_steps"] == 2.5
    assert r2["steps_per_sample"] == {"4": 1}
    assert seeds["formats"] == {"short_answer": 2} and r1["formats"] == {"open_ended": 2}
    assert f["judge_scores"] == {"1": [6.0, 8.0], "2": [7.0, 9.0]}
    assert f["drop_reasons"] == {"rule": 1, "near-duplicate of a kept question of this image": 1}
    # objects of the dataset (seeds + kept): dog x3 (s#0, s#1, s#0@r1), cat x2, dog again in r2
    assert dict(f["objects_long_tail"]) == {"dog": 4, "cat": 2}
    assert [[n["id"] for n in chain] for chain in f["lineages"]] == [
        ["s#0", "s#0@r1", "s#0@r2"],
        ["s#1", "s#1@r1", "s#1@r2"],
    ]
    assert (
        f["stats"]["rounds"][0]["kept"] == 2 and f["stats"]["rounds"][1]["dropped_duplicate"] == 1
    )


def test_verb_noun_rules_and_diversity() -> None:
    assert rule_pair("Count the dogs and locate each one.") == ("count", "dog")
    assert rule_pair("Describe the scene.") == ("describe", "scene")
    assert rule_pair("What is the man holding?") == ("hold", "man")
    assert rule_pair("How many red cars are parked?") == ("be", "car")
    assert rule_pair("12345") is None
    counts = pair_counts(
        ["Describe the scene.", "Describe the scene!", "Count the dogs."], rule_pair
    )
    d = diversity(counts)
    assert d["pairs"] == 3 and d["unique"] == 2 and d["unique_per_100"] == pytest.approx(66.67)
    assert d["entropy_bits"] == pytest.approx(0.918, abs=1e-3)  # -(2/3 log 2/3 + 1/3 log 1/3)


def test_report_html_and_json_agree_with_stats(tiny_run: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["report", str(tiny_run), "--out", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "r.html").read_text()
    assert "<script" not in html.lower()
    assert not re.search(r"(src|href)=[\"']?(https?:|//)", html), (
        "the page loads nothing from outside"
    )
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert len(svgs) >= 8
    for svg in svgs:  # every plot carries a title and labelled axes (text kept as text)
        texts = re.findall(r">([^<>]+)</text>", svg)
        assert len(texts) >= 3, texts
    res = runner.invoke(app, ["report", str(tiny_run), "--json", "--out", str(tmp_path / "r.json")])
    assert res.exit_code == 0
    figures = json.loads((tmp_path / "r.json").read_text())
    stats = json.loads(runner.invoke(app, ["stats", str(tiny_run), "--json"]).stdout)
    stats.pop("open_failures")
    assert figures["stats"] == stats
    assert f"{stats['dataset']['total']} samples" in html


def test_report_escapes_text_and_compares(tiny_run: Path, tmp_path: Path) -> None:
    store = Store(tiny_run / "run.sqlite")
    evil = _sample("s#0@r3", 2, "<script>alert(1)</script> find the dog", 1, 1, score=5.0)
    store.db.execute(
        "UPDATE samples SET json=? WHERE id='s#0@r2'",
        (evil.model_copy(update={"id": "s#0@r2"}).model_dump_json(),),
    )
    store.close()
    out = tmp_path / "cmp.html"
    res = CliRunner().invoke(
        app, ["report", str(tiny_run), "--compare", str(tiny_run), "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    html = out.read_text()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("class='row two'") >= 8


def test_unknown_labels_and_new_drop_counts_are_shown(tiny_run: Path, tmp_path: Path) -> None:
    """A unit as the engine journals it now: fact-check and degenerate drops, vocabulary counts,
    and candidates whose unknown skill/format strings were kept as other: labels."""
    odd = _sample("s#0@r1x", 1, "Where <b>is</b> the dog?", 1, 1, score=7.0)
    odd.qa.skills = ["grounding", "other:Visual <Reasoning>"]
    odd.qa.format, odd.qa.raw_format = "other:journey_mapping", "journey_mapping"
    gone = _sample("s#1@r1x", 1, "Is the dog here?", 1, 0, kept=False, reason="fact: refuted")
    gone.qa.skills = ["other:Visual <Reasoning>"]
    store = Store(tiny_run / "run.sqlite")
    store.commit_unit("s@r1x", "s", 1, "interactive", [odd, gone], {
        "kept": 1, "dropped_facts": 1, "dropped_degenerate": 2, "skills_total": 5,
        "skill_mapped": 2, "skill_unknown": 2, "formats_total": 2, "format_unknown": 1,
    })  # fmt: skip
    store.close()
    f = run_figures(tiny_run)
    r1, r2 = f["stats"]["rounds"]
    assert (r1["dropped_facts"], r1["dropped_degenerate"]) == (1, 2)
    assert (r2["dropped_facts"], r2["dropped_degenerate"]) == (0, 0)  # a missing key is 0
    vocab = f["stats"]["vocabulary"]
    assert vocab["skills"] == {"total": 5, "exact": 1, "mapped": 2, "unknown": 2,
                               "exact_share": 0.2, "mapped_share": 0.4, "unknown_share": 0.4}  # fmt: skip
    assert vocab["unknown_skills"] == {"Visual <Reasoning>": 2}
    assert vocab["unknown_formats"] == {"journey_mapping": 1}
    assert f["per_round"][1]["formats"]["other:journey_mapping"] == 1
    out = tmp_path / "r.html"
    assert CliRunner().invoke(app, ["report", str(tiny_run), "--out", str(out)]).exit_code == 0
    html = out.read_text()
    assert "Vocabulary mapping" in html and "Visual &lt;Reasoning&gt;" in html
    assert "<th>facts</th><th>degenerate</th>" in html and "fact check" in html
    assert "2 (40.0%)" in html
    res = CliRunner().invoke(app, ["stats", str(tiny_run)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "facts" in res.stdout and "degen" in res.stdout
    assert "'journey_mapping' ×1" in res.stdout and "2 (40.0%)" in res.stdout


def test_report_on_a_non_run_is_one_line(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 2 and "not a run directory" in res.stderr


def test_spacy_pairs_when_a_pipeline_is_installed() -> None:
    from mmevol.report.verbnoun import _spacy, spacy_pair

    if _spacy() is None:
        pytest.skip("no English spaCy pipeline installed")
    counts = pair_counts(
        ["Describe the scene in detail.", "Which region of the image shows the cat?"], spacy_pair
    )
    assert counts == {("describe", "scene"): 1, ("show", "cat"): 1}  # verb + direct object
