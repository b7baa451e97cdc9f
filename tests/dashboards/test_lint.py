"""The dashboard linter itself: the shipped dashboards pass, and each rule catches what
it is meant to catch (a linter that passes everything proves nothing).

Run: /usr/bin/python3 -m pytest -v tests/dashboards
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

import lint  # noqa: E402

DASHBOARDS = sorted((REPO_ROOT / "dashboards").glob("*.json"))
OVERVIEW = REPO_ROOT / "dashboards" / "caloria-overview.json"


def load(path: Path = OVERVIEW) -> dict:
    return json.loads(path.read_text())


def rules(dashboard: dict) -> set[str]:
    return {f.rule for f in lint.lint_dashboard(dashboard) if f.severity == "error"}


def first_target_panel(dashboard: dict) -> dict:
    return next(p for p in lint.iter_panels(dashboard) if p.get("targets"))


@pytest.mark.parametrize("path", DASHBOARDS, ids=[p.name for p in DASHBOARDS])
def test_shipped_dashboard_passes_strict(path):
    result = subprocess.run(
        [sys.executable, str(HERE / "lint.py"), "--strict", str(path)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_there_is_a_dashboard():
    assert OVERVIEW in DASHBOARDS


def test_overview_has_stable_uid_and_current_schema():
    d = load()
    assert d["uid"] == "caloria-overview"
    assert d["schemaVersion"] == 39


def test_missing_uid_fails():
    d = load()
    del d["uid"]
    assert "uid-rule" in rules(d)


def test_old_schema_version_fails():
    d = load()
    d["schemaVersion"] = 16
    assert "schema-version-rule" in rules(d)


def test_missing_datasource_variable_fails():
    d = load()
    d["templating"]["list"] = [t for t in d["templating"]["list"] if t["type"] != "datasource"]
    assert "template-datasource-rule" in rules(d)


def test_wrongly_named_datasource_variable_fails():
    d = load()
    d["templating"]["list"][0]["name"] = "ds"
    assert "template-datasource-rule" in rules(d)


@pytest.mark.parametrize("name", ["job", "instance"])
def test_missing_job_or_instance_variable_fails(name):
    d = load()
    d["templating"]["list"] = [t for t in d["templating"]["list"] if t["name"] != name]
    assert f"template-{name}-rule" in rules(d)


@pytest.mark.parametrize("change", [
    {"multi": False}, {"allValue": None}, {"type": "custom"},
    {"datasource": {"type": "prometheus", "uid": "prometheus"}},
])
def test_job_variable_must_be_multi_all_dot_plus_query_on_datasource(change):
    assert "template-job-rule" in rules_with_variable_changed("job", change)


def rules_with_variable_changed(name: str, change: dict) -> set:
    """The lint rules broken once the shipped variable `name` gets `change`."""
    d = load()
    next(t for t in d["templating"]["list"] if t["name"] == name).update(change)
    return rules(d)


def test_hard_coded_panel_datasource_fails():
    d = load()
    first_target_panel(d)["datasource"] = {"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}
    assert "panel-datasource-rule" in rules(d)


def test_panel_without_description_fails():
    d = load()
    first_target_panel(d)["description"] = ""
    assert "panel-title-description-rule" in rules(d)


def test_panel_inside_collapsed_row_is_linted():
    d = load()
    inner = copy.deepcopy(first_target_panel(d))
    inner["description"] = ""
    d["panels"].append({"type": "row", "title": "collapsed", "collapsed": True, "id": 999,
                        "gridPos": {"h": 1, "w": 24, "x": 0, "y": 99}, "panels": [inner]})
    assert "panel-title-description-rule" in rules(d)


@pytest.mark.parametrize("expr, rule", [
    ('caloria_database_up{instance=~"$instance"}', "target-job-rule"),
    ('caloria_database_up{job=~"$job"}', "target-instance-rule"),
    ('caloria_database_up{job="$job", instance=~"$instance"}', "target-job-rule"),
    ('caloria_database_up{job=~"caloria", instance=~"$instance"}', "target-job-rule"),
    ('time() - caloria_backup_latest_timestamp_seconds', "target-job-rule"),
    ('sum(caloria_database_up{job=~"$job", instance=~"$instance"}) '
     '/ count(up{job=~"$job"})', "target-instance-rule"),
    ('rate(caloria_database_up{job=~"$job", instance=~"$instance"}[5m])',
     "target-rate-interval-rule"),
    ('irate(caloria_database_up{job=~"$job", instance=~"$instance"}[$__interval])',
     "target-rate-interval-rule"),
    ('sum(caloria_database_up{job=~"$job", instance=~"$instance"}', "target-promql-rule"),
    ('caloria_database_up{job=~"$job", instance=~"$instance"} +', "target-promql-rule"),
    ('caloria_database_up{job=~"$job" instance=~"$instance"}', "target-promql-rule"),
    ('', "target-promql-rule"),
])
def test_bad_target_fails(expr, rule):
    d = load()
    panel = first_target_panel(d)
    panel["targets"] = [{"refId": "A", "expr": expr,
                         "datasource": {"type": "prometheus", "uid": "${datasource}"}}]
    assert rule in rules(d), lint.lint_dashboard(d)


# The matchers every selector needs: the per-target ones, and the exporter's own series
# (no target label on /metrics of an exporter with --config.file).
SEL = 'job=~"$job", instance=~"$instance", target=~"$target"'
WIDE = 'job=~"$job", instance=~"$instance", target=~"$target|"'


@pytest.mark.parametrize("expr", [
    f'rate(caloria_database_up{{{SEL}}}[$__rate_interval])',
    f'sum by (instance, target) (rate(up{{{WIDE}}}[$__rate_interval]))',
    f'sum(irate(up{{{WIDE}}}[$__rate_interval])) without (job)',
    f'max_over_time(up{{{WIDE}}}[1h])',
    f'avg_over_time(up{{{WIDE}}}[$__range]) * 100',
    f'max_over_time(up{{{WIDE}}}[1h:5m] offset -1m)',
    f'topk(3, up{{{WIDE}}} @ end())',
    f'up{{{WIDE}}} > bool on (job) group_left (version) caloria_exporter_build_info{{{WIDE}}}',
    f'-up{{{WIDE},}} or vector(0)',
    f'label_replace(up{{{WIDE}}}, "host", "$1", "instance", "(.*):.*")',
    f'time() - caloria_backup_latest_timestamp_seconds{{{SEL}}} > 26 * 3600',
    f'sum by (job, instance, target) (caloria_postgres_connections{{{SEL}}}) / on (job, '
    f'instance, target) caloria_postgres_max_connections{{{SEL}}}',
    f'rate(process_cpu_seconds_total{{{WIDE}}}[$__rate_interval]) and on (job, instance, '
    f'target) caloria_exporter_build_info{{{WIDE}}}',
    f'sum without (state) (caloria_postgres_connections{{{SEL}}})',
])
def test_good_target_passes(expr):
    d = load()
    panel = first_target_panel(d)
    panel["targets"] = [{"refId": "A", "expr": expr,
                         "datasource": {"type": "prometheus", "uid": "${datasource}"}}]
    assert lint.lint_dashboard(d) == []


def test_missing_target_variable_fails():
    d = load()
    d["templating"]["list"] = [t for t in d["templating"]["list"] if t["name"] != "target"]
    assert "template-target-rule" in rules(d)


@pytest.mark.parametrize("change", [
    # .+ would drop every series of an exporter without --config.file (no target label)
    {"allValue": ".+"}, {"allValue": None}, {"includeAll": False}, {"multi": False},
    {"type": "custom"}, {"datasource": {"type": "prometheus", "uid": "prometheus"}},
    {"query": "label_values(caloria_database_up, instance)", "definition": ""},
])
def test_target_variable_must_be_multi_all_dot_star_label_values_of_target(change):
    assert "template-target-rule" in rules_with_variable_changed("target", change)


def test_shipped_target_variable():
    target = next(t for t in load()["templating"]["list"] if t["name"] == "target")
    assert target["query"]["query"].startswith("label_values(caloria_database_up")
    assert (target["multi"], target["includeAll"], target["allValue"]) == (True, True, ".*")


@pytest.mark.parametrize("expr, rule", [
    # a panel that forgot the target
    ('caloria_database_up{job=~"$job", instance=~"$instance"}', "target-target-rule"),
    ('caloria_database_up{job=~"$job", instance=~"$instance", target="$target"}',
     "target-target-rule"),
    ('caloria_database_up{job=~"$job", instance=~"$instance", target=~".*"}',
     "target-target-rule"),
    (f'caloria_database_up{{{SEL}}} / caloria_database_users{{job=~"$job", '
     'instance=~"$instance"}', "target-target-rule"),
    # a target's series with the empty alternative: an exporter without --config.file
    # would show under every target picked
    ('caloria_database_up{job=~"$job", instance=~"$instance", target=~"$target|"}',
     "target-target-rule"),
    # the exporter's own series without it: empty once a target is picked
    ('process_resident_memory_bytes{job=~"$job", instance=~"$instance", target=~"$target"}',
     "target-target-rule"),
    ('caloria_exporter_build_info{job=~"$job", instance=~"$instance", target=~"$target"}',
     "target-target-rule"),
    ('up{job=~"$job", instance=~"$instance", target=~"$target"}', "target-target-rule"),
    # joins and sums that merge the targets of one exporter
    (f'sum by (job, instance) (caloria_postgres_connections{{{SEL}}})', "target-grouping-rule"),
    (f'sum(caloria_postgres_connections{{{SEL}}}) by (instance)', "target-grouping-rule"),
    (f'caloria_database_info{{{SEL}}} * on (job, instance) group_left (expected_type) '
     f'caloria_config_info{{{SEL}}}', "target-grouping-rule"),
    (f'sum without (target) (caloria_database_up{{{SEL}}})', "target-grouping-rule"),
    (f'caloria_database_up{{{SEL}}} * ignoring (target) caloria_database_users{{{SEL}}}',
     "target-grouping-rule"),
])
def test_target_rules_catch(expr, rule):
    d = load()
    panel = first_target_panel(d)
    panel["targets"] = [{"refId": "A", "expr": expr,
                         "datasource": {"type": "prometheus", "uid": "${datasource}"}}]
    assert rule in rules(d), lint.lint_dashboard(d)


def test_every_shipped_selector_carries_the_target_matcher():
    """What target-target-rule enforces, counted on the shipped dashboard: a rule that
    never saw a selector would pass everything."""
    d = load()
    templates = d["templating"]["list"]
    selectors = [s for p in lint.iter_panels(d) for t in p.get("targets") or []
                 for s in lint.parse_promql(lint.expand_variables(t["expr"], templates)).selectors]
    assert len(selectors) > 60
    for s in selectors:
        assert [(op, v) for l, op, v in s.matchers if l == "target"] in (
            [("=~", "$target")], [("=~", "$target|")]), s


def test_cli_fails_with_the_rule_name_and_the_panel(tmp_path):
    d = load()
    first_target_panel(d)["targets"][0]["expr"] = "caloria_database_up"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(d))
    result = subprocess.run([sys.executable, str(HERE / "lint.py"), str(bad)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "[target-job-rule]" in result.stdout
    assert "[target-instance-rule]" in result.stdout
    assert "[target-target-rule]" in result.stdout
    assert "'Database up'" in result.stdout


def test_cli_rejects_invalid_json(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = subprocess.run([sys.executable, str(HERE / "lint.py"), str(bad)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "not valid JSON" in result.stdout
