"""The pg_stats collector against real servers: the session's PostgreSQL read by a
role with only pg_monitor, sessions left idle in a transaction, a real deadlock, and
a streaming replica made by pg_basebackup -R whose replay is paused to make its lag
visible on both sides, then stopped to make it disappear from the primary."""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import time
from urllib.parse import quote

import pytest

from postgres import (APP_DATABASE, APP_PASSWORD, APP_USER, SUPERUSER, SUPERUSER_PASSWORD,
                      PostgresServer, free_port)
from exporter import REPO_ROOT
from waiting import poll_until, terminate

METRICS_MD = REPO_ROOT / "docs" / "metrics.md"
MONITOR = "caloria_monitor"
MONITOR_PASSWORD = "M0n:it@r/pw"
POLL_WAIT = 10  # seconds: a few polls at the harness's 1s interval


def monitor_url(host: str, port: int) -> str:
    return (f"postgresql://{MONITOR}:{quote(MONITOR_PASSWORD, safe='')}@{host}:{port}"
            f"/{APP_DATABASE}")


@pytest.fixture
def monitor(pg):
    """A role with pg_monitor and nothing else (CONNECT comes from PUBLIC)."""
    pw = MONITOR_PASSWORD.replace("'", "''")
    pg.sql(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{MONITOR}') "
           f"THEN CREATE ROLE {MONITOR} LOGIN PASSWORD '{pw}' IN ROLE pg_monitor; END IF; END $$",
           database="postgres")
    return monitor_url(pg.host, pg.port)


def psql_session(pg, user: str, password: str, port: int | None = None) -> subprocess.Popen:
    """An interactive psql on the app's database, fed line by line through stdin."""
    psql = shutil.which("psql") or str(pg.bindir / "psql")
    env = dict(os.environ, PGPASSWORD=password, PGCONNECT_TIMEOUT="5")
    return subprocess.Popen(
        [psql, "-X", "-q", "-At", "-h", pg.host, "-p", str(port or pg.port), "-U", user,
         "-d", APP_DATABASE],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env)


def send(session: subprocess.Popen, sql: str) -> None:
    session.stdin.write(sql + "\n")
    session.stdin.flush()


def read_line(session: subprocess.Popen, timeout: float = POLL_WAIT) -> str:
    """The session's next line of output, or "" after `timeout` seconds."""
    ready, _, _ = select.select([session.stdout], [], [], timeout)
    return session.stdout.readline().strip() if ready else ""


def value(exp, name: str, **labels) -> float:
    """The metric's value, or NaN while it is absent (every comparison is then false)."""
    found = exp.metrics().get(name, **labels)
    return float("nan") if found is None else found


def wait_value(exp, what: str, predicate, timeout: float = POLL_WAIT):
    return exp.wait_for(what, predicate, timeout, interval=0.2)


def test_a_pg_monitor_role_sees_connections_transactions_and_size(pg, monitor, start_exporter):
    exp = start_exporter(env={"DATABASE_URL": monitor})
    m = exp.wait_metric("caloria_exporter_collector_success", 1, collector="pg_stats",
                        timeout=POLL_WAIT)
    assert m.get("caloria_postgres_max_connections") == float(pg.sql("SHOW max_connections"))
    assert m.get("caloria_postgres_superuser_reserved_connections") == float(
        pg.sql("SHOW superuser_reserved_connections"))
    size = float(pg.sql("SELECT pg_database_size(current_database())"))
    assert abs(m.get("caloria_postgres_database_size_bytes") - size) < 1024 * 1024
    assert m.get("caloria_postgres_in_recovery") == 0
    assert m.get("caloria_postgres_replicas") == 0
    for state in ("active", "idle", "idle_in_transaction", "idle_in_transaction_aborted"):
        assert m.get("caloria_postgres_connections", state=state) is not None, state

    # A session left idle in a transaction: the state, its age, the oldest transaction.
    session = psql_session(pg, APP_USER, APP_PASSWORD)
    try:
        send(session, "BEGIN; SELECT count(*) FROM users;")
        wait_value(exp, "an idle-in-transaction session of 2 s", lambda: (
            value(exp, "caloria_postgres_connections", state="idle_in_transaction") == 1
            and value(exp, "caloria_postgres_oldest_idle_in_transaction_seconds") >= 2))
        m = exp.metrics()
        assert (m.get("caloria_postgres_longest_transaction_seconds")
                >= m.get("caloria_postgres_oldest_idle_in_transaction_seconds"))
    finally:
        session.stdin.close()
        terminate(session, grace=5)
    wait_value(exp, "the idle-in-transaction session gone", lambda: (
        value(exp, "caloria_postgres_connections", state="idle_in_transaction") == 0
        and value(exp, "caloria_postgres_oldest_idle_in_transaction_seconds") == 0))

    # Commits and rollbacks in the app's database are counted.
    committed = value(exp, "caloria_postgres_transactions_committed_total")
    rolled_back = value(exp, "caloria_postgres_transactions_rolled_back_total")
    for _ in range(5):
        pg.sql("SELECT count(*) FROM users")
    pg.sql("BEGIN; SELECT 1; ROLLBACK")
    wait_value(exp, "5 more commits and a rollback", lambda: (
        value(exp, "caloria_postgres_transactions_committed_total") >= committed + 5
        and value(exp, "caloria_postgres_transactions_rolled_back_total") >= rolled_back + 1))
    assert exp.metrics().get("caloria_postgres_blocks_hit_total") > 0


