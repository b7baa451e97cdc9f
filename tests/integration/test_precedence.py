"""Where the database URL comes from: flag > process environment > app env
file > default. Each source points at a different database, so both the
source label and the database actually reached prove which one won."""

import pytest

from exporter import make_sqlite, write_env

# users in each candidate database
PG_USERS = 3
ENVIRONMENT_USERS = 5
ENV_FILE_USERS = 2
DEFAULT_USERS = 1


@pytest.fixture
def sources(app_dir, tmp_path, pg):
    """Paths and URLs for every source; each names its own database."""
    env_db = make_sqlite(tmp_path / "environment.db", users=ENVIRONMENT_USERS)
    file_db = make_sqlite(tmp_path / "env-file.db", users=ENV_FILE_USERS)
    make_sqlite(app_dir / "instance" / "caloria.db", users=DEFAULT_USERS)
    url_file = tmp_path / "database.url"
    url_file.write_text(pg.url() + "\n")
    return {
        "app": app_dir,
        "url_file": url_file,
        "environment_url": f"sqlite:///{env_db}",
        "env_file_url": f"sqlite:///{file_db}",
    }


def reached(exp, source, database_type, users):
    m = exp.wait_metric("caloria_database_up", 1)
    assert m.get("caloria_config_info", source=source) == 1, m.find("caloria_config_info")
    assert m.get("caloria_config_info", database_type=database_type, source=source) == 1
    assert m.get("caloria_database_users") == users
    assert exp.get("/health/database").json()["database"] == database_type.upper()


def test_url_file_flag_beats_environment_and_env_file(sources, start_exporter):
    env_file = write_env(sources["app"], DATABASE_URL=sources["env_file_url"])
    exp = start_exporter(
        args=[f"--app.env-file={env_file}", f"--database.url-file={sources['url_file']}"],
        env={"DATABASE_URL": sources["environment_url"]},
    )
    reached(exp, "flag", "postgresql", PG_USERS)


def test_environment_beats_env_file(sources, start_exporter):
    env_file = write_env(sources["app"], DATABASE_URL=sources["env_file_url"])
    exp = start_exporter(args=[f"--app.env-file={env_file}"],
                         env={"DATABASE_URL": sources["environment_url"]})
    reached(exp, "environment", "sqlite", ENVIRONMENT_USERS)


def test_database_url_file_in_environment_beats_database_url_in_env_file(
        sources, start_exporter):
    """DATABASE_URL_FILE set in the process environment is a process-environment
    source of the URL, so it wins over the env file's DATABASE_URL."""
    env_file = write_env(sources["app"], DATABASE_URL=sources["env_file_url"])
    exp = start_exporter(args=[f"--app.env-file={env_file}"],
                         env={"DATABASE_URL_FILE": str(sources["url_file"])})
    reached(exp, "environment", "postgresql", PG_USERS)


def test_database_url_file_variable_names_the_url_file(sources, start_exporter):
    exp = start_exporter(env={"DATABASE_URL_FILE": str(sources["url_file"])})
    reached(exp, "environment", "postgresql", PG_USERS)


def test_env_file_beats_default(sources, start_exporter):
    env_file = write_env(sources["app"], DATABASE_URL=sources["env_file_url"])
    exp = start_exporter(args=[f"--app.env-file={env_file}"])
    reached(exp, "env_file", "sqlite", ENV_FILE_USERS)


def test_default_when_no_source_names_a_url(sources, start_exporter):
    env_file = write_env(sources["app"], SECRET_KEY="dev")
    exp = start_exporter(args=[f"--app.env-file={env_file}"])
    reached(exp, "default", "sqlite", DEFAULT_USERS)


def test_process_flask_env_beats_the_env_file(sources, start_exporter):
    """FLASK_ENV=production in .env makes sqlite unexpected, unless the
    process environment says development."""
    env_file = write_env(sources["app"], DATABASE_URL=sources["env_file_url"],
                         FLASK_ENV="production")
    exp = start_exporter(args=[f"--app.env-file={env_file}"],
                         env={"FLASK_ENV": "development"})
    exp.wait_metric("caloria_exporter_collector_success", 1, collector="config")
    m = exp.wait_metric("caloria_database_up", 1)
    assert m.get("caloria_config_problem", check="database_type_unexpected") in (None, 0)
    assert exp.get("/health").status == 200


def test_expected_type_flag_beats_the_environment(sources, start_exporter):
    exp = start_exporter(
        args=["--database.expected-type=any"],
        env={"DATABASE_URL": sources["environment_url"], "FLASK_ENV": "production"},
    )
    exp.wait_metric("caloria_exporter_collector_success", 1, collector="config")
    m = exp.wait_metric("caloria_database_up", 1)
    assert m.get("caloria_config_problem", check="database_type_unexpected") in (None, 0)
    assert exp.get("/health").status == 200


def test_production_in_the_environment_expects_postgresql(sources, start_exporter):
    exp = start_exporter(env={"DATABASE_URL": sources["environment_url"],
                              "APP_ENV": "production"})
    exp.wait_metric("caloria_config_problem", 1, check="database_type_unexpected")
    assert exp.get("/health").status == 503
