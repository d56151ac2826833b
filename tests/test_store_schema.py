"""run.sqlite carries a schema version; a run made by an earlier release opens in this one.

``tests/fixtures/run-0.1.0/`` is a run made by mmevol 0.1.0 as released before the schema
version existed (commit a6f3c2f: one rendered demo scene, ``EvolveConfig(rounds=2)``, grounded
backend): its ``run.sqlite`` has ``user_version`` 0, and ``stats.json`` and ``dataset.jsonl``
are what that release wrote from it.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmevol.cli import app
from mmevol.errors import MmevolError
from mmevol.evolve.stats import compute_stats
from mmevol.store import MIGRATIONS, SCHEMA_VERSION, Store, schema_version
from mmevol.view.app import create_app

FIXTURE = Path(__file__).parent / "fixtures" / "run-0.1.0"


@pytest.fixture
def old_run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    return run


def _version(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        return schema_version(con)
    finally:
        con.close()


def test_the_fixture_is_an_unversioned_journal() -> None:
    assert _version(FIXTURE / "run.sqlite") == 0


def test_a_run_from_0_1_0_opens_migrates_and_reads_the_same(old_run: Path) -> None:
    db = old_run / "run.sqlite"
    store = Store(db)
    try:
        assert schema_version(store.db) == SCHEMA_VERSION
        kept_ids = {s.id for s in store.iter_samples(kept_only=True)}
        stats = compute_stats(store, rounds=2)
    finally:
        store.close()
    dataset = [json.loads(line) for line in (old_run / "dataset.jsonl").read_text().splitlines()]
    assert kept_ids == {d["id"] for d in dataset}
    before = json.loads((old_run / "stats.json").read_text())
    for key in ("rounds", "dataset", "seeds", "seed_items", "failures", "repairs", "calls"):
        assert stats[key] == before[key], key
    assert _version(db) == SCHEMA_VERSION  # the bump was committed


def test_the_cli_reads_an_old_run(old_run: Path) -> None:
    got = CliRunner().invoke(app, ["stats", str(old_run), "--json"])
    assert got.exit_code == 0, got.output
    assert (
        json.loads(got.output)["dataset"]
        == json.loads((old_run / "stats.json").read_text())["dataset"]
    )
    out = old_run.parent / "export.jsonl"
    got = CliRunner().invoke(app, ["export", str(old_run), "--format", "jsonl", "--out", str(out)])
    assert got.exit_code == 0, got.output
    lines = (old_run / "dataset.jsonl").read_text().splitlines()
    assert len(out.read_text().splitlines()) == len(lines)


def test_a_journal_from_a_newer_release_is_refused_untouched(old_run: Path) -> None:
    db = old_run / "run.sqlite"
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=DELETE")  # as a copy made by other tools may be
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    before = db.read_bytes()
    with pytest.raises(MmevolError, match="newer mmevol"):
        Store(db)
    got = CliRunner().invoke(app, ["stats", str(old_run)])
    assert got.exit_code != 0
    assert "newer mmevol" in got.output
    with pytest.raises(MmevolError, match="newer mmevol"):
        create_app(old_run)
    assert db.read_bytes() == before
    assert sorted(p.name for p in old_run.iterdir()) == sorted(p.name for p in FIXTURE.iterdir())


@pytest.mark.parametrize("version", [-1, -(2**31)])
def test_a_journal_with_an_invalid_version_is_one_line(old_run: Path, version: int) -> None:
    db = old_run / "run.sqlite"
    con = sqlite3.connect(db)
    con.execute(f"PRAGMA user_version = {version}")
    con.close()
    with pytest.raises(MmevolError, match=f"invalid journal schema version {version}"):
        Store(db)
    got = CliRunner().invoke(app, ["stats", str(old_run)])
    assert got.exit_code != 0
    assert "invalid journal schema version" in got.output
    assert _version(db) == version


def test_a_failed_migration_leaves_the_file_at_its_version(
    old_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = old_run / "run.sqlite"
    monkeypatch.setitem(MIGRATIONS, 0, MIGRATIONS[0] + "\nCREATE TABLE units(x);")  # fails
    with pytest.raises(MmevolError, match="table units already exists"):
        Store(db)
    assert _version(db) == 0
    monkeypatch.undo()
    Store(db).close()
    assert _version(db) == SCHEMA_VERSION


def test_a_new_journal_starts_at_the_current_version(tmp_path: Path) -> None:
    Store(tmp_path / "run.sqlite").close()
    assert _version(tmp_path / "run.sqlite") == SCHEMA_VERSION
