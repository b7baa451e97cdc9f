"""Wrong invocations stop at once with exit code 2 and one helpful line."""

import re

import pytest

from exporter import assert_no_password, run_once, write_env

BAD_URL = "postgresql://caloria:S3cr3t@localhost:abc/caloria"


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected exactly one stderr line, got {len(lines)}: {stderr!r}"
    assert stderr.count("\n") <= 1, f"stderr must be one line: {stderr!r}"
    return lines[0]


def test_unparsable_database_url_in_environment_exits_2_with_one_line(tmp_path):
    result = run_once([], env={"DATABASE_URL": BAD_URL}, cwd=tmp_path)
    assert result.returncode == 2, (result.returncode, result.stderr)
    line = one_line(result.stderr)
    assert "DATABASE_URL" in line
    assert_no_password(result.stderr + result.stdout, "the bad-URL error")


def test_unparsable_database_url_in_env_file_exits_2_with_one_line(app_dir):
    env_file = write_env(app_dir, DATABASE_URL=BAD_URL)
    result = run_once([f"--app.env-file={env_file}"], cwd=app_dir)
    assert result.returncode == 2, (result.returncode, result.stderr)
    line = one_line(result.stderr)
    assert "DATABASE_URL" in line
    assert_no_password(result.stderr + result.stdout, "the bad-URL error")


def test_unknown_flag_exits_2_naming_the_flag():
    result = run_once(["--no-such-flag=1"])
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "--no-such-flag" in one_line(result.stderr)


@pytest.mark.parametrize(
    "flag",
    [
        "--collector.interval=abc",
        "--collector.timeout=-3s",
        "--database.expected-type=oracle",
        "--database.sqlite-relative-to=elsewhere",
        "--log.level=loud",
        "--log.format=xml",
    ],
)
def test_bad_flag_value_exits_2_naming_the_flag(flag):
    result = run_once([flag])
    assert result.returncode == 2, (result.returncode, result.stderr)
    name = flag.split("=")[0].lstrip("-")
    assert name in one_line(result.stderr)


def test_version_flag_prints_the_version_and_exits_0():
    result = run_once(["--version"])
    assert result.returncode == 0, (result.returncode, result.stderr)
    assert re.search(r"\d+\.\d+\.\d+", result.stdout), (
        f"--version should print the version on stdout: {result.stdout!r} {result.stderr!r}"
    )


def test_help_flag_lists_the_flags_and_exits_0():
    result = run_once(["--help"])
    assert result.returncode == 0, (result.returncode, result.stderr)
    text = result.stdout + result.stderr
    for flag in ("--app.env-file", "--database.url-file", "--web.listen-address",
                 "--collector.interval", "--log.format"):
        assert flag in text, f"{flag} missing from --help"
