"""docs/metrics.md and /metrics name the same metric families: a metric added,
renamed or removed in the exporter but not in the docs (or the other way round)
fails here.

The real exporter runs on a SQLite app whose env file has a line python-dotenv
skips (so caloria_config_problem is present), with a backup folder holding two
verified SQLite backups and a backup log with a SUCCESS and an ERROR line, a passed
restore test's state file, a
python3 process holding the database open as the app's process, a stand-in
for the app's own health page (fake_app.py), and PostgreSQL expected (so the database file is also the watched fallback file), so that
every family the exporter can publish is on /metrics."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from exporter import REPO_ROOT, Exporter, make_sqlite
from fake_app import SEED_ANSWER, FakeApp, json_reply
from waiting import terminate

METRICS_MD = REPO_ROOT / "docs" / "metrics.md"
DOC = "docs/metrics.md"

# Documented caloria_* families this setup cannot make the exporter publish, each
# with the reason. SQLite, a skipped env file line, two backups and a log bring out
# every other one.
_NEEDS_POSTGRES = ("the pg_stats collector reads a PostgreSQL server's pg_stat_* views; "
                   "tests/integration/test_pg_stats.py checks it on a real primary and replica")
NOT_EMITTED_IN_THIS_SETUP: dict[str, str] = {
    name: _NEEDS_POSTGRES for name in (
        "caloria_postgres_max_connections", "caloria_postgres_superuser_reserved_connections",
        "caloria_postgres_connections", "caloria_postgres_database_size_bytes",
        "caloria_postgres_transactions_committed_total",
        "caloria_postgres_transactions_rolled_back_total", "caloria_postgres_deadlocks_total",
        "caloria_postgres_blocks_hit_total", "caloria_postgres_blocks_read_total",
        "caloria_postgres_longest_transaction_seconds",
        "caloria_postgres_oldest_idle_in_transaction_seconds", "caloria_postgres_in_recovery",
        "caloria_postgres_replicas", "caloria_postgres_replica_lag_bytes",
        "caloria_postgres_replica_lag_seconds",
        "caloria_postgres_replication_receiver_streaming",
        "caloria_postgres_replication_replay_paused", "caloria_postgres_replication_lag_bytes",
        "caloria_postgres_replication_lag_seconds")
}

# Verification of the latest backup runs on the exporter's worker thread.
SETTLE = 15.0

_TYPE_LINE = re.compile(r"^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)\s*$", re.M)


def _backup_name(when: datetime) -> str:
    # The exporter reads the time in a backup's name in its local time zone,
    # as the backup script's `date` wrote it.
    return f"caloria_{when.astimezone():%Y%m%d_%H%M%S}.db"


@pytest.fixture(scope="module")
def metrics_text(exporter_binary, tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("docs-metrics")
    app = root / "app"
    database = make_sqlite(app / "instance" / "caloria.db", users=3)
    env_file = app / ".env"
    env_file.write_text('DATABASE_URL=sqlite:///caloria.db\nSECRET_KEY="unterminated\n')

    now = datetime.now(timezone.utc)
    backups = root / "backups"
    backups.mkdir()
    for age in (timedelta(hours=25), timedelta(hours=1)):
        shutil.copyfile(database, backups / _backup_name(now - age))
    log = root / "backup.log"
    log.write_text(
        f"{(now - timedelta(hours=25)).isoformat(timespec='seconds')} caloria-backup "
        "ERROR pg_dump failed (exit 1)\n"
        f"{(now - timedelta(hours=1)).isoformat(timespec='seconds')} caloria-backup "
        "SUCCESS file=caloria.db size=8192 users=3\n")

    # A passed restore test (restore_test collector), in caloria-restore-test's format.
    proven = {"finished": now.timestamp() - 60, "success": True, "error": "",
              "duration_seconds": 1.5, "backup_file": str(backups / "x.db"),
              "backup_timestamp": now.timestamp() - 3600, "backup_format": "sqlite",
              "restored_users": 3, "backup_users": 3, "live_users": 3,
              "target": "a temporary SQLite file"}
    restore_state = root / "restore-test.json"
    restore_state.write_text(json.dumps({"version": 1, "last_run": proven,
                                         "last_success": proven}))

    # The app's process (app_process collector): python3 holding the database open.
    # PostgreSQL expected makes that file the fallback too (fallback_sqlite collector).
    marker = f"caloria-docs-app-{os.getpid()}"
    app_process = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time\n"
         "c = sqlite3.connect(sys.argv[1]); c.execute('SELECT 1').fetchone()\n"
         "print('ready', flush=True); time.sleep(120)", str(database), marker],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    # The app's own health page (app_probe collector).
    health_page = FakeApp({"/health/database": json_reply(SEED_ANSWER)})
    exp = Exporter(args=[f"--app.env-file={env_file}", "--collector.backup",
                         f"--backup.dir={backups}", "--backup.pattern=caloria_*.db",
                         f"--backup.log={log}", f"--app.process={marker}",
                         "--database.expected-type=postgresql",
                         f"--restore.state-file={restore_state}",
                         f"--app.health-url={health_page.url('/health/database')}"],
                   workdir=root / "exporter")
    try:
        assert app_process.stdout.readline().strip() == "ready"
        with exp:
            # The last family to appear: it needs the background verification.
            exp.wait_metric("caloria_backup_latest_verified", 1, timeout=SETTLE)
            time.sleep(1.5)  # one more poll, so every collector has published
            text = exp.get("/metrics").text
    finally:
        terminate(app_process, grace=2)
        health_page.stop()
        app_process.stdout.close()
    return text


def exposed_families(text: str) -> dict[str, str]:
    """{family name: type} from the # TYPE lines of /metrics."""
    families = dict(_TYPE_LINE.findall(text))
    assert len(families) >= 10, f"too few # TYPE lines on /metrics:\n{text}"
    return families


