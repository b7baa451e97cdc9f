"""No piece of a password reaches any output (issue 10).

One known password, with the characters that matter (`@`, `/`, `:`, `%`), is
handed to the exporter in every way the app takes it (percent-encoded in the
URL, with a raw `@`, as ?password= and ?sslpassword=, through DATABASE_URL,
DATABASE_URL_FILE, the env file and --database.url-file, in the app's health
URL and in the app process's environment) and run through every failure this
exporter can reach: PostgreSQL refusing, hung, stopped under a running
exporter, a wrong password against the real server, an unresolvable host, a
raw `@` that makes a host of the password's tail, a URL that does not parse, a
URL file that cannot be read, a reload with a rotated password and a reload
to a bad URL, an app probe that fails, and the backup tool's locate and
pg-dump. Every page (/, /metrics, /health and each of its checks, 404 and
405 pages, the POST /-/reload answer) and every log line of both formats at
debug level must hold neither the password, nor any 4-character piece of it,
nor its percent-encoded form.

The exporters of all cases run side by side, so the whole matrix costs a
few polls, not a few polls per case: a module fixture starts them, takes the
pages in each phase (all running, PostgreSQL stopped, a password rotated),
stops them, and each case is then one quick test of what was collected.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from exporter import Exporter, binary_path, clean_env, run_once
from fake_app import FakeApp, json_reply
from postgres import APP_DATABASE, APP_USER, free_port
from secret_pieces import forbidden_pieces, leaks

PASSWORD = "S3cr@tPa55/x:y%z"
ROTATED = "R0t@ted9/k:w%v"  # the role's password after the rotation
ROLE = "caloria_matrix"  # a role of this module's own, so rotating it harms no other test
FORMATS = ("logfmt", "json")
# Thirty exporters poll side by side (under ASan in CI): a 2 s interval and deadline
# halve their load on 2 cores against the harness's 1 s, and a connect that still
# misses its deadline under that load is retried at the next poll (see wait_up).
POLL_FLAGS = ["--collector.interval=2s", "--collector.timeout=2s"]
POLL_WAIT = 5  # seconds: two polls at --collector.interval=2s, with slack
UP_WAIT = 30  # seconds: at most, for every exporter that should reach the database


def quoted(secret: str) -> str:
    return urllib.parse.quote(secret, safe="")


FORBIDDEN = forbidden_pieces(PASSWORD, ROTATED)


def tool_path() -> Path:
    override = os.environ.get("CALORIA_BACKUP_TOOL")
    return Path(override) if override else binary_path().parent / "caloria_backup_tool"


# ---- the cases -----------------------------------------------------------------


@dataclass
class Case:
    """One way of giving the password and one failure, run in both log formats.

    `url`, `env_url`, `url_file_var` and `url_file_flag` say where the database
    URL goes; `expect` are texts that must appear in the outputs, proving the
    failure really happened (a case that fails for another reason proves
    nothing)."""
    name: str
    url: str | None = None  # DATABASE_URL in the process environment
    env_file_url: str | None = None  # DATABASE_URL in the app's .env
    url_file_var: str | None = None  # the URL, in a file named by DATABASE_URL_FILE
    # The URL, in a file named by --database.url-file; "" names a directory,
    # from which no URL can be read.
    url_file_flag: str | None = None
    args: list[str] = field(default_factory=list)
    expect: tuple[str, ...] = ()
    usage_error: bool = False  # the exporter refuses to start (exit 2)


class Matrix:
    """What the fixture built: addresses, and the outputs of every case."""

    def __init__(self, pg_port: int, refused_port: int, hung_port: int, app: FakeApp) -> None:
        self.pg_port = pg_port
        self.refused_port = refused_port
        self.hung_port = hung_port
        self.app = app
        self.outputs: dict[str, dict[str, str]] = {}  # case id -> {where: text}
        self.expected: dict[str, tuple[str, ...]] = {}  # case id -> texts its outputs hold

    def url(self, password: str = quoted(PASSWORD), user: str = ROLE, host: str = "127.0.0.1",
            port: int | str | None = None, query: str = "") -> str:
        port = self.pg_port if port is None else port
        credentials = f"{user}:{password}@" if password is not None else f"{user}@"
        return f"postgresql://{credentials}{host}:{port}/{APP_DATABASE}{query}"

    def cases(self) -> list[Case]:
        encoded = quoted(PASSWORD)
        raw_at_host = "S3cr@tPa55"  # the example: the host becomes "tPa55@127.0.0.1"
        return [
            Case("encoded-in-environment", url=self.url(), expect=("caloria_database_up 1",)),
            Case("encoded-in-env-file", env_file_url=self.url(), expect=("caloria_database_up 1",)),
            Case("encoded-in-database-url-file", url_file_var=self.url(),
                 expect=("caloria_database_up 1",)),
            Case("query-password", url=self.url(password=None, query=f"?password={encoded}"),
                 expect=("caloria_database_up 1", "password=***")),
            Case("query-sslpassword",
                 url=self.url(query=f"?sslmode=disable&sslpassword={encoded}"),
                 expect=("caloria_database_up 1", "sslpassword=***")),
            Case("unencoded-at-in-environment", url=self.url(password=PASSWORD),
                 expect=("database_url_unencoded_at", "could not translate host name")),
            Case("unencoded-at-host-in-env-file", env_file_url=self.url(password=raw_at_host),
                 expect=("database_url_unencoded_at", "could not translate host name")),
            Case("unencoded-at-in-url-file-flag", url_file_flag=self.url(password=PASSWORD),
                 expect=("database_url_unencoded_at",)),
            Case("wrong-password", url=self.url(user=APP_USER),
                 expect=("password authentication failed",)),
            Case("refused", url=self.url(port=self.refused_port), expect=("refused",)),
            Case("hung", url=self.url(port=self.hung_port), expect=("timed out",)),
            Case("unresolvable-host", url=self.url(host="caloria-db.invalid"),
                 expect=("could not translate host name",)),
            Case("app-probe-failing",
                 url=self.url(),
                 args=[f"--app.health-url={self.app.url('/500', f'{APP_USER}:{encoded}@')}"],
                 expect=("caloria_app_up 0",)),
            Case("app-probe-refused",
                 url=self.url(),
                 args=[f"--app.health-url=http://{APP_USER}:{encoded}@127.0.0.1:"
                       f"{self.refused_port}/health/database"],
                 expect=("caloria_app_up 0",)),
            # The rotation phase changes this role's password and this file.
            Case("rotated-in-url-file-flag", url_file_flag=self.url(),
                 expect=("caloria_database_up 1", "configuration reloaded",
                         "database_url_unencoded_at", "not a valid SQLAlchemy URL")),
            Case("bad-url-unencoded", url=self.url(password=raw_at_host, port="abc"),
                 usage_error=True, expect=("not a valid SQLAlchemy URL",)),
            Case("bad-url-encoded-in-env-file", env_file_url=self.url(port="abc"),
                 usage_error=True, expect=("not a valid SQLAlchemy URL",)),
            Case("unreadable-url-file", url_file_flag="", usage_error=True,
                 expect=("the database URL file",)),
            Case("app-probe-unencoded-at", url=self.url(),
                 args=[f"--app.health-url=http://{APP_USER}:{PASSWORD}@127.0.0.1:1/health"],
                 usage_error=True, expect=("--app.health-url",)),
        ]


def write_inputs(case: Case, folder: Path) -> tuple[list[str], dict[str, str]]:
    """The exporter's arguments and environment for a case."""
    folder.mkdir(parents=True, exist_ok=True)
    args = list(case.args)
    env = {}
    if case.url is not None:
        env["DATABASE_URL"] = case.url
    if case.env_file_url is not None:
        env_file = folder / ".env"
        env_file.write_text(f"DATABASE_URL='{case.env_file_url}'\n")
        args.append(f"--app.env-file={env_file}")
    if case.url_file_var is not None:
        (folder / "database.url").write_text(case.url_file_var + "\n")
        env["DATABASE_URL_FILE"] = str(folder / "database.url")
    if case.url_file_flag is not None:
        url_file = folder / "flag.url"
        if case.url_file_flag:
            url_file.write_text(case.url_file_flag + "\n")
        else:
            url_file.mkdir()  # a directory: no URL can be read from it
        args.append(f"--database.url-file={url_file}")
    return args, env


