"""Many targets in one exporter: --config.file (issue 12).

Real parts only: two databases of the session's PostgreSQL (each with its own
users table), SQLite files, the real exporter and Debian's `prometheus`.

- every series of /metrics carries target="NAME" (process_* and build_info
  once, unlabelled); /probe?target=NAME serves one target without the label;
  /health sums the targets up, /health?target= and /health/CHECK?target=
  show one;
- a real Prometheus scrapes each target through /probe with the
  blackbox-style relabeling of the docs;
- ?target= is a name from the file and nothing else: URLs, host:port, paths,
  encodings, empty and over-long values are refused (400) before anything is
  dialled, unknown names are 404, and a port standing by sees no connection;
- a hung target holds one worker: a healthy one keeps its one-second pace,
  and with a single worker it waits at most the timeout;
- the file is live (a change seen at the next poll, POST /-/reload, SIGHUP),
  and a bad file is rejected with the old targets kept;
- the password of a target's url shows on no page and in no log line, also
  when the target cannot connect or its file is rejected;
- a bad file or flag at startup: exit 2 and one line naming the problem.

The exporters poll every second with a one-second timeout, so the module
takes a few polls per test, not minutes.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from exporter import INTERVAL, SLACK, TIMEOUT, Exporter, Metrics, make_sqlite, run_once
from postgres import free_port
from prometheus_server import PrometheusServer, probe_job
from secret_pieces import forbidden_pieces, leaks
from targets_support import (
    ConnectionRecorder,
    HungPort,
    ensure_database,
    ensure_role,
    pg_url,
    targets_yaml,
    write_atomically,
    write_targets,
)
from waiting import poll_until

ROLE = "caloria_targets"  # this module's own role, so no other test depends on it
PASSWORD = "Tg7@Qw/9:Vx%Jb!"
WRONG_PASSWORD = "Wr0ng@Kp/4:Zm%Hy"  # given to the server by the wrong-password target
FORBIDDEN = forbidden_pieces(PASSWORD, WRONG_PASSWORD)
ALPHA_DB, ALPHA_USERS = "caloria_t_alpha", 2
BETA_DB, BETA_USERS = "caloria_t_beta", 5
GAMMA_USERS = 4

POLL_WAIT = 10  # seconds: generous for ASan builds; waits end as soon as the value is there
# A change to the file is seen at the next poll and published by the one after.
SEEN_WITHIN = 2 * (INTERVAL + TIMEOUT) + SLACK + 3
EXPORTER_WIDE = ("caloria_exporter_build_info",)


def exporter_wide(name: str) -> bool:
    return name.startswith("process_") or name in EXPORTER_WIDE


def no_leaks(text: str, where: str) -> None:
    found = leaks(text, FORBIDDEN)
    assert not found, f"the password leaked in {where}: {found[:5]}"


def stop_and_show(exp: Exporter) -> None:
    exp.stop()
    print(f"--- exporter args={exp.args} exit={exp.exit_code} stderr (tail) ---")
    print(exp.logs()[-4000:])


# ---- fixtures ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_targets(postgres_server):
    """Two databases on the session's server, owned by this module's role."""
    postgres_server.ensure_running()
    ensure_role(postgres_server, ROLE, PASSWORD)
    ensure_database(postgres_server, ALPHA_DB, ROLE, ALPHA_USERS)
    ensure_database(postgres_server, BETA_DB, ROLE, BETA_USERS)
    return postgres_server


@pytest.fixture
def pg(pg_targets):
    """Overrides conftest's `pg`: this module uses its own two databases, not
    the seed users of the app's, so only a running server is needed."""
    pg_targets.ensure_running()
    return pg_targets


def alpha_url(pg, password: str = PASSWORD, port: int | None = None) -> str:
    return pg_url(ROLE, password, pg.host, pg.port if port is None else port, ALPHA_DB)


def beta_url(pg) -> str:
    return pg_url(ROLE, PASSWORD, pg.host, pg.port, BETA_DB)


