"""The alert rules end to end, with real parts only:

    PostgreSQL -> caloria_exporter -> Prometheus (alerts/caloria.rules.yml)
               -> Alertmanager -> webhook (a small HTTP server in this test)

The exporter watches a temp backup folder holding one fresh backup made by
scripts/caloria-backup (whose log it reads too), or, without that script, by
the real pg_dump gzipped here.

Scenarios: PostgreSQL stops, CaloriaDatabaseDown reaches the webhook with its
labels and annotations, PostgreSQL starts again, the resolved notification
arrives; the latest backup becomes older than 26h (renamed and dated 30h
back), CaloriaBackupTooOld arrives, a fresh backup resolves it. Before each
scenario the healthy stack must fire nothing, and no rule may fail to
evaluate on the real exporter's metrics; after it, no other alert may have
reached the webhook.

The seed's incident (DATABASE_CONSISTENCY_SUMMARY.md) has a stack of its own:
a correct .env (PostgreSQL, FLASK_ENV=production) that the "app", a python3
process serving /health/database, never loads: restarted without it, it runs
on SQLite, holds instance/caloria.db open and signs users up into it. The
exporter probes the app (--app.health-url), looks at its process
(--app.process) and watches the fallback file; CaloriaAppDatabaseUnexpected
and CaloriaFallbackSqliteWritten reach the webhook, survive two missed scrapes
(the exporter stopped with SIGSTOP) without a "resolved", and resolve once the
app is fixed (serving POSTGRESQL; the fallback file left alone).

Shortened `for:`: real durations (2m, 5m, up to 1h) are too long for a test,
so Prometheus loads a copy of alerts/caloria.rules.yml in which every `for:`
line is replaced by `for: 5s` (SHORT_FOR) and every `keep_firing_for:` line
by `keep_firing_for: 10s` (SHORT_KEEP_FIRING_FOR). Expressions, thresholds,
labels and annotations stay exactly as in the file; promtool's unit tests
(tests/alerts/) cover the real durations.

Needs `prometheus` and `prometheus-alertmanager` (Debian packages; the test
skips, naming the package, when a binary is missing) besides what the other
integration tests need. Every wait is bounded (WAIT seconds) and every
process is stopped at teardown, also when a test fails.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from exporter import REPO_ROOT, write_env
from postgres import APP_DATABASE, APP_PASSWORD, APP_USER, free_port
from waiting import poll_until, terminate

RULES = REPO_ROOT / "alerts" / "caloria.rules.yml"
BACKUP_SCRIPT = REPO_ROOT / "scripts" / "caloria-backup"
RUNBOOKS = "https://github.com/caloria/caloria_exporter/blob/main/docs/runbooks.md"
SHORT_FOR = "5s"
SHORT_KEEP_FIRING_FOR = "10s"
WAIT = 60.0  # seconds: the longest any step may take
JOB = "caloria"


def _alertmanager_binary() -> str | None:
    for candidate in ("/usr/bin/prometheus-alertmanager",
                      shutil.which("prometheus-alertmanager"), shutil.which("alertmanager")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = _alertmanager_binary()

pytestmark = [
    pytest.mark.skipif(
        PROMETHEUS is None,
        reason="prometheus not installed (Debian package `prometheus` provides /usr/bin/prometheus)",
    ),
    pytest.mark.skipif(
        ALERTMANAGER is None,
        reason="Alertmanager not installed (Debian package `prometheus-alertmanager` provides "
        "/usr/bin/prometheus-alertmanager)",
    ),
]


def wait_until(what: str, predicate, timeout: float = WAIT, interval: float = 0.25,
               diagnostics=lambda: ""):
    """Polls predicate() until truthy; fails after timeout with the last value
    (or exception) seen and whatever diagnostics() returns."""
    return poll_until(what, predicate, timeout, interval, diagnostics=diagnostics,
                      not_yet=(OSError, ValueError, KeyError))


def http_json(url: str, timeout: float = 3):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


# ---- the webhook receiver ------------------------------------------------------


class Webhook:
    """Records every notification Alertmanager posts, in order."""

    def __init__(self) -> None:
        self.payloads: list[dict] = []
        self.lock = threading.Lock()
        webhook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = {"unparsable": body.decode("utf-8", "replace")}
                with webhook.lock:
                    webhook.payloads.append(payload)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):  # keep pytest's output clean
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/alerts"

    def alerts(self) -> list[dict]:
        """Every alert of every notification, oldest first."""
        with self.lock:
            return [a for p in self.payloads for a in p.get("alerts", [])]

    def find(self, alertname: str, status: str) -> dict | None:
        for alert in self.alerts():
            if alert["labels"].get("alertname") == alertname and alert["status"] == status:
                return alert
        return None

    def alertnames(self) -> set[str]:
        return {a["labels"].get("alertname") for a in self.alerts()}

    def dump(self) -> str:
        with self.lock:
            return json.dumps(self.payloads, indent=1)[-6000:]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


# ---- Prometheus and Alertmanager -------------------------------------------------


class Process:
    """A server binary in its own session, logs in a file, always stopped."""

    def __init__(self, name: str, argv: list[str], workdir: Path) -> None:
        self.name = name
        self.argv = argv
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Process":
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def check_running(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            raise AssertionError(
                f"{self.name} exited ({self.proc.returncode if self.proc else 'never started'})"
                f"\nargv: {self.argv}\nlog:\n{self.logs()}"
            )

    def wait_ready(self, url: str, timeout: float = WAIT) -> None:
        def ready():
            self.check_running()
            with urllib.request.urlopen(url, timeout=1) as resp:
                return resp.status == 200
        wait_until(f"{self.name} ready at {url}", ready, timeout, diagnostics=self.logs)

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc)

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no log)"


def shortened_rules(dest: Path) -> Path:
    """A copy of the rules with every `for:` set to SHORT_FOR and every
    `keep_firing_for:` to SHORT_KEEP_FIRING_FOR (see the module docstring);
    everything else byte for byte the same."""
    text = RULES.read_text()
    alerts = len(re.findall(r"(?m)^\s*- alert:", text))
    short, replaced = re.subn(r"(?m)^(\s*)for:\s*\S+\s*$", rf"\g<1>for: {SHORT_FOR}", text)
    assert alerts > 0 and replaced == alerts, (
        f"expected one `for:` line per alert ({alerts}), replaced {replaced}"
    )
    keeps = sum("keep_firing_for:" in line for line in text.splitlines()
                if not line.lstrip().startswith("#"))
    short, replaced = re.subn(r"(?m)^(\s*)keep_firing_for:\s*\S+\s*$",
                              rf"\g<1>keep_firing_for: {SHORT_KEEP_FIRING_FOR}", short)
    assert keeps > 0 and replaced == keeps, (
        f"expected every `keep_firing_for:` ({keeps}) on a line of its own, replaced {replaced}"
    )
    dest.write_text(short)
    return dest


# ---- backups ------------------------------------------------------------------------


def backup_name(when: dt.datetime) -> str:
    # The backup script's naming: local time, as `date +%Y%m%d_%H%M%S`; the
    # exporter reads the name's timestamp as local time too.
    return f"caloria_{when:%Y%m%d_%H%M%S}.sql.gz"


def make_backup(pg, backup_dir: Path, log: Path) -> Path:
    """A fresh, complete, gzipped plain-SQL dump of the app's database.

    Made by scripts/caloria-backup (which also logs its SUCCESS line to
    `log`) when the repository has it; else by the real pg_dump, gzipped
    here, named as the script names its backups."""
    if os.access(BACKUP_SCRIPT, os.X_OK):
        env = dict(os.environ, DATABASE_URL=pg.url())
        env.pop("DATABASE_URL_FILE", None)
        result = subprocess.run(
            [str(BACKUP_SCRIPT), "--dir", str(backup_dir), "--log", str(log)],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, env=env,
        )
        assert result.returncode == 0, f"caloria-backup failed: {result.stderr}"
        made = re.search(r" SUCCESS file=(.+?) size=\d+ users=3$", result.stderr, re.M)
        assert made, f"caloria-backup logged no SUCCESS with 3 users: {result.stderr}"
        return Path(made.group(1))

    pg_dump = pg.bindir / "pg_dump"
    if not pg_dump.is_file():
        pg_dump = Path(shutil.which("pg_dump") or "pg_dump")
    env = dict(os.environ, PGPASSWORD=APP_PASSWORD, PGCONNECT_TIMEOUT="5")
    result = subprocess.run(
        [str(pg_dump), "-h", pg.host, "-p", str(pg.port), "-U", APP_USER, "-d", APP_DATABASE],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60, env=env,
    )
    assert result.returncode == 0, f"pg_dump failed: {result.stderr.decode(errors='replace')}"
    assert b"-- PostgreSQL database dump complete" in result.stdout
    target = backup_dir / backup_name(dt.datetime.now())
    partial = backup_dir / f".{target.name}.tmp"  # outside the pattern until complete
    with gzip.open(partial, "wb") as out:
        out.write(result.stdout)
    os.replace(partial, target)
    return target


def age_backup(path: Path, when: dt.datetime) -> Path:
    """The same backup, renamed and dated as if made at `when`."""
    target = path.with_name(backup_name(when))
    os.replace(path, target)
    stamp = when.timestamp()
    os.utime(target, (stamp, stamp))
    return target


# ---- the whole stack ------------------------------------------------------------------


class Stack:
    """The exporter, Prometheus with the (shortened) rules, Alertmanager and the
    webhook. `healthy` maps PromQL selectors (a `count(...)` taken as is, else
    restricted to the job) to the single value each has when all is well;
    `pages` are the exporter's health pages shown when a wait fails."""

    def __init__(self, exporter, webhook: Webhook, prometheus: Process, prometheus_url: str,
                 healthy: dict[str, float], pages: tuple[str, ...]) -> None:
        self.exporter = exporter
        self.webhook = webhook
        self.prometheus = prometheus
        self.prometheus_url = prometheus_url
        self.healthy = healthy
        self.pages = pages

    @property
    def instance(self) -> str:
        return f"127.0.0.1:{self.exporter.port}"

    def query(self, expr: str) -> list[dict]:
        url = f"{self.prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        return http_json(url)["data"]["result"]

    def prometheus_alerts(self) -> list[dict]:
        return http_json(f"{self.prometheus_url}/api/v1/alerts")["data"]["alerts"]

    def rules(self) -> list[dict]:
        groups = http_json(f"{self.prometheus_url}/api/v1/rules")["data"]["groups"]
        return [rule for group in groups for rule in group["rules"]]

    def diagnostics(self) -> str:
        try:
            alerts = json.dumps(self.prometheus_alerts(), indent=1)[-3000:]
        except OSError as e:
            alerts = repr(e)
        pages = []
        for page in self.pages:
            try:
                pages.append(f"exporter {page}: {self.exporter.get(page).text[:1500]}")
            except OSError as e:
                pages.append(f"exporter {page}: {e!r}")
        return (f"Prometheus alerts: {alerts}\nwebhook received: {self.webhook.dump()}\n"
                + "\n".join(pages))

    def wait_healthy_and_silent(self) -> None:
        """The real exporter's healthy output, evaluated by every rule for
        longer than SHORT_FOR: no alert firing or pending, no rule failing,
        nothing sent to the webhook."""
        def scraped():
            for expr, value in self.healthy.items():
                got = self.query(expr if expr.startswith("count(") else f'{expr}{{job="{JOB}"}}')
                if [float(s["value"][1]) for s in got] != [value]:
                    return False
            return True
        wait_until("Prometheus to scrape a healthy exporter", scraped,
                   diagnostics=self.diagnostics)
        time.sleep(float(SHORT_FOR.rstrip("s")) + 3)
        self.assert_rules_healthy()
        assert self.prometheus_alerts() == [], (
            f"alerts on a healthy stack:\n{self.diagnostics()}")
        assert self.webhook.alerts() == [], f"notifications on a healthy stack:\n{self.diagnostics()}"

    def assert_rules_healthy(self) -> None:
        """Every rule of the file loaded, and none fails on the real metrics."""
        rules = self.rules()
        assert len(rules) == len(re.findall(r"(?m)^\s*- (alert|record):", RULES.read_text()))
        unhealthy = [(r["name"], r.get("health"), r.get("lastError")) for r in rules
                     if r.get("health") != "ok"]
        assert not unhealthy, f"rules failing on real metrics: {unhealthy}"

    def wait_notification(self, alertname: str, status: str) -> dict:
        return wait_until(
            f"a {status} {alertname} notification at the webhook",
            lambda: self.webhook.find(alertname, status), diagnostics=self.diagnostics,
        )

    def assert_alert(self, alert: dict, alertname: str, severity: str) -> None:
        """The labels and annotations every Caloria alert must carry."""
        labels = alert["labels"]
        assert labels.get("alertname") == alertname, labels
        assert labels.get("severity") == severity, labels
        assert labels.get("job") == JOB, labels
        assert labels.get("instance") == self.instance, labels
        annotations = alert["annotations"]
        assert annotations.get("runbook_url") == f"{RUNBOOKS}#{alertname.lower()}", annotations
        assert annotations.get("summary"), annotations
        assert self.instance in annotations.get("description", ""), annotations
        assert "{{" not in json.dumps(annotations), f"unexpanded template: {annotations}"


