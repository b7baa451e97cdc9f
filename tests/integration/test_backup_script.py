"""scripts/caloria-backup against a real PostgreSQL, real SQLite files and a
temporary backup folder: valid dumps, clean failures, retention that never
loses the newest backup, and a password that never shows."""

from __future__ import annotations

import fcntl
import gzip
import os
import re
import shutil
import signal
import sqlite3
import stat
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from exporter import REPO_ROOT, assert_no_password, clean_env, make_sqlite
from postgres import APP_PASSWORD, SUPERUSER, SUPERUSER_PASSWORD

SCRIPT = REPO_ROOT / "scripts" / "caloria-backup"
COMPLETE_MARKER = "-- PostgreSQL database dump complete"

# The script names files in local time: run it in a zone that is not UTC
# and not a whole hour away, so a wrong zone anywhere shows. A POSIX TZ
# string needs no tzdata.
TZ = "IST-5:30"
ZONE = timezone(timedelta(hours=5, minutes=30))

# What the script's log lines look like (the exporter parses them).
LINE_TIME = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}"
SUCCESS_RE = re.compile(
    rf"^(?P<time>{LINE_TIME}) caloria-backup SUCCESS file=(?P<file>\S+) "
    rf"size=(?P<size>\d+) users=(?P<users>\S+)$"
)
ERROR_RE = re.compile(rf"^(?P<time>{LINE_TIME}) caloria-backup ERROR (?P<reason>.+)$")
PG_NAME_RE = re.compile(r"^caloria_\d{8}_\d{6}\.sql\.gz$")
DB_NAME_RE = re.compile(r"^caloria_\d{8}_\d{6}\.db$")

SCRIPT_TIMEOUT = 60
# Variables the script reads; tests set them explicitly, never inherit them.
SCRIPT_ENV_VARS = ("BACKUP_DIR", "BACKUP_RETENTION_DAYS", "BACKUP_LOG", "BACKUP_USERS_TABLE",
                   "PGPASSWORD", "PGSERVICE", "PGPASSFILE")


def script_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in clean_env().items() if k not in SCRIPT_ENV_VARS}
    env["TZ"] = TZ
    env.update(extra or {})
    return env


