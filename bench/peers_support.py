"""Pieces of bench/run (issue 13): the three exporters, /proc readers, HTTP
clients, wrk, a hung listener, the packages and the machine.

Python 3 standard library only. The PostgreSQL server comes from the
integration tests' own helper (tests/integration/postgres.py), imported by
bench/run through sys.path.
"""

from __future__ import annotations

import http.client
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
WRK_SCRIPT = BENCH_DIR / "wrk_report.lua"

PG_EXPORTER_BIN = Path("/usr/bin/prometheus-postgres-exporter")
SQL_EXPORTER_BIN = Path("/usr/bin/prometheus-sql-exporter")

# Debian packages bench/run needs; apt-get runs only when one is missing.
PACKAGES = ("prometheus-postgres-exporter", "prometheus-sql-exporter", "wrk",
            "postgresql", "binutils", "file")


class HarnessError(RuntimeError):
    """The harness itself broke: an exporter did not start, a figure could not
    be read. Never raised because of what a figure says."""


# ---- packages -----------------------------------------------------------------------


def package_version(name: str) -> str | None:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Status}\t${Version}", name],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0 or not out.stdout.startswith("install ok installed"):
        return None
    return out.stdout.split("\t", 1)[1]


def ensure_packages(log) -> list[str]:
    """Installs the missing packages with apt-get (as root, or through sudo).
    A policy-rc.d that refuses every start keeps the packages' own services
    (the peers' daemons on their default ports) from starting where
    invoke-rc.d is used. Returns the packages installed."""
    missing = [p for p in PACKAGES if package_version(p) is None]
    if not missing:
        return []
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    log(f"installing Debian packages: {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    policy = Path("/usr/sbin/policy-rc.d")
    created = False
    try:
        if not policy.exists():
            subprocess.run(sudo + ["sh", "-c", f"printf '#!/bin/sh\\nexit 101\\n' > {policy} "
                                   f"&& chmod +x {policy}"], check=True, timeout=30)
            created = True
        subprocess.run(sudo + ["apt-get", "update", "-qq"], env=env, check=True, timeout=600)
        subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends"]
                       + missing, env=env, check=True, timeout=1200,
                       stdout=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as e:
        raise HarnessError(f"installing {' '.join(missing)} failed: {e}") from e
    finally:
        if created:
            subprocess.run(sudo + ["rm", "-f", str(policy)], timeout=30)
    still = [p for p in missing if package_version(p) is None]
    if still:
        raise HarnessError(f"still missing after apt-get: {' '.join(still)}")
    return missing


def foreign_daemons(own_pids: set[int]) -> list[str]:
    """Peer exporters running that this harness did not start (a packaged
    service, say): they would share the CPU with the measurements."""
    found = []
    wanted = {str(PG_EXPORTER_BIN), str(SQL_EXPORTER_BIN)}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in own_pids:
            continue
        try:
            exe = os.readlink(f"/proc/{entry}/exe")
        except OSError:
            continue
        if exe in wanted:
            found.append(f"{exe} (pid {entry})")
    return found


# ---- /proc ------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def sched_seconds(pid: int) -> float:
    """Time on a CPU of every live thread of the process, from
    /proc/PID/task/*/schedstat (nanoseconds): finer than the 10 ms ticks of
    /proc/PID/stat, but a thread that ended takes its time with it."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rfind(")") + 2:].split()  # fields[0] is field 3, state
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def tree_cpu_seconds(pid: int) -> float:
    """CPU of a process and its children: its own utime + stime + cutime +
    cstime (the children it has reaped) plus utime + stime of each child still
    running. For the postmaster that is every PostgreSQL backend, including
    those that ended between two readings, so a difference of two readings
    is the CPU PostgreSQL spent in between."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rfind(")") + 2:].split()
    total = sum(int(x) for x in fields[11:15])
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                child = f.read()
        except OSError:
            continue
        cf = child[child.rfind(")") + 2:].split()
        if len(cf) > 12 and int(cf[1]) == pid:
            total += int(cf[11]) + int(cf[12])
    return total / CLOCK_TICKS


@dataclass
class Memory:
    rss_kib: int
    hwm_kib: int
    private_kib: int  # Private_Clean + Private_Dirty of smaps_rollup
    pss_kib: int
    threads: int

    def as_dict(self) -> dict:
        return dict(rss_kib=self.rss_kib, hwm_kib=self.hwm_kib, private_kib=self.private_kib,
                    pss_kib=self.pss_kib, threads=self.threads)


def proc_status(pid: int, keys=("VmRSS", "VmHWM", "Threads")) -> dict[str, int]:
    """The numeric fields `keys` of /proc/PID/status (kB for the Vm* ones):
    cheap enough to sample every few milliseconds."""
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in keys:
                values[key] = int(rest.split()[0])
    missing = [k for k in keys if k not in values]
    if missing:
        raise HarnessError(f"/proc/{pid}/status lacks {', '.join(missing)}")
    return values