def wait_targets(exp: Exporter, expected: dict[str, float], timeout: float = POLL_WAIT) -> Metrics:
    """Waits until /metrics shows caloria_database_users of exactly these targets."""
    def check():
        m = exp.metrics()
        seen = {s.labels.get("target"): s.value for s in m.find("caloria_database_users")}
        return m if seen == expected else None
    return exp.wait_for(f"caloria_database_users by target == {expected}", check, timeout)


@pytest.fixture(scope="module")
def three(pg_targets, tmp_path_factory):
    """One exporter watching alpha and beta (PostgreSQL) and gamma (SQLite).

    beta's database comes from an env file named relative to the targets
    file's folder, which is not the exporter's working directory."""
    pg = pg_targets
    root = tmp_path_factory.mktemp("three")
    conf_dir = root / "conf"
    (conf_dir / "beta").mkdir(parents=True)
    (conf_dir / "beta" / ".env").write_text(f"DATABASE_URL={beta_url(pg)}\n")
    gamma_db = make_sqlite(root / "gamma" / "instance" / "gamma.db", users=GAMMA_USERS)
    config = write_targets(conf_dir / "targets.yml", [
        {"name": "alpha", "url": alpha_url(pg)},
        {"name": "beta", "env_file": "beta/.env"},
        {"name": "gamma", "url": f"sqlite:///{gamma_db}"},
    ])
    exp = Exporter(args=[f"--config.file={config}"], workdir=root / "exporter")
    try:
        exp.start(ready_timeout=15)
        wait_targets(exp, {"alpha": ALPHA_USERS, "beta": BETA_USERS, "gamma": GAMMA_USERS})
        yield exp
    finally:
        stop_and_show(exp)


@pytest.fixture
def started(tmp_path):
    """Factory for exporters of one test: start(args, workdir name) -> Exporter."""
    exporters: list[Exporter] = []

    def start(args: list[str], name: str = "exporter", ready_timeout: float = 15) -> Exporter:
        exp = Exporter(args=args, workdir=tmp_path / f"{name}{len(exporters)}")
        exporters.append(exp)
        return exp.start(ready_timeout=ready_timeout)

    yield start
    for exp in exporters:
        stop_and_show(exp)


# ---- 1. three targets in one exporter ---------------------------------------------------


EXPECTED_USERS = {"alpha": ALPHA_USERS, "beta": BETA_USERS, "gamma": GAMMA_USERS}


def test_every_series_carries_its_target_and_the_process_ones_appear_once(three):
    m = three.metrics()
    for name, users in EXPECTED_USERS.items():
        assert m.get("caloria_database_up", target=name) == 1, name
        assert m.get("caloria_database_users", target=name) == users, name
    assert len(m.find("caloria_database_users")) == 3
    assert m.get("caloria_database_info", target="alpha", type="postgresql") == 1
    assert m.get("caloria_database_info", target="beta", type="postgresql") == 1
    assert m.get("caloria_database_info", target="gamma", type="sqlite") == 1

    unlabelled = [s for s in m.samples if "target" not in s.labels and not exporter_wide(s.name)]
    assert not unlabelled, f"series without a target label: {unlabelled[:5]}"
    strays = [s for s in m.samples if s.labels.get("target") not in (None, *EXPECTED_USERS)]
    assert not strays, f"series of an unknown target: {strays[:5]}"
    for s in m.samples:
        if exporter_wide(s.name):
            assert "target" not in s.labels, s
    assert len(m.find("caloria_exporter_build_info")) == 1
    process = [s.name for s in m.samples if s.name.startswith("process_")]
    assert process, "the exporter's process_* metrics are missing"
    assert len(process) == len(set(process)), f"process_* series repeated: {sorted(process)}"
    # One HELP and TYPE per family, even with three targets in it.
    helps = [line.split()[2] for line in m.text.splitlines() if line.startswith("# HELP ")]
    assert len(helps) == len(set(helps)), "a family's HELP line is repeated"


