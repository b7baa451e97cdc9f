"""Fixtures for the caloria_exporter integration tests.

Real components only: a real PostgreSQL server (one per session, see
postgres.py), real SQLite files made with Python's sqlite3, and the real
exporter binary (see exporter.py). Everything is torn down even when a test
fails.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import exporter as exporter_mod  # noqa: E402
import postgres as postgres_mod  # noqa: E402

@pytest.fixture(scope="session")
def postgres_server():
    try:
        server = postgres_mod.start_server()
    except postgres_mod.PostgresError as e:
        pytest.fail(f"could not start the throwaway PostgreSQL server: {e}", pytrace=False)
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def pg(postgres_server):
    """The session's PostgreSQL, running and answering, with exactly the three
    seed users. Tests that stop or pause it leave it to the next setup (and
    the session teardown) to bring it back."""
    postgres_server.ensure_running()
    postgres_server.reset_users()
    yield postgres_server
    # Leave it usable for whoever comes next, even after a failed test.
    postgres_server.ensure_running()


@pytest.fixture(scope="session", autouse=True)
def exporter_binary():
    """Every test here runs the real binary: without it, each one errors
    with the same clear message instead of a confusing failure."""
    binary = exporter_mod.binary_path()
    if not binary.is_file():
        pytest.fail(
            f"exporter binary not found at {binary}: build it with "
            "`cmake -S . -B build && cmake --build build` or set CALORIA_EXPORTER_BIN",
            pytrace=False,
        )
    return binary


@pytest.fixture
def start_exporter(exporter_binary, tmp_path):
    """Factory: start_exporter(args=[...], env={...}, cwd=...) -> running Exporter.
    Every exporter it started is stopped at teardown; its logs are printed so
    that a failing test shows them."""
    started: list[exporter_mod.Exporter] = []

    def start(args=None, env=None, cwd=None, fast=True, ready_timeout=10):
        workdir = tmp_path / f"exporter{len(started)}"
        exp = exporter_mod.Exporter(args=args, env=env, cwd=cwd, fast=fast, workdir=workdir)
        started.append(exp)
        return exp.start(ready_timeout=ready_timeout)

    yield start
    for exp in started:
        exp.stop()
        print(f"--- exporter args={exp.args} exit={exp.exit_code} stderr (tail) ---")
        print(exp.logs()[-4000:])


@pytest.fixture
def app_dir(tmp_path):
    """An empty Flask app folder (with its instance/ folder)."""
    app = tmp_path / "app"
    (app / "instance").mkdir(parents=True)
    return app
