"""scripts/caloria-restore-test with real parts: the session's PostgreSQL, backups
made by scripts/caloria-backup (and by pg_dump's custom format), a role with only
CREATEDB to restore into, real SQLite files, and the exporter reading the state the
script leaves (--restore.state-file).

Caught as failures: a dump that is intact (gzip and pg_dump's closing line fine) but
references a missing role, or has a syntax error in the middle; a restore that runs
past --timeout (killed, reported, its scratch database dropped); a restored copy
whose users differ from the count recorded at backup time. No password of either
role appears in any output, log line or state file.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from exporter import REPO_ROOT, assert_no_password, clean_env, make_sqlite
from postgres import APP_USER

BACKUP_SCRIPT = REPO_ROOT / "scripts" / "caloria-backup"
RESTORE_SCRIPT = REPO_ROOT / "scripts" / "caloria-restore-test"
COMPLETE_MARKER = b"-- PostgreSQL database dump complete"

RESTORER = "restorer"
# An '@', a ':' and a '/' that the URL must percent-encode.
RESTORE_PASSWORD = "R3st@re:Pw/9x"
RESTORE_FORMS = (RESTORE_PASSWORD, quote(RESTORE_PASSWORD, safe=""), "R3st", "re:Pw")

SCRIPT_TIMEOUT = 90
SCRIPT_ENV_VARS = ("BACKUP_DIR", "BACKUP_LOG", "BACKUP_USERS_TABLE", "RESTORE_STATE",
                   "RESTORE_TIMEOUT", "RESTORE_LOG", "RESTORE_TARGET_URL", "PGPASSWORD",
                   "PGSERVICE", "PGPASSFILE")
LINE_TIME = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}"
SUCCESS_RE = re.compile(rf"^{LINE_TIME} caloria-restore-test SUCCESS file=(?P<file>\S+) "
                        r"format=(?P<format>\w+) users=(?P<users>\d+) ")
ERROR_RE = re.compile(rf"^{LINE_TIME} caloria-restore-test ERROR (?P<reason>.+)$")


def env_for(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in clean_env().items() if k not in SCRIPT_ENV_VARS}
    env.update(extra or {})
    return env


def run(script: Path, args: list, env: dict[str, str] | None = None,
        timeout: float = SCRIPT_TIMEOUT):
    return subprocess.run([str(script)] + [str(a) for a in args], env=env_for(env),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)


def assert_no_secret(text: str, where: str) -> None:
    assert_no_password(text, where)
    for form in RESTORE_FORMS:
        assert form.lower() not in text.lower(), f"the restore role's password in {where}"


def scratch_databases(pg) -> list[str]:
    names = pg.sql("SELECT datname FROM pg_database WHERE datname LIKE "
                   "'caloria\\_restore\\_test\\_%' ORDER BY 1", database="postgres")
    return names.split() if names else []


class Setup:
    """A backup folder, the live database's URL file, the restore target's URL file,
    the state file and the logs, all under tmp_path."""

    def __init__(self, pg, tmp_path: Path):
        self.pg = pg
        self.dir = tmp_path / "backups"
        self.dir.mkdir()
        self.backup_log = self.dir / "caloria-backup.log"
        self.state = tmp_path / "state" / "restore-test.json"
        self.state.parent.mkdir()
        self.log = tmp_path / "restore-test.log"
        self.live_url = tmp_path / "live.url"
        self.live_url.write_text(pg.url() + "\n")
        self.target_url = tmp_path / "target.url"
        self.target_url.write_text(
            f"postgresql://{RESTORER}:{quote(RESTORE_PASSWORD, safe='')}"
            f"@{pg.host}:{pg.port}/postgres\n")
        self.outputs: list[str] = []

    def backup(self) -> Path:
        before = set(self.dir.glob("caloria_*"))
        result = run(BACKUP_SCRIPT, ["--url-file", self.live_url, "--dir", self.dir,
                                     "--log", self.backup_log, "-q"])
        assert result.returncode == 0, result.stderr
        # One backup a second: the next one must not take this one's name.
        time.sleep(1.1)
        (made,) = set(self.dir.glob("caloria_*")) - before
        return made

    def restore(self, *extra, env=None, timeout: float = SCRIPT_TIMEOUT):
        args = ["--dir", self.dir, "--state", self.state, "--log", self.log,
                "--target-url-file", self.target_url, "--url-file", self.live_url, *extra]
        result = run(RESTORE_SCRIPT, args, env=env, timeout=timeout)
        self.outputs.append(result.stdout + result.stderr)
        return result

    def state_json(self) -> dict:
        return json.loads(self.state.read_text())

    def log_lines(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def assert_nothing_leaked(self) -> None:
        for i, output in enumerate(self.outputs):
            assert_no_secret(output, f"the output of run {i}")
        assert_no_secret("\n".join(self.log_lines()), "the restore-test log")
        if self.state.exists():
            assert_no_secret(self.state.read_text(), "the state file")


@pytest.fixture
def setup(pg, tmp_path):
    pw = RESTORE_PASSWORD.replace("'", "''")
    pg.sql(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{RESTORER}') "
           f"THEN CREATE ROLE {RESTORER} LOGIN CREATEDB PASSWORD '{pw}'; END IF; END $$",
           database="postgres")
    s = Setup(pg, tmp_path)
    yield s
    s.assert_nothing_leaked()
    assert scratch_databases(pg) == [], "a scratch database was left behind"


def rewrite_dump(path: Path, newer_name: Path, edit) -> Path:
    """A copy of a gzipped plain dump, edited and still intact (gzip and pg_dump's
    closing line), under a newer name so that it is the latest backup."""
    sql = gzip.decompress(path.read_bytes())
    assert COMPLETE_MARKER in sql
    newer_name.write_bytes(gzip.compress(edit(sql)))
    os.chmod(newer_name, 0o600)
    return newer_name


def newer(path: Path, seconds: int = 60) -> Path:
    m = re.search(r"caloria_(\d{8})_(\d{6})", path.name)
    stamp = time.strptime(m.group(1) + m.group(2), "%Y%m%d%H%M%S")
    later = time.strftime("%Y%m%d_%H%M%S", time.localtime(time.mktime(stamp) + seconds))
    return path.with_name(f"caloria_{later}.sql.gz")


def insert_before_data(sql: bytes, statement: bytes) -> bytes:
    """`statement` in the middle of the dump: after the table, before its rows."""
    at = sql.index(b"COPY public.users")
    return sql[:at] + statement + b"\n" + sql[at:]


# ---- PostgreSQL --------------------------------------------------------------------


def test_the_latest_backup_restores_and_the_exporter_reports_it(setup, pg, start_exporter):
    setup.backup()
    latest = setup.backup()
    pg.sql("INSERT INTO users (email) VALUES ('new@example.com')")  # live moves on

    result = setup.restore()
    assert result.returncode == 0, result.stderr
    (line,) = setup.log_lines()
    m = SUCCESS_RE.match(line)
    assert m, line
    assert (m["file"], m["format"], m["users"]) == (str(latest), "plain", "3")

    state = setup.state_json()
    run_ = state["last_run"]
    assert run_["success"] is True and run_["error"] == ""
    assert run_["backup_file"] == str(latest)
    assert run_["backup_format"] == "plain"
    assert (run_["restored_users"], run_["backup_users"], run_["live_users"]) == (3, 3, 4)
    assert run_["target"] == f"postgresql://{RESTORER}:***@{pg.host}:{pg.port}/postgres"
    assert run_["duration_seconds"] > 0
    assert abs(run_["finished"] - time.time()) < 60
    assert state["last_success"] == run_

    exporter = start_exporter([f"--database.url-file={setup.live_url}",
                               f"--restore.state-file={setup.state}"])
    metrics = exporter.metrics()
    assert metrics.get("caloria_restore_test_state_readable") == 1
    assert metrics.get("caloria_restore_test_last_run_success") == 1
    assert metrics.get("caloria_restore_test_users") == 3
    assert metrics.get("caloria_restore_test_backup_users") == 3
    assert metrics.get("caloria_restore_test_live_users") == 4
    assert metrics.get("caloria_restore_test_last_success_timestamp_seconds") == pytest.approx(
        run_["finished"])
    assert metrics.get("caloria_restore_test_backup_timestamp_seconds") == pytest.approx(
        run_["backup_timestamp"])
    health = exporter.get("/health/restore").json()
    assert health["status"] == "healthy", health
    assert health["last_success"]["restored_users"] == 3


def test_a_custom_format_dump_restores_through_pg_restore(setup, pg):
    tool_env = {"DATABASE_URL": pg.url()}
    dump = setup.dir / "caloria_20261201_030000.dump"
    with open(dump, "wb") as out:
        made = subprocess.run([str(tool_path()), "pg-exec", "pg_dump", "--", "--format=custom",
                               "--no-owner"], env=env_for(tool_env), stdout=out,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    assert made.returncode == 0, made.stderr

    result = setup.restore("--backup", dump)
    assert result.returncode == 0, result.stderr
    run_ = setup.state_json()["last_run"]
    assert (run_["backup_format"], run_["restored_users"]) == ("custom", 3)
    assert run_["backup_users"] is None  # no log line, and the verifier reads no custom dump


@pytest.mark.parametrize("case, statement, expected", [
    ("missing role", b"ALTER TABLE public.users OWNER TO ghost_owner;",
     'role "ghost_owner" does not exist'),
    ("syntax error", b"THIS IS NOT SQL AT ALL;", "syntax error"),
])
def test_an_intact_dump_that_does_not_restore_fails_and_keeps_the_last_success(
        setup, pg, case, statement, expected):
    good = setup.backup()
    assert setup.restore().returncode == 0
    proven = setup.state_json()["last_success"]

    bad = rewrite_dump(good, newer(good), lambda sql: insert_before_data(sql, statement))
    verified = subprocess.run([str(tool_path()), "verify", str(bad)], env=env_for(),
                              capture_output=True, timeout=60)
    assert verified.returncode == 0, "the edited dump must still look intact"

    result = setup.restore()
    assert result.returncode == 1, result.stderr
    line = setup.log_lines()[-1]
    m = ERROR_RE.match(line)
    assert m and expected in m["reason"] and str(bad) in m["reason"], line
    state = setup.state_json()
    assert state["last_run"]["success"] is False
    assert expected in state["last_run"]["error"]
    assert state["last_run"]["backup_file"] == str(bad)
    assert state["last_success"] == proven, "a failed run keeps the last proof"


def test_a_restore_past_its_deadline_is_killed_and_reported(setup, pg):
    good = setup.backup()
    rewrite_dump(good, newer(good), lambda sql: insert_before_data(sql, b"SELECT pg_sleep(120);"))
    started = time.monotonic()
    result = setup.restore("--timeout", "3s")
    took = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert took < 30, f"the restore was not killed at its deadline: {took:.1f}s"
    assert "ran past --timeout=3s and was killed" in setup.log_lines()[-1]
    state = setup.state_json()
    assert state["last_run"]["success"] is False
    assert state["last_run"]["duration_seconds"] >= 3
    assert state["last_success"] is None
    # The killed session's scratch database is dropped (WITH FORCE) on the way out:
    # the fixture checks that none is left.


def test_users_differing_from_the_backups_record_fail(setup):
    made = setup.backup()
    text = setup.backup_log.read_text()
    assert f"file={made} " in text and " users=3" in text
    setup.backup_log.write_text(text.replace(" users=3", " users=5"))
    result = setup.restore()
    assert result.returncode == 1
    assert "has 3 users, the backup recorded 5" in setup.log_lines()[-1]


def test_a_postgres_backup_without_a_target_fails_with_the_fix(setup):
    setup.backup()
    result = run(RESTORE_SCRIPT, ["--dir", setup.dir, "--state", setup.state])
    setup.outputs.append(result.stdout + result.stderr)
    assert result.returncode == 1
    assert "give --target-url-file (or RESTORE_TARGET_URL)" in result.stderr
    assert setup.state_json()["last_run"]["success"] is False


def test_the_target_url_may_come_from_the_environment(setup, pg):
    setup.backup()
    url = setup.target_url.read_text().strip()
    result = run(RESTORE_SCRIPT, ["--dir", setup.dir, "--state", setup.state],
                 env={"RESTORE_TARGET_URL": url})
    setup.outputs.append(result.stdout + result.stderr)
    assert result.returncode == 0, result.stderr
    run_ = setup.state_json()["last_run"]
    assert run_["restored_users"] == 3 and run_["live_users"] is None


def test_no_backup_and_usage_errors(setup, tmp_path):
    result = setup.restore()
    assert result.returncode == 1
    assert "no backup" in setup.log_lines()[-1]
    for args, expected in [
        (["--timeout", "soon"], "--timeout must be"),
        (["--users-table", "users; DROP TABLE users"], "--users-table must be a table name"),
        (["--state", tmp_path / "missing" / "state.json"], "cannot write the state file's folder"),
    ]:
        setup.state.unlink(missing_ok=True)
        result = setup.restore(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert expected in result.stderr, result.stderr
        assert not setup.state.exists(), "a usage error changes no state"


# ---- SQLite ------------------------------------------------------------------------


def test_a_sqlite_backup_restores_into_a_temporary_file(setup, tmp_path):
    app = tmp_path / "app"
    live = make_sqlite(app / "instance" / "caloria.db", users=4)
    (app / ".env").write_text("DATABASE_URL=sqlite:///caloria.db\n")
    made = run(BACKUP_SCRIPT, ["--env-file", app / ".env", "--dir", setup.dir,
                               "--log", setup.backup_log, "-q"])
    assert made.returncode == 0, made.stderr
    before = sorted(p.name for p in Path(os.environ.get("TMPDIR", "/tmp")).glob(
        "caloria-restore-test.*"))

    result = run(RESTORE_SCRIPT, ["--dir", setup.dir, "--state", setup.state,
                                  "--env-file", app / ".env"])
    setup.outputs.append(result.stdout + result.stderr)
    assert result.returncode == 0, result.stderr
    run_ = setup.state_json()["last_run"]
    assert (run_["backup_format"], run_["restored_users"], run_["backup_users"],
            run_["live_users"]) == ("sqlite", 4, 4, 4)
    assert run_["target"] == "a temporary SQLite file"
    after = sorted(p.name for p in Path(os.environ.get("TMPDIR", "/tmp")).glob(
        "caloria-restore-test.*"))
    assert after == before, "the temporary copy was left behind"
    assert live.stat().st_size > 0


def test_a_corrupt_sqlite_backup_fails(setup, tmp_path):
    backup = setup.dir / "caloria_20261201_020000.db"
    make_sqlite(backup, users=3)
    data = bytearray(backup.read_bytes())
    data[4096:8192] = b"\xff" * 4096  # the second page: users' rows
    backup.write_bytes(bytes(data))
    result = run(RESTORE_SCRIPT, ["--dir", setup.dir, "--state", setup.state])
    setup.outputs.append(result.stdout + result.stderr)
    assert result.returncode == 1, result.stderr
    assert setup.state_json()["last_run"]["success"] is False


def tool_path() -> Path:
    env = os.environ.get("CALORIA_BACKUP_TOOL")
    return Path(env) if env else REPO_ROOT / "build" / "caloria_backup_tool"


def test_the_tool_runs_only_postgres_clients_and_hides_the_target_password(setup, pg):
    refused = subprocess.run([str(tool_path()), "pg-exec", "sh", "--", "-c", "id"],
                             env=env_for(), capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2
    assert "pg_dump, pg_restore or psql" in refused.stderr
    # psql sees the connection string without the password on its command line,
    # the password only in its environment: a query of its own command line
    # through the server shows the rest.
    shown = subprocess.run(
        [str(tool_path()), "pg-exec", "psql", f"--database.url-file={setup.target_url}", "--",
         "-X", "-At", "-c", "SELECT current_user, current_setting('application_name')"],
        env=env_for(), capture_output=True, text=True, timeout=30)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == f"{RESTORER}|caloria-backup"
    setup.outputs.append(shown.stdout + shown.stderr)