@pytest.mark.parametrize("name", sorted(EXPECTED_USERS))
def test_probe_serves_one_target_without_the_target_label(three, name):
    resp = three.get(f"/probe?target={name}")
    assert resp.status == 200, resp.text
    assert resp.content_type.startswith("text/plain"), resp.content_type
    m = Metrics.parse(resp.text)
    assert m.get("caloria_database_up") == 1
    assert m.get("caloria_database_users") == EXPECTED_USERS[name]
    assert len(m.find("caloria_database_users")) == 1
    labelled = [s for s in m.samples if "target" in s.labels]
    assert not labelled, f"/probe?target={name} keeps the target label: {labelled[:5]}"
    assert m.get("caloria_exporter_collector_success", collector="database") == 1


def test_health_sums_up_every_target(three):
    resp = three.get("/health")
    body = resp.json()
    assert set(body["targets"]) == set(EXPECTED_USERS), body
    assert {"status", "version", "timestamp", "targets"} <= set(body), body
    for name, target in body["targets"].items():
        assert {"status", "timestamp", "checks"} <= set(target), (name, target)
        assert target["checks"].get("database") == "healthy", (name, target)
        assert target["checks"].get("configuration") in ("healthy", "degraded"), (name, target)
    order = ["healthy", "degraded", "unhealthy"]
    worst = max((t["status"] for t in body["targets"].values()), key=order.index)
    assert body["status"] == worst, body
    assert resp.status == (503 if worst == "unhealthy" else 200), (resp.status, body)


def test_each_target_has_its_own_health_pages(three):
    for name in EXPECTED_USERS:
        health = three.get(f"/health?target={name}")
        body = health.json()
        assert "targets" not in body, body
        assert body["checks"]["database"]["status"] == "healthy", (name, body)
        database = three.get(f"/health/database?target={name}")
        assert database.status == 200, (name, database.text)
        assert database.json()["status"] == "healthy"
        configuration = three.get(f"/health/configuration?target={name}").json()
        expected_type = "sqlite" if name == "gamma" else "postgresql"
        assert configuration["database_type"] == expected_type, (name, configuration)
    # Without a name, a check page is ambiguous, and so is /probe.
    for path in ("/health/database", "/probe"):
        resp = three.get(path)
        assert resp.status == 400, (path, resp.status, resp.text)
    landing = three.get("/").text
    for name in EXPECTED_USERS:
        assert f"/probe?target={name}" in landing, landing


# ---- 2. a real Prometheus, blackbox style ---------------------------------------------------


def test_prometheus_scrapes_each_target_through_probe(three, tmp_path):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus not installed: apt-get install prometheus "
                    "(scripts/install-deps --test does)", pytrace=False)
    job = "caloria_targets"
    config = (
        "global:\n"
        "  scrape_interval: 1s\n"
        "  scrape_timeout: 1s\n"
        "scrape_configs:\n"
        + probe_job(job, ["alpha", "beta", "gamma"], f"127.0.0.1:{three.port}")
    )
    prometheus = PrometheusServer(binary, tmp_path / "prometheus", config)
    try:
        prometheus.start()

        def scraped():
            up = prometheus.query(f'up{{job="{job}"}}')
            users = prometheus.query(f'caloria_database_users{{job="{job}"}}')
            if len(up) == 3 and len(users) == 3 and all(r["value"][1] == "1" for r in up):
                return up, users
            return None

        up, users = poll_until("each target scraped, up == 1", scraped, 30, 0.25,
                               diagnostics=prometheus.logs)
        assert {r["metric"]["target"]: r["value"][1] for r in up} == {
            "alpha": "1", "beta": "1", "gamma": "1"}
        assert {r["metric"]["target"]: float(r["value"][1]) for r in users} == EXPECTED_USERS
        for r in users:
            # /probe has no target label of its own: nothing for Prometheus to rename.
            assert "exported_target" not in r["metric"], r
            assert r["metric"]["instance"] == f"127.0.0.1:{three.port}", r
        for r in prometheus.query(f'caloria_database_up{{job="{job}"}}'):
            assert r["value"][1] == "1", r
        scrape_urls = sorted(t["scrapeUrl"] for t in prometheus.targets())
        assert scrape_urls == [f"http://127.0.0.1:{three.port}/probe?target={n}"
                               for n in ("alpha", "beta", "gamma")], scrape_urls
    finally:
        prometheus.stop()
        print(prometheus.logs())


