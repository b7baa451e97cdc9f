"""The exporter's backup check against backups made by scripts/caloria-backup
from the real PostgreSQL: a fresh backup is healthy, and every way a backup
goes bad (corrupt, truncated, too old, not cleaned up, gone, unreadable,
missing users, failing job) shows on /metrics and on /health/backup."""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from backup_script import run_backup
from exporter import Metrics, assert_no_password, make_sqlite

PROMTOOL = shutil.which("promtool")

# Script and exporter both read backup names in local time: run both in a
# zone that is not UTC and not a whole hour away (POSIX TZ, no tzdata needed).
TZ = "IST-5:30"
ZONE = timezone(timedelta(hours=5, minutes=30))

# Verification runs on the exporter's worker thread: the result shows one
# poll (1s) after the file is seen. Generous, but bounded.
SETTLE = 8.0

LATEST_METRICS = (
    "caloria_backup_latest_timestamp_seconds",
    "caloria_backup_latest_size_bytes",
    "caloria_backup_latest_verified",
    "caloria_backup_latest_users",
    "caloria_backup_oldest_timestamp_seconds",
    "caloria_backup_previous_size_bytes",
)


# ---- helpers ----------------------------------------------------------------------


def newest_backup(folder: Path) -> Path:
    files = sorted(folder.glob("caloria_*.sql.gz"))
    assert files, f"no backup in {folder}"
    return files[-1]


def backup_name(epoch: float, ext: str = "sql.gz") -> str:
    return f"caloria_{datetime.fromtimestamp(epoch, ZONE):%Y%m%d_%H%M%S}.{ext}"


def name_time(name: str) -> float:
    m = re.search(r"(\d{8}_\d{6})", name)
    return datetime.strptime(m.group(1), "%Y%m%d_%H%M%S").replace(tzinfo=ZONE).timestamp()


def start(start_exporter, pg_url: str, folder: Path, log: Path | None = None,
          extra: list[str] | None = None):
    # Explicitly on: the shared harness turns the backup collector off unless
    # a test asks for it.
    args = ["--collector.backup", f"--backup.dir={folder}"]
    if log is not None:
        args.append(f"--backup.log={log}")
    return start_exporter(args=args + list(extra or []),
                          env={"DATABASE_URL": pg_url, "TZ": TZ})


def backup_state(exp) -> tuple[Metrics, int, dict]:
    metrics = exp.metrics()
    page = exp.get("/health/backup")
    return metrics, page.status, page.json()


def wait_backup(exp, what: str, check, timeout: float = SETTLE):
    """Waits until check(metrics, http_status, body) holds for one pair of
    /metrics and /health/backup responses; returns that pair."""
    seen = {}

    def probe():
        state = backup_state(exp)
        seen["last"] = state
        return state if check(*state) else None

    try:
        return exp.wait_for(what, probe, timeout)
    except AssertionError as e:
        metrics, status, body = seen.get("last", (None, None, None))
        backup_lines = "\n".join(
            line for line in (metrics.text.splitlines() if metrics else [])
            if line.startswith("caloria_backup"))
        raise AssertionError(
            f"{e}\n--- last /metrics (backup) ---\n{backup_lines}\n"
            f"--- last /health/backup ({status}) ---\n{body}") from None


def verified_is(value):
    return lambda m, status, body: m.get("caloria_backup_latest_verified") == value


def promtool_check(text: str) -> None:
    if PROMTOOL is None:
        return
    result = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, (
        f"promtool check metrics:\n{result.stdout}{result.stderr}\n--- metrics ---\n{text}")


def problems(body: dict) -> str:
    return "\n".join(body.get("problems") or [])


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "backups"
    path.mkdir()
    return path


@pytest.fixture
def log(tmp_path):
    return tmp_path / "logs" / "backup.log"


# ---- the healthy case ----------------------------------------------------------------