# ---- the pages ---------------------------------------------------------------------


def take_pages(exp: Exporter, phase: str, out: dict[str, str]) -> None:
    """Every page the exporter serves, and its refusals, into out."""
    checks = []
    try:
        checks = list(exp.get("/health").json().get("checks", {}))
    except ValueError:
        pass
    paths = ["/", "/metrics", "/health", "/health/nope", "/nope"]
    paths += [f"/health/{check}" for check in checks]
    for path in paths:
        out[f"{phase} GET {path}"] = exp.get(path).text
    out[f"{phase} POST /metrics"] = exp.get("/metrics", method="POST", data=b"x=1").text
    out[f"{phase} GET /-/reload"] = exp.get("/-/reload").text
    out[f"{phase} POST /-/reload"] = exp.get("/-/reload", method="POST", data=b"").text


def take_all(exporters: dict[str, Exporter], phase: str, matrix: Matrix) -> None:
    def one(item):
        case_id, exp = item
        out = matrix.outputs.setdefault(case_id, {})
        take_pages(exp, phase, out)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, exporters.items()))


# ---- the fixture -------------------------------------------------------------------


def set_role_password(pg, password: str) -> None:
    pg.sql(f"ALTER ROLE {ROLE} PASSWORD '{password}'", database="postgres")