def test_a_deadlock_is_counted(pg, monitor, start_exporter):
    pg.sql("DROP TABLE IF EXISTS deadlock_demo; "
           "CREATE TABLE deadlock_demo (id int PRIMARY KEY, v int); "
           "INSERT INTO deadlock_demo VALUES (1, 0), (2, 0)")
    pg.sql(f"GRANT SELECT, UPDATE ON deadlock_demo TO {APP_USER}")
    exp = start_exporter(env={"DATABASE_URL": monitor})
    exp.wait_metric("caloria_exporter_collector_success", 1, collector="pg_stats",
                    timeout=POLL_WAIT)
    before = value(exp, "caloria_postgres_deadlocks_total")
    a = psql_session(pg, APP_USER, APP_PASSWORD)
    b = psql_session(pg, APP_USER, APP_PASSWORD)
    try:
        # Each step waits for the one before, whatever the machine's load: a and b
        # each hold a row, a waits for b's, then b asks for a's.
        send(a, "BEGIN; UPDATE deadlock_demo SET v = v + 1 WHERE id = 1; SELECT 'a1';")
        assert read_line(a) == "a1"
        send(b, "BEGIN; UPDATE deadlock_demo SET v = v + 1 WHERE id = 2; SELECT 'b1';")
        assert read_line(b) == "b1"
        send(a, "UPDATE deadlock_demo SET v = v + 1 WHERE id = 2;")  # waits for b
        poll_until("a waiting for b's row", lambda: pg.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'") == "1",
            timeout=POLL_WAIT)
        send(b, "UPDATE deadlock_demo SET v = v + 1 WHERE id = 1;")  # a deadlock: one aborts
        # Both transactions end (psql sends each ROLLBACK once its UPDATE returns, the
        # victim's with "deadlock detected" after deadlock_timeout): a backend reports
        # its statistics when it goes idle outside a transaction.
        send(a, "ROLLBACK;")
        send(b, "ROLLBACK;")
        wait_value(exp, "the deadlock counted", lambda: (
            value(exp, "caloria_postgres_deadlocks_total") >= before + 1), timeout=15)
    finally:
        errors = ""
        for session in (a, b):
            session.stdin.close()
            terminate(session, grace=5)
            errors += session.stderr.read()
        pg.sql("DROP TABLE IF EXISTS deadlock_demo")
    assert "deadlock detected" in errors, errors


@pytest.fixture
def replica(pg, monitor):
    """A streaming replica of the session's server, made by pg_basebackup -R."""
    server = PostgresServer()
    try:
        env = dict(os.environ, PGPASSWORD=SUPERUSER_PASSWORD)
        server._run([str(server.bindir / "pg_basebackup"), "-h", pg.host, "-p", str(pg.port),
                     "-U", SUPERUSER, "-D", str(server.datadir), "-R", "-X", "stream", "--checkpoint=fast",
                     "--no-sync"], timeout=120, env=env)
        server.start()
        yield server
    finally:
        server.destroy()


