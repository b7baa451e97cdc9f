"""The configuration is live: the exporter notices a changed env file within one
interval, reloads on SIGHUP and on POST /-/reload, and keeps the old configuration
when the new one is invalid (caloria_exporter_config_last_reload_successful 0)."""

import os
import signal
import time

from exporter import INTERVAL, SLACK, TIMEOUT, assert_no_password, make_sqlite, write_env

# One interval for the change to be seen, one poll to publish it.
SEEN_WITHIN = 2 * (INTERVAL + TIMEOUT) + SLACK


def test_an_env_file_that_loses_database_url_is_reported_within_one_interval(
        app_dir, start_exporter):
    make_sqlite(app_dir / "instance" / "app.db", users=2)
    env_file = write_env(app_dir, DATABASE_URL="sqlite:///app.db")
    exp = start_exporter(args=[f"--app.env-file={env_file}"])
    m = exp.wait_metric("caloria_database_users", 2)
    assert m.get("caloria_config_problem", check="database_url_missing") is None
    assert m.get("caloria_exporter_config_last_reload_successful") == 1

    env_file.write_text("SECRET_KEY=dev\n")
    changed_at = time.monotonic()
    m = exp.wait_metric("caloria_config_problem", 1, check="database_url_missing",
                        timeout=SEEN_WITHIN)
    assert time.monotonic() - changed_at <= SEEN_WITHIN
    assert m.get("caloria_config_info", source="default", database_type="sqlite") == 1
    assert m.get("caloria_exporter_config_last_reload_successful") == 1
    assert "configuration reloaded" in exp.logs()
    # The database collector follows: the fallback file does not exist.
    exp.wait_metric("caloria_database_up", 0, timeout=SEEN_WITHIN)
    assert exp.running()


def test_an_invalid_change_is_rejected_and_the_old_configuration_kept(app_dir, start_exporter):
    make_sqlite(app_dir / "instance" / "app.db", users=3)
    env_file = write_env(app_dir, DATABASE_URL="sqlite:///app.db")
    exp = start_exporter(args=[f"--app.env-file={env_file}"])
    m = exp.wait_metric("caloria_database_users", 3)
    loaded_at = m.get("caloria_exporter_config_last_reload_success_timestamp_seconds")
    assert loaded_at is not None

    env_file.write_text("DATABASE_URL=postgresql://caloria:S3cr3t@db:port/caloria\n")
    m = exp.wait_metric("caloria_exporter_config_last_reload_successful", 0,
                        timeout=SEEN_WITHIN)
    assert m.get("caloria_exporter_config_last_reload_success_timestamp_seconds") == loaded_at
    assert m.get("caloria_config_problem", check="config_reload_failed") == 1
    assert m.get("caloria_database_users") == 3, "the old configuration must stay in force"
    assert m.get("caloria_config_info", database_type="sqlite", source="env_file") == 1
    problems = exp.get("/health/configuration").json()["problems"]
    assert "config_reload_failed" in [p["check"] for p in problems], problems
    for path in ("/metrics", "/health", "/health/configuration"):
        assert_no_password(exp.get(path).text, path)
    assert_no_password(exp.logs(), "the log")

    env_file.write_text("DATABASE_URL=sqlite:///app.db\nSECRET_KEY=fixed\n")
    m = exp.wait_metric("caloria_exporter_config_last_reload_successful", 1,
                        timeout=SEEN_WITHIN)
    assert m.get("caloria_exporter_config_last_reload_success_timestamp_seconds") > loaded_at
    assert m.get("caloria_config_problem", check="config_reload_failed") is None


def test_sighup_reloads(app_dir, start_exporter):
    make_sqlite(app_dir / "instance" / "one.db", users=1)
    make_sqlite(app_dir / "instance" / "two.db", users=2)
    url_file = app_dir / "database.url"
    url_file.write_text("sqlite:///one.db\n")
    env_file = write_env(app_dir, DATABASE_URL_FILE="database.url")
    exp = start_exporter(args=[f"--app.env-file={env_file}"])
    exp.wait_metric("caloria_database_users", 1)
    url_file.write_text("sqlite:///two.db\n")
    os.kill(exp.pid(), signal.SIGHUP)
    exp.wait_metric("caloria_database_users", 2, timeout=SEEN_WITHIN)
    assert "trigger=SIGHUP" in exp.logs()
    assert exp.running(), "SIGHUP must reload, not stop the exporter"


def test_post_reload_reloads_and_other_methods_are_refused(app_dir, start_exporter):
    make_sqlite(app_dir / "instance" / "app.db", users=4)
    env_file = write_env(app_dir, DATABASE_URL="sqlite:///app.db")
    exp = start_exporter(args=[f"--app.env-file={env_file}"])
    exp.wait_metric("caloria_database_users", 4)

    for method in ("GET", "HEAD", "PUT"):
        refused = exp.get("/-/reload", method=method)
        assert refused.status == 405, (method, refused.status)
        assert refused.headers.get("allow") == "POST"

    resp = exp.get("/-/reload", method="POST", data=b"")
    assert resp.status == 200, resp.text
    env_file.write_text("DATABASE_URL=postgresql://caloria:S3cr3t@db:port/caloria\n")
    resp = exp.get("/-/reload", method="POST", data=b"")
    assert resp.status == 500, resp.text
    assert "DATABASE_URL" in resp.text
    assert_no_password(resp.text, "the reload answer")
    m = exp.wait_metric("caloria_exporter_config_last_reload_successful", 0)
    assert m.get("caloria_database_users") == 4