@pytest.fixture(scope="module")
def matrix(postgres_server, tmp_path_factory):
    pg = postgres_server
    pg.ensure_running()
    pg.reset_users()
    pg.sql(f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN "
           f"CREATE ROLE {ROLE} LOGIN; END IF; END$$", database="postgres")
    set_role_password(pg, PASSWORD)
    pg.sql(f"GRANT SELECT ON users TO {ROLE}")

    root = tmp_path_factory.mktemp("secrets-matrix")
    hung = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    hung.bind(("127.0.0.1", 0))
    hung.listen(64)  # the kernel accepts; nobody ever answers
    app = FakeApp({"/500": json_reply({"status": "unhealthy"}, status=500)})
    exporters: dict[str, Exporter] = {}
    app_process = None
    matrix = Matrix(pg.port, free_port(), hung.getsockname()[1], app)
    try:
        cases = matrix.cases()
        for case in cases:
            for log_format in FORMATS:
                case_id = f"{case.name}/{log_format}"
                matrix.expected[case_id] = case.expect
                folder = root / case.name / log_format
                args, env = write_inputs(case, folder / "app")
                args += ["--log.level=debug", f"--log.format={log_format}"]
                if case.usage_error:
                    result = run_once(args, env=env, cwd=folder)
                    matrix.expected[case_id] += ("exit 2",)
                    matrix.outputs[case_id] = {
                        "exit status": f"exit {result.returncode}",
                        "stderr": result.stderr,
                        "stdout": result.stdout,
                    }
                    continue
                exporters[case_id] = Exporter(args=POLL_FLAGS + args, env=env, cwd=folder,
                                              fast=False,
                                              workdir=folder / "exporter")

        app_process = start_app_process(matrix, root)
        matrix.expected["app-process/json"] = (
            "DATABASE_URL=postgresql://caloria_matrix:***@***/***",)
        exporters["app-process/json"] = Exporter(
            args=[f"--app.pid-file={app_process.pid_file}", "--log.level=debug",
                  "--log.format=json"],
            env={"DATABASE_URL": matrix.url()}, workdir=root / "app-process")
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda exp: exp.start(ready_timeout=20), exporters.values()))

        time.sleep(POLL_WAIT)
        # Each exporter that should reach the database has done so (a connect may
        # miss its deadline while thirty sanitized exporters start at once).
        for case_id, exp in exporters.items():
            if "caloria_database_up 1" in matrix.expected.get(case_id, ()):
                exp.wait_metric("caloria_database_up", 1, timeout=UP_WAIT)
        take_all(exporters, "running", matrix)

        # PostgreSQL stops under the exporters that were connected, and comes back.
        pg.stop()
        time.sleep(POLL_WAIT)
        take_all(exporters, "postgresql stopped", matrix)
        pg.start()

        # The password is rotated: refused first, then read again from the file.
        set_role_password(pg, ROTATED)
        time.sleep(POLL_WAIT)
        rotating = {k: v for k, v in exporters.items() if k.startswith("rotated-")}
        for case_id, exp in rotating.items():
            url_file = root / case_id / "app" / "flag.url"  # case_id is NAME/FORMAT
            url_file.write_text(matrix.url(password=quoted(ROTATED)) + "\n")
            out = matrix.outputs.setdefault(case_id, {})
            out["rotation POST /-/reload"] = exp.get("/-/reload", method="POST", data=b"").text
            exp.wait_metric("caloria_database_up", 1, timeout=UP_WAIT)
            # A reload to the rotated password with its '@' unencoded: accepted,
            # and reported; then one to a URL that does not parse: refused.
            url_file.write_text(matrix.url(password=ROTATED) + "\n")
            out["unencoded POST /-/reload"] = exp.get("/-/reload", method="POST", data=b"").text
            url_file.write_text(matrix.url(password=ROTATED[:8], port="abc") + "\n")
            out["bad POST /-/reload"] = exp.get("/-/reload", method="POST", data=b"").text
        take_all(exporters, "rotated", matrix)

        run_backup_tool(matrix, root)
    finally:
        for exp in exporters.values():
            exp.stop()
        hung.close()
        app.server.shutdown()
        if app_process is not None:
            app_process.stop()
        pg.ensure_running()
        set_role_password(pg, PASSWORD)
    for case_id, exp in exporters.items():
        out = matrix.outputs.setdefault(case_id, {})
        out["log (stderr)"] = exp.logs()
        out["stdout"] = exp.stdout()
    return matrix


