"""The journal's tables and their version: ``SCHEMA`` (version 1), ``MIGRATIONS`` and ``migrate``.

The file carries its schema version in ``PRAGMA user_version``. ``migrate`` brings an older file
up to ``SCHEMA_VERSION`` by applying ``MIGRATIONS`` in order, each in one transaction with its
version bump, so a run made by an earlier release opens in this one (a file from 0.1.0 has
version 0 and every table of version 1). A file from a newer release is refused in one line.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mmevol.errors import MmevolError

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS calls(
  key TEXT PRIMARY KEY, unit TEXT, task TEXT, template TEXT, backend TEXT, model TEXT,
  request TEXT, response TEXT, input_tokens INTEGER, output_tokens INTEGER, cost REAL,
  latency REAL, attempts INTEGER, finish_reason TEXT, created REAL);
CREATE TABLE IF NOT EXISTS units(
  id TEXT PRIMARY KEY, seed_id TEXT, round INTEGER, status TEXT, direction TEXT,
  stats TEXT, updated REAL);
CREATE TABLE IF NOT EXISTS samples(
  id TEXT PRIMARY KEY, seed_id TEXT, round INTEGER, parent_id TEXT, direction TEXT,
  kept INTEGER, reason TEXT, json TEXT);
CREATE INDEX IF NOT EXISTS samples_seed ON samples(seed_id, round);
CREATE TABLE IF NOT EXISTS failures(
  id INTEGER PRIMARY KEY AUTOINCREMENT, unit TEXT, seed_id TEXT, round INTEGER, task TEXT,
  error_class TEXT, message TEXT, attempts INTEGER, created REAL, resolved INTEGER DEFAULT 0);
CREATE TABLE IF NOT EXISTS batches(
  id TEXT PRIMARY KEY, batch_id TEXT, input_file_id TEXT, status TEXT, remote_status TEXT,
  keys TEXT, created REAL, updated REAL);
CREATE TABLE IF NOT EXISTS batch_results(key TEXT PRIMARY KEY, batch TEXT, response TEXT);
"""
# version N -> the script that takes a file from N to N + 1 (append; never edit a past one)
MIGRATIONS: dict[int, str] = {0: SCHEMA}


def schema_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def check_version(db: sqlite3.Connection, path: Path) -> int:
    """The file's schema version, refused in one line if this release cannot migrate it."""
    version = schema_version(db)
    if version > SCHEMA_VERSION:
        raise MmevolError(
            f"{path}: made by a newer mmevol (journal schema {version}; this one reads up to "
            f"{SCHEMA_VERSION}); upgrade mmevol to open it"
        )
    if version < 0 or any(v not in MIGRATIONS for v in range(version, SCHEMA_VERSION)):
        raise MmevolError(
            f"{path}: invalid journal schema version {version} (PRAGMA user_version); "
            f"expected 0..{SCHEMA_VERSION}"
        )
    return version


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring ``db`` to ``SCHEMA_VERSION``: each step and its version bump in one transaction."""
    version = check_version(db, path)
    while version < SCHEMA_VERSION:
        step = MIGRATIONS[version]
        try:
            db.executescript(
                f"BEGIN IMMEDIATE;\n{step}\nPRAGMA user_version = {version + 1};\nCOMMIT;"
            )
        except sqlite3.DatabaseError:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        version = schema_version(db)