# ---- 3. ?target= is a name, never an address ------------------------------------------------


PATHS = ("/probe", "/health", "/health/database")


def refused_values(port: int) -> list[str]:
    """Query strings (raw, as a client may send them) that must get 400."""
    values = [
        f"http://127.0.0.1:{port}/",
        f"http%3A%2F%2F127.0.0.1%3A{port}%2F",
        f"127.0.0.1:{port}",
        f"127.0.0.1%3A{port}",
        f"//127.0.0.1:{port}",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "../../etc/passwd",
        "alpha%2F..",
        "alpha/../gamma",
        "alpha@127.0.0.1",
        f"alpha@127.0.0.1:{port}",
        f"postgresql://u:p@127.0.0.1:{port}/db",
        f"postgresql%3A%2F%2Fu%3Ap%40127.0.0.1%3A{port}%2Fdb",
        "sqlite:////etc/passwd",
        "alpha%00",
        "alpha%20",
        "alpha+",
        "",
        "a" * 65,
    ]
    return [f"target={v}" for v in values] + [
        "target",  # no '=' at all
        "target=alpha&target=gamma",
        "target=alpha&target=alpha",
        f"target=alpha&target=127.0.0.1:{port}",
    ]


def test_target_must_be_a_name_and_nothing_is_dialled(three):
    recorder = ConnectionRecorder()
    try:
        port = recorder.port
        wrong = []
        for path in PATHS:
            for query in refused_values(port):
                resp = three.get(f"{path}?{query}")
                if resp.status != 400:
                    wrong.append(f"{path}?{query} -> {resp.status}, want 400")
                elif str(port) in resp.text:
                    wrong.append(f"{path}?{query}: the 400 page repeats the address: {resp.text!r}")
            for query, status in (("target=nosuch", 404), ("target=" + "a" * 64, 404),
                                  ("target=ALPHA", 404), ("target=..", 404),
                                  ("target=alpha", 200), ("module=x&target=alpha", 200),
                                  ("target=alpha&debug=true", 200)):
                resp = three.get(f"{path}?{query}")
                if resp.status != status:
                    wrong.append(f"{path}?{query} -> {resp.status}, want {status}: "
                                 f"{resp.text[:200]!r}")
        # Anything dialled on the way would have connected by now.
        time.sleep(0.5)
        assert not wrong, "\n".join(wrong)
        assert recorder.connections == [], (
            f"the exporter connected to the port named in ?target=: {recorder.connections}")
    finally:
        recorder.close()
    assert three.running()


# ---- 4. a hung target holds one worker --------------------------------------------------------


@pytest.fixture
def hung_port():
    """Requested before `started`, so it is closed after the exporters stop
    (closing it first would turn the hang into a reset in their last polls)."""
    hung = HungPort()
    yield hung
    hung.close()


def hung_and_healthy(tmp_path, hung: HungPort, hung_targets: int) -> Path:
    """`hung_targets` targets whose server accepts and never answers, and gamma
    (SQLite)."""
    gamma_db = make_sqlite(tmp_path / "gamma" / "instance" / "gamma.db", users=GAMMA_USERS)
    hung_url = f"postgresql://{ROLE}:x@127.0.0.1:{hung.port}/{ALPHA_DB}"
    return write_targets(
        tmp_path / "targets.yml",
        [{"name": f"hung{i}", "url": hung_url} for i in range(1, hung_targets + 1)]
        + [{"name": "gamma", "url": f"sqlite:///{gamma_db}"}])


def success_times(exp: Exporter, target: str, seconds: float) -> list[float]:
    """The distinct values of the target's database collector's last success
    timestamp seen over `seconds`, read every 0.1s."""
    seen: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = exp.metrics().get("caloria_exporter_collector_last_success_timestamp_seconds",
                                  collector="database", target=target)
        if value is not None and (not seen or value != seen[-1]):
            seen.append(value)
        time.sleep(0.1)
    return seen


