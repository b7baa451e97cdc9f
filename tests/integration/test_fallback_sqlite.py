"""The fallback_sqlite collector watches the SQLite file the app falls back to
without DATABASE_URL while PostgreSQL is expected: the seed's incident is that
file being written while PostgreSQL sits empty. Here the file is created and
written during the test, by python's sqlite3 as the app would, while the env
file points at a real PostgreSQL with FLASK_ENV=production."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from exporter import assert_no_password, make_sqlite, run_once, write_env

PAGES = ("/metrics", "/health", "/health/fallback_sqlite", "/health/configuration", "/")
PROMTOOL = shutil.which("promtool")


def production_env(app_dir: Path, pg) -> Path:
    return write_env(app_dir, DATABASE_URL=pg.url(), FLASK_ENV="production")


def old_fallback(app_dir: Path, users: int) -> tuple[Path, float]:
    """instance/caloria.db with `users` users, last modified 3 hours ago."""
    fallback = make_sqlite(app_dir / "instance" / "caloria.db", users=users)
    old = time.time() - 3 * 3600
    os.utime(fallback, (old, old))
    return fallback, old


def assert_nothing_leaks(exp, case: str) -> None:
    for path in PAGES:
        assert_no_password(exp.get(path).text, f"{path} ({case})")
    assert_no_password(exp.logs(), f"stderr ({case})")


def promtool_check(text: str) -> None:
    if PROMTOOL is None:
        return
    result = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, f"{result.stdout}{result.stderr}\n{text}"


def test_the_fallback_file_written_during_the_test_is_the_incident(pg, app_dir, start_exporter):
    fallback = app_dir / "instance" / "caloria.db"
    env_file = production_env(app_dir, pg)
    exp = start_exporter(args=[f"--app.env-file={env_file}"])

    m = exp.wait_metric("caloria_fallback_sqlite_exists", 0)  # path= names the page
    assert m.get("caloria_fallback_sqlite_exists", path=str(fallback)) == 0
    assert m.get("caloria_fallback_sqlite_being_written") == 0
    assert not m.find("caloria_fallback_sqlite_users")
    assert not m.find("caloria_config_problem", check="fallback_sqlite_written")
    body = exp.get("/health/fallback_sqlite").json()
    assert body["status"] == "healthy"
    assert body["watching"] is True
    assert "FLASK_ENV=production" in body["reason"]
    assert body["exists"] is False
    exp.wait_metric("caloria_database_up", 1)
    assert exp.get("/health").status == 200

    # The app starts without its .env and writes its users to the fallback.
    make_sqlite(fallback, users=3)
    m = exp.wait_metric("caloria_fallback_sqlite_being_written", 1, timeout=6)
    assert m.get("caloria_fallback_sqlite_exists", path=str(fallback)) == 1
    assert m.get("caloria_fallback_sqlite_users") == 3
    assert m.get("caloria_fallback_sqlite_size_bytes") == fallback.stat().st_size
    assert abs(m.get("caloria_fallback_sqlite_last_modified_timestamp_seconds")
               - fallback.stat().st_mtime) < 1
    assert m.get("caloria_config_problem", check="fallback_sqlite_written") == 1

    resp = exp.get("/health/fallback_sqlite")
    assert resp.status == 503
    body = resp.json()
    assert body["status"] == "unhealthy"
    assert body["users"] == 3
    assert body["being_written"] is True
    assert body["path"] == str(fallback)
    health = exp.get("/health")
    assert health.status == 503
    problems = health.json()["checks"]["configuration"]["problems"]
    [problem] = [p for p in problems if p["check"] == "fallback_sqlite_written"]
    assert problem["severity"] == "unhealthy"
    assert f"the app is writing to {fallback} instead of PostgreSQL" in problem["message"]
    assert "move the users written there into PostgreSQL" in problem["message"]

    # More users arrive while the exporter watches.
    con = sqlite3.connect(fallback)
    con.execute("INSERT INTO users (email) VALUES ('new@example.com')")
    con.commit()
    con.close()
    exp.wait_metric("caloria_fallback_sqlite_users", 4, timeout=6)
    assert_nothing_leaks(exp, "fallback written")
    promtool_check(exp.get("/metrics").text)


def test_a_fallback_file_in_wal_mode_is_watched_through_its_wal(pg, app_dir, start_exporter):
    fallback, old = old_fallback(app_dir, users=1)
    env_file = production_env(app_dir, pg)
    exp = start_exporter(args=[f"--app.env-file={env_file}"])
    m = exp.wait_metric("caloria_fallback_sqlite_users", 1)
    assert m.get("caloria_fallback_sqlite_being_written") == 0
    assert exp.get("/health/fallback_sqlite").json()["status"] == "healthy"

    con = sqlite3.connect(fallback)  # kept open: the -wal file stays
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA wal_autocheckpoint=0")
        con.execute("INSERT INTO users (email) VALUES ('wal@example.com')")
        con.commit()
        os.utime(fallback, (old, old))
        assert (app_dir / "instance" / "caloria.db-wal").exists()
        m = exp.wait_metric("caloria_fallback_sqlite_users", 2, timeout=6)
        assert m.get("caloria_fallback_sqlite_being_written") == 1
        wal = app_dir / "instance" / "caloria.db-wal"
        assert m.get("caloria_fallback_sqlite_size_bytes") == (
            fallback.stat().st_size + wal.stat().st_size)
        assert exp.get("/health/fallback_sqlite").json()["wal"] is True
    finally:
        con.close()


def test_an_old_fallback_file_is_shown_but_not_judged(pg, app_dir, start_exporter):
    old_fallback(app_dir, users=3)
    env_file = production_env(app_dir, pg)
    exp = start_exporter(args=[f"--app.env-file={env_file}"])
    m = exp.wait_metric("caloria_fallback_sqlite_users", 3)
    assert m.get("caloria_fallback_sqlite_exists") == 1
    assert m.get("caloria_fallback_sqlite_being_written") == 0
    assert not m.find("caloria_config_problem", check="fallback_sqlite_written")
    body = exp.get("/health/fallback_sqlite").json()
    assert body["status"] == "healthy"
    assert body["modified_seconds_ago"] >= 3 * 3600 - 60


def test_the_exporter_never_creates_the_fallback_file(pg, app_dir, start_exporter):
    env_file = production_env(app_dir, pg)
    exp = start_exporter(args=[f"--app.env-file={env_file}"])
    exp.wait_metric("caloria_fallback_sqlite_exists", 0)
    time.sleep(2.5)  # a few more polls
    assert list((app_dir / "instance").iterdir()) == []


def test_the_fallback_path_and_window_flags(pg, app_dir, tmp_path, start_exporter):
    elsewhere = make_sqlite(tmp_path / "data" / "fallback.db", users=2)
    env_file = production_env(app_dir, pg)
    exp = start_exporter(args=[f"--app.env-file={env_file}",
                               f"--fallback.sqlite-path={elsewhere}",
                               "--fallback.recent-window=1s"])
    m = exp.wait_metric("caloria_fallback_sqlite_exists", 1)
    assert m.get("caloria_fallback_sqlite_exists", path=str(elsewhere)) == 1
    assert m.get("caloria_fallback_sqlite_users") == 2
    time.sleep(1.5)
    exp.wait_metric("caloria_fallback_sqlite_being_written", 0, timeout=4)
    assert exp.get("/health/fallback_sqlite").json()["recent_window"] == "1s"


def test_an_app_on_sqlite_with_nothing_else_expected_has_no_fallback(app_dir, start_exporter):
    make_sqlite(app_dir / "instance" / "caloria.db", users=3)
    env_file = write_env(app_dir, DATABASE_URL="sqlite:///caloria.db")
    exp = start_exporter(args=[f"--app.env-file={env_file}"])
    m = exp.wait_collected()
    exp.wait_metric("caloria_exporter_collector_success", 1, collector="fallback_sqlite")
    m = exp.metrics()
    assert not [s for s in m.samples if s.name.startswith("caloria_fallback_sqlite_")]
    body = exp.get("/health/fallback_sqlite").json()
    assert body["watching"] is False
    assert body["status"] == "healthy"
    assert "no fallback to watch" in body["reason"]


def test_the_collector_can_be_switched_off(pg, app_dir, start_exporter):
    env_file = production_env(app_dir, pg)
    exp = start_exporter(args=[f"--app.env-file={env_file}", "--no-collector.fallback_sqlite"])
    m = exp.wait_collected()
    assert not m.find("caloria_fallback_sqlite_exists")
    assert exp.get("/health/fallback_sqlite").status == 404


@pytest.mark.parametrize("flag", ["--fallback.recent-window=soon", "--fallback.sqlite-path="])
def test_bad_fallback_flags_are_usage_errors(tmp_path, flag):
    result = run_once([flag], cwd=tmp_path)
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--fallback." in lines[0], result.stderr
