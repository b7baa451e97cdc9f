"""scripts/caloria-backup and the exporter agree on every case of the exporter's
own unit tests: the URL, env file and pg_dump cases in tests/cases/*.json, which
tests/unit/{sqlalchemy_url,dotenv,pg_dump_parser}_test.cpp check against the C++.

Here each case goes the script's way: a URL through `caloria-backup
--print-database` and, for PostgreSQL, through a whole backup whose pg_dump is a
stand-in that records how it was called (its connection string is read back
with libpq itself); an env file through `caloria_backup_tool dotenv` and, when it
sets DATABASE_URL, through `--print-database --env-file`; a dump through the
script's verify step (`caloria_backup_tool verify`, plain and gzipped) and
through a whole backup. Last, the script and the running exporter name the same
database for the same env file."""

from __future__ import annotations

import ctypes
import ctypes.util
import gzip
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from exporter import REPO_ROOT, make_sqlite, run_once
from postgres import APP_PASSWORD
from test_backup_script import ERROR_RE, SCRIPT, SUCCESS_RE, log_lines, run_script, script_env

CASES = REPO_ROOT / "tests" / "cases"
TOOL = Path(os.environ.get("CALORIA_BACKUP_TOOL") or REPO_ROOT / "build" / "caloria_backup_tool")
TOOL_TIMEOUT = 30


def load(name: str) -> dict:
    return json.loads((CASES / name).read_text())


URLS = load("sqlalchemy_url.json")
DOTENV = load("dotenv.json")
DUMPS = load("pg_dump.json")


def by_name(cases: list[dict]):
    return pytest.mark.parametrize("case", cases, ids=[c["name"] for c in cases])


@pytest.fixture(scope="module", autouse=True)
def tool_binary():
    if not TOOL.is_file():
        pytest.fail(f"{TOOL} not found: build it with scripts/build or set CALORIA_BACKUP_TOOL",
                    pytrace=False)


def run_tool(args: list[str], env: dict[str, str], cwd: Path):
    return subprocess.run([str(TOOL)] + args, env=env, cwd=str(cwd), stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=TOOL_TIMEOUT)


def records(output: bytes) -> dict[str, str]:
    """The tool's key=value records, each ended by a NUL byte."""
    parts = [r.decode("utf-8", "surrogateescape") for r in output.split(b"\0") if r]
    return dict(part.split("=", 1) for part in parts)


def printed_database(result) -> dict[str, str]:
    """What --print-database printed: key=value lines (problem= may repeat)."""
    fields: dict[str, str] = {}
    for line in result.stdout.splitlines():
        key, _, value = line.partition("=")
        fields[key] = value if key not in fields else fields[key] + "\n" + value
    return fields


