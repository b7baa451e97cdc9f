"""No DATABASE_URL anywhere: the exporter falls back to sqlite:///caloria.db
as Flask-SQLAlchemy would, and says so (metric and warning). An env file it
cannot read is reported too."""

import json
import os

import pytest

from exporter import make_sqlite


def warn_lines_mentioning(logs: str, word: str) -> list[str]:
    found = []
    for line in logs.splitlines():
        if word not in line:
            continue
        try:
            record = json.loads(line)
            if record.get("level") in ("warn", "warning"):
                found.append(line)
        except ValueError:
            if "level=warn" in line:
                found.append(line)
    return found


def test_env_file_without_database_url_falls_back_to_default_sqlite(app_dir, start_exporter):
    make_sqlite(app_dir / "instance" / "caloria.db", users=1)
    env_file = app_dir / ".env"
    env_file.write_text("SECRET_KEY=dev\nFLASK_DEBUG=1\n")
    exp = start_exporter(args=[f"--app.env-file={env_file}"])

    m = exp.wait_metric("caloria_config_problem", 1, check="database_url_missing")
    assert m.get("caloria_config_info", source="default") == 1, m.find("caloria_config_info")
    assert m.get("caloria_config_info", database_type="sqlite", source="default") == 1

    m = exp.wait_metric("caloria_database_up", 1)
    assert m.get("caloria_database_users") == 1
    body = exp.get("/health/database").json()
    assert os.path.realpath(body["sqlite_path"]) == os.path.realpath(
        app_dir / "instance" / "caloria.db")

    problems = exp.get("/health").json()["checks"]["configuration"]["problems"]
    assert "database_url_missing" in [p["check"] for p in problems], problems
    assert warn_lines_mentioning(exp.logs(), "DATABASE_URL"), (
        f"no level=warn log line mentions DATABASE_URL:\n{exp.logs()}"
    )


def test_without_env_file_the_current_directory_is_the_app_folder(tmp_path, start_exporter):
    cwd = tmp_path / "cwd"
    make_sqlite(cwd / "instance" / "caloria.db", users=4)
    exp = start_exporter(cwd=cwd)
    m = exp.wait_metric("caloria_database_up", 1)
    assert m.get("caloria_database_users") == 4
    assert m.get("caloria_config_problem", check="database_url_missing") == 1
    body = exp.get("/health/database").json()
    assert os.path.realpath(body["sqlite_path"]) == os.path.realpath(
        cwd / "instance" / "caloria.db")
    assert warn_lines_mentioning(exp.logs(), "DATABASE_URL"), exp.logs()


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_unreadable_env_file_is_a_configuration_problem(tmp_path, start_exporter, kind):
    if kind == "missing":
        env_file = tmp_path / "no-such-app" / ".env"
    else:
        env_file = tmp_path / "a-directory"
        env_file.mkdir()
    exp = start_exporter(args=[f"--app.env-file={env_file}"], cwd=tmp_path)
    exp.wait_metric("caloria_config_problem", 1, check="env_file_unreadable")
    problems = exp.get("/health").json()["checks"]["configuration"]["problems"]
    assert "env_file_unreadable" in [p["check"] for p in problems], problems
