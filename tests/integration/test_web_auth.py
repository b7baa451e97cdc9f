"""Basic auth from the web-config file's basic_auth_users (bcrypt hashes made
here with Python's crypt module, which calls the same libcrypt): it covers
every path but those --web.health-without-auth exempts, denies alike whatever
is wrong, and takes as long for an unknown user as for a wrong password."""

from __future__ import annotations

import base64
import http.client
import statistics
import time
import warnings
from pathlib import Path

import pytest

from exporter import make_sqlite, run_once, write_env

with warnings.catch_warnings():
    # crypt is deprecated (removed in Python 3.13) but is Debian 12's way to
    # libcrypt's bcrypt from the standard library.
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # noqa: E402  pylint: disable=deprecated-module

PASSWORD = "correct horse battery staple"


def bcrypt_hash(password: str, cost: int, prefix: str = "$2b$") -> str:
    """A bcrypt hash of password at `cost` (crypt's rounds are 2**cost).
    libcrypt writes $2b$; $2y$ and $2a$ differ only in the prefix for
    ASCII passwords, so those are rewritten from it."""
    hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=2 ** cost))
    assert hashed.startswith(f"$2b${cost:02d}$") and len(hashed) == 60, hashed
    return prefix + hashed[4:]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def request(port: int, path: str, method: str = "GET", authorization: str | None = None,
            conn: http.client.HTTPConnection | None = None, timeout: float = 5):
    """(status, headers with lowercase names, body); on `conn` when given, kept open."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Authorization": authorization} if authorization is not None else {}
        body = b"" if method == "POST" else None
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        if own:
            conn.close()


@pytest.fixture
def app_env(app_dir) -> Path:
    make_sqlite(app_dir / "instance" / "caloria.db", users=3)
    return write_env(app_dir, DATABASE_URL="sqlite:///caloria.db")


@pytest.fixture
def start_auth(app_env, start_exporter, tmp_path):
    """Factory: start_auth({user: hash}, *extra_args) -> running Exporter."""
    def start(users: dict[str, str], *extra: str):
        config_file = tmp_path / "web.yml"
        config_file.write_text("basic_auth_users:\n" + "".join(
            f"  {user}: '{hashed}'\n" for user, hashed in users.items()))
        return start_exporter(args=[f"--app.env-file={app_env}",
                                    f"--web.config.file={config_file}", *extra])
    return start


def wait_collected(exp, user: str = "alice") -> None:
    """Waits for the first poll's metrics, asking with credentials (the
    Exporter's own helpers cannot log in)."""
    def collected():
        status, _, body = request(exp.port, "/metrics", authorization=basic(user, PASSWORD))
        return status == 200 and b"caloria_database_up 1" in body
    exp.wait_for("the first collection, with credentials", collected, timeout=6)


@pytest.fixture(scope="module")
def cheap_users() -> dict[str, str]:
    # Cost 4, bcrypt's lowest: the functional tests need not wait on bcrypt.
    return {"alice": bcrypt_hash(PASSWORD, 4, "$2b$"),
            "bob": bcrypt_hash(PASSWORD, 4, "$2y$"),
            "carol": bcrypt_hash(PASSWORD, 4, "$2a$")}


PATHS = [("GET", "/"), ("GET", "/metrics"), ("HEAD", "/metrics"), ("GET", "/health"),
         ("GET", "/health/database"), ("GET", "/health/configuration"),
         ("POST", "/-/reload"), ("GET", "/nope")]


def assert_denied(status: int, headers: dict[str, str], body: bytes, what: str) -> None:
    assert status == 401, f"{what}: answered {status}, body {body[:200]!r}"
    challenge = headers.get("www-authenticate", "")
    assert challenge.lower().startswith("basic"), f"{what}: WWW-Authenticate={challenge!r}"
    assert b"caloria_" not in body and b"database" not in body, f"{what}: leaked {body[:200]!r}"