def gaps(times: list[float]) -> list[float]:
    return [round(b - a, 3) for a, b in zip(times, times[1:])]


def wait_hung_failed(exp: Exporter, names: list[str]) -> Metrics:
    """Waits until each hung target's database collector has failed on its
    timeout, and checks that it took about the timeout."""
    for name in names:
        m = exp.wait_metric("caloria_database_up", 0, timeout=POLL_WAIT, target=name)
    for name in names:
        assert m.get("caloria_exporter_collector_success", collector="database",
                     target=name) == 0, name
        duration = m.get("caloria_exporter_collector_duration_seconds", collector="database",
                         target=name)
        assert duration is not None and TIMEOUT * 0.8 <= duration <= TIMEOUT + 1.5, (
            f"{name}'s database collector took {duration}s, want about the {TIMEOUT}s timeout")
    return m


def test_hung_targets_do_not_delay_a_healthy_one(tmp_path, hung_port, started):
    """Three hung targets hold three of the four workers: gamma keeps its
    one-second pace (polled one after another, it would wait three timeouts)."""
    names = ["hung1", "hung2", "hung3"]
    config = hung_and_healthy(tmp_path, hung_port, len(names))
    exp = started([f"--config.file={config}", "--collector.max-parallel=4"])
    wait_hung_failed(exp, names)
    exp.wait_metric("caloria_database_users", GAMMA_USERS, target="gamma")
    times = success_times(exp, "gamma", 5.0)
    print(f"gamma's database collector succeeded at {times}, gaps {gaps(times)}")
    assert len(times) >= 4, f"gamma succeeded {len(times)} times in 5s: {times}"
    assert max(gaps(times)) <= INTERVAL + 0.75, (
        f"gamma's polls were held up by the hung targets: gaps {gaps(times)}")
    m = exp.metrics()
    assert m.get("caloria_database_up", target="gamma") == 1
    for name in names:
        assert m.get("caloria_database_up", target=name) == 0, name
        # Still failing at every poll, on the timeout: not wedged for good.
        assert m.get("caloria_exporter_collector_success", collector="database",
                     target=name) == 0, name
    assert "timed out" in exp.logs()
    health = exp.get("/health").json()
    assert health["targets"]["gamma"]["checks"]["database"] == "healthy", health
    for name in names:
        assert health["targets"][name]["checks"]["database"] == "unhealthy", health
    probe = exp.get("/probe?target=gamma")
    assert probe.status == 200 and Metrics.parse(probe.text).get("caloria_database_up") == 1


def test_with_one_worker_a_hung_target_delays_another_by_at_most_the_timeout(
        tmp_path, hung_port, started):
    config = hung_and_healthy(tmp_path, hung_port, 1)
    exp = started([f"--config.file={config}", "--collector.max-parallel=1"])
    wait_hung_failed(exp, ["hung1"])
    exp.wait_metric("caloria_database_users", GAMMA_USERS, target="gamma")
    times = success_times(exp, "gamma", 5.0)
    print(f"gamma's database collector succeeded at {times}, gaps {gaps(times)}")
    assert len(times) >= 2, f"gamma succeeded {len(times)} times in 5s: {times}"
    assert max(gaps(times)) <= INTERVAL + TIMEOUT + 1.0, (
        f"with one worker gamma waited more than the hung target's timeout: gaps {gaps(times)}")


# ---- 5. the file is live --------------------------------------------------------------------


def wait_reload_status(exp: Exporter, value: float, targets) -> Metrics:
    """Waits until every target's config collector reports the reload status."""
    def check():
        m = exp.metrics()
        seen = {s.labels.get("target"): s.value
                for s in m.find("caloria_exporter_config_last_reload_successful")}
        return m if seen == {t: value for t in targets} else None
    return exp.wait_for(f"caloria_exporter_config_last_reload_successful == {value} for "
                        f"{targets}", check, SEEN_WITHIN)


