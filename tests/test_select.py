"""``mmevol select``: ABS query images on real data (a ``mmevol weights`` plan + a seed pool ->
one seeds file per type, half similar to the type's bad cases, half random) and the path on to
``mmevol evolve --focus PLAN --focus-type T``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mmevol.cli.app import app
from mmevol.errors import InputError, MmevolError
from mmevol.loop import select as sel
from mmevol.loop.plan import AbsPlan, TypeResult, load_plan
from mmevol.schema import QA, ImageRef, Obj, Seed

runner = CliRunner()


# --- helpers ---------------------------------------------------------------------------------
def make_plan(
    quotas: dict[str, int], cases: dict[str, list[dict[str, str]]] | None = None
) -> AbsPlan:
    per = {t: TypeResult(n=4, correct=1, accuracy=0.25, error_rate=0.75) for t in quotas}
    return AbsPlan(
        sources=["x"], metrics={}, per_type=per, skipped={}, weighting="linear", floor=0.03,
        weights=dict.fromkeys(quotas, 1 / len(quotas)), budget=sum(quotas.values()),
        quotas=quotas, bad_cases=cases or {},
    )  # fmt: skip


def make_pool(n: int) -> sel.Pool:
    pool = sel.Pool()
    for i in range(n):
        pool.ids.append(f"s{i:03d}")
        pool.images.append(f"/img/{i}.png")
        pool.missing.append(False)
        pool.docs.append([])
    return pool


def seed(i: int, caption: str, cats: list[str], question: str = "What is in the image?") -> Seed:
    return Seed(
        id=f"seed-{i}", image=ImageRef(path=f"/img/{i}.png", digest=f"sha256:{i:064x}"),
        captions=[caption], objects=[Obj(category=c, bbox=[0.1, 0.1, 0.5, 0.5]) for c in cats],
        items=[QA(question=question, answer="Something.")],
    )  # fmt: skip


def lmms_row(
    i: int, question: str, answer: str, pred: str, score: float, cat: str
) -> dict[str, Any]:
    return {"doc_id": i, "doc": {"question_id": str(i), "question": question, "category": cat},
            "target": answer, "arguments": [], "resps": [[pred]], "filtered_resps": [pred],
            "filter": "none", "exact_match": score}  # fmt: skip


def write_plan_with_weights(tmp_path: Path, budget: int = 10) -> Path:
    """A plan made the way a user makes one: ``mmevol weights`` on an lmms-eval style log."""
    rows = [
        lmms_row(0, "How many stars are there in the image?", "3", "2", 0.0, "count"),
        lmms_row(1, "How many circles are there?", "2", "4", 0.0, "count"),
        lmms_row(2, "How many squares are there?", "1", "1", 1.0, "count"),
        lmms_row(3, "What color is the triangle?", "green", "red", 0.0, "color"),
        lmms_row(4, "What color is the hexagon?", "blue", "blue", 1.0, "color"),
        lmms_row(5, "Is the circle to the left of the star?", "yes", "no", 0.0, "position"),
    ]
    log = tmp_path / "logs" / "samples_shapes.jsonl"
    log.parent.mkdir(parents=True)
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    plan = tmp_path / "plan.json"
    res = runner.invoke(app, ["weights", "--from-lmms-eval", str(log), "--budget", str(budget),
                              "--out", str(plan)])  # fmt: skip
    assert res.exit_code == 0, res.output
    return plan


@pytest.fixture()
def pool_file(tmp_path: Path) -> Path:
    from mmevol.api import demo_seeds

    path = tmp_path / "pool" / "seeds.jsonl"
    path.parent.mkdir()
    demo_seeds(path, n=16, seed=1)
    return path


def seed_ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines() if line.strip()]


# --- the choice ------------------------------------------------------------------------------
def test_half_similar_half_random_similar_ones_are_the_best_matches() -> None:
    pool = make_pool(20)
    scores = {"count": {i: (i / 20, 0) for i in range(1, 20)}}  # s019 best, s000 unrelated
    plan = make_plan(
        {"count": 6}, {"count": [{"question": "q", "answer": "a", "model_answer": "b"}]}
    )
    (t,) = sel.choose(plan, pool, scores, {"count": "text"}, seed=0)
    sim = [p for p in t.picks if p.kind == "similar"]
    rnd = [p for p in t.picks if p.kind == "random"]
    assert (len(sim), len(rnd), t.shortfall) == (3, 3, 0)
    assert [p.seed_id for p in sim] == ["s019", "s018", "s017"]
    assert [p.score for p in sim] == [0.95, 0.9, 0.85]
    assert not {p.seed_id for p in rnd} & {p.seed_id for p in sim}
    # an odd count rounds the similar half up; share 0 and 1 are all random / all similar
    assert sel.split(5, 0.5) == 3 and sel.split(1, 0.5) == 1 and sel.split(4, 0.0) == 0
    (t1,) = sel.choose(plan, pool, scores, {"count": "text"}, similar_share=1.0)
    assert {p.kind for p in t1.picks} == {"similar"}


def test_the_random_half_is_seeded_and_reproducible() -> None:
    pool = make_pool(60)
    plan = make_plan({"a": 10, "b": 10})
    runs = [sel.choose(plan, pool, {}, {}, seed=s) for s in (7, 7, 8)]
    ids = [[[p.seed_id for p in t.picks] for t in r] for r in runs]
    assert ids[0] == ids[1] and ids[0] != ids[2]
    assert all(p.kind == "random" for t in runs[0] for p in t.picks)  # no bad cases: all random
    # one type's draw does not depend on which other types are chosen
    alone = sel.choose(plan, pool, {}, {}, seed=7, types=["b"], overlap=True)
    both = sel.choose(plan, pool, {}, {}, seed=7, overlap=True)
    assert [p.seed_id for p in alone[0].picks] == [p.seed_id for p in both[1].picks]


def test_a_score_of_zero_is_not_similar() -> None:
    pool = make_pool(10)
    plan = make_plan({"t": 6}, {"t": [{"question": "q", "answer": "a", "model_answer": "b"}]})
    (t,) = sel.choose(plan, pool, {"t": {4: (0.5, 0)}}, {"t": "text"})
    assert [(p.seed_id, p.kind) for p in t.picks if p.kind == "similar"] == [("s004", "similar")]
    assert t.count("random") == 5 and t.shortfall == 0


def test_shortfall_when_the_pool_runs_out_and_types_do_not_share_images() -> None:
    pool = make_pool(5)
    case = [{"question": "q", "answer": "a", "model_answer": "b"}]
    plan = make_plan({"big": 4, "small": 3, "none": 0}, {"big": case, "small": case})
    close = {i: (0.5, 0) for i in range(5)}
    big, small, none = sel.choose(plan, pool, {"big": close, "small": close}, {})
    # 7 wanted, 5 in the pool: shared in proportion (20/7 -> 3, 15/7 -> 2), both halves kept
    assert (len(big.picks), big.shortfall, big.count("random")) == (3, 1, 1)
    assert (len(small.picks), small.shortfall, small.count("random")) == (2, 1, 1)
    assert sel.share_out({"a": 10, "b": 5, "c": 15}, 20, False) == {"a": 7, "b": 3, "c": 10}
    assert sel.share_out({"a": 10, "b": 5}, 20, False) == {"a": 10, "b": 5}
    assert sel.share_out({"a": 10, "b": 50}, 20, True) == {"a": 10, "b": 20}
    assert not none.picks and none.shortfall == 0
    assert not {p.seed_id for p in big.picks} & {p.seed_id for p in small.picks}
    big, small, _ = sel.choose(plan, pool, {"big": close, "small": close}, {}, overlap=True)
    assert (len(big.picks), len(small.picks)) == (4, 3)
    # a quota far beyond the pool is capped by it: all the pool, the rest short
    (huge,) = sel.choose(make_plan({"x": 2**62}), pool, {}, {})
    assert len(huge.picks) == 5 and huge.shortfall == 2**62 - 5
    # per_image: a quota of 7 samples at 3 per image wants 3 images
    (t,) = sel.choose(make_plan({"x": 7}), pool, {}, {}, per_image=3)
    assert t.wanted == 3 and len(t.picks) == 3


def test_text_similarity_matches_captions_objects_and_questions() -> None:
    seeds = [
        seed(0, "A giraffe stands next to a tall tree.", ["giraffe"]),
        seed(1, "Two buses wait at a red traffic light.", ["bus", "traffic light"]),
        seed(2, "A plate of pizza on a wooden table.", ["pizza", "dining table"]),
        seed(3, "A man reads a book.", ["person", "book"], "What is the man reading?"),
    ]
    index = sel.TextIndex([sel.terms(sel.seed_text(s)) for s in seeds])
    cases = [
        {"question": "How many buses are in the picture?", "answer": "2", "model_answer": "3"},
        {"question": "What is the title of the book?", "answer": "Dune", "model_answer": "It"},
    ]
    scores = sel.text_scores(index, cases)
    assert max(scores, key=lambda i: scores[i][0]) in (1, 3)
    assert scores[1][1] == 0 and scores[3][1] == 1  # each matched by its own bad case
    assert 0 not in scores and 2 not in scores  # nothing in common: no score
    assert all(0 < s <= 1 for s, _ in scores.values())
    assert sel.terms("The Buses, 3 boxes and two knives!") == ["bus", "box", "two", "knife"]


def test_file_names_are_safe_and_distinct() -> None:
    names = sel.file_names(["count", "Count", "a/b", "../x", "", "日本"])
    assert len(set(names.values())) == 6
    assert all(
        "/" not in n and n.startswith("seeds-") and n.endswith(".jsonl") for n in names.values()
    )
    assert names["count"] == "seeds-count.jsonl"


# --- end to end ------------------------------------------------------------------------------
def test_weights_then_select_then_evolve_focus_end_to_end(tmp_path: Path, pool_file: Path) -> None:
    plan = write_plan_with_weights(tmp_path, budget=10)
    quotas = load_plan(plan).quotas
    out = tmp_path / "picked"
    res = runner.invoke(app, ["select", str(pool_file), "--plan", str(plan), "--out", str(out)])
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "selection.json").read_text())
    assert manifest["pool"] == 16 and manifest["seed"] == 0
    pool_ids = set(seed_ids(pool_file))
    chosen: set[str] = set()
    for t, q in quotas.items():
        rec = manifest["types"][t]
        assert rec["similarity"] == "text" and rec["chosen"] == q and rec["shortfall"] == 0
        assert rec["similar"] == (q + 1) // 2 and rec["random"] == q // 2
        picked = [im["seed_id"] for im in rec["images"]]
        assert sorted(seed_ids(out / rec["seeds_file"])) == sorted(picked)
        assert set(picked) <= pool_ids and not chosen & set(picked)  # one type per image
        chosen |= set(picked)
        sims = [im["score"] for im in rec["images"] if im["pick"] == "similar"]
        assert sims == sorted(sims, reverse=True) and all(s > 0 for s in sims)
        assert rec["evolve"] in res.output and f"--focus-type {t}" in rec["evolve"]
    assert "similar" in res.output and "random" in res.output
    assert "matched by text" in res.output  # lmms-eval bad cases carry no image
    # the same command again replaces the folder with the same files
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    again = runner.invoke(app, ["select", str(pool_file), "--plan", str(plan), "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    # on to the next round: the count type's images with its bad cases
    rec = manifest["types"]["count"]
    run = tmp_path / "run-count"
    res = runner.invoke(app, ["evolve", str(out / rec["seeds_file"]), "--focus", str(plan),
                              "--focus-type", "count", "--rounds", "1", "--out", str(run)])  # fmt: skip
    assert res.exit_code == 0, res.output
    config = json.loads((run / "config.json").read_text())["config"]
    assert config["focus"]["question_type"] == "count"
    assert config["focus"]["bad_cases"][0]["question"] == "How many stars are there in the image?"
    assert {
        json.loads(x)["seed_id"] for x in (run / "dataset.jsonl").read_text().splitlines()
    } <= set(seed_ids(out / rec["seeds_file"]))


def test_select_one_type_with_shortfall_on_the_console(tmp_path: Path, pool_file: Path) -> None:
    plan = write_plan_with_weights(tmp_path, budget=40)
    out = tmp_path / "picked"
    res = runner.invoke(app, ["select", str(pool_file), "--plan", str(plan), "--out", str(out),
                              "--type", "count", "--type", "color", "--seed", "3"])  # fmt: skip
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "selection.json").read_text())
    assert set(manifest["types"]) == {"count", "color"}
    assert sorted(p.name for p in out.iterdir()) == [
        "seeds-color.jsonl",
        "seeds-count.jsonl",
        "selection.json",
    ]
    total = sum(r["chosen"] for r in manifest["types"].values())
    assert total == 16  # the whole pool, shared out between the two types
    short = [t for t, r in manifest["types"].items() if r["shortfall"]]
    assert short and all(f"shortfall: {t} got" in res.output for t in short)


def test_plan_with_bad_case_images_stays_a_focus_plan(tmp_path: Path, pool_file: Path) -> None:
    plan = write_plan_with_weights(tmp_path)
    data = json.loads(plan.read_text())
    data["bad_case_images"] = {"count": ["images/does-not-matter.png"]}
    plan.write_text(json.dumps(data))
    assert load_plan(plan).bad_case_images == {"count": ["images/does-not-matter.png"]}
    from mmevol.evolve.config import load_focus

    assert load_focus(plan, "count").question_type == "count"
    out = tmp_path / "picked"
    res = runner.invoke(app, ["select", str(pool_file), "--plan", str(plan), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "compared only with --encoder" in res.output  # without an encoder: text


# --- bad inputs: one line, no traceback, nothing written --------------------------------------
def _one_line_error(args: list[str], code: int = 2) -> str:
    res = runner.invoke(app, args)
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output and res.output.count("error:") == 1
    return res.output


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("not json", "invalid JSON"),
        ("[1, 2]", "not a `mmevol weights` plan"),
        ('{"per_type": {}, "quotas": {}}', "Field required"),
        ("\ud800", "not UTF-8"),
    ],
)
def test_bad_plan_files(tmp_path: Path, pool_file: Path, content: str, expected: str) -> None:
    plan = tmp_path / "plan.json"
    plan.write_bytes(content.encode("utf-8", "surrogatepass"))
    text = _one_line_error(
        ["select", str(pool_file), "--plan", str(plan), "--out", str(tmp_path / "o")]
    )
    assert expected in text and not (tmp_path / "o").exists()


def test_bad_quotas_and_oversized_plan(
    tmp_path: Path, pool_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = write_plan_with_weights(tmp_path)
    data = json.loads(good.read_text())
    out = str(tmp_path / "o")
    for change, expected in [
        ({"quotas": {**data["quotas"], "count": -1}}, "is not a quota"),
        ({"quotas": {**data["quotas"], "ghost": 3}}, "does not list"),
        ({"bad_case_images": {"count": ["a\u0085b"]}}, "bad_case_images"),
    ]:
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({**data, **change}))
        assert expected in _one_line_error(
            ["select", str(pool_file), "--plan", str(bad), "--out", out]
        )
    monkeypatch.setattr(sel, "MAX_PLAN_BYTES", 100)
    assert "larger than 100 bytes" in _one_line_error(
        ["select", str(pool_file), "--plan", str(good), "--out", out]
    )
    assert not Path(out).exists()


def test_bad_seeds_types_and_outputs(tmp_path: Path, pool_file: Path) -> None:
    plan = write_plan_with_weights(tmp_path)
    out = tmp_path / "o"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert "empty" in _one_line_error(
        ["select", str(empty), "--plan", str(plan), "--out", str(out)]
    )
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "x"}\n')
    assert "broken.jsonl:1" in _one_line_error(
        ["select", str(broken), "--plan", str(plan), "--out", str(out)]
    )
    assert "not a type of the plan" in _one_line_error(
        ["select", str(pool_file), "--plan", str(plan), "--out", str(out), "--type", "ocr"]
    )
    assert "holds an input" in _one_line_error(
        ["select", str(pool_file), "--plan", str(plan), "--out", str(pool_file.parent)]
    )
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    assert "not an earlier output" in _one_line_error(
        ["select", str(pool_file), "--plan", str(plan), "--out", str(busy)]
    )
    assert (busy / "keep.txt").read_text() == "mine" and not out.exists()
    with pytest.raises(MmevolError, match="similar-share"):
        sel.select_query_images(plan, pool_file, out, similar_share=1.5)


def test_duplicate_seed_ids_are_counted_once(tmp_path: Path, pool_file: Path) -> None:
    lines = pool_file.read_text().splitlines()
    dup = tmp_path / "dup.jsonl"
    dup.write_text("\n".join([*lines, lines[0]]) + "\n")
    pool = sel.read_pool(dup)
    assert len(pool.ids) == 16 and pool.duplicates == 1
    with pytest.raises(InputError, match=r"no seeds|empty"):
        blank = tmp_path / "blank.jsonl"
        blank.write_text("\n\n")
        sel.read_pool(blank)


def test_real_shaped_logs_to_a_focused_round_on_coco_seeds(
    tmp_path: Path, tiny_coco_seeds: Path
) -> None:
    """The issue's path: `mmevol weights` on lmms-eval 0.7 logs (MMBench, POPE, MME, SEED-Bench
    in the shape lmms-eval writes, tests/fixtures/eval) -> `mmevol select` on COCO seeds ->
    `mmevol evolve --focus` for one type."""
    logs = Path(__file__).parent / "fixtures" / "eval" / "lmms_eval_0.7"
    plan = tmp_path / "plan.json"
    res = runner.invoke(app, ["weights", "--from-lmms-eval", str(logs), "--budget", "24",
                              "--out", str(plan)])  # fmt: skip
    assert res.exit_code == 0, res.output
    out = tmp_path / "picked"
    res = runner.invoke(
        app, ["select", str(tiny_coco_seeds), "--plan", str(plan), "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "selection.json").read_text())
    assert len(manifest["types"]) >= 4  # MMBench, POPE, MME and SEED-Bench categories
    for t, rec in manifest["types"].items():
        assert rec["chosen"] == rec["similar"] + rec["random"] and f"{t}:" in res.output
    assert sum(r["random"] for r in manifest["types"].values()) >= 1
    # a type whose bad cases name things COCO annotates gets images by similarity
    qtype, rec = max(manifest["types"].items(), key=lambda kv: kv[1]["similar"])
    assert rec["similar"] >= 1, {t: r["similar"] for t, r in manifest["types"].items()}
    run = tmp_path / "run"
    res = runner.invoke(app, ["evolve", str(out / rec["seeds_file"]), "--focus", str(plan),
                              "--focus-type", qtype, "--rounds", "1", "--out", str(run)])  # fmt: skip
    assert res.exit_code == 0, res.output
    focus = json.loads((run / "config.json").read_text())["config"]["focus"]
    assert focus["question_type"] == qtype and focus["bad_cases"]
