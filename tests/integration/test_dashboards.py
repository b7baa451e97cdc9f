"""Every query of every dashboard in dashboards/ runs against a real Prometheus that
scrapes the real exporter, and returns data.

The stack, torn down whatever happens:
- the session's PostgreSQL (conftest.py) with its three users, read by a role with
  pg_monitor (the replicas' positions need it) and SELECT on users;
- a streaming replica of it, made by pg_basebackup -R (as in test_pg_stats.py), so that
  the replication panels have both sides: the primary's view of its replica and the
  replica's own;
- a backup folder holding two valid backups and the backup log: made by
  scripts/caloria-backup when it exists, else gzipped `pg_dump` output of that
  database and log lines in the script's format;
- a stand-in for the running app's health page (fake_app.py, answering as the seed's
  app does: POSTGRESQL, 3 users), probed with --app.health-url;
- the SQLite file the app falls back to, left from a past incident (3 users, last
  written 3 hours ago), watched with --fallback.sqlite-path;
- the restore test's state, left by scripts/caloria-restore-test restoring the
  newest backup into a scratch database on the same server;
- two exporters on all of these (--backup.dir, --backup.log, --app.health-url,
  --restore.state-file, --fallback.sqlite-path): one without --config.file watching the
  primary (its series have no target label), and one whose --config.file names two
  targets, "alpha" (the primary) and "beta" (the replica);
- Debian's `prometheus` with a temporary config and temporary storage, on a free
  127.0.0.1 port, scraping every second: job "caloria" scrapes both exporters' /metrics,
  job "caloria-probe" scrapes alpha and beta through /probe?target=NAME with the
  relabeling that sets their target label.

Grafana's variables are substituted the way Grafana does for this data source (a value
picked is regex-escaped, several are (a|b), "All" is the variable's allValue: .+ for job
and instance, .* for target; $__rate_interval -> 1m, $__range -> 1m, ...), then each
expression goes to /api/v1/query for each selection of SELECTIONS: everything, the
exporter without targets, each target of the other through /metrics, both targets
through /probe. A query that errors fails, naming the panel; one that returns no series
fails, unless it reads series of the other side of replication than the selection
watches (it must then return none); a series of another target than the ones picked
fails too.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

import exporter as exporter_mod
from fake_app import SEED_ANSWER, FakeApp, json_reply
from postgres import APP_DATABASE, SUPERUSER, SUPERUSER_PASSWORD, PostgresServer
from prometheus_server import PrometheusServer, probe_job
from waiting import poll_until

REPO_ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = REPO_ROOT / "dashboards"
BACKUP_SCRIPT = REPO_ROOT / "scripts" / "caloria-backup"
RESTORE_SCRIPT = REPO_ROOT / "scripts" / "caloria-restore-test"
JOB = "caloria"
PROBE_JOB = "caloria-probe"  # the alert rules and the Exporter panels select caloria.*
PRIMARY_TARGET = "alpha"
REPLICA_TARGET = "beta"
# The exporters' role: pg_monitor (pg_stat_replication shows a replica's position only
# to it) and the users count.
ROLE = "caloria_dashboards"
ROLE_PASSWORD = "D4sh:b0ard/pw"

# Replication series exist on one side only (docs/metrics.md).
PRIMARY_ONLY = {"caloria_postgres_replicas", "caloria_postgres_replica_lag_bytes",
                "caloria_postgres_replica_lag_seconds"}
REPLICA_ONLY = {"caloria_postgres_replication_lag_bytes",
                "caloria_postgres_replication_lag_seconds",
                "caloria_postgres_replication_replay_paused",
                "caloria_postgres_replication_receiver_streaming"}
# The exporter's own series: no target label on /metrics (lint.py's EXPORTER_WIDE_RE).
EXPORTER_WIDE_RE = re.compile(r"\b(?:up|process_\w+|caloria_exporter_build_info)\{")

SCRAPES_WANTED = 3
SCRAPES_TIMEOUT = 30
VERIFIED_TIMEOUT = 30
# A replica's lag series may miss one poll (WAL arriving the moment replay_lag is
# unknown): a query that should have data gets this long to find it again.
QUERY_RETRY_SECONDS = 5

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


def wait_until(what: str, predicate, timeout: float, interval: float = 0.25, logs=None):
    return poll_until(what, predicate, timeout, interval,
                      diagnostics=logs or (lambda: ""))


# ---- Prometheus -----------------------------------------------------------------------


def prometheus_config(metrics_targets: list[str], probe_exporter: str,
                      probe_targets: list[str]) -> str:
    """Job caloria scrapes /metrics of each exporter; job caloria-probe scrapes each
    target of --config.file through /probe?target=NAME, relabeled as
    docs/dashboards.md shows: the target's name becomes the target label (and
    ?target=), the exporter's address the one scraped (and instance)."""
    return (
        "global:\n"
        "  scrape_interval: 1s\n"
        "  scrape_timeout: 1s\n"
        "  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        f"  - job_name: {JOB}\n"
        "    static_configs:\n"
        f"      - targets: {json.dumps(metrics_targets)}\n"
        + probe_job(PROBE_JOB, probe_targets, probe_exporter)
    )


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


