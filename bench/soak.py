#!/usr/bin/env python3
"""Soak test of caloria_exporter (issue 10, point 6).

Runs the exporter (all its default collectors, a 1 s interval) against a real
PostgreSQL for --duration seconds while:
  - 64 keep-alive connections from 127.0.0.1 (--connections; the exporter's
    --web.max-connections-per-ip is 64) scrape /metrics and /health in a
    closed loop, one request after the other on each connection, with
    --pause seconds between two (default 0: as fast as they are answered);
  - PostgreSQL is stopped every --pg-cycle seconds (default 30) and started
    again --pg-down seconds later (default 10), so /health turns 503 and back;
  - the configuration is reloaded every --reload-every seconds (default 20),
    alternately by SIGHUP and by POST /-/reload (sent from 127.0.0.2, so it
    never takes one of the 64 slots), the env file rewritten before every
    other reload so that a changed file is read as well;
  - the exporter's VmRSS, open fds (/proc/PID/fd) and threads (Threads in
    /proc/PID/status) are sampled every --sample-every seconds.

It prints the scrapes done and failed, the latency p50/p99/max, and RSS, fds
and threads at start, at the end of the warm-up (the baseline), at their
maximum and at the end; it exits 1 on any failed scrape (no answer within
--request-timeout, a closed connection, /metrics not 200, /health neither 200
nor 503) or when, after --warmup seconds, RSS grows by more than --max-rss-mib
(20), fds by more than --max-fds (10) or threads by more than --max-threads
(2) over the baseline, or when the exporter does not end healthy.

Latency is measured by the client, from writing the request to reading the
last byte of the answer, so it includes the client's own event loop: with 64
requests in flight on one Python thread it is an upper bound on the server's.

  bench/soak.py                                  # 5 minutes, its own PostgreSQL
  bench/soak.py --duration 60 --json report.json
  CALORIA_EXPORTER_BIN=build-x/caloria_exporter bench/soak.py

Python's standard library only; the PostgreSQL server and the exporter are
started with the integration tests' own helpers (tests/integration/postgres.py
and exporter.py: initdb/pg_ctl into a temp dir, as root through the postgres
user), which tests/integration/test_soak.py also uses to run a shorter soak in
CI through run_soak().
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import http.client
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests" / "integration"))

import exporter as exporter_mod  # noqa: E402  the tests' process and HTTP helpers
import postgres as postgres_mod  # noqa: E402  the tests' throwaway PostgreSQL

CONTROL_ADDRESS = "127.0.0.2"  # reloads and checks: not one of the load's slots
PATHS = ("/metrics", "/health")


@dataclass
class SoakConfig:
    duration: float = 300.0
    connections: int = 64
    pause: float = 0.0
    pg_cycle: float = 30.0
    pg_down: float = 10.0
    reload_every: float = 20.0
    sample_every: float = 3.0
    warmup: float = 30.0
    request_timeout: float = 5.0
    max_rss_mib: float = 20.0
    max_fds: int = 10
    max_threads: int = 2
    interval: str = "1s"
    timeout: str = "1s"


@dataclass
class Sample:
    t: float  # seconds since the load started
    rss_kib: int
    fds: int
    threads: int


@dataclass
class Report:
    config: SoakConfig
    pid: int = 0
    elapsed: float = 0.0
    scrapes: int = 0
    by_path: dict = field(default_factory=dict)
    health_503: int = 0
    failures: list = field(default_factory=list)  # (t, path, what), the first 20
    failed: int = 0
    latency_ms: dict = field(default_factory=dict)  # p50, p99, max
    pg_stops: int = 0
    reloads: dict = field(default_factory=dict)
    samples: list = field(default_factory=list)
    sanitized: bool = False  # an AddressSanitizer build: RSS is reported, not judged
    problems: list = field(default_factory=list)

    def ok(self) -> bool:
        return not self.problems

    def figures(self) -> dict:
        """RSS (MiB), fds and threads: at start, baseline, max after warm-up, end."""
        out = {}
        if not self.samples:
            return out
        warm = [s for s in self.samples if s.t >= self.config.warmup] or self.samples[-1:]
        for name, get in (("rss_mib", lambda s: s.rss_kib / 1024), ("fds", lambda s: s.fds),
                          ("threads", lambda s: s.threads)):
            out[name] = {"start": get(self.samples[0]), "baseline": get(warm[0]),
                         "max": max(get(s) for s in warm), "end": get(self.samples[-1])}
        return out

    def text(self) -> str:
        c = self.config
        lines = [
            f"soak: {self.elapsed:.0f} s, {c.connections} keep-alive connections, "
            f"pause {c.pause} s, exporter pid {self.pid}",
            f"scrapes: {self.scrapes} done ({self.scrapes / max(self.elapsed, 1e-9):.0f}/s; "
            + ", ".join(f"{p} {n}" for p, n in sorted(self.by_path.items()))
            + f"; /health 503 while PostgreSQL was down: {self.health_503}), "
            f"failed: {self.failed}",
            "latency: " + ", ".join(f"{k} {v:.1f} ms" for k, v in self.latency_ms.items()),
            f"chaos: PostgreSQL stopped and started {self.pg_stops} times; reloads: "
            + ", ".join(f"{k} {v}" for k, v in sorted(self.reloads.items())),
            f"{'':10}{'start':>9}{'baseline':>10}{'max':>9}{'end':>9}"
            f"   (baseline: first sample after the {c.warmup:.0f} s warm-up)",
        ]
        for name, f in self.figures().items():
            fmt = "{:>9.1f}" if name == "rss_mib" else "{:>9d}"
            lines.append(f"{name:10}" + fmt.format(f["start"]) + fmt.replace("9", "10")
                         .format(f["baseline"]) + fmt.format(f["max"]) + fmt.format(f["end"]))
        if self.sanitized:
            lines.append("RSS not judged: an AddressSanitizer build, whose quarantine keeps "
                         "up to 256 MiB of freed memory")
        for t, path, what in self.failures:
            lines.append(f"  failed at {t:.1f}s: {path}: {what}")
        lines.append("verdict: " + ("PASS" if self.ok() else "FAIL: " + "; ".join(self.problems)))
        return "\n".join(lines)

    def to_json(self) -> str:
        data = asdict(self)
        data["figures"] = self.figures()
        return json.dumps(data, indent=2, default=str)


# ---- /proc ------------------------------------------------------------------------------


def is_sanitized(binary: Path) -> bool:
    """Whether the binary is built with AddressSanitizer (GCC links libasan,
    clang its runtime statically: both leave __asan_init in the binary)."""
    import mmap
    with open(binary, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        return m.find(b"__asan_init") != -1


def sample(pid: int, t: float) -> Sample:
    rss = threads = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return Sample(t, rss, len(os.listdir(f"/proc/{pid}/fd")), threads)


# ---- the load -------------------------------------------------------------------------------


class Load:
    """`connections` keep-alive connections on one asyncio loop, in a thread
    of its own. Counts and times every request; records every failure."""

    def __init__(self, port: int, config: SoakConfig) -> None:
        self.port = port
        self.config = config
        self.latencies: list[float] = []
        self.by_path: dict[str, int] = {p: 0 for p in PATHS}
        self.health_503 = 0
        self.failed = 0
        self.failures: list[tuple[float, str, str]] = []
        self.started = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-load", daemon=True)

    def start(self) -> None:
        self.started = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.config.request_timeout + 10)

    def _fail(self, path: str, what: str) -> None:
        self.failed += 1
        if len(self.failures) < 20:
            self.failures.append((time.monotonic() - self.started, path, what))

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        await asyncio.gather(*(self._client(i) for i in range(self.config.connections)))

    async def _connect(self):
        return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port),
                                      self.config.request_timeout)

    async def _one(self, reader, writer, path: str) -> tuple[int, bool]:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "User-Agent: caloria-soak\r\n\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length, close = None, False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and "close" in value.lower():
                close = True
        if length is None:
            raise ValueError(f"answer without Content-Length: {lines[:5]}")
        await reader.readexactly(length)
        return status, close

    async def _client(self, index: int) -> None:
        timeout = self.config.request_timeout
        reader = writer = None
        i = index  # half the connections start on each path
        while not self._stop.is_set():
            path = PATHS[i % len(PATHS)]
            i += 1
            try:
                if writer is None:
                    reader, writer = await self._connect()
                started = time.monotonic()
                status, close = await asyncio.wait_for(self._one(reader, writer, path), timeout)
                self.latencies.append(time.monotonic() - started)
                self.by_path[path] += 1
                if path == "/health" and status == 503:
                    self.health_503 += 1
                elif status != 200:
                    self._fail(path, f"HTTP {status}")
                if close:
                    self._fail(path, "the server closed the keep-alive connection")
                    writer.close()
                    writer = None
            except (OSError, EOFError, asyncio.IncompleteReadError, asyncio.TimeoutError,
                    asyncio.LimitOverrunError, ValueError) as e:
                self._fail(path, repr(e)[:200])
                if writer is not None:
                    writer.close()
                writer = None
                await asyncio.sleep(0.1)
            if self.config.pause:
                await asyncio.sleep(self.config.pause)
        if writer is not None:
            writer.close()


# ---- control: reloads and checks from another address ----------------------------------------


def control_request(port: int, method: str, path: str, timeout: float = 5.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                      source_address=(CONTROL_ADDRESS, 0))
    try:
        conn.request(method, path, body=b"" if method == "POST" else None)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def synthetic_backup(folder: Path, users: int = 3) -> Path:
    """A small plain-SQL pg_dump, gzipped, named as scripts/caloria-backup names
    backups (UTC; the exporter runs with TZ=UTC0): the backup collector runs
    as in production and verifies it once."""
    rows = "".join(f"{i}\tuser{i}@example.com\n" for i in range(1, users + 1))
    text = ("--\n-- PostgreSQL database dump\n--\n\n"
            "CREATE TABLE public.users (id integer, email text);\n\n"
            f"COPY public.users (id, email) FROM stdin;\n{rows}\\.\n\n"
            "--\n-- PostgreSQL database dump complete\n--\n\n")
    name = time.strftime("caloria_%Y%m%d_%H%M%S.sql.gz", time.gmtime(time.time() - 60))
    path = folder / name
    path.write_bytes(gzip.compress(text.encode()))
    return path


# ---- the soak ------------------------------------------------------------------------------------


def run_soak(config: SoakConfig, server: postgres_mod.PostgresServer | None = None,
             log=print) -> Report:
    """Runs one soak and returns its report (report.ok() is the verdict).
    With `server`, that running PostgreSQL is used (and left running);
    otherwise one is made and destroyed."""
    report = Report(config)
    own_server = server is None
    work = Path(tempfile.mkdtemp(prefix="caloria-soak-"))
    exp = None
    load = None
    try:
        if own_server:
            log("starting PostgreSQL (initdb into a temp dir)...")
            server = postgres_mod.start_server()
        server.ensure_running()
        (work / "app").mkdir()
        (work / "backups").mkdir()
        synthetic_backup(work / "backups")
        env_file = work / "app" / ".env"
        env_file.write_text(f"DATABASE_URL={server.url()}\n")
        exp = exporter_mod.Exporter(
            args=[f"--collector.interval={config.interval}",
                  f"--collector.timeout={config.timeout}",
                  f"--app.env-file={env_file}", "--collector.backup",
                  f"--backup.dir={work / 'backups'}"],
            env={"TZ": "UTC0"}, fast=False, workdir=work / "exporter")
        report.sanitized = is_sanitized(exporter_mod.binary_path())
        exp.start()
        report.pid = exp.pid()
        exp.wait_for("/health healthy before the load",
                     lambda: exp.get("/health").status == 200, timeout=15)
        log(f"exporter pid {report.pid} on port {exp.port}; load for {config.duration:.0f} s")

        load = Load(exp.port, config)
        load.start()
        report.samples.append(sample(report.pid, 0.0))
        next_sample = config.sample_every
        next_stop = config.pg_cycle
        start_at = None  # when to start PostgreSQL again
        next_reload = config.reload_every
        reloads = {"SIGHUP": 0, "POST /-/reload": 0, "env file rewritten": 0}
        while True:
            t = time.monotonic() - load.started
            if t >= config.duration:
                break
            if not exp.running():
                report.problems.append(
                    f"the exporter exited ({exp.proc.returncode}) at {t:.1f}s; its log "
                    f"ends:\n{exp.logs()[-3000:]}")
                break
            if t >= next_sample and exp.running():
                report.samples.append(sample(report.pid, t))
                next_sample += config.sample_every
            if start_at is None and t >= next_stop and t + config.pg_down < config.duration - 5:
                server.stop()
                report.pg_stops += 1
                start_at = t + config.pg_down
                next_stop += config.pg_cycle
            elif start_at is not None and t >= start_at:
                server.start()
                start_at = None
            if t >= next_reload:
                count = reloads["SIGHUP"] + reloads["POST /-/reload"]
                if count % 2 == 1:
                    # A changed file: a comment line toggled, the same database.
                    env_file.write_text(f"DATABASE_URL={server.url()}\n# reload {count}\n")
                    reloads["env file rewritten"] += 1
                if count % 2 == 0:
                    os.kill(report.pid, signal.SIGHUP)
                    reloads["SIGHUP"] += 1
                else:
                    status, body = control_request(exp.port, "POST", "/-/reload")
                    reloads["POST /-/reload"] += 1
                    if status != 200:
                        report.problems.append(f"POST /-/reload answered {status}: {body[:200]!r}")
                next_reload += config.reload_every
            time.sleep(0.05)
        if exp.running():
            report.samples.append(sample(report.pid, time.monotonic() - load.started))
        report.reloads = reloads
    finally:
        if load is not None:
            load.stop()
            report.elapsed = time.monotonic() - load.started
        if server is not None:
            try:
                server.ensure_running()
            except postgres_mod.PostgresError as e:
                report.problems.append(f"PostgreSQL did not come back: {e}")
        if exp is not None and exp.running():
            # Heals by itself: healthy again with the database back.
            try:
                exp.wait_for("/health 200 after the soak", lambda: control_request(
                    exp.port, "GET", "/health")[0] == 200, timeout=15)
            except AssertionError as e:
                report.problems.append(f"not healthy after the soak: {str(e)[:300]}")
            if exp.pid() != report.pid:
                report.problems.append("the exporter was restarted")
        if exp is not None:
            code = exp.stop()
            if code not in (0, None):
                report.problems.append(f"the exporter exited {code} on SIGTERM")
            for word in ("terminate called", "Segmentation", "AddressSanitizer",
                         "runtime error"):
                if word in exp.logs():
                    report.problems.append(f"{word!r} in the exporter's log")
        if own_server and server is not None:
            server.destroy()
        shutil.rmtree(work, ignore_errors=True)

    if load is not None:
        report.scrapes = len(load.latencies)
        report.by_path = dict(load.by_path)
        report.health_503 = load.health_503
        report.failed = load.failed
        report.failures = load.failures
        if load.latencies:
            ordered = sorted(load.latencies)
            report.latency_ms = {
                "p50": statistics.median(ordered) * 1000,
                "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
                "max": ordered[-1] * 1000,
            }
    judge(report)
    return report


def judge(report: Report) -> None:
    c = report.config
    if report.failed:
        report.problems.append(f"{report.failed} failed scrapes")
    if report.scrapes == 0:
        report.problems.append("no scrape was answered")
    if report.pg_stops == 0:
        report.problems.append("PostgreSQL was never stopped: --duration too short for --pg-cycle")
    f = report.figures()
    if f:
        for name, bound in (("rss_mib", c.max_rss_mib), ("fds", c.max_fds),
                            ("threads", c.max_threads)):
            if name == "rss_mib" and report.sanitized:
                continue
            grew = max(f[name]["max"], f[name]["end"]) - f[name]["baseline"]
            if grew > bound:
                report.problems.append(
                    f"{name} grew by {grew:g} after the warm-up (bound +{bound:g}): "
                    f"baseline {f[name]['baseline']:g}, max {f[name]['max']:g}, "
                    f"end {f[name]['end']:g}")


def main(argv: list[str] | None = None) -> int:
    defaults = SoakConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, value in asdict(defaults).items():
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, type=type(value), default=value,
                            help=f"default {value}")
    parser.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    args = parser.parse_args(argv)
    config = SoakConfig(**{k: getattr(args, k) for k in asdict(defaults)})
    if config.warmup >= config.duration:
        parser.error("--warmup must be shorter than --duration")
    binary = exporter_mod.binary_path()
    if not binary.is_file():
        parser.error(f"no exporter binary at {binary}: build it, or set CALORIA_EXPORTER_BIN")
    report = run_soak(config)
    print(report.text())
    if args.json:
        Path(args.json).write_text(report.to_json())
    return 0 if report.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
