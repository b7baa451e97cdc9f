"""The app probe (--app.health-url) asks the running app which database it is
on, as the seed's incident needed: an app that never loaded its .env ran on
SQLite while the exporter, reading that .env itself, saw PostgreSQL.

A local fake app (fake_app.py) plays the app's /health/database: healthy on
PostgreSQL, fallen back to SQLite, wrong fields, garbage, slow, huge, a
redirect loop, a 500, and HTTPS with a self-signed certificate. Each time
the exporter must say what it saw on /metrics and /health/app, stay up and
quick, never show the URL's password, and keep /metrics promtool-clean."""

from __future__ import annotations

import time

import pytest

from exporter import FORBIDDEN, INTERVAL, SLACK, TIMEOUT, assert_no_password, run_once
from fake_app import SEED_ANSWER, FakeApp, Reply, json_reply, make_self_signed_cert
from postgres import APP_PASSWORD, APP_PASSWORD_ENCODED, APP_USER, free_port
from test_promtool import PROMTOOL, promtool_check

PAGES = ("/metrics", "/health", "/health/app", "/")
HUGE_REPEATS = 256  # of 64 KiB: 16 MiB

ROUTES = {
    "/postgresql": json_reply(SEED_ANSWER),
    "/sqlite": json_reply({**SEED_ANSWER, "database": "SQLITE"}),
    "/wrong": json_reply({"database": "SQLITE", "status": "healthy", "user_count": "three"}),
    "/unknown": json_reply({**SEED_ANSWER, "database": "MySQL"}),
    "/garbage": Reply(body=b"<!DOCTYPE html><p>Welcome to nginx!</p>", content_type="text/html"),
    "/array": json_reply([SEED_ANSWER]),
    "/slow": Reply(body=json_reply(SEED_ANSWER).body, delay=30),
    "/huge": Reply(body=b" " * 65536, repeat=HUGE_REPEATS),
    "/loop": Reply(status=302, location="/loop"),
    "/500": json_reply({"database": "POSTGRESQL", "status": "unhealthy"}, status=500),
}


@pytest.fixture(scope="module")
def app():
    with FakeApp(ROUTES) as fake:
        yield fake


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return make_self_signed_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_app(certificate):
    with FakeApp(ROUTES, tls=certificate) as fake:
        yield fake


def start_probing(start_exporter, url: str, *extra: str):
    """An exporter probing `url`, once its first probe is on /metrics."""
    exp = start_exporter(args=["--no-collector.database", f"--app.health-url={url}", *extra])
    exp.wait_metric("caloria_app_probe_duration_seconds", timeout=INTERVAL + TIMEOUT + SLACK)
    return exp


def app_check(exp) -> tuple[int, dict]:
    response = exp.get("/health/app")
    return response.status, response.json()


def assert_still_fine(exp) -> None:
    """Up, answering at once, and every page free of the password."""
    assert exp.running(), f"the exporter exited:\n{exp.logs()}"
    for path in PAGES:
        response = exp.get(path)
        assert response.elapsed < 1.0, f"{path} took {response.elapsed:.2f}s"
        assert_no_password(response.text, path)
    assert_no_password(exp.logs(), "the log")


def check_metrics(exp) -> None:
    """/metrics is promtool-clean, when promtool is installed."""
    if PROMTOOL:
        promtool_check(exp.get("/metrics").text)


def assert_failed(exp, reason: str, http_status: int | None) -> None:
    """The probe got no usable answer: app_up 0, nothing the app said, an
    unhealthy /health/app naming the reason, and a failed collector run."""
    metrics = exp.metrics()
    assert metrics.get("caloria_app_up") == 0
    assert metrics.get("caloria_app_probe_http_status") == http_status
    for absent in ("caloria_app_database_info", "caloria_app_users", "caloria_app_healthy"):
        assert not metrics.find(absent), absent
    assert metrics.get("caloria_exporter_collector_success", collector="app_probe") == 0
    status, check = app_check(exp)
    assert status == 503 and check["status"] == "unhealthy", check
    assert reason in check["error"], check
    assert check["http_status"] == http_status
    assert exp.get("/health").status == 503
    check_metrics(exp)
    assert_still_fine(exp)