# ---- replication ------------------------------------------------------------------------------


def ensure_role(pg) -> None:
    """The exporters' role, made before the replica is, so that the replica has it."""
    pw = ROLE_PASSWORD.replace("'", "''")
    pg.sql(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') "
           f"THEN CREATE ROLE {ROLE} LOGIN PASSWORD '{pw}' IN ROLE pg_monitor; "
           f"ELSE ALTER ROLE {ROLE} LOGIN PASSWORD '{pw}'; GRANT pg_monitor TO {ROLE}; "
           "END IF; END $$", database="postgres")
    pg.sql(f"GRANT SELECT ON users TO {ROLE}")


def drop_role(pg) -> None:
    try:
        pg.sql(f"REVOKE ALL ON users FROM {ROLE}")
        pg.sql(f"DROP ROLE IF EXISTS {ROLE}", database="postgres")
    except Exception as e:  # noqa: BLE001 - teardown: report, never mask the test's error
        print(f"--- could not drop role {ROLE}: {e}")


def role_url(server) -> str:
    return (f"postgresql://{ROLE}:{urllib.parse.quote(ROLE_PASSWORD, safe='')}@"
            f"{server.host}:{server.port}/{APP_DATABASE}")


def start_replica(pg, server: PostgresServer) -> None:
    """Makes `server` (not yet initialised) a streaming replica of `pg` with
    pg_basebackup -R, as test_pg_stats.py's `replica` fixture does (a copy of it: that
    one is function-scoped and tied to its own fixtures), and starts it. Its replay is
    never paused here: the panels only need the series."""
    env = dict(os.environ, PGPASSWORD=SUPERUSER_PASSWORD)
    server._run([str(server.bindir / "pg_basebackup"), "-h", pg.host, "-p", str(pg.port),
                 "-U", SUPERUSER, "-D", str(server.datadir), "-R", "-X", "stream",
                 "--checkpoint=fast", "--no-sync"], timeout=120, env=env)
    server.start()


class InBackground:
    """Runs fn() in a thread: the replica is copied while the backups are made."""

    def __init__(self, fn) -> None:
        self.result = self.error = None
        self.thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self.thread.start()

    def _run(self, fn) -> None:
        try:
            self.result = fn()
        except BaseException as e:  # noqa: BLE001 - handed to whoever waits
            self.error = e

    def wait(self, timeout: float):
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise AssertionError(f"still running after {timeout}s")
        if self.error is not None:
            raise self.error
        return self.result


def write_targets_file(workdir: Path, urls: dict[str, str]) -> Path:
    """--config.file: one target per database, each with its URL in a file of its own;
    backups, app and fallback file come from the command line's flags."""
    lines = ["targets:"]
    for name, url in urls.items():
        url_file = workdir / f"{name}.url"
        url_file.write_text(url + "\n")
        url_file.chmod(0o600)
        lines += [f"  - name: {name}", f"    url_file: {json.dumps(str(url_file))}"]
    path = workdir / "targets.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


# ---- the stack ------------------------------------------------------------------------------