def test_a_fresh_backup_is_healthy(pg, start_exporter, folder, log):
    run_backup(pg.url(), folder, TZ, log)
    backup = newest_backup(folder)
    exp = start(start_exporter, pg.url(), folder, log)

    m, status, body = wait_backup(exp, "the backup verified", verified_is(1))
    now = time.time()
    assert abs(m.get("caloria_backup_latest_timestamp_seconds") - now) < 60, (
        "latest_timestamp is not the time in the name (read in the local zone)")
    assert m.get("caloria_backup_latest_timestamp_seconds") == name_time(backup.name)
    assert m.get("caloria_backup_latest_size_bytes") == backup.stat().st_size
    assert m.get("caloria_backup_total_size_bytes") == backup.stat().st_size
    assert m.get("caloria_backup_files") == 1
    assert m.get("caloria_backup_directory_readable") == 1
    assert m.get("caloria_backup_retention_violations") == 0
    assert m.get("caloria_backup_oldest_timestamp_seconds") == name_time(backup.name)
    assert m.get("caloria_backup_previous_size_bytes") is None
    assert m.get("caloria_database_users") == 3
    success = m.get("caloria_backup_log_last_success_timestamp_seconds")
    assert success is not None and abs(success - now) < 60, success
    assert m.get("caloria_backup_log_last_error_timestamp_seconds") is None
    promtool_check(m.text)

    assert body["file"] == backup.name
    assert body["verified"] is True and body["verification"] == "passed", body
    assert body["size_bytes"] == backup.stat().st_size
    assert body["files"] == 1 and body["retention_violations"] == 0
    assert 0 <= body["age_seconds"] < 60, body["age_seconds"]
    assert body["log_last_success"] is not None and body["log_last_error"] is None

    # Users in the backup: the same 3 as in the live database.
    assert m.get("caloria_backup_latest_users") == 3, (
        "caloria_backup_latest_users is not the number of rows in the dump's "
        f"COPY public.users block (3): {m.get('caloria_backup_latest_users')}")
    assert body["users"] == 3, body
    assert status == 200 and body["status"] == "healthy", (status, body)
    assert not body.get("problems"), body
    overall = exp.get("/health").json()
    assert overall["checks"]["backup"]["status"] == "healthy", overall["checks"]["backup"]
    assert_no_password(m.text + exp.get("/health").text, "/metrics or /health")


def test_a_sqlite_backup_is_verified(tmp_path, start_exporter, folder):
    db = make_sqlite(tmp_path / "app" / "instance" / "caloria.db", users=4)
    run_backup(f"sqlite:///{db}", folder, TZ)
    backup = sorted(folder.glob("caloria_*.db"))[-1]
    exp = start(start_exporter, f"sqlite:///{db}", folder,
                extra=["--backup.pattern=caloria_*.db"])
    m, status, body = wait_backup(exp, "the SQLite backup verified", verified_is(1))
    assert m.get("caloria_backup_latest_users") == 4
    assert m.get("caloria_backup_latest_size_bytes") == backup.stat().st_size
    assert status == 200 and body["status"] == "healthy", body


# ---- corrupt backups ---------------------------------------------------------------------