def test_reload_follows_the_file_and_keeps_the_old_targets_on_a_bad_one(pg, tmp_path, started):
    gamma_db = make_sqlite(tmp_path / "data" / "gamma.db", users=GAMMA_USERS)
    delta_db = make_sqlite(tmp_path / "data" / "delta.db", users=6)
    gamma_again = make_sqlite(tmp_path / "data" / "gamma7.db", users=7)
    conf = tmp_path / "conf"
    conf.mkdir()
    config = conf / "targets.yml"
    alpha = {"name": "alpha", "url": alpha_url(pg)}
    gamma = {"name": "gamma", "url": f"sqlite:///{gamma_db}"}
    delta = {"name": "delta", "url": f"sqlite:///{delta_db}"}
    write_targets(config, [alpha, gamma])
    exp = started([f"--config.file={config}"])
    wait_targets(exp, {"alpha": ALPHA_USERS, "gamma": GAMMA_USERS})

    # An edit, seen at the next poll: alpha removed, delta added.
    write_targets(config, [gamma, delta])
    m = wait_targets(exp, {"gamma": GAMMA_USERS, "delta": 6}, timeout=SEEN_WITHIN)
    assert not [s for s in m.samples if s.labels.get("target") == "alpha"], (
        "series of the removed target are still served")
    assert exp.get("/probe?target=alpha").status == 404
    probe = exp.get("/probe?target=delta")
    assert probe.status == 200 and Metrics.parse(probe.text).get("caloria_database_users") == 6
    assert set(exp.get("/health").json()["targets"]) == {"gamma", "delta"}
    logs = exp.logs().splitlines()
    assert [line for line in logs if "target removed" in line and "target=alpha" in line], logs
    assert [line for line in logs if "target added" in line and "target=delta" in line], logs

    # POST /-/reload: alpha back, gamma's database changed under the same name.
    write_targets(config, [{**gamma, "url": f"sqlite:///{gamma_again}"}, delta, alpha])
    resp = exp.get("/-/reload", method="POST", data=b"")
    assert resp.status == 200, resp.text
    wait_targets(exp, {"gamma": 7, "delta": 6, "alpha": ALPHA_USERS})
    probe = Metrics.parse(exp.get("/probe?target=gamma").text)
    assert probe.get("caloria_database_users") == 7

    # A bad file: rejected, the targets in force kept.
    good = config.read_text()
    bad = good.replace('  - name: "delta"\n', '  - name: "delta"\n    colour: "red"\n')
    assert bad != good
    write_atomically(config, bad)
    m = wait_reload_status(exp, 0, ("gamma", "delta", "alpha"))
    assert m.get("caloria_config_problem", check="config_reload_failed", target="delta") == 1
    wait_targets(exp, {"gamma": 7, "delta": 6, "alpha": ALPHA_USERS}, timeout=1)
    assert exp.get("/probe?target=alpha").status == 200
    failed = [line for line in exp.logs().splitlines() if "reload failed" in line]
    assert failed, exp.logs()[-2000:]
    assert str(config) in failed[-1] and "'colour'" in failed[-1] and "delta" in failed[-1], (
        failed[-1])
    resp = exp.get("/-/reload", method="POST", data=b"")
    assert resp.status == 500, resp.text
    assert "colour" in resp.text and str(config) in resp.text, resp.text

    # Mended and reloaded by SIGHUP.
    write_atomically(config, good)
    os.kill(exp.pid(), signal.SIGHUP)
    wait_reload_status(exp, 1, ("gamma", "delta", "alpha"))
    wait_targets(exp, {"gamma": 7, "delta": 6, "alpha": ALPHA_USERS})
    assert exp.running()
    no_leaks(exp.logs(), "the exporter's log")


# ---- 6. the password shows nowhere -----------------------------------------------------------


