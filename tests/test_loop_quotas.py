"""Quotas through the engine: only the type's own questions count, retries on more query images
(bounded), the shortfall per type in abs.json and the printed table; OCR read from evolutions."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

import json
from pathlib import Path

from typer.testing import CliRunner

from mmevol.backends.base import make_backend
from mmevol.cli.app import app
from mmevol.loop.evolved import _parts, engine_for_type
from mmevol.loop.splits import draw_scenes
from mmevol.world.questions import QTYPES
from mmevol.world.scenes import WORDS

TINY = ["loop", "--rounds", "1", "--budget", "45", "--n-train", "15", "--epochs", "1",
        "--generator", "engine"]  # fmt: skip


def test_engine_quota_is_never_overfilled_and_the_shortfall_is_reported(tmp_path: Path) -> None:
    out = tmp_path / "loop"
    res = CliRunner().invoke(app, [*TINY, "--out", str(out)])
    assert res.exit_code == 0, res.output
    rec = json.loads((out / "round_0" / "abs.json").read_text())
    quota, made, short = rec["quotas"], rec["generated"], rec["shortfall"]
    assert set(short) == set(QTYPES) and sum(quota.values()) == 45
    for t in QTYPES:
        assert made[t] <= quota[t]  # another type's questions never fill a quota
        assert made[t] + short[t] == quota[t]
    gen = [json.loads(x) for x in (out / "round_0" / "generated_questions.jsonl").read_text().splitlines()]  # fmt: skip
    assert {t: sum(q["qtype"] == t for q in gen) for t in QTYPES} == made
    assert short["grounding"] == quota["grounding"] > 0  # no evolved form answers with A-D boxes
    engine = rec["generation"]["grounding"]
    assert engine["attempts"] == 3 and engine["query_images"] > 2 * quota["grounding"] / 3
    assert "generated vs quota" in res.output and "short" in res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics[0]["shortfall"] == short
    assert "Short of the quota" in (out / "table.md").read_text()


def test_shortfall_filled_from_the_scene_graph_delivers_every_quota(tmp_path: Path) -> None:
    out = tmp_path / "loop"
    args = [*TINY, "--shortfall", "scene_graph", "--engine-attempts", "1", "--out", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    rec = json.loads((out / "round_0" / "abs.json").read_text())
    assert rec["generated"] == rec["quotas"] and not any(rec["shortfall"].values())
    gen = rec["generation"]
    assert gen["grounding"]["filled"] == rec["quotas"]["grounding"]
    assert all(g["attempts"] == 1 for g in gen.values() if g["quota"])


def test_engine_retries_on_more_images_until_the_quota_or_the_bound(tmp_path: Path) -> None:
    scenes = draw_scenes("retry", 0, 60, set())
    backend = make_backend("grounded")
    order = list(scenes)
    got = engine_for_type("ocr", 6, order, scenes, 1, 0, tmp_path / "ocr", backend, attempts=4)
    assert 1 <= got.attempts <= 4 and got.query_images <= len(order)
    assert all(q.qtype == "ocr" and q.answer in WORDS for q in got.questions)
    assert len(got.questions) <= 6 and len({q.scene_id for q in got.questions}) == len(got.questions)  # fmt: skip
    if got.attempts > 1:  # each retry took twice as many fresh images
        assert got.query_images > 12
    never = engine_for_type("grounding", 3, order, scenes, 3, 0, tmp_path / "g", backend, attempts=2)  # fmt: skip
    assert never.questions == [] and never.attempts == 2 and never.query_images == 2 + 4
    assert never.record(3)["shortfall"] == 3 and never.other_types


def test_printed_words_in_evolved_answers_become_ocr_questions() -> None:
    q = "What word is printed on the red circle, and how many letters does it have?"
    a = 'The red circle carries the word "TEA", which has 3 letters.'
    assert _parts(q, a) == [("What word is written on the red circle?", "TEA", "ocr")]
    q2 = "Which is longer: the word on the blue square or the word on the large hexagon?"
    a2 = ('The word on the large hexagon ("JAZZ", 4 letters) is longer than the word on the '
          'blue square ("GO", 2 letters).')  # fmt: skip
    assert _parts(q2, a2) == [
        ("What word is written on the large hexagon?", "JAZZ", "ocr"),
        ("What word is written on the blue square?", "GO", "ocr"),
    ]
    assert _parts(q, 'The red circle carries the word "NOPE".') == []  # not a world word