def test_a_truncated_newest_backup_is_corrupt(pg, start_exporter, folder):
    run_backup(pg.url(), folder, TZ)
    good = newest_backup(folder)
    data = good.read_bytes()
    truncated = folder / backup_name(name_time(good.name) + 1)
    truncated.write_bytes(data[: len(data) // 2])
    exp = start(start_exporter, pg.url(), folder)

    m, status, body = wait_backup(exp, "the truncated backup failed", verified_is(0))
    assert m.get("caloria_backup_latest_size_bytes") == len(data) // 2
    assert m.get("caloria_backup_previous_size_bytes") == len(data)
    assert m.get("caloria_backup_files") == 2
    assert m.get("caloria_backup_latest_users") is None
    assert status == 503 and body["status"] == "unhealthy", (status, body)
    assert body["file"] == truncated.name
    assert body["verified"] is False and body["verification"] == "failed"
    assert "failed verification" in problems(body), body
    promtool_check(m.text)


def test_a_flipped_byte_is_corrupt(pg, start_exporter, folder):
    run_backup(pg.url(), folder, TZ)
    good = newest_backup(folder)
    data = bytearray(good.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the deflate stream: header and trailer intact
    good.write_bytes(bytes(data))
    exp = start(start_exporter, pg.url(), folder)

    m, status, body = wait_backup(exp, "the damaged backup failed", verified_is(0))
    assert m.get("caloria_backup_latest_size_bytes") == len(data)
    assert status == 503 and body["status"] == "unhealthy", (status, body)
    assert body["verification"] == "failed" and body["file"] == good.name
    assert "failed verification" in problems(body), body


# ---- age and retention ----------------------------------------------------------------------


def test_a_backup_older_than_the_retention_degrades(pg, start_exporter, folder):
    run_backup(pg.url(), folder, TZ)
    good = newest_backup(folder)
    stale = folder / backup_name(time.time() - 8 * 86400)
    shutil.copyfile(good, stale)
    exp = start(start_exporter, pg.url(), folder)

    m, status, body = wait_backup(
        exp, "a retention violation",
        lambda m, s, b: m.get("caloria_backup_retention_violations") == 1
        and m.get("caloria_backup_latest_verified") is not None)
    assert m.get("caloria_backup_files") == 2
    assert m.get("caloria_backup_latest_verified") == 1
    assert m.get("caloria_backup_oldest_timestamp_seconds") == name_time(stale.name)
    assert body["retention_violations"] == 1
    assert "older than the retention" in problems(body), body
    assert status == 200 and body["status"] == "degraded", (status, body)
    other = [p for p in body.get("problems") or [] if "retention" not in p]
    assert not other, f"problems besides the retention violation: {other}"


def test_a_backup_older_than_max_age_is_unhealthy(pg, start_exporter, folder):
    run_backup(pg.url(), folder, TZ)
    good = newest_backup(folder)
    old = folder / backup_name(time.time() - 2 * 3600)
    good.rename(old)
    exp = start(start_exporter, pg.url(), folder, extra=["--backup.max-age=1h"])

    m, status, body = wait_backup(exp, "the old backup verified", verified_is(1))
    assert m.get("caloria_backup_latest_timestamp_seconds") == name_time(old.name)
    assert abs(time.time() - name_time(old.name) - 7200) < 60
    assert status == 503 and body["status"] == "unhealthy", (status, body)
    assert body["age_seconds"] >= 7200 - 60, body
    assert "--backup.max-age" in problems(body), body


# ---- backups gone, folder gone ---------------------------------------------------------------


def test_all_backups_deleted(pg, start_exporter, folder):
    run_backup(pg.url(), folder, TZ)
    exp = start(start_exporter, pg.url(), folder)
    wait_backup(exp, "the backup verified", verified_is(1))
    for path in folder.iterdir():
        path.unlink()

    m, status, body = wait_backup(
        exp, "no backups", lambda m, s, b: m.get("caloria_backup_files") == 0)
    assert m.get("caloria_backup_total_size_bytes") == 0
    assert m.get("caloria_backup_directory_readable") == 1
    present = [name for name in LATEST_METRICS if m.get(name) is not None]
    assert not present, f"metrics of a backup that no longer exists: {present}"
    assert status == 503 and body["status"] == "unhealthy", (status, body)
    assert body["file"] is None and body["files"] == 0
    assert "no backup found" in problems(body), body
    promtool_check(m.text)


def test_a_missing_folder_is_reported_and_the_exporter_keeps_serving(pg, start_exporter, folder):
    run_backup(pg.url(), folder, TZ)
    exp = start(start_exporter, pg.url(), folder)
    wait_backup(exp, "the backup verified", verified_is(1))
    shutil.rmtree(folder)

    m, status, body = wait_backup(
        exp, "the folder unreadable",
        lambda m, s, b: m.get("caloria_backup_directory_readable") == 0)
    assert status == 503 and body["status"] == "unhealthy", (status, body)
    assert str(folder) in problems(body), body
    assert m.get("caloria_backup_latest_timestamp_seconds") is None
    promtool_check(m.text)
    assert exp.running()
    assert exp.get("/health/database").status == 200
    assert m.get("caloria_database_up") == 1

    # The folder comes back with a backup: so does the check.
    run_backup(pg.url(), folder, TZ)
    wait_backup(exp, "the backup check recovered",
                lambda m, s, b: m.get("caloria_backup_directory_readable") == 1
                and m.get("caloria_backup_latest_verified") == 1)


# ---- users and the job's log -------------------------------------------------------------------


def test_a_backup_with_far_fewer_users_than_live_degrades(pg, start_exporter, folder):
    run_backup(pg.url(), folder, TZ)  # 3 users
    values = ", ".join(f"('new{i}@example.com')" for i in range(10))
    pg.sql(f"INSERT INTO users (email) VALUES {values}")  # 13 live
    exp = start(start_exporter, pg.url(), folder)

    m, status, body = wait_backup(
        exp, "the backup verified with 13 live users",
        lambda m, s, b: m.get("caloria_backup_latest_verified") == 1
        and m.get("caloria_database_users") == 13)
    assert status == 200 and body["status"] == "degraded", (status, body)
    assert m.get("caloria_backup_latest_users") == 3, (
        f"caloria_backup_latest_users: {m.get('caloria_backup_latest_users')}, "
        "the dump holds 3 users")
    assert "far fewer" in problems(body), body


def test_a_log_error_newer_than_the_last_success(pg, start_exporter, folder, log):
    run_backup(pg.url(), folder, TZ, log)
    # The log has one-second resolution: the failure must come a second later.
    time.sleep(1.05 - (time.time() % 1))
    failed = run_backup(pg.url(password="wrong-pw"), folder, TZ, log, expect_ok=False)
    assert "ERROR" in failed.stderr
    exp = start(start_exporter, pg.url(), folder, log)

    m, status, body = wait_backup(
        exp, "the log's error",
        lambda m, s, b: m.get("caloria_backup_log_last_error_timestamp_seconds") is not None)
    success = m.get("caloria_backup_log_last_success_timestamp_seconds")
    error = m.get("caloria_backup_log_last_error_timestamp_seconds")
    assert success is not None and error > success, (success, error)
    assert abs(error - time.time()) < 60
    assert body["log_last_error"] is not None and body["log_last_success"] is not None
    assert "pg_dump failed" in body.get("log_last_error_message", ""), body
    assert m.get("caloria_backup_files") == 1, "the failed run changed the folder"
    assert_no_password(exp.get("/health/backup").text + m.text, "/health/backup or /metrics")
    promtool_check(m.text)


def test_a_backup_made_after_the_exporter_started_is_picked_up(pg, start_exporter, folder, log):
    exp = start(start_exporter, pg.url(), folder, log)
    wait_backup(exp, "no backup yet", lambda m, s, b: s == 503 and b["files"] == 0)
    run_backup(pg.url(), folder, TZ, log)
    backup = newest_backup(folder)
    # The script renames the backup into place before it logs its SUCCESS line: a
    # poll in between sees the file (and may verify it) before the log has the line.
    m, status, body = wait_backup(
        exp, "the new backup verified and logged",
        lambda m, s, b: verified_is(1)(m, s, b)
        and m.get("caloria_backup_log_last_success_timestamp_seconds") is not None)
    assert body["file"] == backup.name
    # Corrupting the same file in place (same name, new size) is noticed too.
    data = backup.read_bytes()
    backup.write_bytes(data[:-8])  # gzip trailer gone
    m, status, body = wait_backup(exp, "the damaged file failed", verified_is(0))
    assert status == 503 and body["status"] == "unhealthy"
    with pytest.raises(EOFError):  # the stdlib agrees the file is damaged
        gzip.decompress(backup.read_bytes())