def test_the_password_of_a_target_shows_on_no_page_and_in_no_log(pg, tmp_path, hung_port,
                                                                started):
    refused = free_port()  # nothing listens there
    conf = tmp_path / "conf"
    (conf / "viaenv").mkdir(parents=True)
    (conf / "viaenv" / ".env").write_text(
        f"DATABASE_URL={alpha_url(pg, port=refused)}\nSECRET_KEY=dev\n")
    targets = [
        {"name": "alpha", "url": alpha_url(pg)},
        {"name": "refused", "url": alpha_url(pg, port=refused)},
        {"name": "hung", "url": alpha_url(pg, port=hung_port.port)},
        {"name": "wrongpw", "url": alpha_url(pg, password=WRONG_PASSWORD)},
        {"name": "viaenv", "env_file": "viaenv/.env"},
        {"name": "rawat", "url": alpha_url(pg).replace("%40", "@")},
    ]
    config = write_targets(conf / "targets.yml", targets)
    exp = started([f"--config.file={config}", "--log.level=debug"])
    names = [t["name"] for t in targets]

    def all_polled():
        m = exp.metrics()
        ups = {s.labels["target"]: s.value for s in m.find("caloria_database_up")}
        return ups if set(ups) == set(names) else None

    ups = exp.wait_for("every target's database collector to run", all_polled, POLL_WAIT)
    assert ups["alpha"] == 1, ups
    for name in names[1:]:
        assert ups[name] == 0, ups
    logs = exp.logs()
    # Each failure really happened (a case failing otherwise proves nothing).
    for expected in ("refused", "timed out", "password authentication failed"):
        assert expected in logs, f"{expected!r} not in the log:\n{logs[-3000:]}"

    pages = {"/": exp.get("/"), "/metrics": exp.get("/metrics"), "/health": exp.get("/health"),
             "/probe?target=nosuch": exp.get("/probe?target=nosuch"),
             "/probe?target=<alpha's url>": exp.get("/probe?target=" + alpha_url(pg))}
    for name in names:
        for path in (f"/probe?target={name}", f"/health?target={name}"):
            pages[path] = exp.get(path)
        checks = exp.get(f"/health?target={name}").json()["checks"]
        assert {"database", "configuration"} <= set(checks), checks
        for check in checks:
            path = f"/health/{check}?target={name}"
            pages[path] = exp.get(path)
    # A reload to a file whose url does not parse, password inside.
    write_atomically(config, targets_yaml(
        targets + [{"name": "badport",
                    "url": pg_url(ROLE, PASSWORD, "127.0.0.1", 5432, ALPHA_DB)
                    .replace(":5432/", ":abc/")}]))
    pages["POST /-/reload"] = exp.get("/-/reload", method="POST", data=b"")
    assert pages["POST /-/reload"].status == 500, pages["POST /-/reload"].text
    exp.wait_metric("caloria_exporter_config_last_reload_successful", 0, timeout=SEEN_WITHIN,
                    target="alpha")
    pages["/health?target=alpha after the rejected reload"] = exp.get("/health?target=alpha")
    pages["/metrics after the rejected reload"] = exp.get("/metrics")
    for where, resp in pages.items():
        no_leaks(resp.text, where)
        no_leaks(str(resp.headers), f"the headers of {where}")
    configuration = pages["/health/configuration?target=alpha"].json()
    assert configuration["url"].startswith(f"postgresql://{ROLE}:"), configuration
    no_leaks(exp.logs(), "the exporter's log (debug level)")
    no_leaks(exp.stdout(), "the exporter's stdout")


# ---- 7. usage errors --------------------------------------------------------------------------


def secret_url(port: int = 5432) -> str:
    return pg_url(ROLE, PASSWORD, "127.0.0.1", port, ALPHA_DB)


