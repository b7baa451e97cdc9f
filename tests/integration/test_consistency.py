"""The one verdict (/health/consistency): the running app, seen through its health
page, its process and the fallback file, against the database its env file names.
The seed's incident is the case that matters: a correct .env pointing at PostgreSQL,
and an app that runs on SQLite anyway."""

import sqlite3
import subprocess
import sys

import pytest

from exporter import INTERVAL, SLACK, TIMEOUT, make_sqlite, write_env
from fake_app import SEED_ANSWER, FakeApp, json_reply

SEEN_WITHIN = 2 * (INTERVAL + TIMEOUT) + SLACK


def consistency(exp) -> dict:
    return exp.get("/health/consistency").json()


def test_an_app_on_sqlite_while_its_env_file_names_postgresql_is_unhealthy(
        pg, app_dir, start_exporter):
    env_file = write_env(app_dir, DATABASE_URL=pg.url(), FLASK_ENV="production")
    answer = dict(SEED_ANSWER, database="SQLITE", user_count=2)
    with FakeApp({"/health/database": json_reply(answer)}) as app:
        exp = start_exporter(args=[f"--app.env-file={env_file}",
                                   f"--app.health-url={app.url('/health/database')}"])
        m = exp.wait_metric("caloria_config_problem", 1, check="app_database_unexpected",
                            timeout=SEEN_WITHIN)
        assert m.get("caloria_database_up") == 1, "PostgreSQL itself is fine: that is the trap"
        assert m.get("caloria_config_problem", check="database_type_unexpected") is None
        body = consistency(exp)
        assert body["status"] == "unhealthy", body
        assert body["configured_database"] == "postgresql"
        assert body["app_probe"]["database"] == "sqlite"
        assert any("SQLITE" in reason for reason in body["problems"]), body
        assert exp.get("/health").status == 503
        assert exp.get("/health").json()["checks"]["consistency"]["status"] == "unhealthy"


def test_an_app_on_its_configured_database_is_consistent(pg, app_dir, start_exporter):
    env_file = write_env(app_dir, DATABASE_URL=pg.url(), FLASK_ENV="production")
    users = int(pg.sql("SELECT count(*) FROM users"))
    answer = dict(SEED_ANSWER, database="POSTGRESQL", user_count=users)
    with FakeApp({"/health/database": json_reply(answer)}) as app:
        exp = start_exporter(args=[f"--app.env-file={env_file}",
                                   f"--app.health-url={app.url('/health/database')}"])
        exp.wait_metric("caloria_app_users", users, timeout=SEEN_WITHIN)
        exp.wait_for("a consistent verdict",
                     lambda: consistency(exp)["status"] == "healthy", SEEN_WITHIN)
        m = exp.metrics()
        assert m.get("caloria_config_problem", check="app_database_unexpected") is None
        assert m.get("caloria_config_problem", check="app_users_differ") is None


def test_user_counts_apart_beyond_the_tolerance_are_degraded(pg, app_dir, start_exporter):
    env_file = write_env(app_dir, DATABASE_URL=pg.url())
    users = int(pg.sql("SELECT count(*) FROM users"))
    answer = dict(SEED_ANSWER, database="POSTGRESQL", user_count=users + 5)
    with FakeApp({"/health/database": json_reply(answer)}) as app:
        url = app.url('/health/database')
        exp = start_exporter(args=[f"--app.env-file={env_file}", f"--app.health-url={url}"])
        exp.wait_metric("caloria_config_problem", 1, check="app_users_differ",
                        timeout=SEEN_WITHIN)
        assert consistency(exp)["status"] == "degraded"
        tolerant = start_exporter(args=[f"--app.env-file={env_file}", f"--app.health-url={url}",
                                        "--app.users-tolerance=5"])
        tolerant.wait_metric("caloria_app_users", users + 5, timeout=SEEN_WITHIN)
        tolerant.wait_for("a consistent verdict",
                          lambda: consistency(tolerant)["status"] == "healthy", SEEN_WITHIN)


def test_an_app_process_holding_the_fallback_file_open_is_seen(pg, app_dir, start_exporter):
    env_file = write_env(app_dir, DATABASE_URL=pg.url(), FLASK_ENV="production")
    fallback = make_sqlite(app_dir / "instance" / "caloria.db", users=1)
    marker = f"caloria-consistency-test-{app_dir.name}"
    # The app, fallen back: it holds instance/caloria.db open and writes a user.
    app = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys, time\n"
         "db = sqlite3.connect(sys.argv[1])\n"
         "db.execute(\"INSERT INTO users (email) VALUES ('new@example.com')\")\n"
         "db.commit()\n"
         "time.sleep(60)\n",
         str(fallback), marker],
        stdin=subprocess.DEVNULL)
    try:
        exp = start_exporter(args=[f"--app.env-file={env_file}", f"--app.process={marker}"])
        m = exp.wait_metric("caloria_config_problem", 1, check="app_database_unexpected",
                            timeout=SEEN_WITHIN)
        assert m.get("caloria_config_problem", check="fallback_sqlite_written") == 1
        body = consistency(exp)
        assert body["status"] == "unhealthy"
        assert body["app_process"]["database"] == "sqlite", body
        assert body["fallback_sqlite"]["being_written"] is True, body
    finally:
        app.kill()
        app.wait(timeout=5)


def test_a_bad_tolerance_is_a_usage_error():
    from exporter import run_once
    result = run_once(["--app.users-tolerance=a few"])
    assert result.returncode == 2, result
    assert "--app.users-tolerance" in result.stderr
