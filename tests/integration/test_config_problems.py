"""Configuration problems that do not stop the exporter are published as
caloria_config_problem{check=...} 1 and listed on /health."""

from exporter import make_sqlite


def problem_checks(exp):
    problems = exp.get("/health").json()["checks"]["configuration"]["problems"]
    return [p["check"] for p in problems]


def test_malformed_env_file_line_is_skipped_and_reported(app_dir, start_exporter):
    make_sqlite(app_dir / "instance" / "caloria.db", users=3)
    env_file = app_dir / ".env"
    # python-dotenv skips the unparsable last line and keeps the others.
    env_file.write_text('DATABASE_URL=sqlite:///caloria.db\nSECRET_KEY="unterminated\n')
    exp = start_exporter(args=[f"--app.env-file={env_file}"])
    m = exp.wait_metric("caloria_config_problem", 1, check="env_file_malformed")
    assert m.get("caloria_config_info", database_type="sqlite", source="env_file") == 1
    m = exp.wait_metric("caloria_database_up", 1)
    assert m.get("caloria_database_users") == 3
    assert "env_file_malformed" in problem_checks(exp)


def test_failing_users_query_is_reported(app_dir, start_exporter):
    make_sqlite(app_dir / "instance" / "caloria.db", users=3)
    env_file = app_dir / ".env"
    env_file.write_text("DATABASE_URL=sqlite:///caloria.db\n")
    exp = start_exporter(args=[f"--app.env-file={env_file}",
                               "--database.users-query=SELECT count(*) FROM no_such_table"])
    exp.wait_metric("caloria_config_problem", 1, check="users_query_failed")
    body = exp.get("/health/database").json()
    assert body["user_count"] is None, body
    assert body["status"] != "healthy", body
    assert "users_query_failed" in problem_checks(exp)


def test_custom_users_query_is_used(app_dir, start_exporter):
    make_sqlite(app_dir / "instance" / "caloria.db", users=3)
    env_file = app_dir / ".env"
    env_file.write_text("DATABASE_URL=sqlite:///caloria.db\n")
    exp = start_exporter(args=[f"--app.env-file={env_file}",
                               "--database.users-query=SELECT count(*) FROM users WHERE id > 1"])
    m = exp.wait_metric("caloria_database_up", 1)
    assert m.get("caloria_database_users") == 2
