"""Starts and stops the caloria_exporter binary, and talks HTTP to it.

Every HTTP request has a timeout, every wait has a deadline, and the process
is always killed on stop, so a misbehaving exporter fails a test instead of
hanging the suite.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from waiting import poll_until, terminate
from postgres import APP_PASSWORD, APP_PASSWORD_ENCODED, free_port

REPO_ROOT = Path(__file__).resolve().parents[2]

# Short intervals keep the suite fast; tests derive their deadlines from these.
INTERVAL = 1.0
TIMEOUT = 1.0
SLACK = 1.5
# Longest a test waits for the exporter to notice the database went down.
DOWN_WITHIN_DEFAULT = INTERVAL + TIMEOUT + SLACK
FAST_FLAGS = ["--collector.interval=1s", "--collector.timeout=1s"]

# Variables the exporter reads from the process environment: the tests set
# them explicitly, never inherit them from whoever runs the suite.
EXPORTER_ENV_VARS = ("DATABASE_URL", "DATABASE_URL_FILE", "FLASK_ENV", "APP_ENV")


def binary_path() -> Path:
    override = os.environ.get("CALORIA_EXPORTER_BIN")
    if override:
        return Path(override)
    return REPO_ROOT / "build" / "caloria_exporter"


def out_of_scope_flags() -> list[str]:
    """Flags that switch off collectors a test does not cover.

    The backup collector is enabled by default and reports unhealthy on any
    machine without /var/backups/caloria, which would make every /health
    answer 503; tests of the database and configuration checks turn it off.
    Backup tests name --collector.backup explicitly and keep it."""
    return ["--no-collector.backup"]


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in EXPORTER_ENV_VARS}
    env.update(extra or {})
    return env


def run_once(args: list[str], env: dict[str, str] | None = None,
             cwd: str | Path | None = None, timeout: float = 10):
    """Runs the binary to completion (usage errors, --version, --help)."""
    return subprocess.run(
        [str(binary_path())] + list(args),
        env=clean_env(env),
        cwd=str(cwd) if cwd else tempfile.gettempdir(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed: float

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


# ---- Prometheus text format --------------------------------------------------

_SAMPLE_RE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)"
    r"(?:\{(?P<labels>.*)\})?"
    r"\s+(?P<value>\S+)(?:\s+(?P<ts>-?\d+))?\s*$"
)
_LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def _unescape(value: str) -> str:
    return value.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")


@dataclass
class Sample:
    name: str
    labels: dict[str, str]
    value: float


@dataclass
class Metrics:
    samples: list[Sample] = field(default_factory=list)
    text: str = field(default="", repr=False)

    def __repr__(self) -> str:  # short, for assertion messages
        return f"Metrics(<{len(self.samples)} samples>)"

    @classmethod
    def parse(cls, text: str) -> "Metrics":
        samples = []
        for line in text.splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            m = _SAMPLE_RE.match(line)
            if not m:
                raise ValueError(f"unparsable metrics line: {line!r}")
            labels = {}
            raw = m.group("labels") or ""
            pos = 0
            while pos < len(raw):
                lm = _LABEL_RE.match(raw, pos)
                if not lm:
                    raise ValueError(f"unparsable labels in line: {line!r}")
                labels[lm.group(1)] = _unescape(lm.group(2))
                pos = lm.end()
            samples.append(Sample(m.group("name"), labels, float(m.group("value"))))
        return cls(samples, text)

    def find(self, name: str, **labels: str) -> list[Sample]:
        return [
            s for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        ]

    def get(self, name: str, **labels: str) -> float | None:
        """The value of the first sample matching name and labels, or None."""
        found = self.find(name, **labels)
        return found[0].value if found else None


# ---- the process ---------------------------------------------------------------


class ExporterError(AssertionError):
    pass


class Exporter:
    def __init__(self, args: list[str] | None = None, env: dict[str, str] | None = None,
                 cwd: str | Path | None = None, fast: bool = True,
                 listen: bool = True, workdir: str | Path | None = None) -> None:
        if workdir is None:
            workdir = tempfile.mkdtemp(prefix="caloria-exporter-")
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.args = list(args or [])
        if fast:
            self.args = FAST_FLAGS + self.args
        if not any("collector.backup" in a or a.startswith("--backup.") for a in self.args):
            self.args = out_of_scope_flags() + self.args
        if listen:
            self.args.append(f"--web.listen-address=127.0.0.1:{self.port}")
        self.env = clean_env(env)
        self.cwd = Path(cwd) if cwd else self.workdir
        self.stderr_path = self.workdir / "stderr.log"
        self.stdout_path = self.workdir / "stdout.log"
        self.proc: subprocess.Popen | None = None
        self.exit_code: int | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_timeout: float = 10) -> "Exporter":
        binary = binary_path()
        if not binary.is_file():
            raise ExporterError(f"exporter binary not found at {binary}")
        with open(self.stderr_path, "wb") as err, open(self.stdout_path, "wb") as out:
            self.proc = subprocess.Popen(
                [str(binary)] + self.args,
                env=self.env,
                cwd=str(self.cwd),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        self.wait_http(ready_timeout)
        return self

    def wait_http(self, timeout: float) -> None:
        """Waits until GET /health answers with any HTTP status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ExporterError(
                    f"exporter exited with {self.proc.returncode} before serving HTTP;"
                    f" args={self.args}\nstderr:\n{self.logs()}"
                )
            try:
                self.get("/health", timeout=1)
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise ExporterError(
            f"exporter did not answer GET /health within {timeout}s\nstderr:\n{self.logs()}"
        )

    def stop(self, timeout: float = 5) -> int | None:
        if self.proc is None:
            return self.exit_code
        self.exit_code = terminate(self.proc, grace=timeout)
        self.proc = None
        return self.exit_code

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def logs(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def stdout(self) -> str:
        try:
            return self.stdout_path.read_text(errors="replace")
        except OSError:
            return ""

    # ---- HTTP ------------------------------------------------------------------

    def get(self, path: str, method: str = "GET", timeout: float = 2,
            data: bytes | None = None) -> Response:
        """One request; HTTP error statuses are returned, not raised.
        Network errors and timeouts raise OSError."""
        request = urllib.request.Request(self.base_url + path, method=method, data=data)
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=timeout) as resp:
                body = resp.read()
                status = resp.status
                headers = {k.lower(): v for k, v in resp.headers.items()}
        except urllib.error.HTTPError as e:
            body = e.read() if e.fp else b""
            status = e.code
            headers = {k.lower(): v for k, v in (e.headers or {}).items()}
        return Response(status, headers, body, time.monotonic() - started)

    def metrics(self, path: str = "/metrics") -> Metrics:
        resp = self.get(path)
        if resp.status != 200:
            raise ExporterError(f"GET {path} answered {resp.status}: {resp.text[:500]}")
        return Metrics.parse(resp.text)

    def wait_for(self, what: str, predicate, timeout: float, interval: float = 0.1):
        """Polls predicate() until it returns a truthy value; fails after timeout
        with the last value seen. Exceptions inside predicate count as 'not yet'."""
        return poll_until(
            what, predicate, timeout, interval,
            diagnostics=lambda: f"exporter stderr (tail):\n{self.logs()[-3000:]}",
            error=ExporterError, not_yet=(OSError, ValueError, KeyError, ExporterError))

    def wait_metric(self, name: str, value: float | None = None, timeout: float = 5,
                    path: str = "/metrics", **labels: str) -> Metrics:
        """Waits until the metric exists (and equals value when given)."""
        def check():
            m = self.metrics(path)
            v = m.get(name, **labels)
            if v is None:
                return None
            if value is not None and v != value:
                return None
            return m
        want = f"{name}{labels or ''}" + (f" == {value}" if value is not None else "")
        return self.wait_for(want, check, timeout)

    def wait_collected(self, timeout: float = INTERVAL + TIMEOUT + SLACK + 2) -> Metrics:
        """Waits until the database collector has finished at least one run."""
        return self.wait_metric("caloria_database_up", timeout=timeout)

    def __enter__(self) -> "Exporter":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# ---- inputs and checks shared by the tests -------------------------------------

# Every string that would give the caloria user's password away.
FORBIDDEN = (APP_PASSWORD, APP_PASSWORD_ENCODED, "S3cr3t")


def assert_no_password(text: str, where: str) -> None:
    """Fails naming the first line that shows any form of the password."""
    for secret in FORBIDDEN:
        for line in text.splitlines():
            if secret.lower() in line.lower():
                raise AssertionError(
                    f"password ({secret!r}) leaked in {where}: {line[:500]!r}")


def make_sqlite(path: Path, users: int) -> Path:
    """A Flask-SQLAlchemy-like SQLite database with `users` rows in users."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    con = sqlite3.connect(path)
    try:
        con.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)")
        con.executemany(
            "INSERT INTO users (email) VALUES (?)",
            [(f"user{i}@example.com",) for i in range(users)],
        )
        con.commit()
    finally:
        con.close()
    return path


def write_env(app: Path, **values: str) -> Path:
    """Writes <app>/.env with KEY=value lines."""
    env_file = app / ".env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return env_file
