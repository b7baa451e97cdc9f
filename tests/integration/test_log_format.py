"""Logs are machine-readable: one JSON object per line with --log.format=json,
key=value pairs with the default logfmt."""

import json
import re

from exporter import make_sqlite


def test_json_log_lines_all_parse_with_ts_level_msg(app_dir, start_exporter):
    # A warning (no DATABASE_URL), debug lines and a shutdown: every kind of
    # line must be JSON.
    env_file = app_dir / ".env"
    env_file.write_text("SECRET_KEY=dev\n")
    make_sqlite(app_dir / "instance" / "caloria.db", users=1)
    exp = start_exporter(args=["--log.format=json", "--log.level=debug",
                               f"--app.env-file={env_file}"])
    exp.wait_metric("caloria_database_up", 1)
    exp.wait_metric("caloria_exporter_collector_success", 1, collector="config")
    exp.stop()
    check_json_lines(exp.logs(), expect_levels={"warn"})


def test_json_logs_while_postgresql_goes_down(pg, start_exporter):
    exp = start_exporter(args=["--log.format=json", "--log.level=debug"],
                         env={"DATABASE_URL": pg.url()})
    exp.wait_metric("caloria_database_up", 1)
    pg.stop()
    exp.wait_metric("caloria_database_up", 0, timeout=5)
    exp.stop()
    check_json_lines(exp.logs(), expect_levels=set())


def check_json_lines(logs: str, expect_levels: set) -> None:
    lines = logs.splitlines()
    assert lines, "no log output at all"
    levels = set()
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except ValueError as e:
            raise AssertionError(f"stderr line {number} is not JSON ({e}): {line!r}")
        assert isinstance(record, dict), line
        for key in ("ts", "level", "msg"):
            assert key in record, f"line {number} lacks {key!r}: {line!r}"
        assert record["level"] in ("debug", "info", "warn", "error"), line
        assert isinstance(record["msg"], str) and record["msg"], line
        levels.add(record["level"])
    assert expect_levels <= levels, f"levels seen: {levels}"


def test_logfmt_lines_have_ts_level_msg(pg, start_exporter):
    exp = start_exporter(args=["--log.level=debug"], env={"DATABASE_URL": pg.url()})
    exp.wait_metric("caloria_database_up", 1)
    exp.stop()
    lines = exp.logs().splitlines()
    assert lines
    for line in lines:
        assert re.match(r"^ts=\S+ ", line), line
        assert re.search(r"(^| )level=(debug|info|warn|error)( |$)", line), line
        assert re.search(r'(^| )msg=("([^"\\]|\\.)*"|\S+)', line), line


def test_log_level_error_hides_info_and_warnings(app_dir, start_exporter):
    env_file = app_dir / ".env"
    env_file.write_text("SECRET_KEY=dev\n")
    make_sqlite(app_dir / "instance" / "caloria.db", users=1)
    exp = start_exporter(args=["--log.format=json", "--log.level=error",
                               f"--app.env-file={env_file}"])
    exp.wait_metric("caloria_database_up", 1)
    exp.stop()
    for line in exp.logs().splitlines():
        assert json.loads(line)["level"] == "error", line
