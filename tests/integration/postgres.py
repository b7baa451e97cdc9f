"""A throwaway PostgreSQL server for the integration tests.

Real PostgreSQL (Debian's packages), started with initdb/pg_ctl into a
temporary directory, listening only on 127.0.0.1 on a free port, with its
unix socket inside the temporary directory and password (scram-sha-256)
authentication everywhere, so the exporter really has to log in.

initdb refuses to run as root: when the tests run as root, every server
binary runs as the `postgres` system user through `runuser`, and the
temporary directory is handed over to that user.

Every subprocess call has a timeout and every wait has a deadline, so a
broken server makes a test fail, never hang.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

APP_USER = "caloria"
APP_PASSWORD = "S3cr3t:P@ss/w%rd!"
# The same password percent-encoded for a URL, as SQLAlchemy's URL.create()
# and urllib.parse.quote(safe="") write it.
APP_PASSWORD_ENCODED = "S3cr3t%3AP%40ss%2Fw%25rd%21"
APP_DATABASE = "caloria"
SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "pg-superuser-Zq7"

SEED_EMAILS = ("ada@example.com", "grace@example.com", "linus@example.com")

COMMAND_TIMEOUT = 30  # seconds, for initdb, pg_ctl and psql


class PostgresError(RuntimeError):
    pass


def find_bindir() -> Path:
    """The directory holding initdb, pg_ctl and postgres."""
    override = os.environ.get("CALORIA_PG_BINDIR")
    candidates = [override] if override else []
    try:
        out = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, timeout=10
        )
        if out.returncode == 0:
            candidates.append(out.stdout.strip())
    except (OSError, subprocess.TimeoutExpired):
        pass
    # Debian's pg_config (from libpq-dev) may point at /usr/bin, which has
    # psql but not initdb: prefer the server's own directory, newest first.
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
        reverse=True,
    )
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").is_file() and (
            Path(candidate) / "pg_ctl"
        ).is_file():
            return Path(candidate)
    raise PostgresError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: "
        "install Debian's postgresql package (apt-get install postgresql)"
    )


_HANDED_OUT: set[int] = set()
_HANDED_OUT_LOCK = threading.Lock()


def free_port() -> int:
    """A port free now and never handed out before in this test run: the
    kernel may give a port just closed to the next bind(0), and two servers
    started side by side (the secrets matrix) would then race for it, the
    loser's test reading the winner's pages."""
    with _HANDED_OUT_LOCK:
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            if port not in _HANDED_OUT:
                _HANDED_OUT.add(port)
                return port


def _children_of(pid: int) -> list[int]:
    """Direct children of pid, read from /proc."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "r") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            children.append(int(entry))
    return children