def wait_collected(exp, target: str | None, what: str) -> None:
    """Every collector's data for one target (None: the exporter without targets),
    and the replication series of its side."""
    labels = {"target": target} if target else {}
    replica = target == REPLICA_TARGET

    def ready():
        m = exp.metrics()
        def value(name):
            return m.get(name, **labels)
        if value("caloria_backup_latest_verified") is None:
            return None
        if value("caloria_backup_latest_verified") != 1:
            raise AssertionError(f"{what}: the backup failed the exporter's verification:\n"
                                 + exp.get("/health").text)
        if replica:
            side = (value("caloria_postgres_in_recovery") == 1
                    and value("caloria_postgres_replication_lag_seconds") is not None
                    and value("caloria_postgres_replication_lag_bytes") is not None)
        else:
            side = (value("caloria_postgres_replicas") == 1
                    and m.find("caloria_postgres_replica_lag_seconds", **labels)
                    and m.find("caloria_postgres_replica_lag_bytes", **labels))
        return (side and value("caloria_database_up") == 1 and value("caloria_app_up") == 1
                and value("caloria_fallback_sqlite_users") == 3)

    exp.wait_for(f"{what}: every collector's data and its side of replication", ready,
                 VERIFIED_TIMEOUT, interval=0.2)


@pytest.fixture(scope="module")
def stack(postgres_server, tmp_path_factory):
    """The stack, built so that the slow parts overlap: Prometheus starts first (its
    first scrape comes some 5 s after it is ready), the replica is copied while the
    backups are made, and the exporters start last."""
    prometheus_bin = shutil.which("prometheus")
    if prometheus_bin is None:
        pytest.fail("prometheus not installed: apt-get install prometheus "
                    "(scripts/install-deps --test does)", pytrace=False)
    pg = postgres_server
    pg.ensure_running()
    pg.reset_users()
    ensure_role(pg)
    workdir = tmp_path_factory.mktemp("dashboards")
    replica = PostgresServer()
    copying = InBackground(lambda: start_replica(pg, replica))
    exporters: list[exporter_mod.Exporter] = []
    app = prometheus = None
    backup_dir = workdir / "backups"
    made_by = "nothing yet"
    try:
        backup_dir.mkdir()
        backup_log = workdir / "caloria-backup.log"
        restore_state = workdir / "restore-test.json"
        # The app vs database panels: the app's own health page, and a fallback file
        # from a past incident (not being written: it is shown, not judged).
        fallback = exporter_mod.make_sqlite(workdir / "app" / "instance" / "caloria.db",
                                            users=3)
        three_hours_ago = time.time() - 3 * 3600
        os.utime(fallback, (three_hours_ago, three_hours_ago))
        app = FakeApp({"/health/database": json_reply(SEED_ANSWER)})

        # Explicitly on: the harness switches the backup collector off by default.
        args = ["--collector.backup", f"--backup.dir={backup_dir}",
                f"--backup.log={backup_log}",
                f"--app.health-url={app.url('/health/database')}",
                f"--fallback.sqlite-path={fallback}",
                f"--restore.state-file={restore_state}"]
        single = exporter_mod.Exporter(args=args, env={"DATABASE_URL": role_url(pg)},
                                       workdir=workdir / "exporter")
        exporters.append(single)
        targets_file = write_targets_file(workdir, {PRIMARY_TARGET: role_url(pg),
                                                    REPLICA_TARGET: role_url(replica)})
        fleet = exporter_mod.Exporter(args=args + [f"--config.file={targets_file}"],
                                      workdir=workdir / "exporter-targets")
        exporters.append(fleet)
        single_instance = f"127.0.0.1:{single.port}"
        fleet_instance = f"127.0.0.1:{fleet.port}"
        prometheus = PrometheusServer(prometheus_bin, workdir / "prometheus", prometheus_config(
            [single_instance, fleet_instance], fleet_instance,
            [PRIMARY_TARGET, REPLICA_TARGET]))
        prometheus.start()

        if BACKUP_SCRIPT.is_file() and os.access(BACKUP_SCRIPT, os.X_OK):
            make_backups_with_script(pg, backup_dir, backup_log, workdir)
            made_by = str(BACKUP_SCRIPT.relative_to(REPO_ROOT))
        else:
            make_backups_with_pg_dump(pg, backup_dir, backup_log)
            made_by = "pg_dump"
        assert prove_restore(pg, backup_dir, backup_log, workdir) == restore_state

        copying.wait(timeout=180)
        # A transaction replayed: the replica knows the time of its last replay, and
        # its lag in seconds is never unknown when WAL arrives.
        pg.sql("SELECT txid_current()")

        single.start(ready_timeout=10)
        fleet.start(ready_timeout=10)
        wait_collected(single, None, "the exporter without targets")
        wait_collected(fleet, PRIMARY_TARGET, f"target {PRIMARY_TARGET} (the primary)")
        wait_collected(fleet, REPLICA_TARGET, f"target {REPLICA_TARGET} (the replica)")

        def scraped_enough():
            # one series per app: the exporter without targets, alpha and beta
            # through /metrics, alpha and beta through /probe
            answer = prometheus.answer(
                f'count_over_time(caloria_backup_latest_verified{{job=~"{JOB}.*"}}[1m])')
            result = answer.get("data", {}).get("result") or []
            return len(result) == 5 and all(float(r["value"][1]) >= SCRAPES_WANTED
                                            for r in result)

        wait_until(f"{SCRAPES_WANTED} scrapes of each exporter and target with every "
                   "collector's data", scraped_enough, SCRAPES_TIMEOUT, logs=prometheus.logs)
        yield {"prometheus": prometheus, "exporter": single, "fleet": fleet,
               "instance": single_instance, "fleet_instance": fleet_instance,
               "made_by": made_by}
    finally:
        if prometheus is not None:
            prometheus.stop()
        for exp in exporters:
            exp.stop()
        if app is not None:
            app.stop()
        try:
            copying.wait(timeout=180)
        except BaseException as e:  # noqa: BLE001 - teardown: report, never mask
            print(f"--- the replica was not made: {e}")
        replica.destroy()
        drop_role(pg)
        if backup_dir.is_dir():
            print(f"--- backups made by {made_by}: "
                  f"{sorted(p.name for p in backup_dir.iterdir())}")
        for exp in exporters:
            print(f"--- {exp.workdir.name} stderr (tail) ---\n{exp.logs()[-3000:]}")
        if prometheus is not None:
            print(prometheus.logs())