# ---- what the app says -----------------------------------------------------------


def test_a_healthy_postgresql_app(app, start_exporter):
    exp = start_probing(start_exporter, app.url("/postgresql"))
    metrics = exp.metrics()
    assert metrics.get("caloria_app_up") == 1
    assert metrics.get("caloria_app_database_info", type="postgresql") == 1
    assert metrics.get("caloria_app_users") == 3
    assert metrics.get("caloria_app_healthy") == 1
    assert metrics.get("caloria_app_probe_http_status") == 200
    assert metrics.get("caloria_exporter_collector_success", collector="app_probe") == 1
    status, check = app_check(exp)
    assert status == 200, check
    assert check["status"] == "healthy"
    assert check["url"] == app.url("/postgresql")
    assert (check["database"], check["user_count"], check["app_status"]) == (
        "POSTGRESQL", 3, "healthy")
    assert check["app_timestamp"] == SEED_ANSWER["timestamp"]
    assert check["http_status"] == 200 and check["duration_seconds"] < TIMEOUT
    assert "error" not in check
    assert exp.get("/health").json()["checks"]["app"]["status"] == "healthy"
    check_metrics(exp)
    assert_still_fine(exp)


def test_an_app_fallen_back_to_sqlite_says_so(app, start_exporter):
    exp = start_probing(start_exporter, app.url("/sqlite"))
    metrics = exp.metrics()
    assert metrics.get("caloria_app_database_info", type="sqlite") == 1
    assert metrics.get("caloria_app_database_info", type="postgresql") is None
    _, check = app_check(exp)
    assert check["database"] == "SQLITE"


def test_a_user_count_that_is_not_a_count_is_degraded(app, start_exporter):
    exp = start_probing(start_exporter, app.url("/wrong"))
    metrics = exp.metrics()
    assert metrics.get("caloria_app_up") == 1
    assert metrics.get("caloria_app_users") is None
    status, check = app_check(exp)
    assert status == 200 and check["status"] == "degraded", check
    assert check["user_count"] is None
    assert any("user_count" in problem for problem in check["problems"]), check


def test_an_unknown_database_type_is_reported_as_such(app, start_exporter):
    exp = start_probing(start_exporter, app.url("/unknown"))
    assert exp.metrics().get("caloria_app_database_info", type="mysql") == 1
    _, check = app_check(exp)
    assert check["status"] == "degraded"
    assert any("unknown database type 'MySQL'" in p for p in check["problems"]), check
    check_metrics(exp)


# ---- failed probes ------------------------------------------------------------------


FAILURES = [
    # path, what the error says, the HTTP status seen (None: no answer)
    ("/garbage", "not JSON", 200),
    ("/array", "not a JSON object", 200),
    ("/500", "HTTP 500", 500),
    ("/missing", "HTTP 404", 404),
]


@pytest.mark.parametrize("path, reason, http_status", FAILURES,
                         ids=[f[0].strip("/") for f in FAILURES])
def test_a_failed_probe_is_unhealthy_with_its_reason(app, start_exporter, path, reason,
                                                    http_status):
    assert_failed(start_probing(start_exporter, app.url(path)), reason, http_status)


def test_a_redirect_loop_stops_after_three_redirects(app, start_exporter):
    before = app.hits.get("/loop", 0)
    exp = start_probing(start_exporter, app.url("/loop"))
    assert_failed(exp, "redirect loop", None)
    exp.stop()  # no poll in flight: the hits are those of whole probes
    made = app.hits["/loop"] - before
    assert made > 0 and made % 4 == 0, f"{made} requests: each probe should make 1 + 3 redirects"


def test_a_huge_answer_is_not_read_to_the_end(app, start_exporter):
    before = app.body_bytes_sent
    exp = start_probing(start_exporter, app.url("/huge"))
    assert_failed(exp, "body too big", None)
    exp.stop()
    assert app.body_bytes_sent - before < HUGE_REPEATS * 65536 // 2


