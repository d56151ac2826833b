"""The viewer in a real browser: uvicorn on a loopback port, Debian chromium through playwright.

A person's path through it: open the list, filter it, open a sample, reject it (and accept
another), then ``mmevol export --reviewed-only`` must leave the rejected sample out. The page
must load with no console error (which is also where a content-security-policy violation
would show). Screenshots go to the test's temp folder; with ``MMEVOL_UPDATE_SCREENSHOTS=1``
they also refresh ``docs/img/viewer-list.png`` and ``docs/img/viewer-sample.png``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote

import pytest
from PIL import Image
from rich.console import Console
from typer.testing import CliRunner

from mmevol.cli.app import app as cli_app
from mmevol.demo import run_demo

CHROMIUM = Path("/usr/bin/chromium")
DOCS_IMG = Path(__file__).resolve().parents[1] / "docs" / "img"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian chromium at /usr/bin/chromium (apt-get install -y chromium)",
    ),
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (dev extra)")
uvicorn = pytest.importorskip("uvicorn")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_demo(tmp_path_factory.mktemp("demo"), scenes=8, console=Console(quiet=True))


@contextmanager
def serving(run_dir: Path) -> Iterator[str]:
    """The viewer of ``run_dir`` on a free loopback port, in a thread, until the block ends."""
    from mmevol.view import create_app
    from mmevol.view.serve import free_port

    port = free_port()
    config = uvicorn.Config(create_app(run_dir), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the viewer did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(demo_run: Path) -> Iterator[str]:
    with serving(demo_run) as url:
        yield url


def save_shot(page: object, name: str, tmp_path: Path, *, full_page: bool = False) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=full_page)  # type: ignore[attr-defined]
    if os.environ.get("MMEVOL_UPDATE_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        with Image.open(path) as img:  # a 256-colour PNG keeps the docs small
            img.convert("RGB").quantize(colors=256).save(DOCS_IMG / name, optimize=True)
    return path


def test_filter_open_reject_and_export_reviewed_only(
    server: str, demo_run: Path, tmp_path: Path
) -> None:
    errors: list[str] = []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

            # the list
            page.goto(server + "/")
            assert "matching samples" in page.locator("#count").inner_text()
            assert page.locator("table.samples tbody tr").count() == 50
            thumbs = page.locator("td.thumb img")
            thumbs.first.wait_for()
            # a thumbnail is decoded on first request: wait until the browser has it
            page.wait_for_function("document.querySelector('td.thumb img').complete")
            assert page.evaluate("document.querySelector('td.thumb img').naturalWidth") > 0
            save_shot(page, "viewer-list.png", tmp_path)

            # filter: round 3, grounding questions
            page.select_option("select[name=round]", "3")
            page.select_option("select[name=skill]", "grounding")
            page.click("button:has-text('Apply')")
            page.wait_for_url("**/?*round=3*")
            rows = page.locator("table.samples tbody tr")
            assert 0 < rows.count() < 50
            assert all("round 3" in t for t in rows.locator("td.nowrap").all_inner_texts())

            # open a sample: the image with its boxes, the Q&A, the lineage
            rows.first.locator("a.q").click()
            page.wait_for_url("**/sample/**")
            sample_id = unquote(page.url.split("/sample/", 1)[1].split("?", 1)[0])
            assert page.locator("svg.boxes rect.obj").count() > 0
            assert page.locator("svg.boxes rect.found").count() > 0
            page.wait_for_function("document.getElementById('picture').complete")
            assert page.evaluate("document.getElementById('picture').naturalWidth") > 0
            assert page.locator(".tree .node").count() >= 4  # seed, r1, r2, this one
            assert page.locator("#question").inner_text().strip()

            # reject it
            page.fill("input[name=note]", "a box does not match the picture")
            page.click("button.reject")
            page.wait_for_url("**saved=reject*")
            assert "reject" in page.locator("#flash").inner_text()
            assert page.locator(".qa-card .badge.reject").count() == 1
            assert "round=3" in page.url  # the filters survive the round trip
            save_shot(page, "viewer-sample.png", tmp_path, full_page=True)

            # accept the next one, so the reviewed export is not empty
            page.click("a[rel=next]")
            page.wait_for_url("**/sample/**")
            accepted_id = unquote(page.url.split("/sample/", 1)[1].split("?", 1)[0])
            assert accepted_id != sample_id
            page.click("button.accept")
            page.wait_for_url("**saved=accept*")

            # the list reflects both reviews
            page.goto(server + "/?review=reject")
            assert page.locator("table.samples tbody tr").count() == 1
        finally:
            browser.close()
    assert not errors, errors

    out = tmp_path / "reviewed.jsonl"
    res = CliRunner().invoke(
        cli_app,
        ["export", str(demo_run), "--format", "jsonl", "--out", str(out), "--reviewed-only"],
    )
    assert res.exit_code == 0, res.stderr
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert ids == [accepted_id]
    assert sample_id not in ids


XSS = [
    "<script>window.__xss = 1</script>",
    '<img src=x onerror="window.__xss = 2">',
    '"><svg onload="window.__xss = 3">',
    "javascript:window.__xss = 4",
]


def test_model_and_reviewer_text_never_runs_as_script(tmp_path: Path) -> None:
    """Hostile text from the model (question, answer, object names, judge reason) and from a
    reviewer (an edit and a note) is shown as text: no payload runs, no dialog opens."""
    from mmevol.schema import QA, Lineage, Obj, Sample, Seed, Verdict
    from mmevol.seeds import write_seeds
    from mmevol.store import Store

    picture = tmp_path / "pic.png"
    Image.new("RGB", (64, 48), (200, 120, 40)).save(picture)
    from mmevol.io.images import image_ref

    payload = " ".join(XSS)
    seed = Seed(
        id="img-0123456789abcdef",
        image=image_ref(picture),
        objects=[Obj(category=XSS[1], bbox=[0.1, 0.1, 0.5, 0.5])],
    )
    parent = Sample(
        id=f"{seed.id}#0",
        seed_id=seed.id,
        image=seed.image,
        round=0,
        qa=QA(question="What is shown?", answer="A square."),
        lineage=Lineage(round=0, kept=True, reason="seed"),
    )
    child = Sample(
        id=f"{seed.id}#0@r1",
        seed_id=seed.id,
        image=seed.image,
        round=1,
        qa=QA(question=payload, answer=payload, objects=[XSS[2]], skills=["grounding"]),
        lineage=Lineage(
            parent_id=parent.id,
            round=1,
            direction="reasoning",
            kept=True,
            reason="judge: improved",
            verdict=Verdict(improved=True, score=7.0, reason=payload),
        ),
    )
    run = tmp_path / "run"
    run.mkdir()
    write_seeds([seed], run / "seeds.jsonl")
    (run / "config.json").write_text(json.dumps({"config": {"rounds": 1, "backend": "grounded"}}))
    store = Store(run / "run.sqlite")
    store.add_seed_samples([parent, child])
    store.close()

    dialogs: list[str] = []
    with serving(run) as url, playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        try:
            page = browser.new_page()
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            sample_url = f"{url}/sample/{child.id.replace('#', '%23')}"
            page.goto(sample_url)
            assert XSS[0] in page.locator("#question").inner_text()
            # a reviewer edits the sample and leaves a note, both hostile
            saved = page.request.post(
                f"{url}/api/review/{child.id.replace('#', '%23')}",
                data=json.dumps(
                    {"action": "edit", "question": XSS[1], "answer": XSS[2], "note": XSS[0]}
                ),
                headers={"content-type": "application/json"},
            )
            assert saved.ok, saved.text()
            for target in (sample_url, url + "/", url + "/?q=" + "%3Cscript%3E"):
                page.goto(target)
                page.wait_for_load_state("load")
                assert page.evaluate("typeof window.__xss") == "undefined", target
            assert XSS[1] in page.content().replace("&lt;", "<").replace("&gt;", ">")
        finally:
            browser.close()
    assert dialogs == []