class PostgresServer:
    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="caloria-pg-"))
        self.datadir = self.root / "data"
        self.sockdir = self.root  # the unix socket lives in the temp dir
        self.logfile = self.root / "postgres.log"
        self.port = free_port()
        self.host = "127.0.0.1"
        self.paused = False
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, user="postgres", group="postgres")
        os.chmod(self.root, 0o700)

    # ---- running server binaries -------------------------------------------

    def _run(self, argv: list[str], timeout: float = COMMAND_TIMEOUT, **kw):
        if self.as_postgres:
            argv = ["runuser", "-u", "postgres", "--"] + argv
        try:
            result = subprocess.run(
                argv,
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                **kw,
            )
        except subprocess.TimeoutExpired as e:
            raise PostgresError(f"{argv!r} timed out after {timeout}s") from e
        if result.returncode != 0:
            raise PostgresError(
                f"{argv!r} exited {result.returncode}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}\n"
                f"server log:\n{self.server_log()}"
            )
        return result

    def server_log(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no server log)"

    # ---- lifecycle ------------------------------------------------------------

    def init(self) -> None:
        pwfile = self.root / "superuser.pw"
        pwfile.write_text(SUPERUSER_PASSWORD + "\n")
        if self.as_postgres:
            shutil.chown(pwfile, user="postgres", group="postgres")
        os.chmod(pwfile, 0o600)
        self._run(
            [
                str(self.bindir / "initdb"),
                "-D", str(self.datadir),
                "-U", SUPERUSER,
                "-A", "scram-sha-256",
                f"--pwfile={pwfile}",
                "-E", "UTF8",
                "--no-instructions",
                "--no-sync",
            ],
            timeout=120,
        )
        pwfile.unlink()

    def start(self) -> None:
        """Starts the server (again) on the same port; waits until it accepts."""
        options = (
            f"-p {self.port} -k {self.sockdir} "
            f"-c listen_addresses={self.host} -c fsync=off "
            f"-c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            [
                str(self.bindir / "pg_ctl"),
                "-D", str(self.datadir),
                "-l", str(self.logfile),
                "-o", options,
                "-w", "-t", str(COMMAND_TIMEOUT),
                "start",
            ],
            timeout=COMMAND_TIMEOUT + 10,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                self.sql("SELECT 1", database="postgres")
                return
            except PostgresError as e:
                last = e
                time.sleep(0.2)
        raise PostgresError(f"PostgreSQL not ready after {timeout}s: {last}")

    def stop(self, mode: str = "fast") -> None:
        if self.paused:
            self.resume()
        self._run(
            [
                str(self.bindir / "pg_ctl"),
                "-D", str(self.datadir),
                "-m", mode,
                "-w", "-t", str(COMMAND_TIMEOUT),
                "stop",
            ],
            timeout=COMMAND_TIMEOUT + 10,
        )

    def is_running(self) -> bool:
        return self.postmaster_pid() is not None

    def postmaster_pid(self) -> int | None:
        try:
            first = (self.datadir / "postmaster.pid").read_text().splitlines()[0]
            pid = int(first)
        except (OSError, ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return pid

    def pause(self) -> None:
        """SIGSTOP the postmaster and all its children: the kernel still
        accepts TCP connections on the listen socket, but nothing answers."""
        pid = self.postmaster_pid()
        if pid is None:
            raise PostgresError("cannot pause: PostgreSQL is not running")
        os.kill(pid, signal.SIGSTOP)  # first, so it forks no new child
        self.paused = True
        for child in _children_of(pid):
            try:
                os.kill(child, signal.SIGSTOP)
            except ProcessLookupError:
                pass

    def resume(self) -> None:
        pid = self.postmaster_pid()
        if pid is not None:
            for child in _children_of(pid):
                try:
                    os.kill(child, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self.paused = False

    def ensure_running(self) -> None:
        if self.paused:
            self.resume()
        if not self.is_running():
            self.start()
        self.wait_ready()

    def destroy(self) -> None:
        """Tears everything down, whatever state the server is in."""
        try:
            self.resume()
            if self.is_running():
                try:
                    self.stop(mode="immediate")
                except PostgresError:
                    pid = self.postmaster_pid()
                    if pid is not None:
                        for child in _children_of(pid):
                            try:
                                os.kill(child, signal.SIGKILL)
                            except ProcessLookupError:
                                pass
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    # ---- SQL -------------------------------------------------------------------

    def sql(self, statement: str, database: str = APP_DATABASE) -> str:
        """Runs SQL as the superuser over the unix socket; returns psql -At output."""
        env = dict(os.environ)
        env.update(
            PGPASSWORD=SUPERUSER_PASSWORD,
            PGCONNECT_TIMEOUT="5",
            PGAPPNAME="caloria-tests",
        )
        env.pop("PGSERVICE", None)
        psql = shutil.which("psql") or str(self.bindir / "psql")
        argv = [
            psql,
            "-X", "-q", "-At",
            "-v", "ON_ERROR_STOP=1",
            "-h", str(self.sockdir),
            "-p", str(self.port),
            "-U", SUPERUSER,
            "-d", database,
            "-c", statement,
        ]
        try:
            result = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=15,
                env=env,
            )
        except subprocess.TimeoutExpired as e:
            raise PostgresError(f"psql timed out running {statement!r}") from e
        if result.returncode != 0:
            raise PostgresError(
                f"psql failed ({result.returncode}) running {statement!r}: "
                f"{result.stderr.strip()}"
            )
        return result.stdout.strip()

    def create_app_database(self) -> None:
        pw = APP_PASSWORD.replace("'", "''")
        self.sql(f"CREATE ROLE {APP_USER} LOGIN PASSWORD '{pw}'", database="postgres")
        self.sql(f"CREATE DATABASE {APP_DATABASE} OWNER {APP_USER}", database="postgres")
        self.sql(
            "CREATE TABLE users (id serial PRIMARY KEY, email text);"
            f"ALTER TABLE users OWNER TO {APP_USER};"
        )
        self.reset_users()

    def reset_users(self) -> None:
        """Exactly the three seed users again."""
        values = ", ".join(f"('{e}')" for e in SEED_EMAILS)
        self.sql(f"TRUNCATE users RESTART IDENTITY; INSERT INTO users (email) VALUES {values}")

    # ---- URLs ------------------------------------------------------------------

    def url(self, password: str = APP_PASSWORD_ENCODED) -> str:
        return (
            f"postgresql://{APP_USER}:{password}@{self.host}:{self.port}/{APP_DATABASE}"
        )


def start_server() -> PostgresServer:
    server = PostgresServer()
    try:
        server.init()
        server.start()
        server.create_app_database()
    except BaseException:
        server.destroy()
        raise
    return server