def write_case(tmp_path, case: str):
    """The targets file and extra flags of one usage-error case, and the
    texts its one line must hold."""
    config = tmp_path / "targets.yml"
    sqlite_url = f"sqlite:///{tmp_path / 'app.db'}"
    good = [{"name": "alpha", "url": secret_url()}]
    env_file = tmp_path / ".env"
    env_file.write_text(f"DATABASE_URL={secret_url()}\n")
    url_file = tmp_path / "database.url"
    url_file.write_text(secret_url() + "\n")
    args: list[str] = []
    if case == "unknown-key":
        write_targets(config, [{"name": "alpha", "url": secret_url(), "colour": "red"}])
        expect = ["target alpha", "unknown key 'colour'"]
    elif case == "unknown-top-level-key":
        config.write_text(targets_yaml(good, extra_top="scrape_interval: 15s\n"))
        expect = ["unknown key 'scrape_interval'"]
    elif case == "duplicated-name":
        write_targets(config, [{"name": "alpha", "url": secret_url()},
                               {"name": "alpha", "url": sqlite_url}])
        expect = ["target alpha", "named twice"]
    elif case == "no-database":
        write_targets(config, [{"name": "beta", "url": secret_url()},
                               {"name": "alpha", "backup_dir": "/var/backups/alpha"}])
        expect = ["target alpha", "names no database", "env_file", "url_file", "url"]
    elif case == "url-and-url-file":
        write_targets(config, [{"name": "alpha", "url": secret_url(), "url_file": "x.url"}])
        expect = ["target alpha", "url_file"]
    elif case == "with-app-env-file":
        write_targets(config, good)
        args = [f"--app.env-file={env_file}"]
        expect = ["--app.env-file", "--config.file"]
    elif case == "with-database-url-file":
        write_targets(config, good)
        args = [f"--database.url-file={url_file}"]
        expect = ["--database.url-file", "--config.file"]
    elif case == "url-does-not-parse":
        write_targets(config, [{"name": "alpha", "url": secret_url().replace(":5432/", ":abc/")}])
        expect = ["target alpha", "port"]
    elif case == "url-pasted-as-key":
        config.write_text("targets:\n  - name: alpha\n"
                          f"    {secret_url()}: x\n    url: {sqlite_url}\n")
        expect = ["target alpha", "unknown key"]
    elif case == "name-is-an-address":
        write_targets(config, [{"name": "127.0.0.1:5432", "url": secret_url()}])
        expect = ["target 1", "name"]
    elif case == "name-is-a-url":
        write_targets(config, [{"name": secret_url(), "url": sqlite_url}])
        expect = ["target 1", "name"]
    elif case == "name-too-long":
        write_targets(config, [{"name": "a" * 65, "url": secret_url()}])
        expect = ["target 1", "64"]
    elif case == "no-targets":
        config.write_text("targets: []\n")
        expect = ["targets"]
    elif case == "missing-file":
        config = tmp_path / "nosuch.yml"
        expect = []
    else:
        raise AssertionError(case)
    if not args:  # the flags are refused before the file is read: no path to name
        expect = [str(config)] + expect
    return config, args, expect


USAGE_CASES = ["unknown-key", "unknown-top-level-key", "duplicated-name", "no-database",
               "url-and-url-file", "with-app-env-file", "with-database-url-file",
               "url-does-not-parse", "url-pasted-as-key", "name-is-an-address", "name-is-a-url",
               "name-too-long", "no-targets", "missing-file"]


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected exactly one stderr line, got {len(lines)}: {stderr!r}"
    assert stderr.count("\n") <= 1, f"stderr must be one line: {stderr!r}"
    return lines[0]


@pytest.mark.parametrize("case", USAGE_CASES)
def test_a_bad_targets_file_at_startup_exits_2_with_one_line(tmp_path, case):
    config, args, expect = write_case(tmp_path, case)
    port = free_port()
    result = run_once([f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"]
                      + args, cwd=tmp_path)
    assert result.returncode == 2, (result.returncode, result.stderr)
    line = one_line(result.stderr)
    for text in expect:
        assert text in line, f"{text!r} not in {line!r}"
    no_leaks(result.stderr + result.stdout, "the usage error")


def test_a_url_that_does_not_parse_is_blamed_on_the_file_not_the_environment(tmp_path):
    """The url came from the targets file; the exporter's environment has no
    DATABASE_URL, so the line must not send the reader there."""
    config, args, _ = write_case(tmp_path, "url-does-not-parse")
    result = run_once([f"--config.file={config}"] + args, cwd=tmp_path)
    assert result.returncode == 2, (result.returncode, result.stderr)
    line = one_line(result.stderr)
    assert "environment variable" not in line, (
        f"the url of target alpha in {config} is blamed on the environment: {line!r}")
