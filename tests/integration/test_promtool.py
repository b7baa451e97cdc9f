"""/metrics passes `promtool check metrics` (format and lint), up or down."""

import shutil
import subprocess

import pytest

from exporter import DOWN_WITHIN_DEFAULT

PROMTOOL = shutil.which("promtool")

pytestmark = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool not installed (Debian package `prometheus` provides /usr/bin/promtool)",
)


def promtool_check(text: str):
    result = subprocess.run(
        [PROMTOOL, "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, (
        f"promtool check metrics exited {result.returncode}:\n"
        f"{result.stdout}{result.stderr}\n--- metrics ---\n{text}"
    )


def test_metrics_pass_promtool_while_postgresql_is_up(pg, start_exporter):
    exp = start_exporter(env={"DATABASE_URL": pg.url()})
    exp.wait_metric("caloria_database_up", 1)
    promtool_check(exp.get("/metrics").text)


def test_metrics_pass_promtool_while_postgresql_is_down(pg, start_exporter):
    exp = start_exporter(env={"DATABASE_URL": pg.url()})
    exp.wait_metric("caloria_database_up", 1)
    pg.stop()
    exp.wait_metric("caloria_database_up", 0, timeout=DOWN_WITHIN_DEFAULT)
    promtool_check(exp.get("/metrics").text)


def test_metrics_pass_promtool_with_configuration_problems(app_dir, start_exporter):
    env_file = app_dir / ".env"
    env_file.write_text("FLASK_ENV=production\nSECRET_KEY=dev\n")
    exp = start_exporter(args=[f"--app.env-file={env_file}"])
    exp.wait_metric("caloria_config_problem", 1, check="database_url_missing")
    promtool_check(exp.get("/metrics").text)
