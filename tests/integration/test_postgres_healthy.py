"""A reachable PostgreSQL: the exporter counts its users and says it is healthy."""

import re
import time
from datetime import datetime

from exporter import INTERVAL, SLACK, TIMEOUT, run_once


def parse_iso8601(value: str) -> datetime:
    assert isinstance(value, str), f"timestamp is not a string: {value!r}"
    # Python 3.11's fromisoformat accepts 'Z' and fractional seconds.
    parsed = datetime.fromisoformat(value)
    assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", value), value
    return parsed


def test_postgresql_users_are_counted_and_reported_healthy(pg, start_exporter):
    exp = start_exporter(env={"DATABASE_URL": pg.url()})
    m = exp.wait_metric("caloria_database_up", 1)

    assert m.get("caloria_database_users") == 3
    info = m.find("caloria_database_info", type="postgresql")
    assert len(info) == 1, f"caloria_database_info: {m.find('caloria_database_info')}"
    assert info[0].value == 1
    assert info[0].labels.get("server_version", "").startswith("15"), info[0].labels
    assert m.get("caloria_database_connect_duration_seconds") is not None
    assert m.get("caloria_database_connect_duration_seconds") >= 0
    assert m.get("caloria_database_query_duration_seconds") is not None
    assert m.get("caloria_database_query_duration_seconds") >= 0
    assert m.get("caloria_exporter_collector_success", collector="database") == 1
    assert m.get("caloria_config_info", database_type="postgresql", source="environment") == 1
    assert not [s for s in m.find("caloria_config_problem") if s.value == 1], (
        "no configuration problem expected, got "
        f"{[s.labels for s in m.find('caloria_config_problem') if s.value == 1]}"
    )

    db = exp.get("/health/database")
    assert db.status == 200
    assert db.content_type.startswith("application/json")
    body = db.json()
    assert body["database"] == "POSTGRESQL"
    assert body["status"] == "healthy"
    parse_iso8601(body["timestamp"])
    assert body["user_count"] == 3 and isinstance(body["user_count"], int)
    assert body.get("error") is None, f"error present while healthy: {body.get('error')!r}"
    assert str(body["server_version"]).startswith("15")
    assert isinstance(body["connect_duration_seconds"], (int, float))
    assert isinstance(body["query_duration_seconds"], (int, float))
    assert "***" in body["url"]
    assert f"127.0.0.1:{pg.port}" in body["url"]
    assert body["url"].startswith("postgresql")

    health = exp.get("/health")
    assert health.status == 200
    assert health.content_type.startswith("application/json")
    h = health.json()
    assert h["status"] == "healthy"
    assert isinstance(h["version"], str) and h["version"]
    parse_iso8601(h["timestamp"])
    assert h["checks"]["database"]["status"] == "healthy"
    assert h["checks"]["configuration"]["status"] == "healthy"
    assert h["checks"]["configuration"]["problems"] == []


def test_a_new_user_is_counted_within_two_intervals(pg, start_exporter):
    exp = start_exporter(env={"DATABASE_URL": pg.url()})
    exp.wait_metric("caloria_database_users", 3)

    pg.sql("INSERT INTO users (email) VALUES ('margaret@example.com')")
    inserted = time.monotonic()
    exp.wait_metric("caloria_database_users", 4, timeout=2 * INTERVAL + TIMEOUT + SLACK)
    assert exp.get("/health/database").json()["user_count"] == 4
    assert time.monotonic() - inserted < 2 * INTERVAL + TIMEOUT + SLACK


def test_collector_bookkeeping_metrics_cover_both_collectors(pg, start_exporter):
    exp = start_exporter(env={"DATABASE_URL": pg.url()})
    m = exp.wait_metric("caloria_database_up", 1)
    now = time.time()
    for collector in ("database", "config"):
        assert m.get("caloria_exporter_collector_success", collector=collector) == 1, collector
        duration = m.get("caloria_exporter_collector_duration_seconds", collector=collector)
        assert duration is not None and duration >= 0, collector
        last = m.get("caloria_exporter_collector_last_success_timestamp_seconds",
                     collector=collector)
        assert last is not None and abs(now - last) < 30, (collector, last, now)


def test_build_info_matches_the_version_flag(pg, start_exporter):
    version = run_once(["--version"])
    assert version.returncode == 0
    exp = start_exporter(env={"DATABASE_URL": pg.url()})
    m = exp.metrics()
    build = m.find("caloria_exporter_build_info")
    assert len(build) == 1 and build[0].value == 1, build
    labels = build[0].labels
    assert labels.get("version") and labels.get("revision"), labels
    assert labels["version"] in version.stdout + version.stderr
    assert exp.get("/health").json()["version"] == labels["version"]