def io_counters(pid: int) -> dict[str, int]:
    """/proc/PID/io: rchar (bytes the process read through read() and the
    like, page cache or not), read_bytes (from the disk), and the rest."""
    values = {}
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            key, _, rest = line.partition(":")
            values[key] = int(rest)
    return values


def memory(pid: int) -> Memory:
    values = proc_status(pid)
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("Private_Clean", "Private_Dirty", "Pss"):
                values[key] = int(rest.split()[0])
    try:
        return Memory(values["VmRSS"], values["VmHWM"],
                      values["Private_Clean"] + values["Private_Dirty"], values["Pss"],
                      values["Threads"])
    except KeyError as e:
        raise HarnessError(f"/proc/{pid} lacks {e}") from e


def rss_by_mapping(pid: int) -> dict[str, int]:
    """RSS (KiB) of the process by what is mapped, from /proc/PID/smaps:
    each file by its path, anonymous memory as [anon] (with [heap]), and the
    rest ([stack], [vdso], ...) by their names."""
    by: dict[str, int] = {}
    current = "[anon]"
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split(None, 5)
            if len(head) >= 5 and "-" in head[0] and ":" not in head[0]:
                name = head[5].strip() if len(head) > 5 else ""
                current = "[anon]" if name in ("", "[heap]") else name
            elif line.startswith("Rss:"):
                by[current] = by.get(current, 0) + int(line.split()[1])
    return dict(sorted(by.items(), key=lambda kv: -kv[1]))


def installed_size(binary: Path, workdir: Path) -> dict:
    """The binary's size, plus its shared libraries as ldd lists them
    (resolved and de-duplicated). A binary with debug info is also measured
    stripped (strip --strip-all of a copy), as a package would install it."""
    binary = binary.resolve()
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, timeout=30)
    libs = set()
    for line in out.stdout.splitlines():
        m = re.search(r"=>\s*(/\S+)", line) or re.match(r"\s*(/\S+)\s+\(", line)
        if m:
            libs.add(os.path.realpath(m.group(1)))
    libs.discard(str(binary))
    lib_bytes = sum(os.path.getsize(p) for p in libs if os.path.exists(p))
    size = binary.stat().st_size
    result = {"binary": str(binary), "binary_bytes": size, "libraries": len(libs),
              "library_bytes": lib_bytes, "total_bytes": size + lib_bytes,
              "stripped_bytes": size}
    file_out = subprocess.run(["file", "-b", str(binary)], capture_output=True, text=True,
                              timeout=30).stdout if shutil.which("file") else ""
    if "not stripped" in file_out and shutil.which("strip"):
        copy = workdir / (binary.name + ".stripped")
        subprocess.run(["strip", "--strip-all", "-o", str(copy), str(binary)], check=True,
                       timeout=120)
        result["stripped_bytes"] = copy.stat().st_size
        copy.unlink()
    result["stripped_total_bytes"] = result["stripped_bytes"] + lib_bytes
    result["debug_info"] = "not stripped" in file_out
    return result


IMAGES = (("exporter", "localhost/caloria-exporter:local"),
          ("backup job", "localhost/caloria-backup:local"),
          ("their Debian 12 base", "localhost/debian:12-slim"))


