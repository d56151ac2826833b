"""``mmevol view`` through its HTTP surface: list, filters, pages, reviews, images, safety.

Two kinds of run directory are used: a real one evolved by the engine from rendered scenes
(copied per test, since reviews write into it), and small hand-made ones written straight into
the journal for edge cases (hostile text, missing images, 100k samples).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mmevol.cli.app import app as cli_app
from mmevol.evolve.config import EvolveConfig
from mmevol.evolve.export import export_run
from mmevol.evolve.run import run_evolve
from mmevol.io.images import missing_image_ref
from mmevol.io.tabular import read_samples
from mmevol.reviews import REVIEWS_FILE, ReviewStore
from mmevol.schema import QA, Lineage, Obj, Sample, Seed, Verdict
from mmevol.seeds import write_seeds
from mmevol.store import Store
from mmevol.view import create_app
from mmevol.view.params import MAX_FORM
from mmevol.view.query import PAGE_SIZE

runner = CliRunner()


@pytest.fixture(scope="module")
def evolved_run(
    world_seeds: tuple[Path, list[Seed]], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    seeds_path, _ = world_seeds
    out = tmp_path_factory.mktemp("view") / "run"
    result = run_evolve(EvolveConfig(seeds=str(seeds_path), out=str(out), rounds=3, progress=False))
    assert result.complete
    return out


@pytest.fixture
def run_dir(evolved_run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(evolved_run, copy)
    return copy


@pytest.fixture
def client(run_dir: Path) -> TestClient:
    return TestClient(create_app(run_dir))


def sample_path(sample_id: str) -> str:
    return f"/sample/{quote(sample_id, safe='')}"


def all_ids(client: TestClient, query: str = "") -> list[str]:
    ids: list[str] = []
    page = 1
    while True:
        data = client.get(f"/api/samples?{query}&page={page}").json()
        ids += [s["id"] for s in data["samples"]]
        if page >= data["pages"]:
            return ids
        page += 1


def journal(run_dir: Path, sql: str) -> list[tuple[object, ...]]:
    store = Store(run_dir / "run.sqlite")
    try:
        return store.db.execute(sql).fetchall()
    finally:
        store.close()


# --- list page and filters ---------------------------------------------------------------------


def test_list_page_shows_counts_thumbnails_and_rows(client: TestClient, run_dir: Path) -> None:
    total, kept = journal(run_dir, "SELECT COUNT(*), SUM(kept) FROM samples")[0]
    page = client.get("/")
    assert page.status_code == 200
    html = page.text
    assert f"<b>{total}</b><span>samples</span>" in html
    assert f"<b>{kept}</b><span>kept</span>" in html
    assert f"of <b>{total}</b> matching" in html
    assert html.count("<tr>") == 1 + min(50, int(str(total)))  # header + one page of rows
    assert re.search(r'<img src="/image/\d+/scene-\d+\.png\?w=128"', html)
    assert "unreviewed" in html and "round 1" in html


def test_filters_narrow_the_list(client: TestClient, run_dir: Path) -> None:
    every = all_ids(client)
    assert len(every) == journal(run_dir, "SELECT COUNT(*) FROM samples")[0][0]
    rows = {
        str(r[0]): r
        for r in journal(run_dir, "SELECT id, round, direction, kept, json FROM samples")
    }

    r2 = all_ids(client, "round=2")
    assert r2 and all(rows[i][1] == 2 for i in r2)
    seeds = all_ids(client, "direction=seed")
    assert seeds and all(rows[i][1] == 0 for i in seeds)
    perception = all_ids(client, "direction=perception")
    assert perception and all(rows[i][2] == "perception" for i in perception)
    dropped = all_ids(client, "kept=dropped")
    assert sorted(dropped) == sorted(i for i, r in rows.items() if not r[3])
    kept = all_ids(client, "kept=kept")
    assert len(kept) + len(dropped) == len(every)

    qa = {i: json.loads(str(r[4]))["qa"] for i, r in rows.items()}
    skill = next(s for q in qa.values() for s in q["skills"])
    assert sorted(all_ids(client, f"skill={skill}")) == sorted(
        i for i, q in qa.items() if skill in q["skills"]
    )
    fmt = "yes_no"
    assert sorted(all_ids(client, f"format={fmt}")) == sorted(
        i for i, q in qa.items() if q["format"] == fmt
    )
    assert sorted(all_ids(client, "object=TRIANGLE")) == sorted(
        i for i, q in qa.items() if any("triangle" in o.lower() for o in q["objects"])
    )
    word = "left"
    expected = sorted(
        i for i, q in qa.items() if word in q["question"].lower() or word in q["answer"].lower()
    )
    assert expected and sorted(all_ids(client, f"q={word.upper()}")) == expected
    both = all_ids(client, f"round=1&q={word}")
    assert both and all(rows[i][1] == 1 for i in both) and set(both) <= set(expected)
    # bad values are ignored, not errors
    assert len(all_ids(client, "round=abc&direction=Side%20ways!&kept=maybe&review=x")) == len(
        every
    )
    # a well-formed direction name the run does not have (custom ones are allowed) matches none
    assert all_ids(client, "direction=sideways") == []
    html = client.get("/?round=2&kept=dropped").text
    assert 'value="2" selected' in html and 'value="dropped" selected' in html


def test_pagination_pages_through_every_sample_once(client: TestClient) -> None:
    first = client.get("/api/samples?page=1").json()
    assert first["pages"] == -(-first["total"] // 50) and len(first["samples"]) == 50
    ids = all_ids(client)
    assert len(ids) == len(set(ids)) == first["total"]
    assert ids == sorted(ids)
    last = client.get(f"/api/samples?page={first['pages'] + 7}").json()
    assert last["page"] == first["pages"]  # past the end: the last page
    html = client.get("/?page=2&round=1").text
    assert "page" in html
    page2 = client.get("/?page=2").text
    assert 'rel="prev"' in page2 and "page 2 of" in page2


# --- sample page --------------------------------------------------------------------------------


def test_sample_page_draws_boxes_and_lineage(client: TestClient, run_dir: Path) -> None:
    rows = journal(run_dir, "SELECT id, json FROM samples WHERE round=3 AND kept=1 ORDER BY id")
    sid, blob = next((r for r in rows if "[0." in str(r[1])), rows[0])
    sample = Sample.model_validate_json(str(blob))
    page = client.get(sample_path(str(sid)))
    assert page.status_code == 200
    html = page.text
    assert sample.qa.question.replace("'", "&#39;").replace('"', "&#34;") in html
    seed = next(
        Seed.model_validate_json(line)
        for line in (run_dir / "seeds.jsonl").read_text().splitlines()
        if json.loads(line)["id"] == sample.seed_id
    )
    n_obj = sum(1 for o in seed.objects if o.bbox)
    assert html.count('<rect class="obj"') == n_obj
    assert html.count('<rect class="found') >= 1
    assert "annotated object in the seed" in html and "<svg" in html
    # lineage: the seed item, r1 and r2 ancestors, this sample
    parent = sample.lineage.parent_id
    assert parent and quote(parent, safe="") in html
    assert sid.split("@")[0] in html and "this sample" in html
    assert sample.lineage.verdict and sample.lineage.verdict.reason in html
    # a seed item's page shows its descendants
    seed_item = str(sid).split("@")[0]
    seed_page = client.get(sample_path(seed_item)).text
    assert quote(f"{seed_item}@r1", safe="") in seed_page
    assert client.get(sample_path("nope#0")).status_code == 404


# --- reviews ------------------------------------------------------------------------------------


def test_review_round_trip_is_persisted_in_the_run_dir(run_dir: Path) -> None:
    client = TestClient(create_app(run_dir))
    sid = all_ids(client, "round=1")[0]
    res = client.post(
        f"/review/{quote(sid, safe='')}",
        data={"action": "reject", "note": "boxes are wrong", "back": "round=1"},
        follow_redirects=False,
    )
    assert res.status_code == 303
    assert res.headers["location"] == f"{sample_path(sid)}?round=1&saved=reject"
    page = client.get(res.headers["location"]).text
    assert "Review saved" in page and "rejected" in page and "boxes are wrong" in page
    assert (run_dir / REVIEWS_FILE).is_file()

    # a restart (a new app on the same directory) still knows; the latest review wins
    client = TestClient(create_app(run_dir))
    assert client.get(f"/api/sample/{quote(sid, safe='')}").json()["review"]["action"] == "reject"
    edited = client.post(
        f"/api/review/{quote(sid, safe='')}",
        json={
            "action": "edit",
            "question": "  New question?  ",
            "answer": "New answer.",
            "note": "fixed",
        },
    ).json()
    assert edited["action"] == "edit" and edited["question"] == "New question?"
    info = client.get(f"/api/sample/{quote(sid, safe='')}").json()
    assert info["review"]["action"] == "edit" and len(info["history"]) == 2
    assert info["review"]["created"] >= info["history"][1]["created"]
    assert all_ids(client, "review=edit") == [sid]
    assert sid not in all_ids(client, "review=unreviewed")
    assert "<b>1</b><span>edited</span>" in client.get("/").text

    bad = [
        {"action": "approve"},
        {"action": "edit", "question": "", "answer": "x"},
        {"action": "accept", "note": 5},
    ]
    for body in bad:
        assert client.post(f"/api/review/{quote(sid, safe='')}", json=body).status_code == 400
    assert client.post("/api/review/nope%230", json={"action": "accept"}).status_code == 404
    empty_edit = client.post(
        f"/review/{quote(sid, safe='')}", data={"action": "edit", "question": " ", "answer": "a"}
    )
    assert empty_edit.status_code == 400 and "Review not saved" in empty_edit.text
    assert "non-empty question and answer" in empty_edit.text
    assert client.post(f"/api/review/{quote(sid, safe='')}", content=b"[1]").status_code == 400
    # another site cannot post reviews through the user's browser
    hostile = client.post(
        f"/review/{quote(sid, safe='')}",
        data={"action": "accept"},
        headers={"Origin": "http://evil.example"},
    )
    assert hostile.status_code == 403
    assert ReviewStore(run_dir).latest(sid).action == "edit"  # type: ignore[union-attr]


def test_oversized_reviews_and_edits_are_refused_and_nothing_is_saved(run_dir: Path) -> None:
    client = TestClient(create_app(run_dir))
    sid = all_ids(client, "round=1")[0]
    path = quote(sid, safe="")
    huge = "x" * (MAX_FORM + 1)
    form = client.post(f"/review/{path}", data={"action": "accept", "note": huge})
    assert form.status_code == 413 and "Review not saved" in form.text
    edit = client.post(f"/api/review/{path}", json={"action": "edit", "question": huge})
    assert edit.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused while streaming
        for _ in range(MAX_FORM // 1000 + 2):
            yield b"a" * 1000

    streamed = client.post(
        f"/api/review/{path}", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    long_note = client.post(f"/api/review/{path}", json={"action": "accept", "note": "n" * 20_001})
    assert long_note.status_code == 400 and "longer than" in long_note.text
    assert ReviewStore(run_dir).latest(sid) is None


def test_export_reviewed_only(run_dir: Path, tmp_path: Path) -> None:
    client = TestClient(create_app(run_dir))
    kept = all_ids(client, "kept=kept")
    accepted, edited, rejected = kept[0], kept[1], kept[2]
    for sid, body in (
        (accepted, {"action": "accept"}),
        (edited, {"action": "edit", "question": "Edited question?", "answer": "Edited."}),
        (rejected, {"action": "accept"}),
        (rejected, {"action": "reject"}),
    ):
        assert client.post(f"/api/review/{quote(sid, safe='')}", json=body).status_code == 200

    out = export_run(run_dir, "jsonl", tmp_path / "reviewed.jsonl", reviewed_only=True)
    got = {s.id: s for s in read_samples(out)}
    assert set(got) == {accepted, edited}
    assert got[edited].qa.question == "Edited question?" and got[edited].qa.answer == "Edited."
    full = list(read_samples(export_run(run_dir, "jsonl", tmp_path / "all.jsonl")))
    assert len(full) == len(kept)

    code = runner.invoke(
        cli_app,
        [
            "export",
            str(run_dir),
            "--format",
            "llava",
            "--out",
            str(tmp_path / "l.json"),
            "--reviewed-only",
        ],
    )
    assert code.exit_code == 0, code.stderr
    records = json.loads((tmp_path / "l.json").read_text())
    text = json.dumps(records)
    assert "Edited question?" in text and len(records) == 2


def test_export_reviewed_only_without_reviews_says_so(evolved_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(evolved_run, run, ignore=shutil.ignore_patterns(REVIEWS_FILE + "*"))
    res = runner.invoke(
        cli_app,
        [
            "export",
            str(run),
            "--format",
            "jsonl",
            "--out",
            str(tmp_path / "x.jsonl"),
            "--reviewed-only",
        ],
    )
    assert res.exit_code == 2
    assert "reviews.sqlite" in res.stderr and "mmevol view" in res.stderr


# --- images -------------------------------------------------------------------------------------


def test_images_are_served_only_from_the_image_roots(
    client: TestClient, run_dir: Path, tmp_path: Path
) -> None:
    html = client.get("/").text
    url = re.search(r'<img src="(/image/\d+/scene-\d+\.png)\?w=128"', html)
    assert url
    full = client.get(url.group(1))
    assert full.status_code == 200 and full.content[:8] == b"\x89PNG\r\n\x1a\n"
    thumb = client.get(url.group(1) + "?w=64")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"

    secret = tmp_path / "secret.png"
    secret.write_bytes(full.content)
    image_dir = Path(
        json.loads((run_dir / "seeds.jsonl").read_text().splitlines()[0])["image"]["path"]
    ).parent
    (image_dir / "escape.png").symlink_to(secret)
    try:
        refused = [
            "/image/0/..%2F..%2F..%2Fetc%2Fpasswd",
            "/image/0/../../secret.png",
            "/image/0/%2Fetc%2Fpasswd",
            "/image/0/" + quote(str(secret), safe=""),
            "/image/0/" + quote(str(secret)),
            "/image/0/escape.png",  # a symlink out of the folder
            "/image/0/..%5C..%5Csecret.png",
            "/image/0/missing.png",
            "/image/99/scene-000.png",
            "/image/0/scene-000.txt",
        ]
        for path in refused:
            res = client.get(path)
            assert res.status_code in (403, 404), path
            assert not res.content.startswith(b"\x89PNG"), path
    finally:
        (image_dir / "escape.png").unlink()


# --- hand-made runs: hostile text, missing images, size ---------------------------------------


def make_run(root: Path, samples: list[Sample], seeds: list[Seed]) -> Path:
    run = root / "run"
    run.mkdir(parents=True)
    write_seeds(seeds, run / "seeds.jsonl")
    (run / "config.json").write_text(json.dumps({"config": {"rounds": 1, "backend": "grounded"}}))
    store = Store(run / "run.sqlite")
    store.add_seed_samples(samples)
    store.close()
    return run


def hand_sample(i: int, seed: Seed, question: str, *, round_: int = 0, kept: bool = True) -> Sample:
    lineage = Lineage(round=round_, kept=kept, reason="seed" if round_ == 0 else "judge: improved")
    if round_:
        lineage = Lineage(
            parent_id=f"{seed.id}#{i}",
            round=round_,
            direction="reasoning",
            kept=kept,
            reason="judge: improved" if kept else "rule: no change",
            verdict=Verdict(improved=kept, score=7.0, reason="<b>bold</b> claim"),
        )
    return Sample(
        id=f"{seed.id}#{i}" + (f"@r{round_}" if round_ else ""),
        seed_id=seed.id,
        image=seed.image,
        round=round_,
        qa=QA(
            question=question,
            answer=f"answer {i} [0.100, 0.100, 0.500, 0.500]",
            objects=["cat"],
            skills=["grounding"],
        ),
        lineage=lineage,
    )


def test_user_text_is_escaped_and_no_secret_reaches_a_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-do-not-show-0123456789")
    seed = Seed(
        id="img-feedfeedfeedfeed",
        image=missing_image_ref("/nowhere/pic.jpg", width=640, height=480),
        objects=[Obj(category="cat<img src=x onerror=alert(2)>", bbox=[0.1, 0.1, 0.5, 0.5])],
    )
    evil = '<script>alert(1)</script> what is "this"?'
    samples = [hand_sample(0, seed, evil), hand_sample(0, seed, evil + " v2", round_=1)]
    client = TestClient(create_app(make_run(tmp_path, samples, [seed])))
    for path in ("/", sample_path(samples[1].id), "/?q=" + quote("<script>")):
        res = client.get(path)
        assert res.status_code == 200
        assert "<script>alert(1)" not in res.text
        assert "onerror=alert(2)>" not in res.text
        assert "<b>bold</b>" not in res.text
        assert "sk-test-do-not-show" not in res.text
        assert "script-src" not in res.headers["content-security-policy"]  # default-src 'none'
        assert "default-src 'none'" in res.headers["content-security-policy"]
    listing = client.get("/?q=" + quote("<script>")).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing and "of <b>2</b>" in listing
    page = client.get(sample_path(samples[1].id)).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # the image is keyed by path and absent: a placeholder, not a crash
    assert 'id="placeholder"' in page and "keyed by path" in page and "<svg" not in page
    assert 'class="noimg"' in listing
    assert "sk-test-do-not-show" not in json.dumps(client.get("/api/samples").json())


def _hundred_thousand(tmp_path: Path) -> tuple[TestClient, list[Sample]]:
    seeds = [
        Seed(id=f"img-{i:016x}", image=missing_image_ref(f"/gone/{i}.jpg")) for i in range(1000)
    ]
    samples = [
        hand_sample(j, seeds[i], f"question {i}-{j} about the {'dog' if j % 7 == 0 else 'cat'}",
                    round_=r, kept=(j + r) % 5 != 0)
        for i in range(1000) for j in range(25) for r in (0, 1, 2, 3)
    ]  # fmt: skip
    assert len(samples) == 100_000
    return TestClient(create_app(make_run(tmp_path, samples, seeds))), samples


BIG_QUERIES = (
    "",
    "round=2&kept=dropped",
    "q=dog&page=40",
    "skill=grounding&page=1500",
    "object=cat&direction=reasoning",
)


def test_a_hundred_thousand_samples_page_with_bounded_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page of 100k samples costs one page of parsing and a linear pass of SQLite at most,
    with the filter menus computed once. Counted, not timed (the speed itself:
    ``test_a_hundred_thousand_samples_page_quickly``, marked slow)."""
    client, samples = _hundred_thousand(tmp_path)
    index = client.app.state.index  # type: ignore[attr-defined]
    steps = [0]  # thousands of SQLite virtual-machine instructions: the same on any machine

    def tick() -> int:
        steps[0] += 1
        return 0  # go on

    index.db.set_progress_handler(tick, 1000)
    parsed = [0]
    validate = Sample.model_validate_json.__func__  # type: ignore[attr-defined]

    def counting(cls: type[Sample], *args: object, **kwargs: object) -> Sample:
        parsed[0] += 1
        return validate(cls, *args, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(Sample, "model_validate_json", classmethod(counting))
    facet_builds = [0]
    value_counts = index._value_counts

    def counting_facets(select: str) -> list[tuple[str, int]]:
        facet_builds[0] += 1
        return value_counts(select)  # type: ignore[no-any-return]

    monkeypatch.setattr(index, "_value_counts", counting_facets)
    client.get("/")  # first request builds indexes and facets
    assert facet_builds[0] > 0
    built = facet_builds[0]
    for query in BIG_QUERIES:
        steps[0] = parsed[0] = 0
        res = client.get(f"/?{query}")
        assert res.status_code == 200
        assert parsed[0] <= PAGE_SIZE, (query, parsed[0])  # one page, not every match
        # a pass over the samples costs SQLite 16 to 55 instructions each (json_each filters
        # the most); 150 leaves room for another SQLite, not for a second pass per row
        assert steps[0] * 1000 <= 150 * len(samples), (query, steps[0])
    assert facet_builds[0] == built  # the menus were not recomputed: the journal did not grow
    data = client.get("/api/samples?round=2&kept=dropped").json()
    assert data["total"] == sum(1 for s in samples if s.round == 2 and not s.lineage.kept)
    assert client.get("/api/samples?q=dog").json()["total"] == sum(
        1 for s in samples if "dog" in s.qa.question
    )


@pytest.mark.slow
def test_a_hundred_thousand_samples_page_quickly(tmp_path: Path) -> None:
    """The wall-clock view of the test above, for a quiet machine (``pytest -m slow``)."""
    client, _ = _hundred_thousand(tmp_path)
    client.get("/")  # first request builds indexes and facets
    for query in BIG_QUERIES:
        started = time.perf_counter()
        res = client.get(f"/?{query}")
        took = time.perf_counter() - started
        assert res.status_code == 200
        assert took < 3.0, (query, took)


# --- command line -------------------------------------------------------------------------------


def test_view_command_prints_the_url_and_binds_loopback(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    seen: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    res = runner.invoke(cli_app, ["view", str(run_dir), "--port", "8123"])
    assert res.exit_code == 0, res.stderr
    assert "http://127.0.0.1:8123/" in res.stdout
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8123
    bad = runner.invoke(cli_app, ["view", str(tmp_path)])
    assert bad.exit_code == 2 and "not a run directory" in bad.stderr