class AppProcess:
    """A stand-in for the app's process: its environment holds DATABASE_URL
    with a raw '@' in the password, as /proc/PID/environ shows it."""

    def __init__(self, url: str, folder: Path) -> None:
        self.proc = subprocess.Popen(["sleep", "60"], env=clean_env({"DATABASE_URL": url}),
                                     stdin=subprocess.DEVNULL)
        self.pid_file = folder / "app.pid"
        self.pid_file.write_text(f"{self.proc.pid}\n")

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=5)


def start_app_process(matrix: Matrix, root: Path) -> AppProcess:
    folder = root / "app-process"
    folder.mkdir(parents=True, exist_ok=True)
    return AppProcess(matrix.url(password=PASSWORD), folder)


@dataclass
class ToolRun:
    argv: list[str]
    env: Callable[[Matrix, Path], dict[str, str]]  # from the matrix and a scratch folder
    expect: str  # proves the run met its failure


DUMP = ["pg-dump", "--", "--schema-only"]
TOOL_RUNS = {
    "locate, encoded": ToolRun(
        ["locate"], lambda m, _: {"DATABASE_URL": m.url()},
        "url=postgresql://caloria_matrix:***@127.0.0.1"),
    "locate, unencoded @": ToolRun(
        ["locate"], lambda m, _: {"DATABASE_URL": m.url(password=PASSWORD)},
        "database_url_unencoded_at"),
    "locate, ?password=": ToolRun(
        ["locate"],
        lambda m, _: {"DATABASE_URL": m.url(password=None, query=f"?password={quoted(PASSWORD)}")},
        "password=***"),
    "locate, ?sslpassword=": ToolRun(
        ["locate"], lambda m, _: {"DATABASE_URL": m.url(query=f"?sslpassword={quoted(PASSWORD)}")},
        "sslpassword=***"),
    "locate, bad URL": ToolRun(
        ["locate"], lambda m, _: {"DATABASE_URL": m.url(password="S3cr@tPa55", port="x")},
        "not a valid SQLAlchemy URL"),
    "locate, unreadable URL file": ToolRun(
        ["locate"], lambda m, folder: {"DATABASE_URL_FILE": str(folder)},
        "is not a regular file"),
    # The role's password has been rotated by now: PASSWORD is the wrong one.
    "pg-dump, wrong password": ToolRun(
        DUMP, lambda m, _: {"DATABASE_URL": m.url()}, "password authentication failed"),
    "pg-dump, refused": ToolRun(
        DUMP, lambda m, _: {"DATABASE_URL": m.url(port=m.refused_port)}, "refused"),
    "pg-dump, unresolvable host": ToolRun(
        DUMP, lambda m, _: {"DATABASE_URL": m.url(host="caloria-db.invalid")},
        "could not translate host name"),
    "pg-dump, unencoded @": ToolRun(
        DUMP, lambda m, _: {"DATABASE_URL": m.url(password=PASSWORD)},
        "database_url_unencoded_at"),
    "pg-dump, ?sslpassword=": ToolRun(
        DUMP,
        lambda m, _: {"DATABASE_URL": m.url(user=APP_USER,
                                            query=f"?sslpassword={quoted(PASSWORD)}")},
        "password authentication failed"),
}


