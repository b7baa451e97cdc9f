"""The database password never appears anywhere the exporter writes: logs
(both formats), /metrics, the health pages, the landing page and error
messages; the effective configuration is logged with *** instead."""

import json

import pytest

from exporter import (
    APP_PASSWORD_ENCODED,
    DOWN_WITHIN_DEFAULT,
    assert_no_password,
    run_once,
    write_env,
)

PAGES = ("/metrics", "/health", "/health/database", "/")


def all_output(exp) -> dict:
    out = {path: exp.get(path).text for path in PAGES}
    out["stderr"] = exp.logs()
    out["stdout"] = exp.stdout()
    return out


def assert_nothing_leaks(exp, case: str) -> None:
    for where, text in all_output(exp).items():
        assert_no_password(text, f"{where} ({case})")


def url_source(source, pg, app_dir, tmp_path):
    """(args, env) that hand the exporter pg's URL through `source`."""
    if source == "environment":
        return [], {"DATABASE_URL": pg.url()}
    if source == "env_file":
        env_file = write_env(app_dir, DATABASE_URL=pg.url())
        return [f"--app.env-file={env_file}"], {}
    url_file = tmp_path / "database.url"
    url_file.write_text(pg.url() + "\n")
    return [f"--database.url-file={url_file}"], {}


@pytest.mark.parametrize("log_format", ["logfmt", "json"])
@pytest.mark.parametrize("source", ["environment", "env_file", "flag"])
def test_password_is_hidden_while_postgresql_is_up(
        pg, start_exporter, app_dir, tmp_path, source, log_format):
    args, env = url_source(source, pg, app_dir, tmp_path)
    exp = start_exporter(args=args + ["--log.level=debug", f"--log.format={log_format}"],
                         env=env)
    exp.wait_metric("caloria_database_up", 1)
    assert "***" in exp.get("/health/database").json()["url"]
    assert_nothing_leaks(exp, f"up, {source}, {log_format}")
    exp.stop()  # shutdown messages count too
    assert_nothing_leaks_after_stop(exp, f"up, {source}, {log_format}")


def assert_nothing_leaks_after_stop(exp, case):
    assert_no_password(exp.logs(), f"stderr ({case})")
    assert_no_password(exp.stdout(), f"stdout ({case})")


@pytest.mark.parametrize("log_format", ["logfmt", "json"])
def test_startup_log_states_the_effective_configuration_with_stars(
        pg, start_exporter, log_format):
    exp = start_exporter(args=["--log.level=info", f"--log.format={log_format}"],
                         env={"DATABASE_URL": pg.url()})
    exp.wait_metric("caloria_database_up", 1)
    lines = exp.logs().splitlines()
    config_lines = [
        line for line in lines
        if "***" in line and "127.0.0.1" in line and str(pg.port) in line
    ]
    assert config_lines, (
        "no startup log line shows the effective database URL with *** for the password:\n"
        + "\n".join(lines[:20])
    )
    if log_format == "json":
        json.loads(config_lines[0])  # still valid JSON


@pytest.mark.parametrize("log_format", ["logfmt", "json"])
def test_password_is_hidden_while_postgresql_is_down(pg, start_exporter, log_format):
    exp = start_exporter(args=["--log.level=debug", f"--log.format={log_format}"],
                         env={"DATABASE_URL": pg.url()})
    exp.wait_metric("caloria_database_up", 1)
    pg.stop()
    exp.wait_metric("caloria_database_up", 0, timeout=DOWN_WITHIN_DEFAULT)
    body = exp.get("/health/database").json()
    assert body.get("error"), body
    assert "***" in body["url"]
    assert_nothing_leaks(exp, f"down, {log_format}")
    exp.stop()
    assert_nothing_leaks_after_stop(exp, f"down, {log_format}")


def test_password_is_hidden_when_login_is_refused(pg, start_exporter):
    """A wrong password is refused by PostgreSQL; neither it nor the real one
    shows up in the error the exporter reports."""
    wrong = pg.url(password="S3cr3t-but-wrong")
    exp = start_exporter(args=["--log.level=debug"], env={"DATABASE_URL": wrong})
    exp.wait_metric("caloria_database_up", 0)
    body = exp.get("/health/database").json()
    assert body.get("error"), body
    assert_nothing_leaks(exp, "login refused")


@pytest.mark.parametrize("log_format", ["logfmt", "json"])
@pytest.mark.parametrize("via", ["environment", "env_file"])
def test_password_is_hidden_in_the_bad_url_error(app_dir, via, log_format):
    bad = f"postgresql://caloria:{APP_PASSWORD_ENCODED}@127.0.0.1:abc/caloria"
    if via == "environment":
        result = run_once([f"--log.format={log_format}"], env={"DATABASE_URL": bad},
                          cwd=app_dir)
    else:
        env_file = write_env(app_dir, DATABASE_URL=bad)
        result = run_once([f"--log.format={log_format}", f"--app.env-file={env_file}"],
                          cwd=app_dir)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert_no_password(result.stderr, "bad-URL stderr")
    assert_no_password(result.stdout, "bad-URL stdout")