@contextlib.contextmanager
def alerting_stack(exporter, tmp_path: Path, healthy: dict[str, float],
                   pages: tuple[str, ...]):
    """Alertmanager (posting to a Webhook) and Prometheus (scraping `exporter`
    every second with the shortened rules), both stopped on exit."""
    webhook = Webhook()
    processes: list[Process] = []
    try:
        am_port = free_port()
        am_dir = tmp_path / "alertmanager"
        am_dir.mkdir()
        am_config = am_dir / "alertmanager.yml"
        # JSON is YAML: no YAML library needed.
        am_config.write_text(json.dumps({
            "route": {
                "receiver": "webhook",
                "group_by": ["alertname", "instance"],
                "group_wait": "1s",
                "group_interval": "1s",
                "repeat_interval": "1h",
            },
            "receivers": [{
                "name": "webhook",
                "webhook_configs": [{"url": webhook.url, "send_resolved": True}],
            }],
        }, indent=1))
        alertmanager = Process("alertmanager", [
            ALERTMANAGER,
            f"--config.file={am_config}",
            f"--storage.path={am_dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
            "--log.level=debug",
        ], tmp_path)
        processes.append(alertmanager.start())
        alertmanager.wait_ready(f"http://127.0.0.1:{am_port}/-/ready")

        prom_port = free_port()
        prom_dir = tmp_path / "prometheus"
        prom_dir.mkdir()
        rules = shortened_rules(prom_dir / "caloria.rules.yml")
        prom_config = prom_dir / "prometheus.yml"

        def write_prometheus_config(rule_files: list[str]) -> None:
            prom_config.write_text(json.dumps({
                "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                           "evaluation_interval": "1s"},
                "rule_files": rule_files,
                "alerting": {"alertmanagers": [
                    {"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
                "scrape_configs": [{
                    "job_name": JOB,
                    "static_configs": [{"targets": [f"127.0.0.1:{exporter.port}"]}],
                }],
            }, indent=1))

        # Prometheus hands new targets to the scrapers only every 5 seconds, so
        # its first scrape comes up to ~5s after start, while rules evaluate at
        # once: with SHORT_FOR, CaloriaExporterAbsent would fire at every start.
        # So it starts without rules, and gets them (SIGHUP reloads the
        # configuration) once the exporter has been scraped.
        write_prometheus_config([])
        prometheus = Process("prometheus", [
            PROMETHEUS,
            f"--config.file={prom_config}",
            f"--storage.tsdb.path={prom_dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ], tmp_path)
        processes.append(prometheus.start())
        prometheus_url = f"http://127.0.0.1:{prom_port}"
        prometheus.wait_ready(f"{prometheus_url}/-/ready")

        def query(expr: str) -> list:
            url = f"{prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
            return http_json(url)["data"]["result"]

        wait_until("Prometheus' first scrape of the exporter",
                   lambda: query(f'up{{job="{JOB}"}} == 1'), diagnostics=prometheus.logs)
        write_prometheus_config([str(rules)])
        prometheus.proc.send_signal(signal.SIGHUP)
        rule_count = len(re.findall(r"(?m)^\s*- (alert|record):", rules.read_text()))

        def rules_loaded():
            prometheus.check_running()
            groups = http_json(f"{prometheus_url}/api/v1/rules")["data"]["groups"]
            return sum(len(g["rules"]) for g in groups) == rule_count
        wait_until("Prometheus to load the rules", rules_loaded, diagnostics=prometheus.logs)

        yield Stack(exporter, webhook, prometheus, prometheus_url, healthy, pages)
    finally:
        for process in reversed(processes):
            process.stop()
        webhook.close()
        for process in processes:
            print(f"--- {process.name} log (tail) ---\n{process.logs()}")


@pytest.fixture
def stack(pg, start_exporter, tmp_path):
    backup_dir = tmp_path / "backups"
    backup_dir.mkdir()
    backup_log = tmp_path / "backup.log"
    backup = make_backup(pg, backup_dir, backup_log)
    args = ["--collector.backup", f"--backup.dir={backup_dir}"]
    if backup_log.exists():  # written by scripts/caloria-backup
        args.append(f"--backup.log={backup_log}")
    exporter = start_exporter(
        # The helper adds --collector.interval=1s --collector.timeout=1s, and
        # --no-collector.backup unless a collector.backup flag is given.
        args=args,
        env={"DATABASE_URL": pg.url()},
    )
    healthy = {
        "caloria_database_up": 1,
        "caloria_database_users": 3,
        "caloria_backup_latest_verified": 1,
        "caloria_backup_latest_users": 3,
    }
    if backup_log.exists():
        healthy["count(caloria_backup_log_last_success_timestamp_seconds)"] = 1
    with alerting_stack(exporter, tmp_path, healthy, ("/health/backup",)) as alerting:
        alerting.pg = pg
        alerting.backup_dir = backup_dir
        alerting.backup = backup
        alerting.backup_log = backup_log
        yield alerting


# ---- scenarios ------------------------------------------------------------------------


def test_database_down_alert_reaches_the_webhook_and_resolves(stack):
    stack.wait_healthy_and_silent()

    stack.pg.stop()
    firing = stack.wait_notification("CaloriaDatabaseDown", "firing")
    stack.assert_alert(firing, "CaloriaDatabaseDown", "critical")
    assert firing["annotations"]["summary"] == (
        f"Caloria database unreachable from {stack.instance}")
    description = firing["annotations"]["description"]
    assert description.startswith(
        f"The exporter {stack.instance} (job {JOB}) has failed to connect to the Caloria "
        "app's database for more than 2 minutes; the last successful poll was "), description
    # humanizeDuration: "7.192s" under a minute (only with the shortened `for:`), else "2m 7s".
    assert re.search(r"the last successful poll was (\d+m \d+|[\d.]+)s ago\. ", description), (
        description)

    stack.pg.start()
    resolved = stack.wait_notification("CaloriaDatabaseDown", "resolved")
    stack.assert_alert(resolved, "CaloriaDatabaseDown", "critical")
    assert resolved["labels"] == firing["labels"]
    # The outage made this alert, and only this one, reach the receiver.
    assert stack.webhook.alertnames() == {"CaloriaDatabaseDown"}, stack.webhook.dump()


def test_stale_backup_alert_reaches_the_webhook_and_resolves(stack):
    stack.wait_healthy_and_silent()

    # The only backup is now one made 30 hours ago: the nightly job "missed" a run.
    made = dt.datetime.now() - dt.timedelta(hours=30)
    age_backup(stack.backup, made)
    firing = stack.wait_notification("CaloriaBackupTooOld", "firing")
    stack.assert_alert(firing, "CaloriaBackupTooOld", "critical")
    annotations = firing["annotations"]
    assert re.fullmatch(
        rf"Latest Caloria backup on {re.escape(stack.instance)} is 1d 6h \d+m \d+s old",
        annotations["summary"]), annotations
    assert re.fullmatch(
        rf"The newest backup seen by {re.escape(stack.instance)} was made 1d 6h \d+m \d+s ago, "
        r"more than 26h: the daily backup \(cron, 2 AM\) has not run or has failed\. "
        r"A restore now would lose everything since then\.",
        annotations["description"]), annotations

    # The fix: a fresh backup.
    make_backup(stack.pg, stack.backup_dir, stack.backup_log)
    resolved = stack.wait_notification("CaloriaBackupTooOld", "resolved")
    stack.assert_alert(resolved, "CaloriaBackupTooOld", "critical")
    assert resolved["labels"] == firing["labels"]
    health = stack.exporter.get("/health/backup").json()
    assert health["status"] == "healthy" and health["files"] == 2, health
    assert stack.webhook.alertnames() == {"CaloriaBackupTooOld"}, stack.webhook.dump()


# ---- the seed's incident ----------------------------------------------------------------

# Debian's interpreter, as the other process tests use.
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else "python3"
# The fallback file counts as written this long after its last change (1h in
# production): short, so that the fixed app's alerts resolve within the test.
RECENT_WINDOW = "5s"
INCIDENT_PAGES = ("/health/consistency", "/health/app", "/health/app_process",
                  "/health/fallback_sqlite")
INCIDENT_ALERTS = {"CaloriaAppDatabaseUnexpected", "CaloriaFallbackSqliteWritten"}

# The Caloria app, as far as the exporter can tell: /health/database in the
# seed's format, a database it holds on to, and (on SQLite) sign-ups.
# argv: marker, port, mode (sqlite | postgresql), the SQLite file or
# PostgreSQL's host:port, the user count to report on PostgreSQL.
APP = r"""
import datetime, http.server, json, socket, sqlite3, sys, threading, time
_, port, mode, database, pg_users = sys.argv[1:6]
if mode == "sqlite":
    # What Flask-SQLAlchemy does without DATABASE_URL: sqlite:///caloria.db,
    # created on first use; the app keeps a connection open.
    con = sqlite3.connect(database)
    con.execute("CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, email TEXT)")
    con.commit()
    def users():
        reader = sqlite3.connect(database, timeout=5)
        try:
            return reader.execute("SELECT count(*) FROM users").fetchone()[0]
        finally:
            reader.close()
else:
    host, pg_port = database.rsplit(":", 1)
    held = socket.create_connection((host, int(pg_port)), timeout=5)
    def users():
        return int(pg_users)

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/health/database":
            self.send_error(404)
            return
        body = json.dumps({"database": mode.upper(), "status": "healthy",
                           "timestamp": datetime.datetime.now().isoformat(),
                           "user_count": users()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
server.daemon_threads = True
threading.Thread(target=server.serve_forever, daemon=True).start()
print("ready", flush=True)
signups = 0
deadline = time.monotonic() + 300  # bounded, should the test forget it
while time.monotonic() < deadline:
    if mode == "sqlite":  # someone signs up every second, into the wrong database
        signups += 1
        con.execute("INSERT INTO users (email) VALUES (?)", (f"signup{signups}@example.com",))
        con.commit()
    time.sleep(1)
"""


def dashboard_expr(title: str) -> str:
    """The query of the overview dashboard's panel `title`, for every job,
    instance and target (what Grafana sends for "All")."""
    dashboard = json.loads((REPO_ROOT / "dashboards" / "caloria-overview.json").read_text())
    [panel] = [p for p in dashboard["panels"] if p.get("title") == title and p.get("targets")]
    return panel["targets"][0]["expr"].replace("$job", ".+").replace("$instance", ".+").replace("$target", ".*")


class IncidentApp:
    """The app's processes, one at a time, under one marker (the --app.process
    pattern) and one port (the --app.health-url), as gunicorn restarted by
    systemd would be."""

    def __init__(self, app_dir: Path, pg) -> None:
        self.app_dir = app_dir
        self.pg = pg
        self.marker = f"caloria-e2e-app-{uuid.uuid4().hex[:12]}"
        self.port = free_port()
        self.fallback = app_dir / "instance" / "caloria.db"
        self.proc: subprocess.Popen | None = None

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health/database"

    def start(self, mode: str) -> None:
        """mode `postgresql`: started with the .env's DATABASE_URL (as systemd's
        EnvironmentFile= gives it), connected to PostgreSQL, reporting its 3
        users. mode `sqlite`: started without it: SQLite."""
        env = {"PATH": "/usr/bin:/bin"}
        if mode == "postgresql":
            env["DATABASE_URL"] = self.pg.url()
            database = f"{self.pg.host}:{self.pg.port}"
        else:
            database = str(self.fallback)
        self.proc = subprocess.Popen(
            [PYTHON, "-c", APP, self.marker, str(self.port), mode, database, "3"],
            env=env, cwd=str(self.app_dir), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        line = self.proc.stdout.readline()  # bounded: it prints at once or dies
        if line.strip() != "ready":
            terminate(self.proc, grace=2)
            raise AssertionError(f"the {mode} app did not start: {line!r} {self.proc.stderr.read()}")

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc, grace=2)
            self.proc.stdout.close()
            self.proc.stderr.close()
            self.proc = None

    def restart(self, mode: str) -> None:
        self.stop()
        self.start(mode)


@pytest.fixture
def incident(pg, app_dir, start_exporter, tmp_path):
    """The seed's set-up: a correct .env (PostgreSQL, FLASK_ENV=production), the
    app running as it should (on PostgreSQL) to begin with, the exporter
    probing it, watching its process and its fallback file, and the alerting
    stack. The test breaks and fixes the app."""
    env_file = write_env(app_dir, DATABASE_URL=pg.url(), FLASK_ENV="production")
    app = IncidentApp(app_dir, pg)
    try:
        app.start("postgresql")
        exporter = start_exporter(args=[
            f"--app.env-file={env_file}",
            f"--app.health-url={app.health_url}",
            f"--app.process={app.marker}",
            f"--fallback.recent-window={RECENT_WINDOW}",
        ])
        healthy = {
            "caloria_database_up": 1,
            "caloria_database_users": 3,
            "caloria_app_up": 1,
            "caloria_app_users": 3,
            f'count(caloria_app_database_info{{job="{JOB}",type="postgresql"}})': 1,
            "caloria_app_process_up": 1,
            "caloria_fallback_sqlite_exists": 0,
        }
        with alerting_stack(exporter, tmp_path, healthy, INCIDENT_PAGES) as stack:
            stack.app = app
            yield stack
    finally:
        app.stop()


def test_the_seed_incident_reaches_the_webhook_and_resolves_when_the_app_is_fixed(incident):
    stack = incident
    fallback = stack.app.fallback
    stack.wait_healthy_and_silent()

    # The app is restarted without its .env: SQLite, users signing up into
    # instance/caloria.db, while the exporter (reading the .env) sees PostgreSQL.
    stack.app.restart("sqlite")
    unexpected = stack.wait_notification("CaloriaAppDatabaseUnexpected", "firing")
    stack.assert_alert(unexpected, "CaloriaAppDatabaseUnexpected", "critical")
    assert unexpected["labels"]["check"] == "app_database_unexpected", unexpected
    annotations = unexpected["annotations"]
    assert annotations["summary"] == (
        f"Caloria app behind {stack.instance} runs on sqlite, not on its configured database")
    assert annotations["description"] == (
        f"The running Caloria app behind {stack.instance} uses another database than the one "
        "it should use (postgresql configured, postgresql expected); its health page says "
        f"sqlite; its process holds {os.path.realpath(fallback)} open. It did not load "
        "DATABASE_URL: users who sign up now are written to the wrong database, and the real "
        "one looks empty to the app. /health/consistency gives the evidence."), annotations

    written = stack.wait_notification("CaloriaFallbackSqliteWritten", "firing")
    stack.assert_alert(written, "CaloriaFallbackSqliteWritten", "critical")
    assert written["labels"]["check"] == "fallback_sqlite_written", written
    annotations = written["annotations"]
    assert annotations["summary"] == (
        f"Caloria app behind {stack.instance} is writing to its SQLite fallback file {fallback}")
    assert re.fullmatch(
        rf"PostgreSQL is expected behind {re.escape(stack.instance)}, yet the SQLite file the "
        r"app falls back to without DATABASE_URL is being written: it holds \d+ users, last "
        r"modified \S+ ago\. The app runs on SQLite: whoever signed up since is missing from "
        r"PostgreSQL\. /health/fallback_sqlite says why the file counts as written\.",
        annotations["description"]), annotations
    consistency = stack.exporter.get("/health/consistency")
    assert consistency.status == 503, consistency.text
    # The dashboard's "App database" panel shows it too: red (1), with the types.
    [sample] = stack.query(dashboard_expr("App database"))
    assert {k: sample["metric"].get(k) for k in ("type", "database_type", "expected_type")} == {
        "type": "sqlite", "database_type": "postgresql", "expected_type": "postgresql"}, sample
    assert sample["value"][1] == "1", sample

    # Two missed scrapes: the exporter frozen for a moment. Every series of the
    # target goes stale, the alerts' expressions come back empty, and
    # keep_firing_for must keep them firing: no "resolved" in mid-incident.
    problem = f'caloria_config_problem{{job="{JOB}",check="app_database_unexpected"}}'
    os.kill(stack.exporter.pid(), signal.SIGSTOP)
    try:
        wait_until("a missed scrape, and the problem series stale",
                   lambda: stack.query(f'up{{job="{JOB}"}} == 0') and not stack.query(problem),
                   timeout=10, diagnostics=stack.diagnostics)
        kept = {a["labels"]["alertname"]: a["state"] for a in stack.prometheus_alerts()}
        time.sleep(0.5)
    finally:
        os.kill(stack.exporter.pid(), signal.SIGCONT)
    assert {name: kept.get(name) for name in INCIDENT_ALERTS} == dict.fromkeys(
        INCIDENT_ALERTS, "firing"), kept
    wait_until("the exporter scraped again, the problem back",
               lambda: stack.query(f'up{{job="{JOB}"}} == 1') and stack.query(problem),
               diagnostics=stack.diagnostics)
    time.sleep(3)  # Alertmanager's group_interval is 1s: a resolved would be here by now
    for name in INCIDENT_ALERTS:
        assert stack.webhook.find(name, "resolved") is None, (
            f"{name} resolved after a missed scrape:\n{stack.diagnostics()}")

    # The fix: the app restarted with its .env, on PostgreSQL. The fallback file
    # is left alone (its users are to be moved over by hand, see the runbook).
    stack.app.restart("postgresql")
    fixed_at = time.monotonic()
    for name in sorted(INCIDENT_ALERTS):
        resolved = stack.wait_notification(name, "resolved")
        stack.assert_alert(resolved, name, "critical")
        assert resolved["labels"] == (unexpected if name == "CaloriaAppDatabaseUnexpected"
                                      else written)["labels"]
    # Not before keep_firing_for has passed since the fix took effect.
    assert time.monotonic() - fixed_at >= float(SHORT_KEEP_FIRING_FOR.rstrip("s")), (
        stack.webhook.dump())
    assert fallback.exists()
    health = stack.exporter.get("/health/consistency").json()
    assert health["status"] == "healthy", health
    stack.assert_rules_healthy()
    firing = [a for a in stack.prometheus_alerts() if a["state"] == "firing"]
    assert firing == [], f"still firing after the fix:\n{stack.diagnostics()}"
    # The incident's alerts, and only they, reached the receiver: not the users
    # differing (the app on another database says more), not the app probe or
    # process view blinking during the restarts, not the exporter frozen.
    assert stack.webhook.alertnames() == INCIDENT_ALERTS, stack.webhook.dump()