def run_backup_tool(matrix: Matrix, root: Path) -> None:
    """caloria_backup_tool locate and pg-dump, for each way and failure."""
    tool = tool_path()
    if not tool.is_file():
        pytest.fail(f"{tool} not found: build caloria_backup_tool or set CALORIA_BACKUP_TOOL",
                    pytrace=False)
    for name, run in TOOL_RUNS.items():
        env = clean_env({**run.env(matrix, root), "PGCONNECT_TIMEOUT": "3"})
        env.pop("PGPASSWORD", None)
        result = subprocess.run([str(tool), *run.argv], env=env, capture_output=True, text=True,
                                timeout=30, stdin=subprocess.DEVNULL, cwd=tempfile.gettempdir())
        stdout = result.stdout if run.argv[0] == "locate" else ""  # a dump is the database's data
        case_id = f"backup tool: {name}"
        matrix.expected[case_id] = (run.expect,)
        matrix.outputs[case_id] = {
            "exit status": f"exit {result.returncode}",
            "stderr": result.stderr,
            "stdout": stdout.replace("\0", "\n"),
        }


# ---- the checks --------------------------------------------------------------------


class PlaceholderApp:
    """Stands in for the fake app while the cases are only being named."""

    def url(self, path: str, userinfo: str = "") -> str:
        return f"http://{userinfo}127.0.0.1:1{path}"


def all_case_ids() -> list[str]:
    cases = Matrix(1, 2, 3, app=PlaceholderApp()).cases()  # type: ignore[arg-type]
    ids = [f"{case.name}/{log_format}" for case in cases for log_format in FORMATS]
    ids.append("app-process/json")
    return ids + [f"backup tool: {name}" for name in TOOL_RUNS]


@pytest.mark.parametrize("case_id", all_case_ids())
def test_no_piece_of_the_password_is_shown(matrix, case_id):
    outputs = matrix.outputs.get(case_id)
    assert outputs, f"{case_id} produced no output"
    found = {where: leaks(text, FORBIDDEN) for where, text in outputs.items()}
    found = {where: lines for where, lines in found.items() if lines}
    assert not found, f"{case_id} shows the password: " + "; ".join(
        f"{where}: {lines[0]}" for where, lines in found.items())

    # The case must really have run into its failure, or it proves nothing.
    everything = "\n".join(outputs.values())
    for text in matrix.expected[case_id]:
        assert text in everything, f"{case_id}: expected {text!r} in its outputs:\n" + "\n".join(
            f"--- {where}\n{value[:1500]}" for where, value in outputs.items())
