"""Every query of every dashboard in dashboards/ runs against a real Prometheus that
scrapes the real exporter, and returns data.

The stack, torn down whatever happens:
- the session's PostgreSQL (conftest.py) with its three users;
- a backup folder holding two valid backups and the backup log: made by
  scripts/caloria-backup when it exists, else gzipped `pg_dump` output of that
  database and log lines in the script's format;
- a stand-in for the running app's health page (fake_app.py, answering as the seed's
  app does: POSTGRESQL, 3 users), probed with --app.health-url;
- the SQLite file the app falls back to, left from a past incident (3 users, last
  written 3 hours ago), watched with --fallback.sqlite-path;
- the restore test's state, left by scripts/caloria-restore-test restoring the
  newest backup into a scratch database on the same server;
- the exporter on all of these (--backup.dir, --backup.log, --app.health-url,
  --restore.state-file,
  --fallback.sqlite-path);
- Debian's `prometheus` with a temporary config (job "caloria", 1s scrape interval)
  and temporary storage, on a free 127.0.0.1 port.

Grafana's variables are substituted the way Grafana does for this data source
($job -> caloria, $instance -> the regex-escaped target, or both -> .+ for "All";
$__rate_interval -> 1m, $__range -> 1m, ...), then each expression goes to
/api/v1/query. A query that errors or returns no series fails, naming the panel.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

import exporter as exporter_mod
from fake_app import SEED_ANSWER, FakeApp, json_reply
from postgres import SUPERUSER, SUPERUSER_PASSWORD, free_port
from waiting import poll_until, terminate

REPO_ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = REPO_ROOT / "dashboards"
BACKUP_SCRIPT = REPO_ROOT / "scripts" / "caloria-backup"
RESTORE_SCRIPT = REPO_ROOT / "scripts" / "caloria-restore-test"
JOB = "caloria"

PROMETHEUS_READY_TIMEOUT = 30
SCRAPES_WANTED = 3
SCRAPES_TIMEOUT = 30
VERIFIED_TIMEOUT = 30
HTTP_TIMEOUT = 5

# Values Grafana would put in for its global variables; the dashboards only need
# them to be valid here.
GLOBALS = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "1m",
    "__range_s": "60",
    "__range_ms": "60000",
}
VARIABLE_RE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


def prometheus_regex_escape(value: str) -> str:
    """What Grafana does to a variable's value inside a PromQL regex matcher: escape
    regex metacharacters, backslash doubled for the PromQL string literal."""
    return re.sub(r"([\\^$*+?.()|{}\[\]])", r"\\\\\1", value)


def substitute(expr: str, variables: dict[str, str]) -> str:
    def one(m: re.Match) -> str:
        name = next(g for g in m.groups() if g is not None)
        if name not in variables:
            raise AssertionError(f"query {expr!r} uses ${name}, which this test does not "
                                 "know how to fill in: add it to GLOBALS")
        return variables[name]
    return VARIABLE_RE.sub(one, expr)


def dashboard_targets():
    """(id, dashboard file, panel title, refId, expr) for every panel target."""
    sys.path.insert(0, str(REPO_ROOT / "tests" / "dashboards"))
    import lint  # the linter's panel walk, collapsed rows included

    found = []
    for path in sorted(DASHBOARD_DIR.glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in lint.iter_panels(dashboard):
            for target in panel.get("targets") or []:
                if target.get("hide"):
                    continue
                ref = target.get("refId", "?")
                found.append(pytest.param(
                    path.name, panel.get("title", ""), ref, target.get("expr", ""),
                    id=f"{path.stem}:{panel.get('id')}:{panel.get('title', '')}:{ref}"))
    return found


TARGETS = dashboard_targets()


# ---- HTTP ---------------------------------------------------------------------------


def http_get_json(url: str, timeout: float = HTTP_TIMEOUT):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as e:
        body = e.read().decode(errors="replace") if e.fp else ""
        try:
            return json.loads(body)
        except ValueError:
            raise AssertionError(f"GET {url} answered {e.code}: {body[:500]}") from e


def wait_until(what: str, predicate, timeout: float, interval: float = 0.25, logs=None):
    return poll_until(what, predicate, timeout, interval,
                      diagnostics=logs or (lambda: ""))


# ---- Prometheus -----------------------------------------------------------------------


class Prometheus:
    def __init__(self, binary: str, workdir: Path, scrape_target: str) -> None:
        self.binary = binary
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.config = workdir / "prometheus.yml"
        self.storage = workdir / "data"
        self.log_path = workdir / "prometheus.log"
        self.config.write_text(
            "global:\n"
            "  scrape_interval: 1s\n"
            "  scrape_timeout: 1s\n"
            "  evaluation_interval: 1s\n"
            "scrape_configs:\n"
            f"  - job_name: {JOB}\n"
            "    static_configs:\n"
            f"      - targets: ['{scrape_target}']\n"
        )
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Prometheus":
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [self.binary,
                 f"--config.file={self.config}",
                 f"--storage.tsdb.path={self.storage}",
                 f"--web.listen-address=127.0.0.1:{self.port}",
                 "--storage.tsdb.retention.time=1h",
                 "--log.level=info"],
                cwd=str(self.workdir),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until("Prometheus to be ready", self.ready, PROMETHEUS_READY_TIMEOUT,
                   logs=self.logs)
        return self

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"prometheus exited with {self.proc.returncode}:\n"
                                 f"{self.logs()}")
        try:
            with urllib.request.urlopen(self.base_url + "/-/ready", timeout=1) as resp:
                return resp.status == 200
        except (OSError, urllib.error.HTTPError):
            return False

    def stop(self) -> None:
        if self.proc is None:
            return
        terminate(self.proc)
        self.proc = None

    def logs(self) -> str:
        try:
            return "--- prometheus log (tail) ---\n" + self.log_path.read_text(
                errors="replace")[-3000:]
        except OSError:
            return "(no prometheus log)"

    def query(self, expr: str) -> dict:
        url = self.base_url + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        return http_get_json(url)

    def label_values(self, label: str, match: str) -> list[str]:
        url = (self.base_url + f"/api/v1/label/{label}/values?"
               + urllib.parse.urlencode({"match[]": match}))
        answer = http_get_json(url)
        assert answer.get("status") == "success", answer
        return answer["data"]


def series_count(answer: dict) -> int:
    data = answer.get("data") or {}
    if data.get("resultType") == "scalar":
        return 1
    return len(data.get("result") or [])


# ---- backups ----------------------------------------------------------------------------


def make_backups_with_script(pg, backup_dir: Path, log: Path, workdir: Path) -> None:
    env_file = workdir / "app.env"
    env_file.write_text(f"DATABASE_URL={pg.url()}\n")
    env_file.chmod(0o600)
    for attempt in range(2):
        if attempt:
            time.sleep(1.1)  # file names have a one-second resolution
        result = subprocess.run(
            [str(BACKUP_SCRIPT), f"--env-file={env_file}", f"--dir={backup_dir}",
             "--retention-days=7", f"--log={log}"],
            env=exporter_mod.clean_env(), stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 0, (
            f"{BACKUP_SCRIPT} exited {result.returncode}\nstdout: {result.stdout}\n"
            f"stderr: {result.stderr}")
    made = sorted(backup_dir.glob("caloria_*.sql.gz"))
    assert len(made) >= 2, f"{BACKUP_SCRIPT} ran twice but left {made}"


def prove_restore(pg, backup_dir: Path, log: Path, workdir: Path) -> Path:
    """The restore test's state for the "Restore tests" row, made by
    scripts/caloria-restore-test restoring the newest backup into a scratch database
    on the same server (as the superuser: the dashboards need the figures, the role's
    least privileges are test_restore_test.py's business)."""
    target = workdir / "restore-target.url"
    target.write_text(f"postgresql://{SUPERUSER}:{SUPERUSER_PASSWORD}@{pg.host}:{pg.port}"
                      "/postgres\n")
    target.chmod(0o600)
    live = workdir / "live.url"
    live.write_text(pg.url() + "\n")
    state = workdir / "restore-test.json"
    result = subprocess.run(
        [str(RESTORE_SCRIPT), f"--dir={backup_dir}", f"--backup-log={log}",
         f"--target-url-file={target}", f"--url-file={live}", f"--state={state}"],
        env=exporter_mod.clean_env(), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, (
        f"{RESTORE_SCRIPT} exited {result.returncode}\nstderr: {result.stderr}")
    return state


def make_backups_with_pg_dump(pg, backup_dir: Path, log: Path) -> None:
    pg_dump = pg.bindir / "pg_dump"
    if not pg_dump.is_file():
        pg_dump = Path(shutil.which("pg_dump") or "pg_dump")
    env = exporter_mod.clean_env({"PGCONNECT_TIMEOUT": "10"})
    result = subprocess.run(
        [str(pg_dump), "--no-owner", f"--dbname={pg.url()}"],
        env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=120,
    )
    assert result.returncode == 0, f"pg_dump failed: {result.stderr.decode(errors='replace')}"
    assert b"PostgreSQL database dump complete" in result.stdout
    now = time.time()
    lines = []
    # The one before (a day ago) and the latest (a minute ago), as the daily job makes.
    for age in (24 * 3600, 60):
        when = now - age
        name = time.strftime("caloria_%Y%m%d_%H%M%S.sql.gz", time.localtime(when))
        path = backup_dir / name
        path.write_bytes(gzip.compress(result.stdout))
        os.utime(path, (when, when))
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(when))
        lines.append(f"{stamp} caloria-backup SUCCESS file={path} "
                     f"size={path.stat().st_size} users=3\n")
    log.write_text("".join(lines))


# ---- the stack ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(postgres_server, tmp_path_factory):
    prometheus_bin = shutil.which("prometheus")
    if prometheus_bin is None:
        pytest.fail("prometheus not installed: apt-get install prometheus "
                    "(scripts/install-deps --test does)", pytrace=False)
    postgres_server.ensure_running()
    postgres_server.reset_users()
    workdir = tmp_path_factory.mktemp("dashboards")
    backup_dir = workdir / "backups"
    backup_dir.mkdir()
    backup_log = workdir / "caloria-backup.log"
    if BACKUP_SCRIPT.is_file() and os.access(BACKUP_SCRIPT, os.X_OK):
        make_backups_with_script(postgres_server, backup_dir, backup_log, workdir)
        made_by = str(BACKUP_SCRIPT.relative_to(REPO_ROOT))
    else:
        make_backups_with_pg_dump(postgres_server, backup_dir, backup_log)
        made_by = "pg_dump"

    restore_state = prove_restore(postgres_server, backup_dir, backup_log, workdir)

    # The app vs database panels: the app's own health page, and a fallback file
    # from a past incident (not being written: it is shown, not judged).
    fallback = exporter_mod.make_sqlite(workdir / "app" / "instance" / "caloria.db", users=3)
    three_hours_ago = time.time() - 3 * 3600
    os.utime(fallback, (three_hours_ago, three_hours_ago))
    app = FakeApp({"/health/database": json_reply(SEED_ANSWER)})

    exp = exporter_mod.Exporter(
        # Explicitly on: the harness switches the backup collector off by default.
        args=["--collector.backup", f"--backup.dir={backup_dir}",
              f"--backup.log={backup_log}",
              f"--app.health-url={app.url('/health/database')}",
              f"--fallback.sqlite-path={fallback}",
              f"--restore.state-file={restore_state}"],
        env={"DATABASE_URL": postgres_server.url()},
        workdir=workdir / "exporter",
    )
    prometheus = None
    try:
        exp.start(ready_timeout=10)
        exp.wait_metric("caloria_database_up", 1, timeout=10)
        exp.wait_metric("caloria_app_up", 1, timeout=10)
        exp.wait_metric("caloria_fallback_sqlite_users", 3, timeout=10)
        verified = exp.wait_metric("caloria_backup_latest_verified", timeout=VERIFIED_TIMEOUT)
        if verified.get("caloria_backup_latest_verified") != 1:
            health = exp.get("/health").text
            raise AssertionError(f"the backup made by {made_by} failed the exporter's "
                                 f"verification:\n{health}")
        target = f"127.0.0.1:{exp.port}"
        prometheus = Prometheus(prometheus_bin, workdir / "prometheus", target)
        prometheus.start()

        def scraped_enough():
            answer = prometheus.query(
                f'count_over_time(caloria_backup_latest_verified{{job="{JOB}"}}[1m])')
            result = answer.get("data", {}).get("result") or []
            return result and float(result[0]["value"][1]) >= SCRAPES_WANTED

        wait_until(f"{SCRAPES_WANTED} scrapes of the exporter with every collector's data",
                   scraped_enough, SCRAPES_TIMEOUT, logs=prometheus.logs)
        yield {"prometheus": prometheus, "exporter": exp, "instance": target,
               "made_by": made_by}
    finally:
        if prometheus is not None:
            prometheus.stop()
        exp.stop()
        app.stop()
        print(f"--- backups made by {made_by}: "
              f"{sorted(p.name for p in backup_dir.iterdir())}")
        print(f"--- exporter stderr (tail) ---\n{exp.logs()[-3000:]}")
        if prometheus is not None:
            print(prometheus.logs())


def grafana_variables(stack, selection: str) -> dict[str, str]:
    """`one`: the job and instance picked in the drop-downs (Grafana escapes their
    values for the regex matcher); `all`: "All", which the variables' allValue turns
    into .+ (what the dashboard opens with)."""
    if selection == "all":
        return {**GLOBALS, "job": ".+", "instance": ".+"}
    return {
        **GLOBALS,
        "job": prometheus_regex_escape(JOB),
        "instance": prometheus_regex_escape(stack["instance"]),
    }


def test_there_are_queries_to_check():
    assert TARGETS, f"no panel targets found in {DASHBOARD_DIR}/*.json"


@pytest.mark.parametrize("selection", ["one", "all"])
@pytest.mark.parametrize("dashboard, panel, ref, expr", TARGETS)
def test_panel_query_returns_series(stack, dashboard, panel, ref, expr, selection):
    query = substitute(expr, grafana_variables(stack, selection))
    answer = stack["prometheus"].query(query)
    assert answer.get("status") == "success", (
        f"{dashboard} panel {panel!r} target {ref}: Prometheus rejected\n  {query}\n"
        f"  {answer.get('errorType')}: {answer.get('error')}")
    assert series_count(answer) > 0, (
        f"{dashboard} panel {panel!r} target {ref} returned no series:\n  {query}\n"
        f"exporter /metrics:\n{stack['exporter'].get('/metrics').text}")


def test_job_and_instance_variables_find_the_exporter(stack):
    dashboard = json.loads((DASHBOARD_DIR / "caloria-overview.json").read_text())
    variables = {t["name"]: t for t in dashboard["templating"]["list"]}
    prometheus = stack["prometheus"]
    for name, wanted in (("job", JOB), ("instance", stack["instance"])):
        query = variables[name]["query"]
        query = query["query"] if isinstance(query, dict) else query
        m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", query)
        assert m and m.group(2) == name, f"{name} variable: unexpected query {query!r}"
        match = substitute(m.group(1), {"job": prometheus_regex_escape(JOB)})
        values = prometheus.label_values(name, match)
        assert wanted in values, f"{name} variable query {query!r} found {values}"