def run_script(args: list[str], env: dict[str, str] | None = None,
               timeout: float = SCRIPT_TIMEOUT, cwd: Path | None = None):
    return subprocess.run(
        [str(SCRIPT)] + [str(a) for a in args],
        env=script_env(env),
        cwd=str(cwd) if cwd else None,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def entries(folder: Path) -> list[str]:
    """Every name in folder, hidden ones too."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def log_lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def backup_name(moment: datetime | float, ext: str = "sql.gz") -> str:
    """The name the script gives a backup made at `moment` (in TZ)."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, ZONE)
    return f"caloria_{moment.astimezone(ZONE):%Y%m%d_%H%M%S}.{ext}"


def name_time(name: str) -> float:
    m = re.search(r"(\d{8}_\d{6})", name)
    return datetime.strptime(m.group(1), "%Y%m%d_%H%M%S").replace(tzinfo=ZONE).timestamp()


def fake_backups(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(gzip.compress(b"-- not a real dump\n"))


def assert_clean_failure(result, folder: Path, log: Path, expected_files: list[str]):
    """Non-zero exit, one ERROR line in the log and on stderr, nothing new or
    temporary left in the folder, no password anywhere."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"expected a failure, got exit 0:\n{output}"
    lines = log_lines(log)
    assert len(lines) == 1, f"expected exactly one log line, got {lines!r}"
    assert ERROR_RE.match(lines[0]), f"not an ERROR line in the agreed format: {lines[0]!r}"
    assert lines[0] in result.stderr, f"the ERROR line is not on stderr:\n{result.stderr}"
    assert entries(folder) == sorted(expected_files), (
        f"the failed run left files behind or removed some: {entries(folder)}")
    assert_no_password(output, "the script's output")
    assert_no_password("\n".join(lines), "the backup log")
    return lines[0]


def psql_superuser(pg, database: str, sql: str | None = None, stdin: bytes | None = None):
    env = dict(os.environ, PGPASSWORD=SUPERUSER_PASSWORD, PGCONNECT_TIMEOUT="5")
    argv = [shutil.which("psql") or str(pg.bindir / "psql"), "-X", "-q", "-At",
            "-v", "ON_ERROR_STOP=1", "-h", str(pg.sockdir), "-p", str(pg.port),
            "-U", SUPERUSER, "-d", database]
    argv += ["-c", sql] if sql is not None else ["-f", "-"]
    result = subprocess.run(argv, input=stdin if stdin is not None else b"",
                            capture_output=True, timeout=60, env=env)
    assert result.returncode == 0, f"psql failed: {result.stderr.decode(errors='replace')}"
    return result.stdout.decode().strip()


def make_fake_date(bin_dir: Path) -> Path:
    """A `date` that is CLOCK_OFFSET seconds off, for the wrong-clock tests
    without faketime. `date -d ...` (reading a given time) stays exact."""
    real = shutil.which("date")
    bin_dir.mkdir(parents=True, exist_ok=True)
    fake = bin_dir / "date"
    fake.write_text(
        "#!/bin/bash\n"
        'for a in "$@"; do case $a in -d*|--date*|-r*|--reference*) '
        f'exec {real} "$@";; esac; done\n'
        f'exec {real} -d "@$(( $({real} +%s) + CLOCK_OFFSET ))" "$@"\n'
    )
    fake.chmod(0o755)
    return bin_dir


# ---- PostgreSQL -------------------------------------------------------------------


def test_postgresql_backup_is_complete_restorable_and_logged(pg, tmp_path):
    pg.sql("INSERT INTO users (email) VALUES ('margaret@example.com'), ('barbara@example.com')")
    app = tmp_path / "app"
    app.mkdir()
    env_file = app / ".env"
    env_file.write_text(
        "# the app's settings\n"
        "SECRET_KEY='not#a comment'\n"
        f'export DATABASE_URL="{pg.url()}"  # the app database\n'
    )
    folder = tmp_path / "backups"
    log = tmp_path / "logs" / "backup.log"  # its folder does not exist yet
    started = time.time()

    result = run_script(["--env-file", env_file, "--dir", folder, "--log", log])

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    names = entries(folder)
    assert len(names) == 1 and PG_NAME_RE.match(names[0]), f"backup folder: {names}"
    backup = folder / names[0]
    assert abs(name_time(names[0]) - started) < 60, (
        f"{names[0]} is not named after the local time ({TZ}) of the run")
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600, oct(backup.stat().st_mode)

    gzip_t = subprocess.run(["gzip", "-t", str(backup)], capture_output=True, timeout=30)
    assert gzip_t.returncode == 0, gzip_t.stderr
    sql = gzip.decompress(backup.read_bytes()).decode()
    assert COMPLETE_MARKER in sql.splitlines()[-10:], sql[-600:]
    assert "OWNER TO" not in sql, "pg_dump ran without --no-owner"

    lines = log_lines(log)
    assert len(lines) == 1, lines
    m = SUCCESS_RE.match(lines[0])
    assert m, f"not a SUCCESS line in the agreed format: {lines[0]!r}"
    assert m["file"] == str(backup)
    assert int(m["size"]) == backup.stat().st_size
    assert m["users"] == "5"
    logged = datetime.fromisoformat(m["time"])
    assert logged.utcoffset() == timedelta(hours=5, minutes=30), m["time"]
    assert abs(logged.timestamp() - time.time()) < 60
    assert lines[0] in result.stderr
    assert_no_password(output, "the script's output")
    assert_no_password(log.read_text(), "the backup log")

    # The restore docs/backup.md describes: gunzip -c FILE | psql.
    psql_superuser(pg, "postgres", "DROP DATABASE IF EXISTS restore_check")
    psql_superuser(pg, "postgres", "CREATE DATABASE restore_check")
    try:
        psql_superuser(pg, "restore_check", stdin=gzip.decompress(backup.read_bytes()))
        assert psql_superuser(pg, "restore_check", "SELECT count(*) FROM users") == "5"
    finally:
        psql_superuser(pg, "postgres", "DROP DATABASE IF EXISTS restore_check")


@pytest.mark.parametrize("line_template", [
    "DATABASE_URL={url}\n",
    "DATABASE_URL='{url}'\n",
    'DATABASE_URL="{url}"\n',
    "export DATABASE_URL={url}   # trailing comment\n",
    "  export   DATABASE_URL = '{url}'  # spaces everywhere\r\n",
    "# DATABASE_URL=postgresql://nobody:x@127.0.0.1:1/nothing\nDATABASE_URL={url}\n",
    "PGHOSTPORT={hostport}\nDATABASE_URL=postgresql://caloria:{password}@${{PGHOSTPORT}}/caloria\n",
], ids=["plain", "single-quoted", "double-quoted", "export-comment", "spaces-crlf",
        "commented-out", "expansion"])
def test_env_file_forms(pg, tmp_path, line_template):
    env_file = tmp_path / ".env"
    encoded = pg.url().split("caloria:", 1)[1].split("@", 1)[0]
    env_file.write_text("FLASK_ENV=production\n" + line_template.format(
        url=pg.url(), hostport=f"{pg.host}:{pg.port}", password=encoded))
    folder = tmp_path / "backups"
    result = run_script(["--env-file", env_file, "--dir", folder, "-q"])
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", f"--quiet printed on success: {result.stderr!r}"
    assert len(entries(folder)) == 1, entries(folder)


def test_the_environment_beats_the_env_file(pg, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(f"DATABASE_URL={pg.url(password='wrong')}\n")
    folder = tmp_path / "backups"
    log = tmp_path / "backup.log"
    result = run_script(
        ["--env-file", env_file, "--log", log],
        env={"DATABASE_URL": pg.url(), "BACKUP_DIR": str(folder)},
    )
    assert result.returncode == 0, result.stderr
    assert len(entries(folder)) == 1
    assert SUCCESS_RE.match(log_lines(log)[0])["users"] == "3"


def test_wrong_password_fails_cleanly(pg, tmp_path):
    folder = tmp_path / "backups"
    log = tmp_path / "backup.log"
    wrong_encoded = "N0t%3AThe%40Pw-x9"
    result = run_script(["--dir", folder, "--log", log],
                        env={"DATABASE_URL": pg.url(password=wrong_encoded)})
    line = assert_clean_failure(result, folder, log, [])
    assert "pg_dump" in line and "password authentication failed" in line, line
    for secret in (wrong_encoded, "N0t:The@Pw-x9"):
        assert secret not in result.stdout + result.stderr + log.read_text()


def test_stopped_server_fails_cleanly_and_deletes_nothing(pg, tmp_path):
    folder = tmp_path / "backups"
    log = tmp_path / "backup.log"
    old = [backup_name(datetime(2001, 1, d, 2, 0, tzinfo=ZONE)) for d in (1, 2, 3)]
    fake_backups(folder, old)
    pg.stop()
    result = run_script(["--dir", folder, "--log", log, "--retention-days", "1"],
                        env={"DATABASE_URL": pg.url(), "PGCONNECT_TIMEOUT": "5"})
    line = assert_clean_failure(result, folder, log, old)
    assert "pg_dump failed" in line, line


def test_password_is_never_on_a_command_line_and_sigterm_cleans_up(pg, tmp_path):
    """While pg_dump waits on a server that does not answer, every process's
    command line is read: the password is on none, it is only in pg_dump's
    environment. Then SIGTERM: ERROR logged, temp file removed."""
    folder = tmp_path / "backups"
    log = tmp_path / "backup.log"
    pg.pause()
    try:
        proc = subprocess.Popen(
            [str(SCRIPT), "--dir", str(folder), "--log", str(log)],
            env=script_env({"DATABASE_URL": pg.url(), "PGCONNECT_TIMEOUT": "20"}),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            dump_pid = None
            deadline = time.monotonic() + 10
            command_lines = {}
            while time.monotonic() < deadline and dump_pid is None:
                for entry in os.listdir("/proc"):
                    if not entry.isdigit():
                        continue
                    try:
                        # Only the script's session: the script, pg_dump, gzip.
                        stat_line = Path(f"/proc/{entry}/stat").read_text()
                        session = int(stat_line[stat_line.rfind(")") + 2:].split()[3])
                        if session != proc.pid:
                            continue
                        argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
                    except (OSError, ValueError, IndexError):
                        continue
                    text = b" ".join(argv).decode(errors="replace")
                    command_lines[int(entry)] = text
                    if argv and os.path.basename(argv[0].decode(errors="replace")) == "pg_dump":
                        dump_pid = int(entry)
                time.sleep(0.05)
            assert dump_pid is not None, "pg_dump never started"
            assert_no_password("\n".join(command_lines.values()), "a process command line")
            dump_cmdline = command_lines[dump_pid]
            # caloria_backup_tool's libpq connection string: the URL's parts, no password.
            assert (f"--dbname=host='{pg.host}' port='{pg.port}' dbname='caloria' "
                    "user='caloria'") in dump_cmdline, dump_cmdline
            environ = Path(f"/proc/{dump_pid}/environ").read_bytes().split(b"\0")
            assert f"PGPASSWORD={APP_PASSWORD}".encode() in environ, (
                "pg_dump did not get the decoded password through PGPASSWORD")
            hidden = [n for n in entries(folder) if n.startswith(".caloria_")]
            assert hidden, f"no temp file while pg_dump runs: {entries(folder)}"

            os.killpg(proc.pid, signal.SIGTERM)
            out, err = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
    finally:
        pg.resume()
    assert proc.returncode != 0
    lines = log_lines(log)
    assert len(lines) == 1 and ERROR_RE.match(lines[0]), lines
    assert "SIGTERM" in lines[0], lines[0]
    assert entries(folder) == [], f"the interrupted run left files: {entries(folder)}"
    assert_no_password(out.decode() + err.decode(), "the script's output")


def test_a_second_run_waits_for_no_one_and_fails(pg, tmp_path):
    """Two runs on one folder at once: the second refuses (ERROR), and the
    first's lock leaves no file behind."""
    folder = tmp_path / "backups"
    folder.mkdir()
    log = tmp_path / "backup.log"
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = run_script(["--dir", folder, "--log", log], env={"DATABASE_URL": pg.url()})
    finally:
        os.close(fd)
    line = assert_clean_failure(result, folder, log, [])
    assert "another caloria-backup is running" in line, line


def test_group_makes_the_backup_readable_by_the_exporter(pg, tmp_path):
    """--group: the exporter, running as another user in that group, can read
    the folder, the backups and the log; without it everything is private."""
    import grp
    if os.geteuid() != 0:
        pytest.skip("chgrp to an arbitrary group needs root")
    group = grp.getgrnam("daemon")
    folder = tmp_path / "backups"   # created by the script
    log = tmp_path / "logs" / "backup.log"
    result = run_script(["--dir", folder, "--log", log, "--group", "daemon"],
                        env={"DATABASE_URL": pg.url()})
    assert result.returncode == 0, result.stderr
    (backup,) = folder.iterdir()
    for path, mode in ((folder, 0o750), (backup, 0o640), (log, 0o640)):
        info = path.stat()
        assert (stat.S_IMODE(info.st_mode), info.st_gid) == (mode, group.gr_gid), (
            path, oct(info.st_mode), info.st_gid)

    private = tmp_path / "private"
    result = run_script(["--dir", private], env={"DATABASE_URL": pg.url()})
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    (backup,) = private.iterdir()
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600

    result = run_script(["--dir", private, "--group", "no-such-group-x"],
                        env={"DATABASE_URL": pg.url()})
    assert result.returncode == 2 and "no-such-group-x" in result.stderr, result.stderr


# ---- retention ----------------------------------------------------------------------


def test_retention_removes_old_backups_only(pg, tmp_path):
    folder = tmp_path / "backups"
    now = time.time()
    old = [backup_name(now - 10 * 86400), backup_name(now - 8 * 86400, "db")]
    recent = [backup_name(now - 6 * 86400), backup_name(now - 86400, "db")]
    future = [backup_name(datetime(2099, 1, 1, tzinfo=ZONE))]
    untouched = [
        "notes_20010101_000000.sql.gz",                   # not a caloria_ backup
        backup_name(now - 30 * 86400) + ".partial",       # not the pattern
        ".caloria_dump.sql.gz",                           # hidden
    ]
    fake_backups(folder, old + recent + future + untouched)
    no_stamp = folder / "caloria_manual.sql.gz"           # judged by its mtime
    no_stamp.write_bytes(b"x")
    os.utime(no_stamp, (now - 20 * 86400, now - 20 * 86400))
    no_stamp_recent = folder / "caloria_before-upgrade.sql.gz"
    no_stamp_recent.write_bytes(b"x")

    result = run_script(["--dir", folder], env={
        "DATABASE_URL": pg.url(), "BACKUP_RETENTION_DAYS": "7"})
    assert result.returncode == 0, result.stderr

    made = [n for n in entries(folder) if PG_NAME_RE.match(n) and n not in recent + future]
    assert len(made) == 1, entries(folder)
    assert entries(folder) == sorted(
        made + recent + future + untouched + [no_stamp_recent.name]), (
        f"expected the old backups (and only they) gone: {entries(folder)}")


def test_retention_keeps_the_newest_when_everything_is_old(pg, tmp_path):
    """Backups named far in the past, as after a clock or cron failure: all
    are older than the retention, yet the newest of them stays (besides the
    new one)."""
    folder = tmp_path / "backups"
    old = [backup_name(datetime(2001, 1, d, 2, 0, tzinfo=ZONE)) for d in (1, 2, 3, 4, 5)]
    fake_backups(folder, old)
    result = run_script(["--dir", folder, "--retention-days", "1"],
                        env={"DATABASE_URL": pg.url()})
    assert result.returncode == 0, result.stderr
    names = entries(folder)
    assert old[-1] in names, f"the newest previous backup was deleted: {names}"
    assert not set(old[:-1]) & set(names), f"old backups kept: {names}"
    assert len(names) == 2, names


def test_clock_jumped_forward_keeps_the_last_real_backup(pg, tmp_path):
    """The clock is 30 days ahead: every real backup looks older than the
    retention. The new one (named in the 'future') and the newest real one
    stay."""
    folder = tmp_path / "backups"
    now = time.time()
    real = [backup_name(now - d * 86400) for d in (3, 2, 1)]
    fake_backups(folder, real)
    bin_dir = make_fake_date(tmp_path / "bin")
    offset = 30 * 86400
    result = run_script(["--dir", folder], env={
        "DATABASE_URL": pg.url(), "CLOCK_OFFSET": str(offset),
        "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert result.returncode == 0, result.stderr
    names = entries(folder)
    made = [n for n in names if n not in real]
    assert len(made) == 1 and abs(name_time(made[0]) - (now + offset)) < 120, (
        f"the fake clock was not used: {names}")
    assert sorted(names) == sorted(made + [real[-1]]), names


def test_clock_went_back_deletes_nothing(pg, tmp_path):
    """The clock is 30 days behind: the existing backups are 'in the future'
    and none is deleted, not even the ones really older than the retention."""
    folder = tmp_path / "backups"
    now = time.time()
    existing = [backup_name(now - d * 86400) for d in (20, 9, 1)] + [
        backup_name(datetime(2099, 1, 1, tzinfo=ZONE))]
    fake_backups(folder, existing)
    bin_dir = make_fake_date(tmp_path / "bin")
    result = run_script(["--dir", folder], env={
        "DATABASE_URL": pg.url(), "CLOCK_OFFSET": str(-30 * 86400),
        "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert result.returncode == 0, result.stderr
    names = entries(folder)
    assert set(existing) <= set(names), f"a backup 'from the future' was deleted: {names}"
    assert len(names) == len(existing) + 1, names


def test_leftover_temp_files_of_killed_runs_are_removed_on_success(pg, tmp_path):
    folder = tmp_path / "backups"
    folder.mkdir()
    (folder / ".caloria_20010101_000000.sql.gz.tmp").write_bytes(b"half a dump")
    result = run_script(["--dir", folder], env={"DATABASE_URL": pg.url()})
    assert result.returncode == 0, result.stderr
    names = entries(folder)
    assert len(names) == 1 and PG_NAME_RE.match(names[0]), names


# ---- SQLite -----------------------------------------------------------------------


def test_sqlite_backup_of_a_relative_url(tmp_path):
    app = tmp_path / "app"
    make_sqlite(app / "instance" / "caloria.db", users=4)
    env_file = app / ".env"
    env_file.write_text("DATABASE_URL=sqlite:///caloria.db\n")
    folder = tmp_path / "backups"
    log = tmp_path / "backup.log"

    result = run_script(["--env-file", env_file, "--dir", folder, "--log", log])

    assert result.returncode == 0, result.stderr
    names = entries(folder)
    assert len(names) == 1 and DB_NAME_RE.match(names[0]), names
    backup = folder / names[0]
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    con = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("SELECT count(*) FROM users").fetchone()[0] == 4
    finally:
        con.close()
    m = SUCCESS_RE.match(log_lines(log)[0])
    assert m and m["file"] == str(backup) and m["users"] == "4", log_lines(log)
    assert int(m["size"]) == backup.stat().st_size


def test_sqlite_backup_of_an_absolute_wal_database_is_one_file(tmp_path):
    db = tmp_path / "data" / "app.db"
    make_sqlite(db, users=2)
    con = sqlite3.connect(db)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("INSERT INTO users (email) VALUES ('wal@example.com')")
        con.commit()
        folder = tmp_path / "backups"
        log = tmp_path / "backup.log"
        # The app keeps its connection open while the backup runs.
        result = run_script(["--dir", folder, "--log", log],
                            env={"DATABASE_URL": f"sqlite:///{db}"})
    finally:
        con.close()
    assert result.returncode == 0, result.stderr
    names = entries(folder)
    assert len(names) == 1 and DB_NAME_RE.match(names[0]), (
        f"expected one self-contained file, no -wal/-shm: {names}")
    assert SUCCESS_RE.match(log_lines(log)[0])["users"] == "3"


def test_sqlite_missing_database_fails_and_creates_nothing(tmp_path):
    app = tmp_path / "app"
    (app / "instance").mkdir(parents=True)
    env_file = app / ".env"
    env_file.write_text("DATABASE_URL=sqlite:///caloria.db\n")
    folder = tmp_path / "backups"
    log = tmp_path / "backup.log"
    result = run_script(["--env-file", env_file, "--dir", folder, "--log", log])
    line = assert_clean_failure(result, folder, log, [])
    assert str(app / "instance" / "caloria.db") in line, line
    assert entries(app / "instance") == [], "the script created the missing database"


# ---- usage ------------------------------------------------------------------------


def test_no_database_url_is_an_error(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("SECRET_KEY=x\n")
    folder = tmp_path / "backups"
    log = tmp_path / "backup.log"
    result = run_script(["--env-file", env_file, "--dir", folder, "--log", log])
    line = assert_clean_failure(result, folder, log, [])
    assert "DATABASE_URL is not set" in line, line


@pytest.mark.parametrize("args", [["--retention-days", "0"], ["--retention-days", "a week"],
                                  ["--bogus"], ["--dir"]])
def test_usage_errors_exit_2(tmp_path, args):
    result = run_script(args, env={"DATABASE_URL": "sqlite:////nonexistent.db"})
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stderr.count("\n") == 1, result.stderr


def test_help(tmp_path):
    result = run_script(["--help"])
    assert result.returncode == 0
    for option in ("--env-file", "--dir", "--retention-days", "--log", "BACKUP_DIR",
                   "BACKUP_RETENTION_DAYS", "BACKUP_LOG"):
        assert option in result.stdout, option