# ---- what Grafana sends ------------------------------------------------------------------------

# Each selection of the dashboard's drop-downs: job, instance ("single": the exporter
# without targets, "fleet": the one with --config.file, None: All) and target (None:
# All, a name, or several); then the side(s) of replication the selected apps are on.
SELECTIONS = {
    "all": (None, None, None, {"primary", "replica"}),
    "no-targets": (JOB, "single", None, {"primary"}),
    "target-alpha": (JOB, "fleet", [PRIMARY_TARGET], {"primary"}),
    "target-beta": (JOB, "fleet", [REPLICA_TARGET], {"replica"}),
    "probe-both": (PROBE_JOB, None, [PRIMARY_TARGET, REPLICA_TARGET], {"primary", "replica"}),
}


def grafana_multi(values: list[str]) -> str:
    """A multi-value variable in a regex matcher: one value escaped, several (a|b)."""
    escaped = [prometheus_regex_escape(v) for v in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def grafana_variables(stack, selection: str) -> dict[str, str]:
    """The variables as Grafana fills them in: a value picked is regex-escaped, "All"
    becomes the allValue (.+ for job and instance, .* for target, which also matches
    the series of an exporter without --config.file: they have no target label)."""
    job, instance, targets, _ = SELECTIONS[selection]
    instances = {"single": stack["instance"], "fleet": stack["fleet_instance"]}
    return {
        **GLOBALS,
        "job": prometheus_regex_escape(job) if job else ".+",
        "instance": prometheus_regex_escape(instances[instance]) if instance else ".+",
        "target": grafana_multi(targets) if targets else ".*",
    }


def side_of(expr: str) -> str | None:
    """Which side of replication a query reads: "primary", "replica" or None (both)."""
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr))
    sides = {side for side, only in (("primary", PRIMARY_ONLY), ("replica", REPLICA_ONLY))
             if names & only}
    assert len(sides) <= 1, f"{expr!r} reads both sides of replication: split it"
    return sides.pop() if sides else None


def test_there_are_queries_to_check():
    assert TARGETS, f"no panel targets found in {DASHBOARD_DIR}/*.json"
    # ... of both sides of replication, or the selections below prove nothing for them
    sides = {side_of(p.values[3]) for p in TARGETS}
    assert {"primary", "replica"} <= sides, sides