def test_the_right_password_is_let_in_with_2b_2y_and_2a_hashes(start_auth, cheap_users):
    exp = start_auth(cheap_users)
    wait_collected(exp)
    for user in cheap_users:
        status, _, body = request(exp.port, "/metrics", authorization=basic(user, PASSWORD))
        assert status == 200, (user, cheap_users[user][:4], status, body[:200])
        assert b"caloria_database_up" in body
    status, _, body = request(exp.port, "/-/reload", "POST", basic("alice", PASSWORD))
    assert status == 200, body


def test_every_path_needs_auth(start_auth, cheap_users):
    exp = start_auth(cheap_users)
    wait_collected(exp)
    wrong = {}
    for method, path in PATHS:
        status, headers, body = request(exp.port, path, method)
        try:
            assert_denied(status, headers, body, f"{method} {path} without credentials")
        except AssertionError as e:
            wrong[f"{method} {path}"] = str(e)
        status, _, _ = request(exp.port, path, method, basic("alice", PASSWORD))
        want = 404 if path == "/nope" else 200
        if status != want:
            wrong[f"{method} {path} with credentials"] = f"{status}, expected {want}"
    assert not wrong, wrong


@pytest.mark.parametrize("authorization", [
    pytest.param(basic("alice", "wrong password"), id="wrong-password"),
    pytest.param(basic("mallory", PASSWORD), id="unknown-user"),
    pytest.param(basic("alice", ""), id="empty-password"),
    pytest.param(basic("", PASSWORD), id="empty-user"),
    pytest.param(basic("Alice", PASSWORD), id="user-in-another-case"),
    pytest.param(basic("alice", PASSWORD + " "), id="password-with-a-trailing-space"),
    pytest.param(None, id="no-header"),
    pytest.param("", id="empty-header"),
    pytest.param("Basic", id="scheme-only"),
    pytest.param("Basic !!!not-base64!!!", id="not-base64"),
    pytest.param("Basic " + base64.b64encode(b"alice" + PASSWORD.encode()).decode(),
                 id="no-colon"),
    pytest.param("Bearer " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode(),
                 id="other-scheme"),
    pytest.param("Basic " + base64.b64encode(f"alice:{PASSWORD}\0".encode()).decode(),
                 id="nul-in-password"),
    pytest.param("Basic " + "QUFB" * 1250, id="over-4KiB"),
])
def test_anything_but_the_right_credentials_is_401(start_auth, cheap_users, authorization):
    exp = start_auth(cheap_users)
    for method, path in (("GET", "/metrics"), ("GET", "/health")):
        status, headers, body = request(exp.port, path, method, authorization)
        assert_denied(status, headers, body, f"{method} {path}")


def test_a_denied_request_leaves_the_connection_usable(start_auth, cheap_users):
    exp = start_auth(cheap_users)
    conn = http.client.HTTPConnection("127.0.0.1", exp.port, timeout=5)
    try:
        for _ in range(3):
            status, headers, body = request(exp.port, "/metrics", conn=conn)
            assert_denied(status, headers, body, "kept-alive request without credentials")
            status, _, _ = request(exp.port, "/metrics", authorization=basic("alice", PASSWORD),
                                   conn=conn)
            assert status == 200
    finally:
        conn.close()


def test_health_without_auth_exempts_exactly_the_paths_listed(start_auth, cheap_users):
    exp = start_auth(cheap_users, "--web.health-without-auth=/health")
    wait_collected(exp)
    status, _, body = request(exp.port, "/health")
    assert status == 200, (status, body[:300])
    assert b"status" in body
    for method, path in PATHS:
        if path == "/health":
            continue
        status, headers, body = request(exp.port, path, method)
        assert_denied(status, headers, body, f"{method} {path} with only /health exempted")
    # Two pages listed, both open; a page with a trailing slash is not one of them.
    exp.stop()
    exp = start_auth(cheap_users, "--web.health-without-auth=/health,/health/database")
    wait_collected(exp)
    for path in ("/health", "/health/database"):
        assert request(exp.port, path)[0] == 200, path
    for path in ("/health/", "/health/configuration", "/metrics", "/health/../metrics",
                 "/health/database/../../metrics", "/health/database?x=1/.."):
        status, headers, body = request(exp.port, path)
        if path == "/health/database?x=1/..":
            assert status == 200, (path, status)  # the query is not part of the path
            continue
        assert_denied(status, headers, body, f"GET {path}")