def test_a_replica_and_its_lag_seen_from_both_sides(pg, monitor, replica, start_exporter):
    primary = start_exporter(env={"DATABASE_URL": monitor})
    standby = start_exporter(env={"DATABASE_URL": monitor_url(replica.host, replica.port)})
    primary.wait_metric("caloria_postgres_replicas", 1, timeout=POLL_WAIT)
    m = standby.wait_metric("caloria_postgres_replication_receiver_streaming", 1,
                            timeout=POLL_WAIT)
    assert m.get("caloria_postgres_in_recovery") == 1
    assert m.get("caloria_postgres_replication_replay_paused") == 0
    assert m.get("caloria_postgres_replicas") is None, "a replica has no replicas of its own"

    wait_value(primary, "the replica's replay position known", lambda: (
        primary.metrics().find("caloria_postgres_replica_lag_seconds")))
    # Between them, the primary and its replica publish every caloria_postgres_* family
    # docs/metrics.md documents, and no other (the docs test runs on SQLite).
    exposed = {s.name.removesuffix("_total") for exp in (primary, standby)
               for s in exp.metrics().samples if s.name.startswith("caloria_postgres_")}
    documented = {name.removesuffix("_total") for name in re.findall(
        r"^\| `(caloria_postgres_[a-z_]+)`", METRICS_MD.read_text(), re.M)}
    assert exposed == documented, (
        f"published, not documented: {sorted(exposed - documented)}; "
        f"documented, not published: {sorted(documented - exposed)}")

    # A transaction replayed, so the replica has a last-replay time; then replay paused
    # and more written on the primary: the lag shows on both sides.
    pg.sql("CREATE TABLE IF NOT EXISTS lag_demo (v text); INSERT INTO lag_demo VALUES ('x')")
    poll_until("the row replayed on the replica",
               lambda: replica.sql("SELECT count(*) FROM lag_demo") == "1", timeout=POLL_WAIT,
               not_yet=(OSError, Exception))
    wait_value(standby, "the replica caught up", lambda: (
        value(standby, "caloria_postgres_replication_lag_bytes") == 0))
    replica.sql("SELECT pg_wal_replay_pause()")
    try:
        pg.sql("INSERT INTO lag_demo SELECT repeat('y', 100) FROM generate_series(1, 20000)")
        wait_value(standby, "lag bytes and seconds on the paused replica", lambda: (
            value(standby, "caloria_postgres_replication_replay_paused") == 1
            and value(standby, "caloria_postgres_replication_lag_bytes") > 1024 * 1024
            and value(standby, "caloria_postgres_replication_lag_seconds") > 0), timeout=15)
        wait_value(primary, "the replica's lag seen from the primary", lambda: (
            primary.metrics().find("caloria_postgres_replica_lag_bytes")
            and primary.metrics().find("caloria_postgres_replica_lag_bytes")[0].value
            > 1024 * 1024), timeout=15)
    finally:
        replica.sql("SELECT pg_wal_replay_resume()")
    wait_value(standby, "the replica caught up again", lambda: (
        value(standby, "caloria_postgres_replication_lag_bytes") == 0
        and value(standby, "caloria_postgres_replication_lag_seconds") == 0), timeout=20)
    pg.sql("DROP TABLE lag_demo")

    # The replica stops: the primary counts no replica.
    replica.stop()
    wait_value(primary, "no replica streaming", lambda: (
        value(primary, "caloria_postgres_replicas") == 0), timeout=20)
    assert primary.metrics().find("caloria_postgres_replica_lag_bytes") == []


def test_without_pg_monitor_other_sessions_show_as_unknown(pg, start_exporter):
    """Why the docs ask for pg_monitor: without pg_read_all_stats a role sees no
    other role's session state, so pool saturation by state goes blind."""
    pg.sql("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'plain_reader') "
           "THEN CREATE ROLE plain_reader LOGIN PASSWORD 'pl4in'; END IF; END $$",
           database="postgres")
    session = psql_session(pg, APP_USER, APP_PASSWORD)
    try:
        send(session, "BEGIN; SELECT count(*) FROM users;")
        exp = start_exporter(env={"DATABASE_URL": f"postgresql://plain_reader:pl4in@{pg.host}:"
                                                  f"{pg.port}/{APP_DATABASE}"})
        wait_value(exp, "the app's session counted, its state unknown", lambda: (
            value(exp, "caloria_postgres_connections", state="unknown") >= 1
            and value(exp, "caloria_postgres_connections", state="idle_in_transaction") == 0))
        assert value(exp, "caloria_exporter_collector_success", collector="pg_stats") == 1
    finally:
        session.stdin.close()
        terminate(session, grace=5)


def test_a_poll_logs_in_once(pg, start_exporter):
    """The pg_stats collector goes on with the database collector's connection:
    PostgreSQL counts one session per poll, not two (ConnectionHandOver)."""
    database = "caloria_one_login"
    pg.sql(f"DROP DATABASE IF EXISTS {database}", database="postgres")
    pg.sql(f"CREATE DATABASE {database} OWNER {APP_USER}", database="postgres")
    pg.sql(f"CREATE TABLE users (id int); ALTER TABLE users OWNER TO {APP_USER}",
           database=database)

    def sessions() -> int:
        return int(pg.sql("SELECT sessions FROM pg_stat_database "
                          f"WHERE datname = '{database}'", database="postgres"))

    before = sessions()
    # One poll only (at startup): the interval is an hour.
    url = pg.url().rsplit("/", 1)[0] + f"/{database}"
    exp = start_exporter(args=["--collector.interval=1h"], env={"DATABASE_URL": url},
                         fast=False)
    m = exp.metrics()
    assert m.get("caloria_exporter_collector_success", collector="database") == 1
    assert m.get("caloria_exporter_collector_success", collector="pg_stats") == 1
    assert m.get("caloria_postgres_max_connections") == float(pg.sql("SHOW max_connections"))
    # A session is counted when it ends; the exporter's ended within its poll.
    poll_until("the poll's session counted", lambda: sessions() > before, timeout=5)
    exp.stop()
    time.sleep(0.5)  # a second session, if there were one, would be counted by now
    assert sessions() - before == 1