def one_line_message(stderr: str, program: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    assert lines[0].startswith(f"{program}: "), lines[0]
    return lines[0][len(program) + 2:]


def assert_never_shown(secret: str | None, text: str, where: str) -> None:
    # Passwords under four characters ("p", "pw") appear in any text.
    if secret and len(secret) >= 4:
        assert secret not in text, f"the password {secret!r} shows in {where}: {text!r}"


# ---- libpq reads the stand-in pg_dump's connection string back -------------------


class _ConninfoOption(ctypes.Structure):
    _fields_ = [("keyword", ctypes.c_char_p), ("envvar", ctypes.c_char_p),
                ("compiled", ctypes.c_char_p), ("val", ctypes.c_char_p),
                ("label", ctypes.c_char_p), ("dispchar", ctypes.c_char_p),
                ("dispsize", ctypes.c_int)]


def _libpq():
    libpq = ctypes.CDLL(ctypes.util.find_library("pq") or "libpq.so.5")
    libpq.PQconninfoParse.restype = ctypes.POINTER(_ConninfoOption)
    libpq.PQconninfoParse.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
    libpq.PQconndefaults.restype = ctypes.POINTER(_ConninfoOption)
    libpq.PQconninfoFree.argtypes = [ctypes.POINTER(_ConninfoOption)]
    libpq.PQfreemem.argtypes = [ctypes.c_void_p]
    return libpq


def _options(libpq, options) -> dict[str, str | None]:
    found = {}
    i = 0
    while options[i].keyword:
        value = options[i].val
        found[options[i].keyword.decode()] = (
            None if value is None else value.decode("utf-8", "surrogateescape"))
        i += 1
    libpq.PQconninfoFree(options)
    return found


def libpq_keywords() -> set[str]:
    libpq = _libpq()
    return set(_options(libpq, libpq.PQconndefaults()))


def libpq_reads(conninfo: str) -> dict[str, str] | None:
    """The keywords a connection string sets, as libpq itself parses it; None
    when libpq refuses it (as it would refuse the exporter's connection)."""
    libpq = _libpq()
    error = ctypes.c_void_p()
    options = libpq.PQconninfoParse(conninfo.encode("utf-8", "surrogateescape"),
                                    ctypes.byref(error))
    if not options:
        libpq.PQfreemem(error)
        return None
    return {k: v for k, v in _options(libpq, options).items() if v is not None}


FAKE_PG_DUMP = """#!/bin/sh
# A stand-in for pg_dump: records its arguments and PGPASSWORD, prints $FAKE_DUMP.
for a in "$@"; do printf '%s\\0' "$a"; done >"$FAKE_CALLS/args"
if [ "${PGPASSWORD+set}" = set ]; then printf '%s' "$PGPASSWORD" >"$FAKE_CALLS/password"; fi
exec cat -- "$FAKE_DUMP"
"""


@pytest.fixture
def fake_pg_dump(tmp_path):
    """Runs the script with a pg_dump that prints `dump` and records how it was
    called. Returns (result, backup folder, log, recorded arguments, PGPASSWORD)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pg_dump").write_text(FAKE_PG_DUMP)
    (bin_dir / "pg_dump").chmod(0o755)
    calls = tmp_path / "calls"
    calls.mkdir()
    runs = iter(range(1_000_000))

    def backup(dump: bytes, env: dict[str, str], args: list[str] = ()):
        run = next(runs)
        dump_file = tmp_path / f"dump{run}.sql"
        dump_file.write_bytes(dump)
        for leftover in calls.iterdir():
            leftover.unlink()
        folder = tmp_path / f"backups{run}"
        log = tmp_path / f"backup{run}.log"
        result = run_script(
            ["--dir", folder, "--log", log] + list(args), cwd=tmp_path,
            env=dict(env, PATH=f"{bin_dir}:{os.environ['PATH']}", FAKE_DUMP=str(dump_file),
                     FAKE_CALLS=str(calls)))
        argv = None
        if (calls / "args").exists():
            argv = [a.decode("utf-8", "surrogateescape")
                    for a in (calls / "args").read_bytes().split(b"\0")[:-1]]
        password = (calls / "password").read_text() if (calls / "password").exists() else None
        return result, folder, log, argv, password

    return backup


# ---- URLs ------------------------------------------------------------------------


def expected_sqlite_file(expect: dict, app_dir: Path) -> str:
    database = expect.get("database")
    if expect.get("sqlite_memory") or database in ("", ":memory:"):
        return ""
    if database is None:
        return None  # the case does not say; the type and URL still must match
    return os.path.normpath(database if database.startswith("/")
                            else app_dir / "instance" / database)


@by_name(URLS["accepted"])
def test_url_read_by_the_script_as_by_the_exporter(case, tmp_path):
    expect = case["expect"]
    result = run_script(["--print-database"], env={"DATABASE_URL": case["url"]}, cwd=tmp_path)
    printed = printed_database(result)
    assert printed.get("type") == expect["type"], result.stdout + result.stderr
    assert printed["url"] == expect["redacted"]
    assert printed["source"] == "environment"
    assert printed["origin"] == "the environment variable DATABASE_URL"
    sqlite_file = expected_sqlite_file(expect, tmp_path.resolve())
    if expect["type"] == "sqlite" and sqlite_file is not None:
        assert printed["sqlite_file"] == sqlite_file
    in_memory = expect["type"] == "sqlite" and printed["sqlite_file"] == ""
    if in_memory:
        assert result.returncode == 1, result.stderr
        assert one_line_message(result.stderr, "caloria-backup") == (
            "DATABASE_URL is an in-memory SQLite database: there is nothing to back up")
    else:
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
    assert_never_shown(expect.get("password"), result.stdout + result.stderr, "--print-database")


POSTGRES_URLS = [c for c in URLS["accepted"] if c["expect"]["type"] == "postgresql"]
LIBPQ_KEYWORD = re.compile(r"^[a-z0-9_]+$")


@by_name(POSTGRES_URLS)
def test_pg_dump_reaches_what_the_exporter_reads_from_the_url(case, fake_pg_dump):
    """A whole backup: pg_dump gets host, port, dbname, user and the query
    options on its connection string, and the password in PGPASSWORD only."""
    expect = case["expect"]
    complete = "\n".join(DUMPS["snippets"]["preamble"] + ["SELECT 1;"]
                         + DUMPS["snippets"]["epilogue"]).encode()
    result, _, log, argv, password = fake_pg_dump(complete, {"DATABASE_URL": case["url"]})
    output = result.stdout + result.stderr + log.read_text()
    assert_never_shown(expect.get("password"), output, "the script's output")
    query = expect.get("query", [])
    if "@***" in expect["redacted"]:
        # A raw '@' in the password made a host of its tail (the exporter's
        # database_url_unencoded_at): pg_dump would show that piece of the
        # password on its command line and in its error, so it is not run.
        assert result.returncode == 1, output
        assert "database_url_unencoded_at" in log_lines(log)[0], output
        assert argv is None, "pg_dump ran with a piece of the password as its host"
        return
    if any(not LIBPQ_KEYWORD.match(key) for key, _ in query):
        # The exporter's libpq refuses such a URL ("invalid connection option") too.
        assert result.returncode == 1, output
        assert "is not a libpq connection option" in log_lines(log)[0], output
        assert argv is None, "pg_dump ran with a connection string it cannot parse"
        return
    assert result.returncode == 0, output
    assert SUCCESS_RE.match(log_lines(log)[0]), log_lines(log)
    (dbname_arg,) = [a for a in argv if a.startswith("--dbname=")]
    assert "--no-owner" in argv and "--format=plain" in argv, argv
    assert_never_shown(expect.get("password"), " ".join(argv), "pg_dump's arguments")
    conninfo = dbname_arg[len("--dbname="):]
    read = libpq_reads(conninfo)
    keywords = re.findall(r"(?:^| )([a-z0-9_]+)='", conninfo)
    if not set(keywords) <= libpq_keywords():
        # Options libpq does not know: it refuses them on pg_dump's connection
        # string as it refuses them on the exporter's connection.
        assert read is None, read
        return
    assert read is not None, f"libpq cannot parse pg_dump's connection string: {dbname_arg!r}"
    assert "password" not in read, "the password is on pg_dump's command line"
    for field, keyword in (("host", "host"), ("database", "dbname"), ("username", "user")):
        if field in expect:
            assert read.get(keyword, "") == expect[field], (keyword, read)
    if "port" in expect:
        assert read.get("port") == (None if expect["port"] is None else str(expect["port"]))
    if "password" in expect:
        assert password == (expect["password"] or None), "PGPASSWORD is not the URL's password"
    wanted = {"application_name": "caloria-backup"}
    wanted.update(dict(query))  # the URL's query options come last and win
    for keyword, value in wanted.items():
        assert read.get(keyword) == value, (keyword, read)


@by_name(URLS["rejected"])
def test_url_refused_by_the_script_as_by_the_exporter(case, tmp_path):
    url = case["url"]
    result = run_script(["--print-database"], env={"DATABASE_URL": url}, cwd=tmp_path)
    if not url.strip():
        # Blank counts as unset for the app (`os.getenv(...) or default`), the
        # exporter and the script alike: the app's default, which is no backup.
        assert result.returncode == 1, result.stderr
        assert printed_database(result)["source"] == "default"
        assert "DATABASE_URL is not set" in one_line_message(result.stderr, "caloria-backup")
        return
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    message = one_line_message(result.stderr, "caloria-backup")
    for part in case.get("error_contains", []):
        assert part in message
    for part in case.get("error_excludes", []):
        assert part not in message
    exporter = run_once([], env={"DATABASE_URL": url})
    assert exporter.returncode == 2, exporter.stderr
    assert message == one_line_message(exporter.stderr, "caloria_exporter")


# ---- env files -----------------------------------------------------------------------


@by_name(DOTENV["cases"])
def test_env_file_read_by_the_tool_as_by_the_exporter(case, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_bytes(case["text"].encode())
    # Exactly the case's environment: ${VAR} asks the process environment first.
    result = run_tool(["dotenv", str(env_file)], env=case.get("env", {}), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    parsed = json.loads(result.stdout)
    if "values" in case:
        assert parsed["values"] == case["values"]
    assert [w["line"] for w in parsed["warnings"]] == case.get("warnings", [])
    for warning, word in zip(parsed["warnings"], case.get("warning_contains", [])):
        assert word in warning["message"]


DATABASE_URL_FILES = [c for c in DOTENV["cases"] if "database_url" in c]


@by_name(DATABASE_URL_FILES)
def test_database_url_from_an_env_file_is_the_one_the_exporter_reads(case, tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    env_file = app / ".env"
    env_file.write_bytes(case["text"].encode())
    env = dict(case.get("env", {}), PATH=os.environ["PATH"])
    result = subprocess.run([str(SCRIPT), "--print-database", "--env-file", str(env_file)],
                            env=env, cwd=str(tmp_path), stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=TOOL_TIMEOUT)
    assert result.returncode == 0, result.stderr
    printed = printed_database(result)
    assert printed["url"] == case["database_url"]["redacted"]
    assert printed["source"] == "env_file"
    assert printed["origin"] == f"DATABASE_URL in the env file {env_file}"
    url = case["values"]["DATABASE_URL"]
    password = re.match(r"^[^:]*://[^:/]*:([^@]*)@", url)
    assert_never_shown(password and password.group(1), result.stdout + result.stderr,
                       "--print-database")
    if case.get("warnings"):
        assert "problem=env_file_malformed " in result.stdout


# ---- dumps -------------------------------------------------------------------------


def dump_text(case: dict) -> bytes:
    lines = []
    for line in case["lines"]:
        lines += DUMPS["snippets"][line[1:]] if line.startswith("@") else [line]
    ending = case.get("line_ending", "\n")
    text = ending.join(lines)
    if lines and case.get("final_newline", True):
        text += ending
    return text.encode()


def expected_verdict(expect: dict) -> bool:
    return expect.get("pg_dump", True) and expect.get("complete", True)


def expected_users(expect: dict) -> str:
    return "none" if expect["users"] is None else str(expect["users"])


@by_name(DUMPS["cases"])
@pytest.mark.parametrize("form", ["plain", "gzip"])
def test_dump_judged_by_the_verify_step_as_by_the_exporter(case, form, tmp_path):
    text = dump_text(case)
    backup = tmp_path / ("backup.sql.gz" if form == "gzip" else "backup.sql")
    backup.write_bytes(gzip.compress(text) if form == "gzip" else text)
    table = case.get("users_table", "users")
    result = run_tool(["verify", str(backup), f"--backup.users-table={table}"], env={},
                      cwd=tmp_path)
    found = records(result.stdout)
    expect = case["expect"]
    verified = expected_verdict(expect)
    assert found["verified"] == ("1" if verified else "0"), found
    assert result.returncode == (0 if verified else 1), result.stderr
    if "users" in expect:
        assert found["users"] == expected_users(expect), found
    if expect.get("pg_dump") is False:
        assert ("not a plain-SQL pg_dump" in found["error"]
                or (text == b"" and form == "plain" and found["error"] == "the file is empty"))
    elif expect.get("complete") is False:
        assert "incomplete" in found["error"], found
    assert int(found["bytes"]) == len(text)  # the SQL read, uncompressed


@by_name(DUMPS["cases"])
def test_dump_judged_by_a_backup_run_as_by_the_exporter(case, fake_pg_dump):
    """The whole script, with a pg_dump that prints the case: SUCCESS with the
    exporter's users count, or ERROR and no backup."""
    args = ["--users-table", case["users_table"]] if "users_table" in case else []
    result, folder, log, _, _ = fake_pg_dump(
        dump_text(case), {"DATABASE_URL": "postgresql://caloria@127.0.0.1:1/caloria"}, args)
    (line,) = log_lines(log)
    expect = case["expect"]
    if expected_verdict(expect):
        assert result.returncode == 0, result.stderr
        success = SUCCESS_RE.match(line)
        assert success, line
        if "users" in expect:
            assert success["users"] == expected_users(expect)
    else:
        assert result.returncode == 1, result.stderr
        assert ERROR_RE.match(line) and "the new backup failed verification" in line, line
        assert [p for p in folder.iterdir()] == [], "a backup that failed verification was kept"


# ---- the running exporter ------------------------------------------------------------


def script_database(env_file: Path, args: list[str], env: dict[str, str]) -> dict[str, str]:
    result = run_script(["--print-database", "--env-file", env_file] + args, env=env)
    assert result.returncode == 0, result.stderr
    return printed_database(result)


def exporter_database(start_exporter, env_file: Path, args: list[str]) -> dict:
    """The exporter's /health/configuration once its first poll is in."""
    exp = start_exporter(args=[f"--app.env-file={env_file}"] + args)

    def configuration():
        body = exp.get("/health/configuration").json()
        return body if "url" in body else None
    return exp.wait_for("/health/configuration", configuration, timeout=10)


def assert_same_database(printed: dict[str, str], seen: dict) -> None:
    """--print-database's lines and the exporter's /health/configuration agree."""
    assert (printed["type"], printed["url"], printed["source"], printed["origin"],
            printed["sqlite_file"]) == (
        seen["database_type"], seen["url"], seen["source"], seen["url_origin"],
        seen.get("sqlite_path", ""))


@pytest.mark.parametrize("url, script_args, exporter_args, file_under", [
    ("sqlite:///caloria.db", [], [], "instance"),
    ("sqlite:///caloria.db", ["--sqlite-relative-to=app"],
     ["--database.sqlite-relative-to=app"], "."),
    ("sqlite:///data/../db/caloria.db", ["--sqlite-relative-to", "app"],
     ["--database.sqlite-relative-to=app"], "db"),
    ("sqlite:///db/caloria.db", ["--sqlite-relative-to=instance"],
     ["--database.sqlite-relative-to=instance"], "instance/db"),
], ids=["instance", "app", "app-dotdot", "instance-explicit"])
def test_script_and_exporter_name_the_same_sqlite_file(
        start_exporter, app_dir, url, script_args, exporter_args, file_under):
    env_file = app_dir / ".env"
    env_file.write_text(f"# the app's settings\nexport DATABASE_URL='{url}'\n")
    expected = os.path.normpath(app_dir / file_under / "caloria.db")
    make_sqlite(Path(expected), users=2)
    printed = script_database(env_file, script_args, {})
    seen = exporter_database(start_exporter, env_file, exporter_args)
    assert_same_database(printed, seen)
    assert printed["sqlite_file"] == expected


def test_script_and_exporter_name_the_same_postgresql_database(start_exporter, pg, tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    (app / "secrets").mkdir()
    (app / "secrets" / "database_url").write_text(pg.url() + "\n")
    env_file = app / ".env"
    env_file.write_text("FLASK_ENV=production\nDATABASE_URL_FILE=secrets/database_url\n")
    printed = script_database(env_file, [], {})
    seen = exporter_database(start_exporter, env_file, [])
    assert_same_database(printed, seen)
    assert printed["url"] == f"postgresql://caloria:***@{pg.host}:{pg.port}/caloria"
    assert APP_PASSWORD not in json.dumps(printed)
    assert "problem" not in printed, printed


def test_script_and_exporter_take_the_url_file_over_the_env_file(start_exporter, app_dir):
    env_file = app_dir / ".env"
    env_file.write_text("DATABASE_URL=sqlite:///not-this.db\n")
    url_file = app_dir / "database_url"
    url_file.write_text("sqlite:///this.db\n")
    printed = script_database(env_file, ["--url-file", url_file], {})
    seen = exporter_database(start_exporter, env_file, [f"--database.url-file={url_file}"])
    assert_same_database(printed, seen)
    assert (printed["source"], printed["sqlite_file"]) == (
        "flag", str(app_dir / "instance" / "this.db"))
