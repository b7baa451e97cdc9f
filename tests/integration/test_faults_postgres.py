"""Faults survived, PostgreSQL (issue 10, point 5), against the session's real
server (postgres.py): stopped, restarted (fast and after a crash), hung with
SIGSTOP, and restarted with a new password that the exporter reads again from
DATABASE_URL_FILE.

Each test: scrapes keep answering fast while the fault is on (faults.py says
what "fast" is), /health/database turns unhealthy with the reason in its
`error`, and it heals without restarting the exporter."""

from __future__ import annotations

import os
import time
import urllib.parse

from exporter import APP_PASSWORD, assert_no_password
from faults import (ScrapeWatch, TURNS_WITHIN, assert_same_process, is_healthy, is_unhealthy,
                    wait_check)
from postgres import APP_USER

PATHS = ("/metrics", "/health", "/health/database")


def healthy_with_users(status, body):
    return is_healthy(status, body) and body.get("user_count") == 3


def start_healthy(start_exporter, env):
    exp = start_exporter(env=env)
    wait_check(exp, "database", "the database check healthy", healthy_with_users)
    return exp, exp.pid()


def test_stopped_postgresql(pg, start_exporter):
    """Stopped: refused connections are reported, and the first poll after the
    server is back is healthy again."""
    exp, pid = start_healthy(start_exporter, {"DATABASE_URL": pg.url()})
    with ScrapeWatch(exp, PATHS) as watch:
        pg.stop()
        _, body = wait_check(exp, "database", "unhealthy after the stop", is_unhealthy)
        assert body["user_count"] is None, body
        assert "refused" in body["error"].lower() or "connect" in body["error"].lower(), body
        time.sleep(1.5)  # a few polls against the stopped server, scraped all along
        pg.start()
        wait_check(exp, "database", "healthy after the start", healthy_with_users)
    watch.assert_responsive()
    assert exp.metrics().get("caloria_database_up") == 1
    assert_same_process(exp, pid)


def test_restarted_postgresql(pg, start_exporter):
    """Restarted, three times in a row (fast shutdown, then an immediate one,
    which is a crash and makes the server run recovery): no connection is kept
    across polls, so nothing stale is left; the check ends healthy within two
    polls of the last start."""
    exp, pid = start_healthy(start_exporter, {"DATABASE_URL": pg.url()})
    with ScrapeWatch(exp, PATHS) as watch:
        for mode in ("fast", "immediate", "fast"):
            pg.stop(mode=mode)
            pg.start()
            time.sleep(0.3)
        started = time.monotonic()
        wait_check(exp, "database", "healthy after the restarts", healthy_with_users)
        assert time.monotonic() - started <= TURNS_WITHIN
    watch.assert_responsive()
    assert_same_process(exp, pid)


def test_hung_postgresql(pg, start_exporter):
    """Hung: SIGSTOP on the postmaster and every backend. The kernel still
    accepts the TCP connection, nothing answers; the connect is cut at
    --collector.timeout and reported, scrapes never wait for it, and SIGCONT
    heals it."""
    exp, pid = start_healthy(start_exporter, {"DATABASE_URL": pg.url()})
    try:
        with ScrapeWatch(exp, PATHS) as watch:
            pg.pause()
            _, body = wait_check(exp, "database", "unhealthy while hung", is_unhealthy)
            assert body["error"], body
            assert "time" in body["error"].lower(), (
                f"the reason should say the database did not answer in time: {body['error']!r}")
            time.sleep(2.0)  # polls keep timing out against the hung server
            pg.resume()
            wait_check(exp, "database", "healthy after SIGCONT", healthy_with_users)
    finally:
        pg.resume()
    watch.assert_responsive(min_scrapes=20)
    assert_same_process(exp, pid)


def write_atomically(path, text: str) -> None:
    """As a secret manager rotates a file: a new file renamed over the old."""
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(text)
    os.replace(tmp, path)


def test_restarted_with_a_new_password_read_again_from_the_url_file(pg, start_exporter,
                                                                    tmp_path):
    """The password is rotated and the server restarted: the old URL fails
    authentication (reported, without either password), and the new URL
    written to DATABASE_URL_FILE is picked up by itself, without SIGHUP."""
    new_password = "R0tated:Pw@n3w/%!"
    new_encoded = urllib.parse.quote(new_password, safe="")
    url_file = tmp_path / "database.url"
    url_file.write_text(pg.url() + "\n")
    exp, pid = start_healthy(start_exporter, {"DATABASE_URL_FILE": str(url_file)})
    try:
        with ScrapeWatch(exp, PATHS) as watch:
            pg.sql(f"ALTER ROLE {APP_USER} PASSWORD '{new_password}'", database="postgres")
            pg.stop()
            pg.start()
            # (A poll may first catch the server starting up: wait for the login.)
            wait_check(exp, "database", "unhealthy: the old password refused",
                       lambda s, b: is_unhealthy(s, b)
                       and "password authentication failed" in b["error"])
            write_atomically(url_file, pg.url(password=new_encoded) + "\n")
            wait_check(exp, "database", "healthy with the new password", healthy_with_users)
        watch.assert_responsive()
        m = exp.metrics()
        assert m.get("caloria_exporter_config_last_reload_successful") == 1
        assert "configuration reloaded" in exp.logs()
        texts = {path: exp.get(path).text for path in ("/metrics", "/health", "/health/database",
                                                        "/health/configuration")}
        texts["the log"] = exp.logs()
        for where, text in texts.items():
            assert_no_password(text, where)
            for secret in (new_password, new_encoded, "R0tated"):
                assert secret not in text, f"the new password leaked in {where}"
        assert_same_process(exp, pid)
    finally:
        # The session's server is shared: put the password back.
        pg.ensure_running()
        old = APP_PASSWORD.replace("'", "''")
        pg.sql(f"ALTER ROLE {APP_USER} PASSWORD '{old}'", database="postgres")