def container_image_size() -> str:
    """The sizes of the images tests/images/run builds (`podman image inspect`), or why
    they were not measured. The peers ship no image in Debian: no ratio."""
    if not shutil.which("podman"):
        return "not measured (podman is not installed)"
    sizes = []
    for name, tag in IMAGES:
        try:
            out = subprocess.run(["podman", "image", "inspect", "--format", "{{.Size}}", tag],
                                 capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"not measured (podman image inspect failed: {e})"
        if out.returncode == 0 and out.stdout.strip().isdigit():
            sizes.append(f"{name} {int(out.stdout) / 1048576:.1f} MiB ({tag})")
    if not sizes or "exporter" not in sizes[0]:
        return "not measured (no caloria image: tests/images/run builds them)"
    return "; ".join(sizes)


# ---- the machine ---------------------------------------------------------------------


def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    return {"hostname": socket.gethostname(), "cpu_model": model, "cores": os.cpu_count(),
            "memory_gib": round(mem_kib / 1024 / 1024, 1), "kernel": platform.release(),
            "python": platform.python_version()}


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# ---- processes ---------------------------------------------------------------------

_RUNNING: list["Process"] = []  # every process this harness started and has not stopped


class Process:
    """One exporter process: started in its own session, its output to log
    files, always stopped (SIGTERM, then SIGKILL) by stop() or stop_all()."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], workdir: Path,
                 port: int) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.workdir = workdir
        self.port = port
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / f"{name}.log"

    def start(self) -> "Process":
        with open(self.log_path, "ab") as log:
            self.started_at = time.monotonic()
            self.proc = subprocess.Popen(self.argv, env=self.env, cwd=str(self.workdir),
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)
        _RUNNING.append(self)
        return self

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise HarnessError(f"{self.name} is not running")
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            code = self.proc.returncode if self.proc else None
            raise HarnessError(f"{self.name} exited (status {code}); log tail:\n{self.log_tail()}")

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self in _RUNNING:
            _RUNNING.remove(self)
        self.proc = None


def stop_all() -> None:
    for p in list(_RUNNING):
        try:
            p.stop()
        except Exception:  # noqa: BLE001 - cleanup goes on
            if p.proc is not None:
                try:
                    os.killpg(p.proc.pid, signal.SIGKILL)
                except OSError:
                    pass


def own_pids() -> set[int]:
    return {p.proc.pid for p in _RUNNING if p.proc is not None}


# ---- HTTP ------------------------------------------------------------------------------


def get_once(port: int, path: str = "/metrics", timeout: float = 5.0) -> tuple[int, bytes]:
    """One GET on a new connection. Raises OSError on connection errors and
    timeouts (socket.timeout is an OSError)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    except http.client.HTTPException as e:
        raise ConnectionError(f"HTTP error: {e!r}") from e
    finally:
        conn.close()


class KeepAlive:
    """Sequential GETs on one kept-alive connection, as Prometheus scrapes;
    reconnects when the server closes it and counts the reconnects."""

    def __init__(self, port: int, path: str = "/metrics", timeout: float = 30.0) -> None:
        self.port = port
        self.path = path
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None
        self.reconnects = 0

    def get(self) -> tuple[int, int]:
        """(status, body bytes)."""
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                       timeout=self.timeout)
            try:
                self.conn.request("GET", self.path)
                resp = self.conn.getresponse()
                body = resp.read()
                if resp.will_close:
                    self.close()
                return resp.status, len(body)
            except (http.client.HTTPException, ConnectionError) as e:
                self.close()
                self.reconnects += 1
                if attempt:
                    raise ConnectionError(f"scrape failed twice: {e!r}") from e
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def wait_listening(procs: dict[str, Process], timeout: float) -> dict[str, float]:
    """Waits until each process's port accepts a TCP connection, checking
    them all in turn every 10 ms; returns the seconds from each process's
    start to the first accepted connection."""
    listening: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(listening) < len(procs):
        for key, proc in procs.items():
            if key in listening:
                continue
            proc.check_alive()
            try:
                with socket.create_connection(("127.0.0.1", proc.port), timeout=1):
                    listening[key] = time.monotonic() - proc.started_at
            except OSError:
                pass
        if time.monotonic() > deadline:
            late = [p for k, p in procs.items() if k not in listening]
            raise HarnessError(f"{late[0].name} did not listen on port {late[0].port} within "
                               f"{timeout}s; log tail:\n{late[0].log_tail()}")
        if len(listening) < len(procs):
            time.sleep(0.01)
    return listening


def sample_value(body: bytes, name: str, labels: str | None = None) -> float | None:
    """The value of the first sample of `name` in a text page: with any labels,
    or with exactly `labels` (the text between the braces, e.g.
    'collector="backup"')."""
    if labels is None:
        label_re = rb"(?:\{[^}\n]*\})?"
    else:
        label_re = rb"\{" + re.escape(labels.encode()) + rb"\}"
    m = re.search(rb"^" + re.escape(name.encode()) + label_re + rb"[ \t]+(\S+)",
                  body, re.MULTILINE)
    if not m:
        return None
    try:
        return float(m.group(1))
    except ValueError:
        return None


def count_samples(body: bytes, name: str) -> int:
    return len(re.findall(rb"^" + re.escape(name.encode()) + rb"[{ \t]", body, re.MULTILINE))


# ---- wrk ----------------------------------------------------------------------------------


def wrk_version() -> str:
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10)
    first = (out.stdout or out.stderr).splitlines()
    return first[0].split("Copyright")[0].strip() if first else "unknown"


def wrk_command(port: int, connections: int, duration: float, timeout_s: int = 10) -> list[str]:
    threads = min(2, connections)
    return ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s",
            f"--timeout={timeout_s}s", "-s", str(WRK_SCRIPT), f"http://127.0.0.1:{port}/metrics"]


