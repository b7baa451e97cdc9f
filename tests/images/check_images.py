#!/usr/bin/env python3
"""Builds the exporter and backup images with podman and runs them as the compose
stack does, against a real PostgreSQL on the host (tests/images/run calls this).

  1. the Debian 12 base, made locally (scripts/debian-base-image): no registry here
  2. can podman run a container at all? If not: exit 77, skipped, with the reason
  3. podman build --target exporter and --target backup (the Dockerfile as it is)
  4. the images: non-root user, entrypoint, HEALTHCHECK, the runtime holds no
     compiler, -dev package or apt cache, every library the binaries need; sizes
  5. the backup image, run as compose runs it (its daily scheduler, BACKUP_ON_START=
     if-missing, the env file as a secret, a named volume): the backup it writes
     holds the database's users, is owned by the image's user, mode 0600; its
     HEALTHCHECK passes
  6. the exporter image, run as compose runs it (the same secret, the volume read-only):
     /health/database healthy on PostgreSQL with the users counted, /health/backup
     verified that backup, /metrics agrees; the process runs as uid 10001; its
     HEALTHCHECK passes; no password in its logs; `podman stop` ends it cleanly

  --build: steps 1-3 only; --run: steps 2, 4-6 on images built before (scripts/test
  builds in the background, then runs). Every podman call has a deadline.
Exit status: 0 passed, 1 failed, 77 skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))

import postgres as postgres_mod  # noqa: E402
from exporter import Metrics  # noqa: E402
from waiting import poll_until  # noqa: E402

SKIPPED = 77
USER = "caloria:caloria"
UID = "10001"
# crun, podman's default runtime, fails on these machines (cgroups in hybrid mode,
# setrlimit refused: ../shared/containers.md); runc with explicit limits works.
# CALORIA_PODMAN_RUNTIME=/bin/false shows the skipped case.
PODMAN = ["podman", "--runtime", os.environ.get("CALORIA_PODMAN_RUNTIME", "runc")]
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000"]
# Podman wants systemd to run HEALTHCHECKs on a timer, and there is no systemd here:
# the test runs them itself (`podman healthcheck run`).
NO_TIMER = ["--health-interval", "disable"]


class Failed(Exception):
    pass


class Skipped(Exception):
    """Podman cannot run containers on this machine: the reason."""


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def podman(*args: str, timeout: float = 60, check: bool = True,
           capture: bool = True) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run([*PODMAN, *args], capture_output=capture, text=True,
                                timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise Failed(f"podman {' '.join(args[:3])} ... did not end within {timeout:.0f} s")
    if check and result.returncode != 0:
        output = (result.stderr or "") + (result.stdout or "") if capture else ""
        raise Failed(f"podman {' '.join(args[:4])} ... exited {result.returncode}\n"
                     f"{output[-3000:]}")
    return result


def wait_for(name: str, what: str, probe, timeout: float):
    """waiting.poll_until for a container: fails with the container's logs."""
    return poll_until(what, probe, timeout, interval=0.5, error=Failed,
                      diagnostics=lambda: f"--- {name} logs ---\n{logs(name)[-3000:]}")


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode() if e.fp else ""


def mebibytes(size: int) -> str:
    return f"{size / 1048576:.1f} MiB"


# ---- 1-3: base, can podman run, build ------------------------------------------------

