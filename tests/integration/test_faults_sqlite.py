"""Faults survived, SQLite (issue 10, point 5): the app's database file
deleted, locked by a writer holding an exclusive transaction, and replaced by
a file that is not a database. The file is made and locked with Python's
sqlite3, as the app (Flask-SQLAlchemy) would.

Each test: scrapes keep answering fast while the fault is on (faults.py says
what "fast" is), /health/database turns unhealthy with the reason in its
`error`, and it heals without restarting the exporter."""

from __future__ import annotations

import os
import sqlite3
import time

import pytest

from exporter import make_sqlite
from faults import ScrapeWatch, assert_same_process, is_healthy, is_unhealthy, wait_check

PATHS = ("/metrics", "/health", "/health/database")


def healthy_with(users):
    return lambda status, body: is_healthy(status, body) and body.get("user_count") == users


def unhealthy_saying(*words):
    """Unhealthy, and the error names one of `words` (case-insensitive)."""
    def check(status, body):
        error = (body.get("error") or "").lower()
        return is_unhealthy(status, body) and any(w in error for w in words)
    return check


def page(exp):
    resp = exp.get("/health/database")
    return resp.status, resp.json()


@pytest.fixture
def sqlite_db(tmp_path):
    return make_sqlite(tmp_path / "app" / "instance" / "caloria.db", users=3)


@pytest.fixture
def exp(sqlite_db, start_exporter):
    exp = start_exporter(env={"DATABASE_URL": f"sqlite:///{sqlite_db}"})
    wait_check(exp, "database", "the database check healthy", healthy_with(3))
    return exp


def test_sqlite_file_deleted(exp, sqlite_db):
    """The file deleted (an app redeployed without its instance/ folder): the
    check names the missing file, and the exporter creates nothing in its
    place (it opens read-only); a new file is picked up at the next poll."""
    pid = exp.pid()
    with ScrapeWatch(exp, PATHS) as watch:
        sqlite_db.unlink()
        _, body = wait_check(exp, "database", "unhealthy: the file is gone",
                             unhealthy_saying("does not exist"))
        assert str(sqlite_db) in body["error"], body
        time.sleep(1.0)
        assert not sqlite_db.exists(), "the exporter created the database file it watches"
        make_sqlite(sqlite_db, users=5)
        wait_check(exp, "database", "healthy with the new file", healthy_with(5))
    watch.assert_responsive()
    assert_same_process(exp, pid)


def test_sqlite_locked_by_an_exclusive_writer(exp, sqlite_db):
    """A writer holds BEGIN EXCLUSIVE (rollback journal: no reader may read):
    the exporter waits at most --collector.timeout for the lock, in its poller
    and never in a scrape, reports "database is locked", and reads the
    users again once the writer commits."""
    pid = exp.pid()
    writer = sqlite3.connect(sqlite_db, isolation_level=None, timeout=0)
    try:
        with ScrapeWatch(exp, PATHS) as watch:
            writer.execute("BEGIN EXCLUSIVE")
            writer.execute("INSERT INTO users (email) VALUES ('locked@example.com')")
            _, body = wait_check(exp, "database", "unhealthy: locked",
                                 unhealthy_saying("locked", "busy"))
            time.sleep(2.0)  # polls keep meeting the lock; scrapes go on
            assert is_unhealthy(*page(exp))
            writer.execute("COMMIT")
            wait_check(exp, "database", "healthy after the commit", healthy_with(4))
        watch.assert_responsive(min_scrapes=20)
    finally:
        writer.close()
    m = exp.metrics()
    # Each locked poll gave up at its deadline, not later.
    assert m.get("caloria_exporter_collector_duration_seconds", collector="database") < 1.5
    assert_same_process(exp, pid)


def test_sqlite_file_replaced_by_a_non_database(exp, sqlite_db):
    """The file replaced (renamed over) by one that is not a database, as a
    botched restore or a stray copy would: "not a database" is reported; the
    real file renamed back is read again."""
    pid = exp.pid()
    good = sqlite_db.with_name("caloria.db.good")
    os.link(sqlite_db, good)
    junk = sqlite_db.with_name("caloria.db.junk")
    junk.write_bytes(b"this is the app's config, not its database\n" * 200)
    with ScrapeWatch(exp, PATHS) as watch:
        os.replace(junk, sqlite_db)
        _, body = wait_check(exp, "database", "unhealthy: not a database",
                             unhealthy_saying("not a database"))
        assert str(sqlite_db) in body["error"], body
        time.sleep(1.0)
        os.replace(good, sqlite_db)
        wait_check(exp, "database", "healthy with the real file back", healthy_with(3))
    watch.assert_responsive()
    assert_same_process(exp, pid)
