"""The pieces of tests/compose/stack_on_host.py that start nothing: how it lays out a
container's files, maps the compose command's flags and compares what was loaded.
(tests/compose/run runs the script itself, with the real programs.)

Run: /usr/bin/python3 -m pytest -v tests/compose/test_stack_on_host.py
"""

from __future__ import annotations

import sys
from pathlib import Path, PurePosixPath

import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

yaml = pytest.importorskip("yaml")
import stack_on_host as soh  # noqa: E402

SERVICES = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())["services"]


@pytest.fixture(autouse=True)
def no_errors_left():
    soh.errors.clear()
    yield
    soh.errors.clear()


def test_prometheus_files_are_laid_out_as_mounted(tmp_path):
    layout = soh.Layout("prometheus", SERVICES["prometheus"], tmp_path)
    layout.create()
    assert (tmp_path / "etc/prometheus/prometheus.yml").read_text() == (
        REPO_ROOT / "deploy/prometheus.yml").read_text()
    assert (tmp_path / "etc/prometheus/rules/caloria.rules.yml").is_file()
    assert (tmp_path / "prometheus").is_dir()  # the named volume: empty
    assert layout.repo_source("/etc/prometheus/rules/x.yml") == REPO_ROOT / "alerts/x.yml"
    assert layout.repo_source("/etc/hosts") is None


def test_flags_keep_the_command_and_map_paths_and_listen_address(tmp_path):
    layout = soh.Layout("prometheus", SERVICES["prometheus"], tmp_path)
    argv, given = soh.host_flags(layout, soh.command_flags(SERVICES["prometheus"]), 12345)
    assert argv == [f"--config.file={tmp_path}/etc/prometheus/prometheus.yml",
                    f"--storage.tsdb.path={tmp_path}/prometheus",
                    "--storage.tsdb.retention.time=30d",
                    "--web.listen-address=127.0.0.1:12345"]
    assert given["storage.tsdb.retention.time"] == "30d"
    assert not soh.errors


def test_alertmanager_gets_a_listen_address_and_keeps_an_empty_flag(tmp_path):
    layout = soh.Layout("alertmanager", SERVICES["alertmanager"], tmp_path)
    argv, _ = soh.host_flags(layout, soh.command_flags(SERVICES["alertmanager"]), 23456)
    assert "--cluster.listen-address=" in argv
    assert argv[-1] == "--web.listen-address=127.0.0.1:23456"


def test_a_path_no_mount_provides_is_reported(tmp_path):
    service = dict(SERVICES["prometheus"], command=["--web.console.templates=/usr/share/x"])
    soh.host_flags(soh.Layout("prometheus", service, tmp_path),
                   soh.command_flags(service), 1)
    assert any("no mount provides /usr/share/x" in e for e in soh.errors)


def test_healthcheck_on_another_port_than_the_command_fails():
    service = dict(SERVICES["prometheus"], command=["--web.listen-address=:9091"])
    assert soh.check_healthcheck_port("prometheus", service,
                                      soh.command_flags(service)) == "/-/ready"
    assert any("listens on 9091" in e for e in soh.errors)


def test_the_rule_files_globs_select_the_repository_rules(tmp_path):
    layout = soh.Layout("prometheus", SERVICES["prometheus"], tmp_path)
    config = yaml.safe_load((REPO_ROOT / "deploy/prometheus.yml").read_text())
    groups = soh.expected_rule_groups(layout, PurePosixPath("/etc/prometheus/prometheus.yml"),
                                      config)
    assert {f for f, _ in groups} == {"/etc/prometheus/rules/caloria.rules.yml"}
    assert len(groups) >= 1


@pytest.mark.parametrize("text, wanted", [("30s", 30), ("5m", 300), ("1h30m", 5400),
                                          ("4h", 14400), (15, 15)])
def test_durations(text, wanted):
    assert soh.seconds(text) == wanted


def test_matchers_compare_quoted_or_not():
    assert soh.matcher('severity="critical"') == soh.matcher("severity = critical")
    assert soh.matcher('alertname=~"Caloria.+"') == ("alertname", "=~", "Caloria.+")


def test_route_differences_name_the_changed_child_route():
    want = yaml.safe_load((REPO_ROOT / "deploy/alertmanager.yml").read_text())["route"]
    assert soh.route_differences(want, want) == []
    changed = yaml.safe_load(yaml.safe_dump(want))
    changed["routes"][0]["matchers"] = ['severity="warning"']
    assert any(d.startswith("route.routes[0].matchers") for d in
               soh.route_differences(want, changed))