def run_wrk(argv: list[str], duration: float) -> dict:
    """Runs wrk and parses the line its done() hook prints (wrk_report.lua)."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    except subprocess.TimeoutExpired as e:
        raise HarnessError(f"wrk did not finish: {argv}") from e
    m = re.search(r"^WRK_RESULT (.*)$", out.stdout, re.MULTILINE)
    if out.returncode != 0 or not m:
        raise HarnessError(f"wrk failed ({out.returncode}): {argv}\n{out.stdout}\n{out.stderr}")
    result = {}
    for pair in m.group(1).split():
        key, _, value = pair.partition("=")
        result[key] = float(value)
    seconds = result["duration_us"] / 1e6
    errors = sum(result[k] for k in ("connect", "read", "write", "timeout"))
    result.update(rps=result["requests"] / seconds if seconds else 0.0,
                  p50_ms=result["p50_us"] / 1000, p99_ms=result["p99_us"] / 1000,
                  max_ms=result["max_us"] / 1000, socket_errors=errors,
                  non2xx=result["status"])
    return result


# ---- a database that hangs ----------------------------------------------------------


class HungListener:
    """A TCP listener on 127.0.0.1 that accepts every connection and never
    sends a byte (tests/integration/test_secrets_matrix.py's "hung" case, with
    an accept loop so that the backlog never fills)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="hung-listener", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self.held.append(conn)
            except (socket.timeout, OSError):
                continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for conn in self.held:
            conn.close()
        self.sock.close()


# ---- a backup to verify ---------------------------------------------------------------

DUMP_HEADER = (
    "--\n-- PostgreSQL database dump\n--\n\n"
    "-- Dumped from database version 15.8\n-- Dumped by pg_dump version 15.8\n\n"
    "SET statement_timeout = 0;\nSET client_encoding = 'UTF8';\n\n"
    "CREATE TABLE public.users (\n    id integer NOT NULL,\n    email text NOT NULL,\n"
    "    name text,\n    created_at timestamp with time zone,\n"
    "    daily_calorie_goal integer,\n    active boolean\n);\n\n"
    "COPY public.meals (id, user_id, name, calories) FROM stdin;\n"
    "1\t1\tporridge\t350\n2\t1\tsoup\t220\n\\.\n\n"
    "COPY public.users (id, email, name, created_at, daily_calorie_goal, active) FROM stdin;\n")
DUMP_FOOTER = "\\.\n\n--\n-- PostgreSQL database dump complete\n--\n\n"
_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Ken", "Dennis", "Radia",
          "Frances")


def write_pg_dump(path: Path, sql_bytes: int, level: int = 6) -> dict:
    """A gzipped plain-SQL pg_dump of about `sql_bytes` of SQL, shaped as
    bench/backup_verify_bench.cpp makes its own: pg_dump's header, a small
    meals COPY block, one users COPY block of rows of about 87 bytes
    (pseudo-random, seeded, so the file is the same every time), `\\.` and
    the closing `-- PostgreSQL database dump complete`. Streamed through
    zlib (gzip wrapper) about 1 MiB at a time, then fsync'ed so that the
    kernel's writeback does not run during the measurement.
    Returns rows, sql_bytes, gzip_bytes."""
    import random
    bits = random.Random(20250724).getrandbits
    names = _NAMES
    deflate = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    rows = 0
    written = 0
    footer = DUMP_FOOTER.encode()
    with open(path, "wb") as out:
        chunk = DUMP_HEADER.encode()
        while (left := sql_bytes - written - len(chunk) - len(footer)) > 0:
            written += len(chunk)
            out.write(deflate.compress(chunk))
            batch = []  # about 1 MiB of rows, fewer at the end
            for i in range(rows + 1, rows + 1 + min(12_000, left // 87 + 1)):
                r = bits(64)
                batch.append(
                    f"{i}\tuser{i}.{r & 0xffffffff:08x}@example.com\t{names[(r >> 32) % 10]} "
                    f"{chr(65 + (r >> 36) % 26)}.\t2025-{1 + (r >> 40) % 12:02d}-"
                    f"{1 + (r >> 44) % 28:02d} {(r >> 49) % 24:02d}:{(r >> 54) % 60:02d}:"
                    f"{(r >> 20) % 60:02d}.{r % 1000000:06d}+00\t{1500 + (r >> 8) % 1500}\t"
                    f"{'t' if (r >> 60) % 5 else 'f'}\n")
            rows += len(batch)
            chunk = "".join(batch).encode()
        chunk += footer
        written += len(chunk)
        out.write(deflate.compress(chunk))
        out.write(deflate.flush())
        out.flush()
        os.fsync(out.fileno())
    return {"rows": rows, "sql_bytes": written, "gzip_bytes": path.stat().st_size}


# ---- statistics ----------------------------------------------------------------------------


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def percentile(values, p: float):
    """Nearest-rank percentile (p in 0..100)."""
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    rank = max(1, min(len(values), int(-(-p * len(values) // 100))))
    return values[rank - 1]


@dataclass
class Outage:
    """Scrapes while the database is hung or stopped."""
    latencies_ms: list = field(default_factory=list)  # None: no answer within the timeout
    statuses: list = field(default_factory=list)
    timeout_s: float = 0.0
