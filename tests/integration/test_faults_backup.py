"""Faults survived, backups (issue 10, point 5): the backup folder removed,
made unreadable, filled with 10,000 files; a backup verified while it is
still being written; the backup log rotated or truncated; the disk holding
the backups and the log full.

Backups are made by scripts/caloria-backup from the session's real
PostgreSQL, once per module (the dump is copied under fresh names where a test
needs a new file), and by the script again where the test is about what the
script does on the fault. Each test: scrapes keep answering fast while the
fault is on (faults.py says what "fast" is), /health/backup turns unhealthy
or degraded with the reason in its `problems`, and it heals without
restarting the exporter."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from backup_script import run_backup
from exporter import Exporter
from faults import (ScrapeWatch, TURNS_WITHIN, UnprivilegedExporter, assert_same_process,
                    can_drop_privileges, is_healthy, is_unhealthy, wait_check)

PATHS = ("/metrics", "/health", "/health/backup")
TZ = "UTC0"  # the exporter and the script read backup names in this zone
# The first verification runs on the worker thread, one poll after the file
# is seen: generous, but bounded.
VERIFIED_WITHIN = TURNS_WITHIN + 4


# ---- helpers --------------------------------------------------------------------------


def backup_name(epoch: float) -> str:
    return f"caloria_{datetime.fromtimestamp(epoch, timezone.utc):%Y%m%d_%H%M%S}.sql.gz"


def problems(body: dict) -> str:
    return "\n".join(body.get("problems") or [])


def verified(status, body) -> bool:
    return is_healthy(status, body) and body.get("verified") is True


def unhealthy_saying(*words):
    def check(status, body):
        return is_unhealthy(status, body) and all(w in problems(body) for w in words)
    return check


def exporter_args(folder: Path, log: Path | None = None, extra=()) -> list[str]:
    args = ["--collector.backup", f"--backup.dir={folder}"]
    if log is not None:
        args.append(f"--backup.log={log}")
    return args + list(extra)


def start_verified(start_exporter, pg, folder: Path, log: Path | None = None, extra=()):
    exp = start_exporter(args=exporter_args(folder, log, extra),
                         env={"DATABASE_URL": pg.url(), "TZ": TZ})
    wait_check(exp, "backup", "the backup verified", verified, timeout=VERIFIED_WITHIN)
    return exp, exp.pid()


@pytest.fixture(scope="module")
def made(postgres_server, tmp_path_factory):
    """One real backup and its log line, made by the script from the session's
    PostgreSQL (3 users): (the .sql.gz bytes, the log's text)."""
    postgres_server.ensure_running()
    postgres_server.reset_users()
    root = tmp_path_factory.mktemp("made")
    log = root / "backup.log"
    run_backup(postgres_server.url(), root / "backups", TZ, log)
    backup = sorted((root / "backups").glob("caloria_*.sql.gz"))[-1]
    return backup.read_bytes(), log.read_text()


@pytest.fixture
def folder(tmp_path, made):
    """A backup folder holding one fresh copy of the real backup."""
    path = tmp_path / "backups"
    path.mkdir()
    (path / backup_name(time.time() - 60)).write_bytes(made[0])
    return path


@pytest.fixture
def log(tmp_path, made):
    path = tmp_path / "logs" / "backup.log"
    path.parent.mkdir()
    path.write_text(made[1])
    return path


# ---- the folder -----------------------------------------------------------------------


def test_backup_folder_removed(pg, start_exporter, folder, made):
    """The folder removed (a clean-up gone wrong, a volume not mounted): the
    check names the folder and the error; the folder back is read again."""
    exp, pid = start_verified(start_exporter, pg, folder)
    with ScrapeWatch(exp, PATHS) as watch:
        shutil.rmtree(folder)
        _, body = wait_check(exp, "backup", "unhealthy: folder gone",
                             unhealthy_saying("cannot read the backup folder", str(folder)))
        assert "No such file" in problems(body), body
        assert body["file"] is None, body
        m = exp.metrics()
        assert m.get("caloria_backup_directory_readable") == 0
        assert m.get("caloria_exporter_collector_success", collector="backup") == 0
        assert exp.get("/health/database").status == 200, "the database check must not suffer"
        folder.mkdir()
        (folder / backup_name(time.time() - 30)).write_bytes(made[0])
        wait_check(exp, "backup", "healthy: folder back", verified, timeout=VERIFIED_WITHIN)
    watch.assert_responsive()
    assert exp.metrics().get("caloria_backup_directory_readable") == 1
    assert_same_process(exp, pid)


@pytest.fixture
def open_dir():
    """A folder every user may search (tmp_path is private to root), for an
    exporter running as nobody; removed at teardown."""
    path = Path(tempfile.mkdtemp(prefix="caloria-faults-"))
    os.chmod(path, 0o755)
    yield path
    for sub, _, files in os.walk(path):
        os.chmod(sub, 0o755)
    shutil.rmtree(path, ignore_errors=True)


def start_unprivileged(pg, base: Path, folder: Path, extra=()) -> Exporter:
    reason = can_drop_privileges()
    if reason:
        pytest.skip(reason)
    exp = UnprivilegedExporter(args=exporter_args(folder, extra=extra),
                               env={"DATABASE_URL": pg.url(), "TZ": TZ},
                               workdir=base / "exporter")
    return exp.start()


def test_backup_folder_unreadable(pg, open_dir, made):
    """chmod 000 on the folder, with the exporter running as nobody (root
    ignores permissions): "Permission denied" with the fix; chmod 755 heals."""
    folder = open_dir / "backups"
    folder.mkdir(mode=0o755)
    backup = folder / backup_name(time.time() - 60)
    backup.write_bytes(made[0])
    os.chmod(backup, 0o644)
    exp = start_unprivileged(pg, open_dir, folder)
    try:
        pid = exp.pid()
        wait_check(exp, "backup", "the backup verified", verified, timeout=VERIFIED_WITHIN)
        with ScrapeWatch(exp, PATHS) as watch:
            os.chmod(folder, 0o000)
            _, body = wait_check(exp, "backup", "unhealthy: folder unreadable",
                                 unhealthy_saying("Permission denied", str(folder)))
            assert "permission" in problems(body).lower(), body
            time.sleep(1.0)
            os.chmod(folder, 0o755)
            wait_check(exp, "backup", "healthy: folder readable again", verified,
                       timeout=VERIFIED_WITHIN)
        watch.assert_responsive()
        assert_same_process(exp, pid)
    finally:
        os.chmod(folder, 0o755)
        exp.stop()
        print(exp.logs()[-3000:])


def test_backup_file_unreadable_then_fixed(pg, open_dir, made):
    """The newest backup lands unreadable for the exporter (the script makes
    files 0600 unless --group), so its verification fails "Permission
    denied"; once the file is made readable (chmod, no new content, the same
    mtime) it is verified again and the check heals, without a restart."""
    folder = open_dir / "backups"
    folder.mkdir(mode=0o755)
    older = folder / backup_name(time.time() - 3600)
    older.write_bytes(made[0])
    os.chmod(older, 0o644)
    exp = start_unprivileged(pg, open_dir, folder)
    try:
        pid = exp.pid()
        wait_check(exp, "backup", "the older backup verified", verified,
                   timeout=VERIFIED_WITHIN)
        with ScrapeWatch(exp, PATHS) as watch:
            newest = folder / backup_name(time.time() - 30)
            newest.write_bytes(made[0])
            os.chmod(newest, 0o600)  # root's, as the script leaves it
            _, body = wait_check(exp, "backup", "unhealthy: newest unreadable",
                                 unhealthy_saying("failed verification", "Permission denied"),
                                 timeout=VERIFIED_WITHIN)
            assert body["file"] == newest.name, body
            time.sleep(1.5)  # a few polls with the failure cached
            os.chmod(newest, 0o644)
            _, body = wait_check(exp, "backup", "healthy: newest readable", verified,
                                 timeout=VERIFIED_WITHIN)
            assert body["file"] == newest.name, body
        watch.assert_responsive()
        assert_same_process(exp, pid)
    finally:
        exp.stop()
        print(exp.logs()[-3000:])


# The scan of 10,000 files takes about 0.2 s in a release build, but several
# times that in CI's AddressSanitizer build at -O0: this test gives the
# collectors 3 s (the default is 5 s), so it tests the folder, not the build.
SLOW_SCAN_FLAGS = ["--collector.interval=3s", "--collector.timeout=3s"]
SLOW_SCAN_TURNS_WITHIN = 2 * (3 + 3) + 3


def test_backup_folder_filled_with_10000_files(pg, start_exporter, folder):
    """10,000 files matching the pattern, all older than the retention (a
    clean-up that stopped long ago): every one is listed and counted within
    --collector.timeout, the check is degraded naming the count, scrapes stay
    fast (the metrics carry no per-file series), and removing them heals."""
    exp, pid = start_verified(start_exporter, pg, folder, extra=SLOW_SCAN_FLAGS)
    base = time.time() - 8 * 86400
    junk = []
    for i in range(10_000):
        path = folder / backup_name(base - i * 61)
        path.write_bytes(b"\x1f\x8b")
        junk.append(path)
    with ScrapeWatch(exp, PATHS) as watch:
        _, body = wait_check(
            exp, "backup", "degraded: 10000 retention violations",
            lambda s, b: s == 200 and b["status"] == "degraded"
            and b.get("retention_violations") == 10_000, timeout=SLOW_SCAN_TURNS_WITHIN)
        assert "10000 backup(s) older than the retention" in problems(body), body
        assert body["files"] == 10_001 and body["verified"] is True, body
        m = exp.metrics()
        assert m.get("caloria_backup_files") == 10_001
        assert m.get("caloria_exporter_collector_success", collector="backup") == 1
        duration = m.get("caloria_exporter_collector_duration_seconds", collector="backup")
        print(f"backup collector run with 10,001 files: {duration * 1000:.0f} ms")
        assert duration < 3.0
        for path in junk:
            path.unlink()
        wait_check(exp, "backup", "healthy: files removed", verified,
                   timeout=SLOW_SCAN_TURNS_WITHIN)
    watch.assert_responsive(min_scrapes=20)
    assert_same_process(exp, pid)


# ---- a backup being written -------------------------------------------------------------


def test_backup_verified_while_it_is_being_written(pg, start_exporter, folder, made):
    """A newer backup written in place, slowly (a job that writes straight
    to its final name, unlike scripts/caloria-backup, which renames a finished
    temp file): while it grows the check must never call it verified, and
    says why it is not (pending, or failed: truncated); once the last byte is
    written it is verified whole, without a restart."""
    exp, pid = start_verified(start_exporter, pg, folder)
    data = made[0]
    growing = folder / backup_name(time.time())
    pieces = 12
    step = -(-len(data) // pieces)
    done = threading.Event()

    def write_slowly():
        with open(growing, "wb") as out:
            for i in range(0, len(data), step):
                out.write(data[i:i + step])
                out.flush()
                time.sleep(0.4)
        done.set()

    pages = []  # (status, body) of /health/backup while the file grows
    writer = threading.Thread(target=write_slowly, daemon=True)
    with ScrapeWatch(exp, PATHS) as watch:
        writer.start()
        while not done.is_set():
            resp = exp.get("/health/backup")
            size = growing.stat().st_size if growing.exists() else 0
            pages.append((resp.status, resp.json(), size))
            time.sleep(0.15)
        writer.join()
        _, body = wait_check(exp, "backup", "the finished backup verified",
                             lambda s, b: verified(s, b) and b["file"] == growing.name
                             and b["size_bytes"] == len(data), timeout=VERIFIED_WITHIN)
    watch.assert_responsive()
    of_growing = [(s, b) for s, b, size in pages
                  if b.get("file") == growing.name and b.get("size_bytes", 0) < len(data)]
    assert of_growing, "the growing file was never the latest backup while it grew"
    wrong = [b for s, b in of_growing if b.get("verified") is True]
    assert not wrong, f"a half-written backup was reported verified: {wrong[0]}"
    failed = [(s, b) for s, b in of_growing if b.get("verification") == "failed"]
    for s, b in failed:
        assert s == 503 and "failed verification" in problems(b), b
    print(f"pages while growing: {len(of_growing)}, failed: {len(failed)}, "
          f"pending: {sum(b.get('verification') == 'pending' for _, b in of_growing)}")
    assert_same_process(exp, pid)


# ---- the backup log ---------------------------------------------------------------------


def log_success(exp) -> float | None:
    return exp.metrics().get("caloria_backup_log_last_success_timestamp_seconds")


def test_backup_log_rotated(pg, start_exporter, folder, log):
    """The log rotated by rename (logrotate's default: backup.log becomes
    backup.log.1, the next run creates a new one). Until the new file exists
    the log cannot be read and /health/backup says so; the next run's line in
    the new file is read (the path, not an old open file)."""
    exp, pid = start_verified(start_exporter, pg, folder, log)
    first = log_success(exp)
    assert first is not None
    with ScrapeWatch(exp, PATHS) as watch:
        log.rename(log.with_name("backup.log.1"))
        _, body = wait_check(exp, "backup", "the missing log reported",
                             lambda s, b: "cannot read the backup log" in problems(b))
        assert str(log) in problems(body), body
        assert body["status"] == "degraded", body
        time.sleep(1.05 - time.time() % 1)  # the log has one-second resolution
        run_backup(pg.url(), folder, TZ, log)  # creates the new log with its line
        _, body = wait_check(exp, "backup", "healthy with the new log's success",
                             lambda s, b: verified(s, b) and "log" not in problems(b)
                             and (log_success(exp) or 0) > first, timeout=VERIFIED_WITHIN)
    watch.assert_responsive()
    assert body["log_last_success"] is not None
    assert_same_process(exp, pid)


def test_backup_log_truncated(pg, start_exporter, folder, log):
    """The log truncated in place (logrotate's copytruncate), then left with
    a line cut short (a writer killed, or a full disk, mid-line): no old value
    is kept (the file is read afresh at every poll, so no stale offset
    either), the cut line is ignored, and the next run's line, appended after
    the cut one, is read with its own time. Truncation is no fault of the
    backups: the check stays healthy and the page shows no last success."""
    exp, pid = start_verified(start_exporter, pg, folder, log)
    first = log_success(exp)
    assert first is not None
    with ScrapeWatch(exp, PATHS) as watch:
        with open(log, "r+b") as f:
            f.truncate(0)
        status, body = wait_check(exp, "backup", "the truncated log read",
                                  lambda s, b: b.get("log_last_success") is None)
        assert is_healthy(status, body), body
        assert log_success(exp) is None
        # A line cut before its outcome word, without its newline.
        log.write_bytes(b"2026-11-25T02:00:04+00:00 caloria-b")
        time.sleep(1.5)
        status, body = wait_check(exp, "backup", "the cut line ignored", is_healthy)
        assert body.get("log_last_success") is None and body.get("log_last_error") is None, body
        time.sleep(1.05 - time.time() % 1)  # the log has one-second resolution
        run_backup(pg.url(), folder, TZ, log)
        wait_check(exp, "backup", "the next run's success read with its own time",
                   lambda s, b: verified(s, b) and (log_success(exp) or 0) > first,
                   timeout=VERIFIED_WITHIN)
    watch.assert_responsive()
    assert_same_process(exp, pid)


@pytest.mark.xfail(strict=True, reason=(
    "collectors/backup/backup_log.cpp (SummarizeBackupLog/LogLineTime, owned by the "
    "parsers work) dates a line by the time at its start only: an outcome appended "
    "to a line cut short without its newline (full disk, killed writer) is read "
    "with the cut line's older time, so caloria_backup_log_last_success_timestamp_"
    "seconds is wrong; scripts/caloria-backup now starts a new line, other writers "
    "may not"))
def test_backup_log_success_appended_to_a_cut_line_keeps_its_own_time(
        pg, start_exporter, folder, log):
    """Another writer (not scripts/caloria-backup, which starts a new line)
    appends its SUCCESS right after a cut line: the success must be read with
    its own time, not the cut line's."""
    exp, pid = start_verified(start_exporter, pg, folder, log)
    first = log_success(exp)
    now = int(time.time())
    stamp = datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="seconds")
    log.write_text("2026-11-25T02:00:04+00:00 caloria-b"
                   f"{stamp} caloria-backup SUCCESS file=x size=1 users=3\n")
    exp.wait_for("the rewritten log read", lambda: log_success(exp) != first, timeout=TURNS_WITHIN)
    assert log_success(exp) == now, (
        f"last success {log_success(exp)}, the line says {now} ({stamp})")
    assert_same_process(exp, pid)


# ---- the disk full ---------------------------------------------------------------------------


@pytest.fixture
def full_disk(tmp_path):
    """A 64 KiB tmpfs (mounted as root; skipped where mounting is not
    allowed), unmounted at teardown."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs",
                             str(mount_point)], capture_output=True, text=True, timeout=10)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, timeout=10)


def fill(disk: Path) -> Path:
    """Writes a file until the disk has no space left; returns it."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
    try:  # the last page may still take a few bytes
        with open(filler, "ab", buffering=0) as f:
            while f.write(b"\0"):
                pass
    except OSError:
        pass
    return filler


def test_disk_full_for_the_backups_and_the_log(pg, start_exporter, full_disk, made):
    """The disk holding the backup folder and the log fills up (so does the
    exporter's own log file, which is on it too): the next backup run can
    write neither its backup nor its log line, so the latest backup ages past
    --backup.max-age and the check turns unhealthy saying so; the exporter,
    whose own log writes now fail, keeps serving and reloading. Space freed
    and the job run again heal it."""
    folder = full_disk / "backups"
    folder.mkdir()
    log = full_disk / "backup.log"
    log.write_text(made[1])
    # Made 50 s ago: young enough to start healthy, old enough to pass
    # --backup.max-age=1m within the test.
    (folder / backup_name(time.time() - 50)).write_bytes(made[0])
    exp = Exporter(args=exporter_args(folder, log, ["--backup.max-age=1m"]),
                   env={"DATABASE_URL": pg.url(), "TZ": TZ}, workdir=full_disk / "exporter")
    exp.start()
    try:
        pid = exp.pid()
        wait_check(exp, "backup", "the backup verified", verified, timeout=VERIFIED_WITHIN)
        first = log_success(exp)
        with ScrapeWatch(exp, PATHS) as watch:
            filler = fill(full_disk)
            failed = run_backup(pg.url(), folder, TZ, log, expect_ok=False)
            assert "space" in failed.stderr.lower() or "No space" in failed.stderr, failed.stderr
            # The exporter logs, to its full disk, on a reload: it must answer.
            reload = exp.get("/-/reload", method="POST", data=b"")
            assert reload.status == 200, reload.text
            _, body = wait_check(exp, "backup", "unhealthy: the backup too old",
                                 unhealthy_saying("--backup.max-age"), timeout=20)
            assert log_success(exp) == first, "a success that was never logged appeared"
            assert not list(folder.glob(".caloria_*")), "the failed run left a temp file"
            filler.unlink()
            run_backup(pg.url(), folder, TZ, log)
            wait_check(exp, "backup", "healthy after the next run", verified,
                       timeout=VERIFIED_WITHIN)
        watch.assert_responsive(min_scrapes=20)
        # The healed run renames its backup into place before it appends its
        # log line: a poll between the two verifies the backup and reads the
        # old log, so the line is waited for, not asserted at once.
        exp.wait_for("the healed run's success read from the log",
                     lambda: (log_success(exp) or 0) > (first or 0), timeout=TURNS_WITHIN)
        assert_same_process(exp, pid)
    finally:
        exp.stop()
