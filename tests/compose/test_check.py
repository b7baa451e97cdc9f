"""tests/compose/check.py catches what it is meant to catch. Each test breaks one thing
in the normalized config of the real docker-compose.yml and expects a FAIL naming it.

Run: /usr/bin/python3 -m pytest -v tests/compose   (needs docker-compose and python3-yaml)
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

yaml = pytest.importorskip("yaml")
import check  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("docker-compose") is None,
                                reason="docker-compose not installed (tests/compose/run installs it)")


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    empty_env = tmp_path_factory.mktemp("compose") / "empty.env"
    empty_env.write_text("")
    result = subprocess.run(
        ["docker-compose", "--project-directory", str(REPO_ROOT), "-f",
         str(REPO_ROOT / "docker-compose.yml"), "--env-file", str(empty_env), "config"],
        capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def run_check(tmp_path, config, compose_text=None):
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config))
    argv = [str(path)]
    if compose_text is not None:
        raw = tmp_path / "docker-compose.yml"
        raw.write_text(compose_text)
        argv.append(str(raw))
    code = check.main(argv)
    return code, list(check.errors)


def test_the_shipped_stack_passes(tmp_path, config):
    code, errors = run_check(tmp_path, config)
    assert code == 0, errors


@pytest.mark.parametrize("service, port", [("exporter", "9841:9841"),
                                           ("postgres", "127.0.0.1:5432:5432"),
                                           ("alertmanager", "9093:9093")])
def test_publishing_another_port_fails(tmp_path, config, service, port):
    config = copy.deepcopy(config)
    config["services"][service]["ports"] = [port]
    code, errors = run_check(tmp_path, config)
    assert code == 1
    assert any(e.startswith(f"{service}: publishes port") for e in errors), errors


def test_host_network_fails(tmp_path, config):
    config = copy.deepcopy(config)
    config["services"]["exporter"]["network_mode"] = "host"
    assert any("network_mode: host" in e for e in run_check(tmp_path, config)[1])


def test_missing_healthcheck_fails(tmp_path, config):
    config = copy.deepcopy(config)
    del config["services"]["alertmanager"]["healthcheck"]
    assert any(e.startswith("alertmanager: has no healthcheck")
               for e in run_check(tmp_path, config)[1])


def test_missing_bind_mount_source_fails(tmp_path, config):
    config = copy.deepcopy(config)
    config["services"]["prometheus"]["volumes"].append(
        f"{REPO_ROOT}/deploy/no-such-file.yml:/etc/x.yml:ro")
    assert any("no-such-file.yml, which does not exist" in e
               for e in run_check(tmp_path, config)[1])


def test_missing_secret_file_fails(tmp_path, config):
    config = copy.deepcopy(config)
    config["secrets"]["caloria_env"]["file"] = f"{REPO_ROOT}/deploy/no-such.env"
    assert any("secret caloria_env" in e for e in run_check(tmp_path, config)[1])


def test_unknown_build_target_fails(tmp_path, config):
    config = copy.deepcopy(config)
    config["services"]["exporter"]["build"]["target"] = "nope"
    assert any("build target 'nope'" in e for e in run_check(tmp_path, config)[1])


def test_root_user_fails(tmp_path, config):
    config = copy.deepcopy(config)
    config["services"]["exporter"]["user"] = "root"
    assert any(e.startswith("exporter: runs as root") for e in run_check(tmp_path, config)[1])


def test_dockerfile_without_user_fails(tmp_path, config):
    context = tmp_path / "ctx"
    (context / "bin").mkdir(parents=True)
    (context / "bin" / "x").write_text("x")
    (context / "Dockerfile").write_text("FROM debian:12 AS exporter\nCOPY bin/x /x\n"
                                        "HEALTHCHECK CMD true\n")
    config = copy.deepcopy(config)
    config["services"]["exporter"]["build"] = {"context": str(context), "target": "exporter"}
    assert any(e.startswith("exporter: runs as root") for e in run_check(tmp_path, config)[1])


def test_copy_source_excluded_by_dockerignore_fails(tmp_path, config):
    context = tmp_path / "ctx"
    (context / "bin").mkdir(parents=True)
    (context / "bin" / "x").write_text("x")
    (context / ".dockerignore").write_text("*\n!Dockerfile\n")
    (context / "Dockerfile").write_text("FROM debian:12 AS exporter\nCOPY bin/x /x\n"
                                        "USER 10001\n")
    config = copy.deepcopy(config)
    config["services"]["exporter"]["build"] = {"context": str(context), "target": "exporter"}
    assert any("excluded by" in e for e in run_check(tmp_path, config)[1])


def test_inline_password_fails(tmp_path, config):
    text = (REPO_ROOT / "docker-compose.yml").read_text().replace(
        "POSTGRES_PASSWORD_FILE: /run/secrets/postgres_password",
        "POSTGRES_PASSWORD: hunter2")
    assert any("POSTGRES_PASSWORD is set inline" in e
               for e in run_check(tmp_path, config, text)[1])


def test_url_with_password_fails(tmp_path, config):
    text = (REPO_ROOT / "docker-compose.yml").read_text().replace(
        "TZ: ${TZ:-UTC}", "DATABASE_URL: postgresql://caloria:pw@postgres/caloria", 1)
    assert any("a URL with a password" in e for e in run_check(tmp_path, config, text)[1])


@pytest.mark.parametrize("pattern, path, excluded", [
    ("*", "exporter/main.cpp", True),
    ("*\n!exporter", "exporter/main.cpp", False),
    ("*\n!deploy/bin", "deploy/bin/caloria-backup-daily", False),
    ("*\n!deploy/bin", "deploy/prometheus.yml", True),
    ("**/*.md", "docs/x/metrics.md", True),
    ("build", "build/caloria_exporter", True),
    ("build\n!build/keep", "build/keep", False),
])
def test_dockerignore_semantics(tmp_path, pattern, path, excluded):
    (tmp_path / ".dockerignore").write_text(pattern + "\n")
    assert check.dockerignored(check.read_dockerignore(tmp_path), path) is excluded


@pytest.mark.skipif(not (REPO_ROOT / "build" / "caloria_exporter").is_file()
                    or shutil.which("readelf") is None or shutil.which("dpkg") is None,
                    reason="needs build/caloria_exporter, readelf and dpkg")
def test_runtime_stage_missing_a_library_fails(tmp_path, config):
    text = (REPO_ROOT / "Dockerfile").read_text()
    assert " libpq5 " in text
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(text.replace(" libpq5 ", " "))
    check.errors.clear()
    check.check_runtime_libraries(REPO_ROOT / "build" / "caloria_exporter", dockerfile,
                                  "exporter")
    assert any("libpq.so.5" in e and "libpq5" in e for e in check.errors), check.errors