def make_base(base: str) -> None:
    step(f"the Debian 12 base image ({base}, scripts/debian-base-image)")
    started = time.monotonic()
    result = subprocess.run([str(REPO / "scripts" / "debian-base-image"), base],
                            timeout=900, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise Failed("scripts/debian-base-image failed (see above)")
    print(f"ok ({time.monotonic() - started:.0f} s)")


def podman_can_run(base: str) -> str | None:
    """None when podman runs a container here, else why it cannot."""
    step("podman runs a container")
    result = podman("run", "--rm", *LIMITS, base, "true", timeout=120, check=False)
    if result.returncode != 0:
        lines = (result.stderr or "").strip().splitlines()
        return (f"podman cannot run a container on this machine "
                f"(exit {result.returncode}): {lines[-1] if lines else 'no message'}")
    print("ok")
    return None


def build(target: str, tag: str, base: str, revision: str) -> float:
    step(f"podman build --target {target} -t {tag}")
    started = time.monotonic()
    log = Path(tempfile.gettempdir()) / f"caloria-image-{target}.log"
    with log.open("w") as out:
        try:
            result = subprocess.run(
                [*PODMAN, "build", "--format", "docker", "--network=host", *LIMITS,
                 "--build-arg", f"DEBIAN_IMAGE={base}",
                 "--build-arg", f"CALORIA_REVISION={revision}",
                 "--target", target, "-t", tag, str(REPO)],
                stdout=out, stderr=subprocess.STDOUT, timeout=1800,
                stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise Failed(f"podman build --target {target}: over 30 minutes")
    if result.returncode != 0:
        raise Failed(f"podman build --target {target} failed:\n"
                     + log.read_text(errors="replace")[-4000:])
    elapsed = time.monotonic() - started
    print(f"ok ({elapsed:.0f} s; log {log})")
    return elapsed


# ---- 4: what is in the images --------------------------------------------------------

def inspect(tag: str) -> dict:
    return json.loads(podman("image", "inspect", tag).stdout)[0]


def in_image(tag: str, script: str, timeout: float = 60) -> str:
    """Runs a bash script in a throwaway container of the image, as root (to look)."""
    return podman("run", "--rm", *LIMITS, *NO_TIMER, "--network=none", "--user", "0",
                  "--entrypoint", "bash", tag, "-c", script, timeout=timeout).stdout


def check_image(tag: str, entrypoint: str, binaries: list[str]) -> int:
    step(f"{tag}: user, entrypoint, healthcheck, contents")
    info = inspect(tag)
    config = info.get("Config", {})
    if config.get("User") != USER:
        raise Failed(f"{tag} runs as {config.get('User')!r}, not {USER}")
    if config.get("Entrypoint") != [entrypoint]:
        raise Failed(f"{tag}'s entrypoint is {config.get('Entrypoint')}, not {entrypoint}")
    # Podman puts the HEALTHCHECK beside Config (Docker puts it inside).
    check = info.get("Healthcheck") or config.get("Healthcheck") or {}
    if not check.get("Test"):
        raise Failed(f"{tag} has no HEALTHCHECK (built without --format docker?)")
    # The runtime stages must not carry the build's tools or apt's leftovers.
    leftovers = in_image(tag, r"""
        dpkg-query -W -f='${Package}\n' | grep -E -- '-dev$|^(gcc|g\+\+|cpp|cmake|make|git)(-[0-9]+)?$' || true
        ls /var/lib/apt/lists | grep -v -x -e lock -e partial -e auxfiles || true
        ls /var/cache/apt/archives/*.deb /var/cache/apt/*.bin 2>/dev/null || true
        find /usr/share/man /usr/share/locale -type f 2>/dev/null | head -3
    """).split()
    if leftovers:
        raise Failed(f"{tag} carries what its runtime does not need: {leftovers[:10]}")
    missing = in_image(tag, " ".join(
        f"ldd {b} | grep 'not found' | sed 's|^|{b}: |';" for b in binaries))
    if missing.strip():
        raise Failed(f"{tag} lacks libraries its binaries need:\n{missing}")
    size = int(info["Size"])
    print(f"ok: user {USER}, entrypoint {entrypoint}, HEALTHCHECK "
          f"{' '.join(check['Test'][1:])}; {mebibytes(size)}")
    return size


# ---- 5-6: run them -------------------------------------------------------------------

class Stack:
    """The containers, volume and secret one run creates, removed at the end."""

    def __init__(self) -> None:
        tag = secrets.token_hex(4)
        self.volume = f"caloria-test-backups-{tag}"
        self.secret = f"caloria-test-env-{tag}"
        self.containers: list[str] = []

    def container(self, name: str) -> str:
        full = f"{name}-{self.volume.rsplit('-', 1)[1]}"
        self.containers.append(full)
        return full

    def remove(self) -> None:
        for name in self.containers:
            podman("rm", "--force", "--time", "5", name, check=False, timeout=60)
        podman("volume", "rm", "--force", self.volume, check=False)
        podman("secret", "rm", self.secret, check=False)


def logs(name: str) -> str:
    result = podman("logs", name, check=False, timeout=30)
    return (result.stdout or "") + (result.stderr or "")


def healthcheck(name: str) -> None:
    result = podman("healthcheck", "run", name, check=False, timeout=60)
    if result.returncode != 0:
        raise Failed(f"HEALTHCHECK of {name} failed ({result.returncode}): "
                     f"{(result.stdout + result.stderr).strip()}\n{logs(name)[-2000:]}")


def run_backup(stack: Stack, image: str) -> Path:
    step(f"{image}: the daily scheduler backs up at start (BACKUP_ON_START=if-missing)")
    name = stack.container("caloria-test-backup")
    # As docker-compose.yml's backup service: its command, environment and volume.
    podman("run", "--detach", "--name", name, "--network=host", *LIMITS, *NO_TIMER,
           "--init", "--secret", f"{stack.secret},target=caloria_env",
           "--volume", f"{stack.volume}:/var/backups/caloria",
           "-e", "BACKUP_AT=02:00", "-e", "BACKUP_RETENTION_DAYS=7",
           "-e", "BACKUP_DIR=/var/backups/caloria",
           "-e", "BACKUP_LOG=/var/backups/caloria/caloria-backup.log",
           "-e", "BACKUP_ON_START=if-missing", "-e", "TZ=UTC",
           image, "--env-file", "/run/secrets/caloria_env")
    folder = Path(json.loads(podman("volume", "inspect", stack.volume).stdout)[0]
                  ["Mountpoint"])

    def backup_written():
        done = [p for p in folder.glob("*.gz") if p.is_file()]
        log = folder / "caloria-backup.log"
        return done[0] if done and log.exists() and "SUCCESS" in log.read_text() else None

    backup = wait_for(name, "a backup in the volume and SUCCESS in its log", backup_written,
                      120)
    stat = backup.stat()
    if str(stat.st_uid) != UID or stat.st_mode & 0o777 != 0o600:
        raise Failed(f"{backup.name}: owner {stat.st_uid}, mode {stat.st_mode & 0o777:o}; "
                     f"expected uid {UID}, mode 600")
    dump = subprocess.run(["gzip", "-dc", str(backup)], capture_output=True, timeout=60)
    missing = [e for e in postgres_mod.SEED_EMAILS if e.encode() not in dump.stdout]
    if dump.returncode != 0 or missing:
        raise Failed(f"{backup.name} is not a gzipped dump of the users (missing {missing})")
    healthcheck(name)
    print(f"ok: {backup.name}, {stat.st_size} bytes, uid {UID}, mode 600, the "
          f"{len(postgres_mod.SEED_EMAILS)} users in it; HEALTHCHECK healthy")
    return backup


def run_exporter(stack: Stack, image: str, backup: Path) -> None:
    step(f"{image}: /health/database and /health/backup against the test PostgreSQL")
    name = stack.container("caloria-test-exporter")
    port = postgres_mod.free_port()
    base_url = f"http://127.0.0.1:{port}"
    # As docker-compose.yml's exporter service, on a free port of the host's network.
    podman("run", "--detach", "--name", name, "--network=host", *LIMITS, *NO_TIMER,
           "--secret", f"{stack.secret},target=caloria_env",
           "--volume", f"{stack.volume}:/var/backups/caloria:ro",
           "-e", "TZ=UTC", "-e", f"CALORIA_HEALTHCHECK_ADDRESS=127.0.0.1:{port}",
           image, "--app.env-file=/run/secrets/caloria_env",
           "--backup.dir=/var/backups/caloria",
           "--backup.log=/var/backups/caloria/caloria-backup.log",
           f"--web.listen-address=127.0.0.1:{port}")

    def healthy(path: str):
        status, body = http_get(base_url + path)
        page = json.loads(body)
        return page if status == 200 and page.get("status") == "healthy" else None

    def backup_verified():
        status, body = http_get(base_url + "/health/backup")
        page = json.loads(body)
        return page if status == 200 and page.get("verified") is True else None

    database = wait_for(name, "/health/database healthy",
                        lambda: healthy("/health/database"), 60)
    backup_page = wait_for(name, "/health/backup verified", backup_verified, 60)
    if database.get("database") != "POSTGRESQL" or database.get("user_count") != 3:
        raise Failed(f"/health/database: {database}")
    if backup_page.get("file") != backup.name:
        raise Failed(f"/health/backup names {backup_page.get('file')}, not {backup.name}")
    status, text = http_get(base_url + "/metrics")
    metrics = Metrics.parse(text)
    expected = {"caloria_database_up": 1, "caloria_database_users": 3,
                "caloria_backup_latest_verified": 1, "caloria_backup_latest_users": 3}
    seen = {k: metrics.get(k) for k in expected}
    if status != 200 or seen != expected:
        raise Failed(f"/metrics ({status}): {seen}, expected {expected}")
    uid = podman("exec", name, "id", "-u", timeout=30).stdout.strip()
    if uid != UID:
        raise Failed(f"the exporter runs as uid {uid}, not {UID}")
    healthcheck(name)
    output = logs(name)
    if postgres_mod.APP_PASSWORD in output or postgres_mod.APP_PASSWORD_ENCODED in output:
        raise Failed("the exporter's logs show the database password")
    started = time.monotonic()
    podman("stop", "--time", "10", name, timeout=60)
    code = podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
    if code != "0":
        raise Failed(f"the exporter exited {code} on podman stop:\n{logs(name)[-2000:]}")
    print(f"ok: PostgreSQL {database.get('server_version')}, 3 users; {backup.name} "
          f"verified; /metrics agrees; uid {UID}; HEALTHCHECK healthy; no password in "
          f"the logs; stopped cleanly in {time.monotonic() - started:.1f} s")


def build_phase(args, revision: str) -> dict[str, float]:
    make_base(args.base)
    reason = podman_can_run(args.base)
    if reason:
        raise Skipped(reason)
    return {"exporter": build("exporter", args.exporter_tag, args.base, revision),
            "backup": build("backup", args.backup_tag, args.base, revision)}


def run_phase(args) -> dict[str, int]:
    def require(tag: str) -> None:
        if podman("image", "exists", tag, check=False).returncode != 0:
            raise Failed(f"no image {tag}: build it first (tests/images/run --build)")

    require(args.base)
    reason = podman_can_run(args.base)
    if reason:
        raise Skipped(reason)
    require(args.exporter_tag)
    require(args.backup_tag)
    sizes = {
        "base": int(inspect(args.base)["Size"]),
        "exporter": check_image(args.exporter_tag, "/usr/local/bin/caloria_exporter",
                                ["/usr/local/bin/caloria_exporter"]),
        "backup": check_image(args.backup_tag, "/usr/local/bin/caloria-backup-daily",
                              ["/usr/local/bin/caloria_backup_tool",
                               "/usr/lib/postgresql/15/bin/pg_dump"]),
    }
    server = postgres_mod.start_server()
    stack = Stack()
    try:
        env_file = Path(tempfile.mkdtemp()) / "caloria.env"
        env_file.write_text(f"DATABASE_URL={server.url()}\n")
        podman("secret", "create", stack.secret, str(env_file))
        env_file.unlink()
        env_file.parent.rmdir()
        backup = run_backup(stack, args.backup_tag)
        run_exporter(stack, args.exporter_tag, backup)
    finally:
        stack.remove()
        server.destroy()
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    phases = parser.add_mutually_exclusive_group()
    phases.add_argument("--build", action="store_true",
                        help="only steps 1-3: the base and the two images")
    phases.add_argument("--run", action="store_true",
                        help="only steps 4-6, on the images built before")
    parser.add_argument("--base", default="localhost/debian:12-slim")
    parser.add_argument("--exporter-tag", default="localhost/caloria-exporter:local")
    parser.add_argument("--backup-tag", default="localhost/caloria-backup:local")
    parser.add_argument("--sizes", type=Path,
                        help="also write the image sizes here (JSON), for bench/run")
    args = parser.parse_args()
    revision = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True, timeout=30).stdout.strip()
    try:
        if not args.run:
            build_phase(args, revision)
        if args.build:
            return 0
        sizes = run_phase(args)
    except Skipped as e:
        print(f"SKIPPED: {e}")
        return SKIPPED
    except (Failed, postgres_mod.PostgresError) as e:
        print(f"FAIL: {e}")
        return 1
    step("image sizes")
    for name, size in sizes.items():
        print(f"{name:9} {mebibytes(size):>10}")
    if args.sizes:
        args.sizes.write_text(json.dumps(sizes) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
