"""Helpers for test_targets.py (--config.file): the targets file, the
PostgreSQL databases of the targets, TCP ports that record or swallow
connections, a real Prometheus with a generated config, and the password
checks. Every wait has a deadline and every process and socket is closed by
its owner, so nothing here can hang the suite."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path




# ---- the targets file ------------------------------------------------------------


def targets_yaml(targets: list[dict[str, str]], extra_top: str = "") -> str:
    """A targets file: each value double-quoted (JSON strings are YAML
    double-quoted scalars), in the order given."""
    lines = ["targets:"]
    for target in targets:
        first = True
        for key, value in target.items():
            lines.append(("  - " if first else "    ") + f"{key}: {json.dumps(value)}")
            first = False
    return "\n".join(lines) + "\n" + extra_top


def write_atomically(path: Path, text: str) -> Path:
    """Replaces the file in one step, as an editor or a config tool does: the
    exporter never reads half of it."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def write_targets(path: Path, targets: list[dict[str, str]]) -> Path:
    return write_atomically(path, targets_yaml(targets))


# ---- PostgreSQL: a role and a database per target ---------------------------------------


def ensure_role(pg, role: str, password: str) -> None:
    pw = password.replace("'", "''")
    pg.sql(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') "
           f"THEN CREATE ROLE {role} LOGIN PASSWORD '{pw}'; "
           f"ELSE ALTER ROLE {role} LOGIN PASSWORD '{pw}'; END IF; END $$",
           database="postgres")


def ensure_database(pg, name: str, owner: str, users: int) -> None:
    """Database `name` owned by `owner`, holding a users table of `users` rows."""
    if not pg.sql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'", database="postgres"):
        pg.sql(f"CREATE DATABASE {name} OWNER {owner}", database="postgres")
    pg.sql("DROP TABLE IF EXISTS users; "
           "CREATE TABLE users (id serial PRIMARY KEY, email text); "
           f"ALTER TABLE users OWNER TO {owner}; "
           "INSERT INTO users (email) "
           f"SELECT 'user' || g || '@example.com' FROM generate_series(1, {users}) AS g",
           database=name)


def pg_url(role: str, password: str, host: str, port: int, database: str) -> str:
    return (f"postgresql://{role}:{urllib.parse.quote(password, safe='')}@{host}:{port}"
            f"/{database}")


# ---- ports -------------------------------------------------------------------------------


class ConnectionRecorder:
    """A listening TCP port that accepts every connection and records it:
    the proof that the exporter connected nowhere it was told to."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.connections: list[tuple[float, tuple, bytes]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            first = b""
            try:
                conn.settimeout(0.5)
                first = conn.recv(200)
            except OSError:
                pass
            finally:
                conn.close()
            self.connections.append((time.time(), peer, first))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


class HungPort:
    """A port whose kernel completes every TCP handshake and where nobody
    ever reads or answers: a hung database server, as in the secrets matrix."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()