@pytest.mark.parametrize("paths", ["/metrics", "/health,/metrics", "/-/reload", "/",
                                   "/healthz", "/health/../metrics"])
def test_health_without_auth_accepts_only_health_pages(app_env, paths):
    result = run_once([f"--app.env-file={app_env}", f"--web.health-without-auth={paths}"])
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "web.health-without-auth" in lines[0], lines[0]


def test_a_bad_hash_is_a_usage_error(app_env, tmp_path):
    config_file = tmp_path / "web.yml"
    config_file.write_text("basic_auth_users:\n  alice: plaintext-password\n")
    result = run_once([f"--app.env-file={app_env}", f"--web.config.file={config_file}"])
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "web.yml" in lines[0], lines[0]
    assert "plaintext-password" not in result.stderr, "the secret was printed"


# ---- timing -----------------------------------------------------------------------


def _timed_denial(port: int, authorization: str) -> float:
    """Seconds for one denied request, on a new connection (so the bcrypt
    check is all that differs between the kinds)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.connect()
        started = time.perf_counter()
        status, headers, body = request(port, "/metrics", authorization=authorization,
                                        conn=conn)
        elapsed = time.perf_counter() - started
    finally:
        conn.close()
    assert_denied(status, headers, body, "timed attempt")
    return elapsed


def _measure(port: int, rounds: int, run: int) -> tuple[list[float], list[float]]:
    wrong_password, unknown_user = [], []
    for i in range(rounds):
        # Fresh passwords (and users) every time: a cached verdict skips bcrypt.
        wrong_password.append(_timed_denial(port, basic("alice", f"guess-{run}-{i}")))
        unknown_user.append(_timed_denial(port, basic(f"nobody{run}x{i}", f"guess-{run}-{i}")))
    return wrong_password, unknown_user


def test_an_unknown_user_takes_as_long_as_a_wrong_password(start_auth):
    """At a realistic cost (10: about 50-100 ms a check here), the medians of
    fresh wrong-password and fresh unknown-user attempts must differ by less
    than 20 %. Why that bound: a server that skips bcrypt for an unknown user
    answers in well under 1 ms (a ratio of about 100), one that checks against
    a cheaper dummy (cost 9) takes half as long (a 50 % difference), while two
    equal bcrypt runs on a loaded 2-core machine differ in the median of 7 by a
    few percent: the attempts alternate, so load hits both kinds alike. On a
    miss it measures once more (load spikes are not what this test is about)
    and fails only if both runs are off."""
    exp = start_auth({"alice": bcrypt_hash(PASSWORD, 10)})
    status, _, _ = request(exp.port, "/metrics", authorization=basic("alice", PASSWORD))
    assert status == 200
    report = []
    for run in range(2):
        wrong, unknown = _measure(exp.port, rounds=7, run=run)
        a, b = statistics.median(wrong), statistics.median(unknown)
        difference = abs(a - b) / max(a, b)
        report.append(f"run {run}: wrong password median {a * 1000:.1f} ms "
                      f"{[round(x * 1000, 1) for x in wrong]}, unknown user median "
                      f"{b * 1000:.1f} ms {[round(x * 1000, 1) for x in unknown]}, "
                      f"difference {difference:.0%}")
        print(report[-1])
        # A cost-10 bcrypt cannot take under 10 ms: if it does, it did not run.
        assert a > 0.010, f"a wrong password was denied without bcrypt: {report[-1]}"
        if difference < 0.20:
            return
    pytest.fail("an unknown user and a wrong password take different times:\n"
                + "\n".join(report))
