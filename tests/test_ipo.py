"""Interactive Prompt Optimization: versioned prompts, reviews -> LLM revision over real HTTP
(the fake server), samples made afterwards carry the new version, report per version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from mmevol.backends.base import Backend
from mmevol.backends.openai_compat import OpenAIBackend
from mmevol.calls import ModelCall, Reply
from mmevol.cli.app import app
from mmevol.errors import MmevolError
from mmevol.evolve.config import EvolveConfig
from mmevol.evolve.run import run_evolve
from mmevol.loop.ipo import RevisionFailed, collect_reviews, revise
from mmevol.prompts import load_template
from mmevol.prompts.versions import PromptStore, content_hash
from mmevol.report import write_report
from mmevol.reviews import ReviewStore
from mmevol.schema import Sample
from mmevol.testing.server import FakeServerConfig, running_server

runner = CliRunner()
KEY_ENV = "MMEVOL_IPO_TEST_KEY"


def evolve(seeds: Path, out: Path, url: str) -> list[Sample]:
    cfg = EvolveConfig(
        seeds=str(seeds), out=str(out), rounds=1, backend="openai", model="fake-mllm",
        base_url=url, api_key_env=KEY_ENV, progress=False, concurrency=4,
        direction_weights={"perception": 1.0, "reasoning": 0.0, "interactive": 0.0},
    )  # fmt: skip
    assert run_evolve(cfg).complete
    rows = (out / "rounds" / "round_1.jsonl").read_text().splitlines()
    return [Sample.model_validate_json(x) for x in rows]


def cli(*args: str) -> Any:
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture()
def server(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv(KEY_ENV, "sk-test")
    cfg = FakeServerConfig(port=0, bad_rate=0.4, broken_json_rate=0.0, seed=5)
    with running_server(cfg) as url:
        yield url


def test_reviews_to_llm_revision_to_new_samples_and_report(
    world_seeds: tuple[Path, list[Any]], tmp_path: Path, server: str
) -> None:
    seeds, _ = world_seeds
    run_a, run_b = tmp_path / "a", tmp_path / "b"
    made = evolve(seeds, run_a, server)
    bundled = load_template("perception").version
    assert made and {s.lineage.prompt_version for s in made} == {bundled}

    # review: reject two samples with notes, accept one; plus a JSONL of notes
    reviews = ReviewStore(run_a)
    reviews.add(made[0].id, "reject", note="the quoted box is not the object's box")
    reviews.add(made[1].id, "edit", question="Q fixed?", answer="A fixed.", note="answer wrong")
    reviews.add(made[2].id, "accept")
    reviews.close()
    notes = tmp_path / "notes.jsonl"
    notes.write_text(
        json.dumps({"question_type": "perception", "verdict": "bad", "note": "too generic"})
        + "\n"
        + json.dumps({"sample_id": made[3].id, "verdict": "bad", "note": "needs no image"})
        + "\n"
    )
    assert cli("prompts", "init", "--run", run_a).exit_code == 0
    store = PromptStore.of_run(run_a)
    v1 = store.get("perception")
    assert (v1.version, v1.author, v1.parent) == (1, "bundled", None)
    assert v1.content_hash[:10] == bundled.rsplit("@", 1)[1]  # same text as the bundled one

    res = cli(
        "prompts", "revise", "perception", "--run", run_a, "--backend", "openai",
        "--base-url", server, "--model", "fake-mllm", "--api-key-env", KEY_ENV,
        "--notes", notes,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    v2 = store.get("perception")
    assert (v2.version, v2.parent, v2.author) == (2, 1, "llm")
    assert (v2.backend, v2.model) == ("openai", "fake-mllm")
    assert v2.input_tokens > 0 and v2.output_tokens > 0  # what the revision cost is kept
    assert f"{v2.input_tokens}+{v2.output_tokens} tokens" in res.output
    refs = {(r.sample_id, r.question_type, r.verdict) for r in v2.reviews}
    assert refs == {
        (made[0].id, None, "bad"), (made[1].id, None, "bad"), (made[2].id, None, "good"),
        (made[3].id, None, "bad"), (None, "perception", "bad"),
    }  # fmt: skip
    text = store.text(v2)
    assert "the quoted box is not the object's box" in text and "too generic" in text
    assert "reviewer corrected it to: Q: Q fixed?" in text  # the edit's correction went along
    assert content_hash(text) == v2.content_hash
    assert "v2" in cli("prompts", "list", "--run", run_a).output
    assert cli("prompts", "show", "perception", "--run", run_a, "--version", "1").output == (
        load_template("perception").text
    )

    # a new run started from A's prompts generates with v2 and records it in every sample
    assert cli("prompts", "init", "--run", run_b, "--from", run_a).exit_code == 0
    after = evolve(seeds, run_b, server)
    assert after and {s.lineage.prompt_version for s in after} == {v2.tag}
    from mmevol.store import Store

    db = Store(run_b / "run.sqlite")
    requests = db.db.execute("SELECT template, request FROM calls WHERE task='evolve'").fetchall()
    db.close()
    assert requests and all(t == v2.tag and "too generic" in r for t, r in requests)

    # the report shows quality per version: A (bundled, with reviews) and B (v2)
    f = json.loads(write_report(run_a, tmp_path / "a.json", as_json=True).read_text())
    (row_a,) = f["prompt_versions"]
    assert row_a["prompt_version"] == bundled and row_a["author"] == "bundled"
    assert row_a["candidates"] == len(made) and row_a["backends"] == ["openai"]
    assert row_a["kept"] == sum(s.lineage.kept for s in made)
    assert row_a["reviews"] == {"accept": 1, "reject": 1, "edit": 1}
    assert row_a["review_accept_rate"] == pytest.approx(1 / 3, abs=1e-4)
    scores = [s.lineage.verdict.score for s in made if s.lineage.verdict]
    assert row_a["mean_judge_score"] == pytest.approx(sum(scores) / len(scores), abs=1e-3)
    f = json.loads(write_report(run_b, tmp_path / "b.json", as_json=True).read_text())
    (row_b,) = f["prompt_versions"]
    assert (row_b["prompt_version"], row_b["author"]) == (v2.tag, "llm")
    assert row_b["acceptance"] == pytest.approx(
        sum(s.lineage.kept for s in after) / len(after), abs=1e-4
    )
    html = write_report(run_a, tmp_path / "r.html", compare=run_b).read_text()
    assert "Quality per prompt version" in html and v2.tag in html and bundled in html


class _BadReviser(Backend):
    """Answers with valid JSON whose prompt drops the {{context}} block."""

    name: ClassVar[str] = "badreviser"

    def __init__(self) -> None:
        self.model = "x"
        self.vision = False
        self.calls = 0

    async def complete(self, call: ModelCall) -> Reply:
        self.calls += 1
        body = {"prompt": "You write questions. " * 5 + "\n=== user ===\nDo it.", "rationale": "r"}
        return Reply(text=json.dumps(body), model=self.model)


def _reviewed_run(tmp_path: Path) -> tuple[Path, PromptStore, list[Any]]:
    run = tmp_path / "run"
    run.mkdir()
    store = PromptStore.of_run(run)
    store.init_bundled()
    notes = tmp_path / "n.jsonl"
    notes.write_text(json.dumps({"question_type": "reasoning", "verdict": "bad", "note": "x"}))
    return run, store, collect_reviews(run, notes)


def test_unusable_revision_is_a_typed_failure_and_keeps_the_version(tmp_path: Path) -> None:
    run, store, reviewed = _reviewed_run(tmp_path)
    backend = _BadReviser()
    with pytest.raises(RevisionFailed, match="invalid_prompt"):
        revise(store, "reasoning", reviewed, backend)
    assert backend.calls == 2  # asked once more with the reason before giving up
    assert store.get("reasoning").version == 1
    (fail,) = [json.loads(x) for x in (run / "prompts/reasoning/failures.jsonl").read_text().splitlines()]  # fmt: skip
    assert fail["error_class"] == "invalid_prompt" and fail["base_version"] == "reasoning/v1"


def test_failed_http_call_is_recorded(tmp_path: Path) -> None:
    run, store, reviewed = _reviewed_run(tmp_path)
    cfg = FakeServerConfig(port=0, fault_rate=1.0, faults=["server_error"])
    with running_server(cfg) as url:
        llm = OpenAIBackend(model="fake-mllm", base_url=url, max_attempts=1, api_key_env="NOPE")
        with pytest.raises(RevisionFailed, match="server_error"):
            revise(store, "reasoning", reviewed, llm)
    assert store.get("reasoning").version == 1
    assert "server_error" in (run / "prompts/reasoning/failures.jsonl").read_text()


def test_user_edit_path_and_refusals(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    good = tmp_path / "new.txt"
    good.write_text("Ask counting questions whose answers the scene graph fixes.\n=== user ===\n{{context}}\n")  # fmt: skip
    res = cli("prompts", "edit", "counting", "--run", run, "--file", good, "--reason", "first")
    assert res.exit_code == 0, res.output
    v = PromptStore.of_run(run).get("counting")
    assert (v.version, v.author, v.parent, v.reason) == (1, "user", None, "first")
    # directions start from the bundled text: an edit becomes v2 with v1 as parent
    res = cli("prompts", "edit", "reasoning", "--run", run, "--file", good, "--reason", "mine")
    assert res.exit_code == 0, res.output
    hist = PromptStore.of_run(run).versions("reasoning")
    assert [(h.version, h.author, h.parent) for h in hist] == [(1, "bundled", None), (2, "user", 1)]

    bad = tmp_path / "bad.txt"
    bad.write_text(
        "Ask things about {{nothing}} here please, at length.\n=== user ===\n{{context}}"
    )
    res = cli("prompts", "edit", "counting", "--run", run, "--file", bad, "--reason", "x")
    assert res.exit_code == 2 and "{{nothing}}" in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not (run / "prompts/counting/v2.txt").exists()
    res = cli("prompts", "edit", "counting", "--run", run, "--file", good, "--reason", "same")
    assert res.exit_code == 2 and "identical" in res.output
    assert cli("prompts", "edit", "colour", "--run", run, "--file", good, "--reason", "x").exit_code == 2  # fmt: skip

    res = cli("prompts", "revise", "counting", "--run", run)  # no LLM configured
    assert res.exit_code == 2 and "mmevol prompts edit counting" in res.output
    res = cli("prompts", "revise", "counting", "--run", run, "--backend", "grounded")
    assert res.exit_code == 2 and "not an LLM" in res.output

    (run / "prompts/counting/v1.txt").write_text(good.read_text() + "tampered")
    res = cli("prompts", "show", "counting", "--run", run)
    assert res.exit_code == 2 and "hash mismatch" in res.output


def test_notes_file_errors_name_the_line(tmp_path: Path) -> None:
    notes = tmp_path / "n.jsonl"
    notes.write_text('{"question_type": "ocr", "verdict": "bad"}\n{"verdict": "meh", "sample_id": "s"}\n')  # fmt: skip
    with pytest.raises(Exception, match=r"n.jsonl: line 2: verdict"):
        collect_reviews(None, notes)
    notes.write_text('{"sample_id": "s1", "question_type": "ocr", "verdict": "bad"}\n')
    with pytest.raises(Exception, match="exactly one of sample_id or question_type"):
        collect_reviews(None, notes)


def test_loop_run_reviews_map_to_question_types(tmp_path: Path) -> None:
    run = tmp_path / "loop"
    (run / "round_0").mkdir(parents=True)
    q = {"id": "r0:s1:counting:0", "scene_id": "s1", "qtype": "counting", "text": "How many?", "answer": "2"}  # fmt: skip
    (run / "round_0" / "generated_questions.jsonl").write_text(json.dumps(q) + "\n")
    notes = tmp_path / "n.jsonl"
    notes.write_text(json.dumps({"sample_id": q["id"], "verdict": "bad", "note": "ambiguous"}))
    (r,) = collect_reviews(run, notes)
    assert (r.name, r.question, r.ref.note) == ("counting", "How many?", "ambiguous")
    notes.write_text(json.dumps({"sample_id": "nope", "verdict": "bad"}))
    with pytest.raises(Exception, match="line 1: sample_id"):
        collect_reviews(run, notes)


def test_an_edit_made_during_a_revision_is_not_overridden(tmp_path: Path) -> None:
    store = PromptStore.of_run(tmp_path / "run")
    base = (
        "Ask counting questions whose answers the scene graph fixes.\n=== user ===\n{{context}}\n"
    )
    store.add("counting", base, author="user", reason="first")
    # the revision was asked of v1; meanwhile a person stored v2
    store.add("counting", base.replace("Ask", "Write"), author="user", reason="meanwhile")
    with pytest.raises(MmevolError, match=r"changed while the revision was being written"):
        store.add(
            "counting", base.replace("Ask", "Pose"), author="llm", reason="r", expected_parent=1
        )
    assert [v.version for v in store.versions("counting")] == [1, 2]
    assert not (tmp_path / "run/prompts/counting/v3.txt").exists()

    # writers in parallel (threads; the lock is a file lock, so processes too) never lose one
    from concurrent.futures import ThreadPoolExecutor

    texts = [base.replace("Ask", f"Ask (variant {i})") for i in range(8)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda t: store.add("counting", t, author="user", reason="x"), texts))
    hist = store.versions("counting")
    assert [v.version for v in hist] == list(range(1, 11))
    assert all(store.text(v) for v in hist)  # every recorded hash matches its file


def test_loop_engine_generation_uses_and_records_the_types_prompt_version(
    tmp_path: Path,
) -> None:
    pytest.importorskip("torch")
    from mmevol.loop.ipo_reviews import run_samples
    from mmevol.loop.run import LoopConfig, run_loop
    from mmevol.store import Store

    out = tmp_path / "loop"
    store = PromptStore.of_run(out)
    text = "Ask how many objects of one colour and kind there are; never count the background.\n=== user ===\n{{context}}\n"  # fmt: skip
    v1 = store.add("counting", text, author="user", reason="first")
    cfg = LoopConfig.model_validate(
        {
            "rounds": 1,
            "budget": 27,
            "n_train": 12,
            "n_dev": 20,
            "n_heldout": 20,
            "generator": "engine",
            "engine_backend": "grounded",
            "train": {"epochs": 1},
        }
    )  # grounded ignores the guidance, but every call still carries it
    run_loop(cfg, out)
    db = Store(out / "round_0" / "engine" / "counting" / "run" / "run.sqlite")
    requests = [
        json.loads(r)
        for (r,) in db.db.execute("SELECT request FROM calls WHERE task='evolve'").fetchall()
    ]
    db.close()
    assert requests and all(
        "never count the background" in r["messages"][-1]["content"] for r in requests
    )
    samples = run_samples(out)
    made = [s for sid, s in samples.items() if s.version == v1.tag]
    assert made, "the questions of the counting call record the version that made them"
    other = out / "round_0" / "engine" / "ocr" / "run" / "run.sqlite"
    if other.exists():  # a type with no version of its own gets no guidance
        db = Store(other)
        reqs = [
            r for (r,) in db.db.execute("SELECT request FROM calls WHERE task='evolve'").fetchall()
        ]
        db.close()
        assert not any("never count the background" in r for r in reqs)
