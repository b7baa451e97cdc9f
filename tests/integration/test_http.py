"""The HTTP surface: known paths, 404 and 405, content types, custom telemetry path."""

import re

import pytest

from exporter import Metrics, make_sqlite, write_env


@pytest.fixture
def sqlite_exporter(app_dir, start_exporter):
    make_sqlite(app_dir / "instance" / "caloria.db", users=3)
    env_file = write_env(app_dir, DATABASE_URL="sqlite:///caloria.db")

    def start(*extra):
        return start_exporter(args=[f"--app.env-file={env_file}", *extra])
    return start


def test_unknown_path_is_404(sqlite_exporter):
    exp = sqlite_exporter()
    assert exp.get("/nope").status == 404
    assert exp.get("/metrics/extra").status == 404


def test_writing_methods_on_known_paths_are_405(sqlite_exporter):
    exp = sqlite_exporter()
    got = {}
    for path in ("/metrics", "/health", "/health/database", "/"):
        for method in ("POST", "PUT", "DELETE"):
            data = b"x=1" if method in ("POST", "PUT") else None
            got[f"{method} {path}"] = exp.get(path, method=method, data=data).status
    wrong = {request: status for request, status in got.items() if status != 405}
    assert not wrong, f"expected 405 for: {wrong}"


def test_head_and_get_are_allowed(sqlite_exporter):
    exp = sqlite_exporter()
    exp.wait_metric("caloria_database_up", 1)
    for path in ("/metrics", "/health", "/health/database", "/"):
        for method in ("GET", "HEAD"):
            resp = exp.get(path, method=method)
            assert resp.status == 200, (method, path, resp.status)
            if method == "HEAD":
                assert resp.body == b"", path


def test_content_types(sqlite_exporter):
    exp = sqlite_exporter()
    exp.wait_metric("caloria_database_up", 1)
    for path in ("/health", "/health/database"):
        assert exp.get(path).content_type.startswith("application/json"), path
    assert exp.get("/metrics").content_type.startswith("text/plain")
    assert exp.get("/").content_type.startswith("text/html")


def test_landing_page_links_every_page(sqlite_exporter):
    exp = sqlite_exporter()
    resp = exp.get("/")
    assert resp.status == 200
    assert resp.content_type.startswith("text/html")
    hrefs = set(re.findall(r'href\s*=\s*["\']([^"\']+)["\']', resp.text))
    for path in ("/metrics", "/health", "/health/database"):
        assert path in hrefs, f"landing page does not link {path}: {sorted(hrefs)}"


def test_custom_telemetry_path_serves_the_metrics(sqlite_exporter):
    exp = sqlite_exporter("--web.telemetry-path=/m")
    exp.wait_metric("caloria_database_up", 1, path="/m")
    m = Metrics.parse(exp.get("/m").text)
    assert m.get("caloria_database_users") == 3
    assert exp.get("/metrics").status == 404
    hrefs = re.findall(r'href\s*=\s*["\']([^"\']+)["\']', exp.get("/").text)
    assert "/m" in hrefs, hrefs
    assert exp.get("/m", method="POST", data=b"").status == 405