@pytest.mark.parametrize("selection", list(SELECTIONS))
@pytest.mark.parametrize("dashboard, panel, ref, expr", TARGETS)
def test_panel_query_returns_series(stack, dashboard, panel, ref, expr, selection):
    query = substitute(expr, grafana_variables(stack, selection))
    side = side_of(expr)
    expected = side is None or side in SELECTIONS[selection][3]
    prometheus = stack["prometheus"]
    where = f"{dashboard} panel {panel!r} target {ref} ({selection})"

    def run():
        answer = prometheus.answer(query)
        assert answer.get("status") == "success", (
            f"{where}: Prometheus rejected\n  {query}\n"
            f"  {answer.get('errorType')}: {answer.get('error')}")
        return answer

    answer = run()
    if expected:
        deadline = time.monotonic() + QUERY_RETRY_SECONDS
        while series_count(answer) == 0 and time.monotonic() < deadline:
            time.sleep(0.5)
            answer = run()
        exporters = [stack[name] for name, wanted in (("exporter", "single"), ("fleet", "fleet"))
                     if SELECTIONS[selection][1] in (wanted, None)]
        assert series_count(answer) > 0, (
            f"{where} returned no series:\n  {query}\n" + "".join(
                f"{exp.workdir.name} /metrics:\n{exp.get('/metrics').text}\n"
                for exp in exporters))
    else:
        assert series_count(answer) == 0, (
            f"{where} reads the {side}'s series, which no selected app publishes, yet "
            f"returned some:\n  {query}\n  {answer['data']['result']}")

    # Only the apps picked: the target label (absent on the exporter's own series, and
    # on every series of the exporter without targets) is one of those selected.
    targets = SELECTIONS[selection][2]
    if selection == "all" or answer["data"]["resultType"] == "scalar":
        return
    allowed = set(targets or [])
    if targets is None or (SELECTIONS[selection][0] == JOB and EXPORTER_WIDE_RE.search(expr)):
        allowed.add("")
    if SELECTIONS[selection][1] == "single":
        allowed = {""}
    got = {r["metric"].get("target", "") for r in answer["data"]["result"]}
    assert got <= allowed, f"{where}: series of targets {got - allowed} in\n  {query}"


def variable_query(name: str) -> tuple[str, str]:
    """The label_values(MATCH, LABEL) of the overview dashboard's variable `name`."""
    dashboard = json.loads((DASHBOARD_DIR / "caloria-overview.json").read_text())
    variables = {t["name"]: t for t in dashboard["templating"]["list"]}
    query = variables[name]["query"]
    query = query["query"] if isinstance(query, dict) else query
    m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", query)
    assert m and m.group(2) == name, f"{name} variable: unexpected query {query!r}"
    return m.group(1), variables[name].get("allValue")


def test_job_and_instance_variables_find_the_exporter(stack):
    prometheus = stack["prometheus"]
    for name, picked, wanted in (
            ("job", {}, {JOB, PROBE_JOB}),
            ("instance", {"job": JOB}, {stack["instance"], stack["fleet_instance"]}),
            ("instance", {"job": PROBE_JOB}, {stack["fleet_instance"]})):
        match, _ = variable_query(name)
        match = substitute(match, {k: prometheus_regex_escape(v) for k, v in picked.items()})
        values = prometheus.label_values(name, match)
        assert set(values) == wanted, f"{name} variable ({match}) found {values}"


@pytest.mark.parametrize("job, instance, wanted", [
    (JOB, "fleet_instance", {PRIMARY_TARGET, REPLICA_TARGET}),
    (PROBE_JOB, "fleet_instance", {PRIMARY_TARGET, REPLICA_TARGET}),
    (JOB, "instance", set()),  # without --config.file: no target, only "All"
    (".+", None, {PRIMARY_TARGET, REPLICA_TARGET}),
])
def test_target_variable_lists_the_targets(stack, job, instance, wanted):
    match, _ = variable_query("target")
    match = substitute(match, {
        "job": job if job == ".+" else prometheus_regex_escape(job),
        "instance": prometheus_regex_escape(stack[instance]) if instance else ".+"})
    values = stack["prometheus"].label_values("target", match)
    assert set(values) == wanted, f"target variable ({match}) found {values}"


def test_target_all_value_keeps_an_exporter_without_targets(stack):
    """Why the target variable's All is .*, not .+ like job's and instance's: the
    series of an exporter without --config.file have no target label, which only a
    regex that matches the empty string keeps."""
    _, all_value = variable_query("target")
    assert all_value == ".*"
    prometheus = stack["prometheus"]
    single = prometheus_regex_escape(stack["instance"])
    kept = prometheus.answer(f'caloria_database_up{{instance=~"{single}", '
                             f'target=~"{all_value}"}}')
    dropped = prometheus.answer(f'caloria_database_up{{instance=~"{single}", target=~".+"}}')
    assert series_count(kept) == 1 and "target" not in kept["data"]["result"][0]["metric"]
    assert series_count(dropped) == 0
