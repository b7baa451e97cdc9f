"""The overview dashboard's colours agree with the alert thresholds: a panel that turns
red later (or earlier) than its alert fires sends people the wrong way.

Alert thresholds (alerts/): database down for 2m, latest backup older than 26h, latest
backup verified == 0, latest backup < 50% of the previous one, any configuration
problem, collector success 0 for 5m, the app probe down (caloria_app_up 0), the fallback
SQLite file being written (within --fallback.recent-window, 1h by default), no restore
test passed for 8 days, the last restore test failed (caloria_restore_test_last_run_success
0), PostgreSQL connections over 80% of max_connections less the reserved ones, a transaction
open for over 5 minutes, a session idle in a transaction for over a minute, a replica
replaying more than a minute behind (seen from its primary or from itself).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import lint  # noqa: E402

DASHBOARD = json.loads((HERE.parents[1] / "dashboards" / "caloria-overview.json").read_text())
PANELS = [p for p in lint.iter_panels(DASHBOARD) if p.get("type") != "row"]

BACKUP_MAX_AGE_SECONDS = 26 * 3600
COLLECTOR_STALE_SECONDS = 5 * 60
FALLBACK_RECENT_WINDOW_SECONDS = 3600
RESTORE_TEST_MAX_AGE_SECONDS = 8 * 86400
POOL_SATURATION_RATIO = 0.8
LONG_TRANSACTION_SECONDS = 5 * 60
IDLE_IN_TRANSACTION_SECONDS = 60
REPLICA_LAG_SECONDS = 60


def panels_querying(metric: str) -> list[dict]:
    return [p for p in PANELS if any(metric in t.get("expr", "") for t in p["targets"])]


def steps(panel: dict) -> list[tuple[str, float | None]]:
    return [(s["color"], s["value"])
            for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]]


def first_value_with_color(panel: dict, color: str) -> float | None:
    return next((v for c, v in steps(panel) if c == color and v is not None), None)


def test_every_panel_has_a_unit():
    missing = [p["title"] for p in PANELS if not p["fieldConfig"]["defaults"].get("unit")]
    assert not missing


@pytest.mark.parametrize("metric", ["caloria_backup_latest_timestamp_seconds",
                                    "caloria_backup_log_last_success_timestamp_seconds"])
def test_backup_age_panels_turn_red_at_26h(metric):
    panels = panels_querying(metric)
    assert panels
    for panel in panels:
        assert panel["fieldConfig"]["defaults"]["unit"] == "s", panel["title"]
        assert first_value_with_color(panel, "red") == BACKUP_MAX_AGE_SECONDS, panel["title"]


def test_collector_staleness_turns_red_at_5m():
    panels = panels_querying("caloria_exporter_collector_last_success_timestamp_seconds")
    assert panels
    for panel in panels:
        assert first_value_with_color(panel, "red") == COLLECTOR_STALE_SECONDS


def test_backup_size_ratio_is_red_below_half():
    ratio = [p for p in PANELS if p["type"] == "stat" and any(
        "caloria_backup_latest_size_bytes" in t["expr"] and "/" in t["expr"]
        for t in p["targets"])]
    assert len(ratio) == 1
    assert steps(ratio[0]) == [("red", None), ("green", 0.5)]


def test_backup_size_graph_draws_the_half_of_previous_line():
    graph = [p for p in PANELS if p["type"] == "timeseries"
             and panels_querying("caloria_backup_previous_size_bytes").count(p)]
    assert any(t["expr"].startswith("0.5 * caloria_backup_previous_size_bytes")
               for p in graph for t in p["targets"])


@pytest.mark.parametrize("metric", ["caloria_database_up", "caloria_backup_latest_verified",
                                    "caloria_exporter_collector_success", "caloria_app_up",
                                    "caloria_restore_test_last_run_success"])
def test_zero_is_red_and_one_is_green(metric):
    for panel in panels_querying(metric):
        if "avg_over_time" in panel["targets"][0]["expr"]:
            continue
        assert steps(panel) == [("red", None), ("green", 1)], panel["title"]


def test_any_configuration_problem_is_red():
    panels = panels_querying("caloria_config_problem")
    assert panels
    for panel in panels:
        assert steps(panel) == [("green", None), ("red", 1)]


def test_fallback_file_being_written_is_red():
    panels = panels_querying("caloria_fallback_sqlite_being_written")
    assert panels
    for panel in panels:
        assert steps(panel) == [("green", None), ("red", 1)]


def test_fallback_file_last_write_is_red_within_the_recent_window():
    panels = panels_querying("caloria_fallback_sqlite_last_modified_timestamp_seconds")
    assert panels
    for panel in panels:
        assert panel["fieldConfig"]["defaults"]["unit"] == "s", panel["title"]
        assert steps(panel) == [("red", None), ("green", FALLBACK_RECENT_WINDOW_SECONDS)]


def test_restore_test_age_turns_red_at_8_days():
    panels = panels_querying("caloria_restore_test_last_success_timestamp_seconds")
    assert panels
    for panel in panels:
        assert panel["fieldConfig"]["defaults"]["unit"] == "s", panel["title"]
        assert first_value_with_color(panel, "red") == RESTORE_TEST_MAX_AGE_SECONDS, panel["title"]


def test_pool_saturation_is_red_from_80_percent():
    ratio = [p for p in PANELS if p["type"] == "stat"
             and p in panels_querying("caloria_postgres_max_connections")]
    assert len(ratio) == 1
    assert ratio[0]["fieldConfig"]["defaults"]["unit"] == "percentunit"
    assert steps(ratio[0]) == [("green", None), ("red", POOL_SATURATION_RATIO)]


def test_connections_graph_draws_the_80_percent_line():
    graph = [p for p in panels_querying("caloria_postgres_max_connections")
             if p["type"] == "timeseries"]
    assert graph
    assert any(t["expr"].startswith(f"{POOL_SATURATION_RATIO} * (caloria_postgres_max_connections")
               for p in graph for t in p["targets"])


@pytest.mark.parametrize("metric, seconds", [
    ("caloria_postgres_longest_transaction_seconds", LONG_TRANSACTION_SECONDS),
    ("caloria_postgres_oldest_idle_in_transaction_seconds", IDLE_IN_TRANSACTION_SECONDS),
])
def test_transaction_age_panels_turn_red_at_their_alert(metric, seconds):
    panels = panels_querying(metric)
    assert panels
    for panel in panels:
        assert panel["fieldConfig"]["defaults"]["unit"] == "s", panel["title"]
        assert steps(panel) == [("green", None), ("red", seconds)], panel["title"]


def test_replication_lag_turns_red_at_a_minute_from_both_sides():
    for metric in ("caloria_postgres_replica_lag_seconds",
                   "caloria_postgres_replication_lag_seconds"):
        panels = panels_querying(metric)
        assert panels, metric
        for panel in panels:
            assert panel["fieldConfig"]["defaults"]["unit"] == "s", panel["title"]
            assert steps(panel) == [("green", None), ("red", REPLICA_LAG_SECONDS)], panel["title"]


def test_in_recovery_names_primary_and_replica():
    [panel] = panels_querying("caloria_postgres_in_recovery")
    [mapping] = panel["fieldConfig"]["defaults"]["mappings"]
    assert {k: v["text"] for k, v in mapping["options"].items()} == {
        "0": "PRIMARY", "1": "REPLICA"}