def test_a_slow_app_never_holds_up_the_exporter(app, start_exporter):
    exp = start_probing(start_exporter, app.url("/slow"))
    assert_failed(exp, "timeout", None)
    metrics = exp.metrics()
    took = metrics.get("caloria_exporter_collector_duration_seconds", collector="app_probe")
    assert took <= TIMEOUT + 0.5, took
    # Through several polls, each bounded by the timeout: pages keep answering at once.
    deadline = time.monotonic() + 2 * (INTERVAL + TIMEOUT)
    while time.monotonic() < deadline:
        assert_still_fine(exp)
        time.sleep(0.2)


def test_a_refused_connection_is_unhealthy(start_exporter):
    exp = start_probing(start_exporter, f"http://127.0.0.1:{free_port()}/health/database")
    assert_failed(exp, "cannot connect to the app", None)


# ---- HTTPS ---------------------------------------------------------------------------


def test_a_self_signed_certificate_is_refused_by_default(tls_app, start_exporter):
    exp = start_probing(start_exporter, tls_app.url("/postgresql"))
    assert_failed(exp, "TLS failure", None)
    assert "--app.health-ca-file" in app_check(exp)[1]["error"]


def test_a_self_signed_certificate_is_accepted_with_its_ca_file(tls_app, certificate,
                                                                start_exporter):
    exp = start_probing(start_exporter, tls_app.url("/postgresql"),
                        f"--app.health-ca-file={certificate[0]}")
    assert exp.metrics().get("caloria_app_database_info", type="postgresql") == 1
    status, check = app_check(exp)
    assert status == 200 and check["status"] == "healthy", check
    assert check["url"].startswith("https://127.0.0.1:")


def test_an_unreadable_ca_file_is_a_usage_error(tmp_path):
    result = run_once(["--app.health-url=https://127.0.0.1/health/database",
                       f"--app.health-ca-file={tmp_path / 'missing.pem'}"])
    assert result.returncode == 2
    assert "--app.health-ca-file" in result.stderr and "missing.pem" in result.stderr


def test_only_http_and_https_urls_are_accepted():
    result = run_once([f"--app.health-url=ftp://{APP_USER}:{APP_PASSWORD_ENCODED}@127.0.0.1/"])
    assert result.returncode == 2
    assert "--app.health-url" in result.stderr and "http" in result.stderr
    assert_no_password(result.stderr, "the usage error")


# ---- the password in the URL ----------------------------------------------------------


def test_the_password_is_sent_but_never_shown(app, start_exporter):
    url = app.url("/postgresql", userinfo=f"{APP_USER}:{APP_PASSWORD_ENCODED}@")
    exp = start_probing(start_exporter, url, "--log.level=debug")
    assert app.last_credentials == f"{APP_USER}:{APP_PASSWORD}"
    _, check = app_check(exp)
    assert check["url"] == app.url("/postgresql", userinfo=f"{APP_USER}:***@")
    assert_still_fine(exp)
    exp.stop()
    assert_no_password(exp.logs(), "the log after shutdown")


def test_the_password_is_never_shown_when_the_probe_fails(start_exporter):
    url = f"http://{APP_USER}:{APP_PASSWORD_ENCODED}@127.0.0.1:{free_port()}/health/database"
    exp = start_probing(start_exporter, url, "--log.level=debug")
    assert "error" in app_check(exp)[1]
    assert_still_fine(exp)


def test_a_raw_password_is_refused_without_showing_it():
    # "S3cr3t:P@ss/w%rd!" unencoded: its '@' and '/' would split it into host and path.
    result = run_once([f"--app.health-url=http://{APP_USER}:{APP_PASSWORD}@127.0.0.1/health"])
    assert result.returncode == 2
    assert "%40" in result.stderr
    assert_no_password(result.stderr, "the usage error")
    assert all(secret not in result.stdout for secret in FORBIDDEN)
