"""A Flask app on SQLite: the relative path in .env resolves as Flask-SQLAlchemy
does (instance/ folder by default, the app folder with
--database.sqlite-relative-to=app), and a production app on SQLite is a
configuration problem."""

import os

from exporter import make_sqlite, write_env


def sqlite_app(app_dir, **env):
    """app_dir with .env naming sqlite:///caloria.db, 3 users in
    instance/caloria.db and 2 users in <app>/caloria.db."""
    make_sqlite(app_dir / "instance" / "caloria.db", users=3)
    make_sqlite(app_dir / "caloria.db", users=2)
    return write_env(app_dir, DATABASE_URL="sqlite:///caloria.db", **env)


def test_relative_sqlite_path_resolves_in_the_instance_folder(app_dir, start_exporter):
    env_file = sqlite_app(app_dir)
    exp = start_exporter(args=[f"--app.env-file={env_file}"])
    m = exp.wait_metric("caloria_database_up", 1)
    assert m.get("caloria_database_users") == 3
    assert m.get("caloria_database_info", type="sqlite") == 1
    assert m.get("caloria_config_info", database_type="sqlite", source="env_file") == 1

    resp = exp.get("/health/database")
    assert resp.status == 200
    assert resp.content_type.startswith("application/json")
    body = resp.json()
    assert body["database"] == "SQLITE"
    assert body["status"] == "healthy"
    assert body["user_count"] == 3
    path = body["sqlite_path"]
    assert os.path.isabs(path), path
    assert path.endswith("instance/caloria.db"), path
    assert os.path.realpath(path) == os.path.realpath(app_dir / "instance" / "caloria.db")

    health = exp.get("/health")
    assert health.status == 200
    assert health.json()["status"] == "healthy"


def test_sqlite_relative_to_app_opens_the_file_beside_the_env_file(app_dir, start_exporter):
    env_file = sqlite_app(app_dir)
    exp = start_exporter(args=[f"--app.env-file={env_file}",
                               "--database.sqlite-relative-to=app"])
    m = exp.wait_metric("caloria_database_up", 1)
    assert m.get("caloria_database_users") == 2
    body = exp.get("/health/database").json()
    assert body["user_count"] == 2
    assert os.path.realpath(body["sqlite_path"]) == os.path.realpath(app_dir / "caloria.db")
    assert not body["sqlite_path"].endswith("instance/caloria.db")


def test_absolute_sqlite_path_is_used_as_is(app_dir, tmp_path, start_exporter):
    elsewhere = make_sqlite(tmp_path / "elsewhere" / "data.db", users=5)
    env_file = write_env(app_dir, DATABASE_URL=f"sqlite:///{elsewhere}")
    exp = start_exporter(args=[f"--app.env-file={env_file}"])
    m = exp.wait_metric("caloria_database_up", 1)
    assert m.get("caloria_database_users") == 5
    body = exp.get("/health/database").json()
    assert os.path.realpath(body["sqlite_path"]) == os.path.realpath(elsewhere)


def test_sqlite_in_production_is_a_configuration_problem(app_dir, start_exporter):
    env_file = sqlite_app(app_dir, FLASK_ENV="production")
    exp = start_exporter(args=[f"--app.env-file={env_file}"])
    m = exp.wait_metric("caloria_config_problem", 1, check="database_type_unexpected")
    assert m.get("caloria_database_up") in (None, 1)  # the database itself is fine

    health = exp.get("/health")
    assert health.status == 503
    assert health.content_type.startswith("application/json")
    h = health.json()
    assert h["status"] == "unhealthy"
    assert h["checks"]["configuration"]["status"] == "unhealthy"
    problems = h["checks"]["configuration"]["problems"]
    assert "database_type_unexpected" in [p["check"] for p in problems], problems
    for p in problems:
        assert isinstance(p["message"], str) and p["message"], p


def test_app_env_production_also_expects_postgresql(app_dir, start_exporter):
    env_file = sqlite_app(app_dir, APP_ENV="production")
    exp = start_exporter(args=[f"--app.env-file={env_file}"])
    exp.wait_metric("caloria_config_problem", 1, check="database_type_unexpected")
    assert exp.get("/health").status == 503


def test_expected_type_flag_accepts_sqlite_in_production(app_dir, start_exporter):
    env_file = sqlite_app(app_dir, FLASK_ENV="production")
    exp = start_exporter(args=[f"--app.env-file={env_file}",
                               "--database.expected-type=sqlite"])
    m = exp.wait_metric("caloria_database_up", 1)
    assert m.get("caloria_config_problem", check="database_type_unexpected") in (None, 0)
    assert exp.get("/health").status == 200


def test_sqlite_in_development_is_no_problem(app_dir, start_exporter):
    env_file = sqlite_app(app_dir, FLASK_ENV="development")
    exp = start_exporter(args=[f"--app.env-file={env_file}"])
    m = exp.wait_metric("caloria_database_up", 1)
    # The config collector runs alongside the database one: give it a moment.
    exp.wait_metric("caloria_exporter_collector_success", 1, collector="config")
    m = exp.metrics()
    assert m.get("caloria_config_problem", check="database_type_unexpected") in (None, 0)
    assert exp.get("/health").json()["checks"]["configuration"]["status"] == "healthy"