def doc_names(family: str, kind: str) -> set[str]:
    """The names under which a family may be documented: a counter's name with or
    without _total (Prometheus clients differ in which one # TYPE shows)."""
    if kind == "counter":
        base = family.removesuffix("_total")
        return {base, base + "_total"}
    return {family}


def documented_in_tables() -> set[str]:
    """Metric names in the first column of every table whose header is `metric`."""
    names: set[str] = set()
    in_metric_table = False
    for line in METRICS_MD.read_text().splitlines():
        if not line.startswith("|"):
            in_metric_table = False
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] == "metric":
            in_metric_table = True
        elif in_metric_table and not set(cells[0]) <= set("-: "):
            names |= set(re.findall(r"`([a-zA-Z_:][a-zA-Z0-9_:]*)`", cells[0]))
    assert len(names) >= 10, f"could not read the metric tables of {DOC} (found {sorted(names)})"
    return names


def documented_process_metrics() -> set[str]:
    """process_* names under "## The process", where they are a sentence, not a table."""
    section = re.search(r"^## The process.*?\n(.*?)(?=^## |\Z)", METRICS_MD.read_text(),
                        re.M | re.S)
    assert section, f"{DOC} has no '## The process' section"
    return set(re.findall(r"`(process_[a-zA-Z0-9_]+)`", section.group(1)))


def test_every_exposed_family_is_documented(metrics_text):
    in_tables = documented_in_tables()
    process = documented_process_metrics()
    missing = []
    for family, kind in sorted(exposed_families(metrics_text).items()):
        where = process if family.startswith("process_") else in_tables
        if not doc_names(family, kind) & where:
            section = ("the list under '## The process'" if family.startswith("process_")
                       else "a metric table (first column, as `name`)")
            missing.append(f"{family} ({kind}; add it to {section})")
    assert not missing, (
        f"metric families on /metrics that {DOC} does not document: "
        + "; ".join(missing) + f". Document them in {DOC}.")


def test_every_documented_metric_is_exposed(metrics_text):
    exposed: set[str] = set()
    for family, kind in exposed_families(metrics_text).items():
        exposed |= doc_names(family, kind)
    documented = {n for n in documented_in_tables() if n.startswith("caloria_")}
    documented |= documented_process_metrics()
    stale = sorted(documented - exposed - NOT_EMITTED_IN_THIS_SETUP.keys())
    assert not stale, (
        f"metrics documented in {DOC} that the exporter does not publish: "
        f"{', '.join(stale)}. Remove or rename them in {DOC} (or, if only a state this "
        "test does not set up brings them out, list them in NOT_EMITTED_IN_THIS_SETUP in "
        f"{__file__} with the reason).")
