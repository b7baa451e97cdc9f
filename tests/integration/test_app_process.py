"""The app_process collector watches what the running app really does: real
python3 processes play the app, holding instance/caloria.db open (the seed's
incident: the app never loaded its .env and ran on SQLite while the exporter,
reading the .env itself, saw PostgreSQL) or a TCP connection to a real
PostgreSQL, with and without DATABASE_URL in their environment."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from exporter import (
    Exporter,
    assert_no_password,
    binary_path,
    make_sqlite,
    run_once,
    write_env,
)
from waiting import terminate

# Debian's interpreter, which another user (nobody) may run too.
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

# The app: holds an open SQLite connection after one read, and/or a TCP
# connection to host:port, then sleeps. argv: marker, sqlite path or "-",
# host:port or "-".
APP = r"""
import socket, sqlite3, sys, time
held = []
if sys.argv[2] != "-":
    con = sqlite3.connect(sys.argv[2])
    con.execute("SELECT count(*) FROM users").fetchone()
    held.append(con)
if sys.argv[3] != "-":
    host, port = sys.argv[3].rsplit(":", 1)
    held.append(socket.create_connection((host, int(port)), timeout=5))
print("ready", flush=True)
time.sleep(120)
"""

PAGES = ("/metrics", "/health", "/health/app_process", "/health/configuration", "/")


class FakeApp:
    """python3 playing the Caloria app under a unique marker in its command line."""

    def __init__(self, env: dict[str, str], sqlite: Path | None = None,
                 connect: str | None = None, user: str | None = None):
        self.marker = f"caloria-it-app-{uuid.uuid4().hex[:12]}"
        argv = [PYTHON, "-c", APP, self.marker, str(sqlite or "-"), connect or "-"]
        if user:
            account = pwd.getpwnam(user)
            argv = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}",
                    "--clear-groups", "--"] + argv
        self.proc = subprocess.Popen(argv, env={"PATH": "/usr/bin:/bin", **env},
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # bounded: the app prints at once or dies
        if line.strip() != "ready":
            terminate(self.proc, grace=2)
            raise AssertionError(f"the fake app did not start: {line!r} {self.proc.stderr.read()}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        terminate(self.proc, grace=2)
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def apps():
    started: list[FakeApp] = []

    def start(**kw) -> FakeApp:
        app = FakeApp(**kw)
        started.append(app)
        return app

    yield start
    for app in started:
        app.stop()


def assert_nothing_leaks(exp, case: str) -> None:
    for path in PAGES:
        assert_no_password(exp.get(path).text, f"{path} ({case})")
    assert_no_password(exp.logs(), f"stderr ({case})")


def app_check(exp) -> dict:
    return exp.get("/health/app_process").json()


def test_the_incident_app_on_sqlite_while_the_env_file_says_postgresql(
        pg, app_dir, apps, start_exporter):
    """The .env names PostgreSQL (so the exporter's database check is healthy), but the
    app was started without it and holds instance/caloria.db open."""
    database = make_sqlite(app_dir / "instance" / "caloria.db", users=3)
    env_file = write_env(app_dir, DATABASE_URL=pg.url(), FLASK_ENV="production")
    app = apps(env={}, sqlite=database)
    exp = start_exporter(args=[f"--app.env-file={env_file}", f"--app.process={app.marker}"])

    m = exp.wait_metric("caloria_app_process_up", 1)
    assert m.get("caloria_app_process_matched") == 1
    assert m.get("caloria_app_process_database_info", type="unknown", source="none") == 1
    assert m.get("caloria_app_process_sqlite_open", path=str(database)) == 1, (
        m.find("caloria_app_process_sqlite_open"))
    assert m.get("caloria_app_process_database_connections") == 0
    exp.wait_metric("caloria_database_up", 1)  # the exporter's own view: PostgreSQL, fine

    resp = exp.get("/health/app_process")
    assert resp.status == 200
    body = resp.json()
    assert body["status"] == "healthy"
    assert body["database_type"] == "sqlite"
    assert str(database) in body["evidence"]
    assert body["sqlite_open"] == [str(database)]
    assert body["database_endpoint"] == f"127.0.0.1:{pg.port}"
    assert body["pattern"] == app.marker
    [process] = body["processes"]
    assert process["pid"] == app.pid
    assert process["program"] == PYTHON  # argv[0] only
    assert process["database_url_source"] == "none"
    assert process["database_url"] is None
    assert "app_process" in exp.get("/health").json()["checks"]
    assert_nothing_leaks(exp, "app on SQLite")


def test_a_database_url_in_the_apps_environment_is_its_source(app_dir, apps, start_exporter):
    database = make_sqlite(app_dir / "instance" / "caloria.db", users=2)
    env_file = write_env(app_dir, DATABASE_URL="sqlite:///caloria.db")
    app = apps(env={"DATABASE_URL": "sqlite:///caloria.db"}, sqlite=database)
    exp = start_exporter(args=[f"--app.env-file={env_file}", f"--app.process={app.marker}"])
    m = exp.wait_metric("caloria_app_process_database_info", 1, type="sqlite", source="environ")
    assert m.get("caloria_app_process_sqlite_open", path=str(database)) == 1
    body = app_check(exp)
    assert body["database_type"] == "sqlite"
    assert body["processes"][0]["database_url_source"] == "environ"
    assert body["processes"][0]["database_url"] == "sqlite:///caloria.db"


def test_an_app_connected_to_postgresql_is_seen_on_postgresql_without_its_password(
        pg, app_dir, apps, start_exporter):
    env_file = write_env(app_dir, DATABASE_URL=pg.url(), FLASK_ENV="production")
    app = apps(env={"DATABASE_URL": pg.url(), "FLASK_ENV": "production"},
               connect=f"{pg.host}:{pg.port}")
    exp = start_exporter(args=[f"--app.env-file={env_file}", f"--app.process={app.marker}"])
    m = exp.wait_metric("caloria_app_process_database_connections", 1)
    assert m.get("caloria_app_process_database_info", type="postgresql", source="environ") == 1
    assert not m.find("caloria_app_process_sqlite_open")
    body = app_check(exp)
    assert body["database_type"] == "postgresql"
    assert body["database_connections"] == 1
    assert "1 TCP connection(s)" in body["evidence"], body["evidence"]
    assert body["processes"][0]["database_url"] == (
        f"postgresql://caloria:***@{pg.host}:{pg.port}/caloria")
    # The fallback file does not exist: nothing to report there.
    assert m.get("caloria_fallback_sqlite_exists") == 0
    assert_nothing_leaks(exp, "app on PostgreSQL")


def test_a_pid_file_names_the_process_and_a_stale_one_is_a_problem(
        app_dir, apps, tmp_path, start_exporter):
    database = make_sqlite(app_dir / "instance" / "caloria.db", users=1)
    app = apps(env={}, sqlite=database)
    pid_file = tmp_path / "gunicorn.pid"
    pid_file.write_text(f"{app.pid}\n")
    exp = start_exporter(args=[f"--app.pid-file={pid_file}"], cwd=app_dir)
    m = exp.wait_metric("caloria_app_process_sqlite_open", 1)  # path= names the page
    assert m.get("caloria_app_process_sqlite_open", path=str(database)) == 1
    assert m.get("caloria_app_process_up") == 1
    assert app_check(exp)["pid_file"] == str(pid_file)

    app.stop()
    m = exp.wait_metric("caloria_config_problem", 1, check="app_process_not_found", timeout=6)
    assert m.get("caloria_app_process_up") == 0
    assert not m.find("caloria_app_process_sqlite_open")
    resp = exp.get("/health/app_process")
    assert resp.status == 200  # degraded
    body = resp.json()
    assert body["status"] == "degraded"
    assert "stale" in body["error"], body


def test_no_matching_process_is_a_degraded_problem(app_dir, start_exporter):
    pattern = f"caloria-it-nothing-{uuid.uuid4().hex[:12]}"
    exp = start_exporter(args=[f"--app.process={pattern}"], cwd=app_dir)
    m = exp.wait_metric("caloria_config_problem", 1, check="app_process_not_found")
    assert m.get("caloria_app_process_up") == 0
    assert m.get("caloria_app_process_matched") == 0
    assert m.get("caloria_exporter_collector_success", collector="app_process") == 0
    body = app_check(exp)
    assert body["status"] == "degraded"
    assert body["database_type"] is None
    problems = exp.get("/health").json()["checks"]["configuration"]["problems"]
    [problem] = [p for p in problems if p["check"] == "app_process_not_found"]
    assert problem["severity"] == "degraded"
    assert "the pattern is wrong" in problem["message"]


def test_without_a_pid_file_or_pattern_there_is_nothing_to_watch(app_dir, start_exporter):
    make_sqlite(app_dir / "instance" / "caloria.db", users=1)
    exp = start_exporter(cwd=app_dir)
    m = exp.wait_collected()
    assert not m.find("caloria_app_process_up")
    assert not m.find("caloria_exporter_collector_success", collector="app_process")
    assert exp.get("/health/app_process").status == 404


@pytest.mark.parametrize("args, fragment", [
    (["--app.process=gunicorn", "--app.pid-file=/run/x.pid"], "--app.pid-file and --app.process"),
    (["--app.process=gunicorn("], "--app.process='gunicorn('"),
    (["--app.process=(a*)\\1"], "back-reference"),
    (["--app.process=gunicorn(", "--no-collector.app_process"], "--app.process='gunicorn('"),
])
def test_bad_process_flags_are_usage_errors(tmp_path, args, fragment):
    result = run_once(args, cwd=tmp_path)
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0], lines[0]


def _can_switch_users() -> str | None:
    if os.geteuid() != 0:
        return "needs root, to run the app and the exporter as two other users"
    if shutil.which("setpriv") is None:
        return "needs setpriv (util-linux) to run processes as other users"
    return None


@pytest.mark.skipif(_can_switch_users() is not None, reason=str(_can_switch_users()))
def test_another_users_process_is_unreadable_with_the_fix(pg, tmp_path, monkeypatch):
    """The app runs as nobody, the exporter as daemon without CAP_SYS_PTRACE: Linux
    refuses /proc/PID/environ and fd, and the exporter says how to fix it."""
    app = FakeApp(env={"DATABASE_URL": pg.url()}, user="nobody")
    wrapper_dir = Path(tempfile.mkdtemp(prefix="caloria-setpriv-"))
    try:
        wrapper = wrapper_dir / "caloria_exporter"
        binary = binary_path().resolve()
        daemon = pwd.getpwnam("daemon")
        wrapper.write_text(f"#!/bin/sh\nexec setpriv --reuid={daemon.pw_uid} "
                           f"--regid={daemon.pw_gid} --clear-groups --inh-caps=-all -- "
                           f"{binary} \"$@\"\n")
        wrapper.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        monkeypatch.setenv("CALORIA_EXPORTER_BIN", str(wrapper))
        cwd = Path(tempfile.mkdtemp(prefix="caloria-daemon-"))
        cwd.chmod(0o755)
        exp = Exporter(args=[f"--app.process={app.marker}", "--no-collector.database",
                             "--no-collector.fallback_sqlite"],
                       workdir=tmp_path / "exporter", cwd=cwd)
        with exp:
            m = exp.wait_metric("caloria_config_problem", 1, check="app_process_unreadable")
            assert m.get("caloria_app_process_up") == 1
            assert not m.find("caloria_app_process_database_info")
            assert not m.find("caloria_app_process_database_connections")
            body = app_check(exp)
            assert body["status"] == "degraded"
            assert body["database_type"] is None
            assert "CAP_SYS_PTRACE" in body["error"], body
            assert "AmbientCapabilities=CAP_SYS_PTRACE" in body["error"], body
            assert body["processes"][0]["pid"] == app.pid
            assert "Permission denied" in body["processes"][0]["error"]
            problems = exp.get("/health").json()["checks"]["configuration"]["problems"]
            assert "app_process_unreadable" in [p["check"] for p in problems]
            assert_nothing_leaks(exp, "unreadable")
        shutil.rmtree(cwd, ignore_errors=True)
    finally:
        app.stop()
        shutil.rmtree(wrapper_dir, ignore_errors=True)


PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian package prometheus)")
def test_app_process_metrics_pass_promtool(pg, app_dir, apps, start_exporter):
    database = make_sqlite(app_dir / "instance" / "caloria.db", users=3)
    env_file = write_env(app_dir, DATABASE_URL=pg.url(), FLASK_ENV="production")
    on_sqlite = apps(env={}, sqlite=database)
    on_pg = apps(env={"DATABASE_URL": pg.url()}, connect=f"{pg.host}:{pg.port}")
    pattern = f"({on_sqlite.marker}|{on_pg.marker})"
    exp = start_exporter(args=[f"--app.env-file={env_file}", f"--app.process={pattern}"])
    m = exp.wait_metric("caloria_app_process_matched", 2)
    assert m.get("caloria_app_process_database_connections") == 1
    assert len(m.find("caloria_app_process_database_info")) == 2
    assert app_check(exp)["database_type"] == "postgresql"
    text = exp.get("/metrics").text
    result = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, f"{result.stdout}{result.stderr}\n{text}"
