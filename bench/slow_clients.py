#!/usr/bin/env python3
"""Slow-client load against an exporter's HTTP server (issue 9's figures).

From one client address (127.0.0.1 by default) it opens, all at once:
  - idle connections that never send a byte (1,000),
  - slowloris connections: a partial request line, then one more byte every
    5 s (300),
  - keep-alive clients sending requests one after the other as fast as they
    can (50),
each reconnecting whenever the server closes it (after a 503 refusal it waits
--retry-after first). Meanwhile a scraper bound to another address
(127.0.0.2; Linux routes all of 127/8 to lo) scrapes the target's /metrics on a
new connection every --scrape-every seconds, and the target process's
resident memory and open file descriptors are sampled from /proc.

It prints, for each target: scrape latency p50/p99/max with no load and under
load, failed scrapes (error, timeout of --scrape-timeout, or not 200), peak
RSS and file descriptors, how many descriptors are left after the clients go,
and what the load generator saw.

  bench/slow_clients.py --target http://127.0.0.1:9841/metrics --pid PID
  bench/slow_clients.py --compare [--exporter build/caloria_exporter]

--compare starts caloria_exporter (on a throwaway SQLite app) twice, with its
default connection caps and with caps above the load (to show the event loop
copes, not just the cap), and Debian's prometheus-node-exporter (Go
net/http: a goroutine a connection), all on free ports, measures each in turn
and prints the figures side by side with the ratios.

Python's standard library only. The load runs in a child process (this script
with --worker), so the busy clients never hold the scraper's GIL; on a 2-core
machine the load generator, not the server, is what limits the keep-alive
request rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
# node_exporter's scrape reads /proc and /sys live; with only a few cheap
# collectors its /metrics costs about as little as caloria's pre-rendered one,
# so the comparison is about the HTTP servers.
NODE_EXPORTER_ARGS = ["--collector.disable-defaults", "--collector.loadavg",
                      "--collector.meminfo", "--collector.time"]
RAISED_CAPS = ["--web.max-connections=4000", "--web.max-connections-per-ip=4000"]


def raise_nofile() -> int:
    """Raises this process's soft RLIMIT_NOFILE to the hard one; returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


# ---- the load generator (--worker) ---------------------------------------------------


@dataclass
class LoadStats:
    idle_opened: int = 0
    idle_cut: int = 0          # closed by the server without a word (read/idle timeout)
    slow_opened: int = 0
    slow_cut: int = 0          # closed (or answered) by the server mid-request
    slow_longest: float = 0.0  # seconds from a slowloris' first byte to its cut
    keepalive_requests: int = 0
    keepalive_reconnects: int = 0
    refused_503: int = 0       # connections answered 503 before any request
    connect_errors: int = 0
    statuses: dict = field(default_factory=dict)


class Worker:
    def __init__(self, args) -> None:
        self.args = args
        self.stats = LoadStats()

    async def connect(self):
        while True:
            try:
                return await asyncio.open_connection(self.args.host, self.args.port,
                                                     local_addr=(self.args.source, 0))
            except OSError:
                self.stats.connect_errors += 1
                await asyncio.sleep(self.args.retry_after)

    @staticmethod
    def close(writer) -> None:
        try:
            writer.close()
        except OSError:
            pass

    async def idle(self, opened: asyncio.Event) -> None:
        while True:
            reader, writer = await self.connect()
            self.stats.idle_opened += 1
            opened.set()
            refused = False
            try:
                data = await reader.read(65536)
                refused = b" 503 " in data[:16]
            except OSError:
                pass
            finally:
                self.close(writer)
            if refused:
                self.stats.refused_503 += 1
                await asyncio.sleep(self.args.retry_after)
            else:
                self.stats.idle_cut += 1

    async def slowloris(self, opened: asyncio.Event) -> None:
        request = b"GET /metrics HTTP/1.1\r\nHost: target\r\nX-Slow: " + b"a" * 1_000_000
        while True:
            reader, writer = await self.connect()
            self.stats.slow_opened += 1
            opened.set()
            first = None
            refused = False
            try:
                for i in range(6, len(request)):
                    writer.write(request[:6] if i == 6 else request[i:i + 1])  # "GET /m"...
                    await writer.drain()
                    if first is None:
                        first = time.monotonic()
                    try:
                        data = await asyncio.wait_for(reader.read(65536), self.args.byte_every)
                    except asyncio.TimeoutError:
                        continue
                    refused = b" 503 " in data[:16]
                    break
            except OSError:
                pass
            finally:
                self.close(writer)
            if refused:
                self.stats.refused_503 += 1
                await asyncio.sleep(self.args.retry_after)
            elif first is not None:
                self.stats.slow_cut += 1
                self.stats.slow_longest = max(self.stats.slow_longest, time.monotonic() - first)

    async def keepalive(self, opened: asyncio.Event) -> None:
        request = (f"GET {self.args.keepalive_path} HTTP/1.1\r\n"
                   f"Host: {self.args.host}:{self.args.port}\r\n\r\n").encode()
        while True:
            reader, writer = await self.connect()
            opened.set()
            pause = 0.0
            try:
                while True:
                    writer.write(request)
                    head = await reader.readuntil(b"\r\n\r\n")
                    status = head[9:12].decode(errors="replace")
                    self.stats.statuses[status] = self.stats.statuses.get(status, 0) + 1
                    headers = {}
                    for line in head.split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        headers[name.strip().lower()] = value.strip().lower()
                    if b"chunked" in headers.get(b"transfer-encoding", b""):
                        await self.read_chunked(reader)
                    else:
                        await reader.readexactly(int(headers.get(b"content-length", b"0")))
                    self.stats.keepalive_requests += 1
                    if status == "503":
                        pause = self.args.retry_after
                        break
                    if headers.get(b"connection") == b"close":
                        break
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
                pause = 0.1
            finally:
                self.stats.keepalive_reconnects += 1
                self.close(writer)
            if pause:
                await asyncio.sleep(pause)

    @staticmethod
    async def read_chunked(reader) -> None:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                return

    async def run(self) -> LoadStats:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        events, tasks = [], []
        for kind, count in ((self.idle, self.args.idle), (self.slowloris, self.args.slowloris),
                            (self.keepalive, self.args.keepalive)):
            for _ in range(count):
                event = asyncio.Event()
                events.append(event)
                tasks.append(asyncio.create_task(kind(event)))
                await asyncio.sleep(0)  # let it start: no thundering herd at the SYN queue
        for event in events:
            await event.wait()
        print("ready", flush=True)
        await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return self.stats


def worker_main(args) -> None:
    raise_nofile()
    stats = asyncio.run(Worker(args).run())
    print(json.dumps(asdict(stats)), flush=True)


# ---- the target process ---------------------------------------------------------------


def proc_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def proc_status_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def proc_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- the scraper --------------------------------------------------------------------------


def scrape(host: str, port: int, path: str, source: str, timeout: float) -> tuple[bool, float, str]:
    """One scrape on a new connection: (200 and a body?, seconds, error)."""
    started = time.perf_counter()
    deadline = started + timeout
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.bind((source, 0))
        sock.connect((host, port))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/plain\r\n"
                     "Connection: close\r\n\r\n".encode())
        data = b""
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise socket.timeout("scrape timeout")
            sock.settimeout(remaining)
            chunk = sock.recv(262144)
            if not chunk:
                break
            data += chunk
        elapsed = time.perf_counter() - started
        status = data[9:12]
        if status != b"200":
            return False, elapsed, f"status {status.decode(errors='replace') or 'none'}"
        if len(data.split(b"\r\n\r\n", 1)[-1]) < 100:
            return False, elapsed, "short body"
        return True, elapsed, ""
    except OSError as e:
        return False, time.perf_counter() - started, f"{type(e).__name__}: {e}"
    finally:
        sock.close()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def latency_summary(values: list[float]) -> dict:
    return {"p50_ms": percentile(values, 0.50) * 1000, "p99_ms": percentile(values, 0.99) * 1000,
            "max_ms": max(values) * 1000 if values else float("nan")}


def measure(label: str, url: str, pid: int, args) -> dict:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme != "http":
        sys.exit(f"--target {url}: only http:// targets")
    host, port, path = parsed.hostname, parsed.port or 80, parsed.path or "/metrics"

    def one() -> tuple[bool, float, str]:
        return scrape(host, port, path, args.scraper_source, args.scrape_timeout)

    print(f"[{label}] {url} pid {pid}: baseline scrapes...", file=sys.stderr, flush=True)
    baseline = []
    for _ in range(args.baseline_scrapes):
        ok, seconds, error = one()
        if not ok:
            sys.exit(f"[{label}] {url} does not answer a scrape without load: {error}")
        baseline.append(seconds)
        time.sleep(0.05)
    base_fds = proc_fds(pid)
    base_rss = proc_status_kib(pid, "VmRSS")
    cpu_before = proc_cpu_seconds(pid)

    worker_cmd = [sys.executable, __file__, "--worker", "--host", host, "--port", str(port),
                  "--source", args.load_source, "--idle", str(args.idle),
                  "--slowloris", str(args.slowloris), "--keepalive", str(args.keepalive),
                  "--byte-every", str(args.byte_every), "--retry-after", str(args.retry_after),
                  "--keepalive-path", args.keepalive_path]
    print(f"[{label}] opening {args.idle} idle, {args.slowloris} slowloris and {args.keepalive} "
          f"keep-alive connections from {args.load_source}...", file=sys.stderr, flush=True)
    worker = subprocess.Popen(worker_cmd, stdout=subprocess.PIPE, text=True)
    latencies, failures = [], []
    peak_fds, peak_rss = base_fds, base_rss
    try:
        ready = worker.stdout.readline().strip()
        if ready != "ready":
            sys.exit(f"[{label}] the load generator failed to start: {ready!r}")
        load_started = time.monotonic()
        while time.monotonic() - load_started < args.warmup:
            peak_fds = max(peak_fds, proc_fds(pid))
            peak_rss = max(peak_rss, proc_status_kib(pid, "VmRSS"))
            time.sleep(0.25)
        print(f"[{label}] scraping from {args.scraper_source} for {args.duration:g} s under "
              "load...", file=sys.stderr, flush=True)
        started = time.monotonic()
        while time.monotonic() - started < args.duration:
            tick = time.monotonic()
            ok, seconds, error = one()
            latencies.append(seconds)
            if not ok:
                failures.append(error)
            peak_fds = max(peak_fds, proc_fds(pid))
            peak_rss = max(peak_rss, proc_status_kib(pid, "VmRSS"))
            time.sleep(max(0.0, args.scrape_every - (time.monotonic() - tick)))
        load_seconds = time.monotonic() - load_started
        cpu_used = proc_cpu_seconds(pid) - cpu_before
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            out, _ = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            out, _ = worker.communicate()
    lines = out.strip().splitlines()
    try:
        load = json.loads(lines[-1])
    except (IndexError, ValueError):
        print(f"[{label}] the load generator reported nothing (exit {worker.returncode})",
              file=sys.stderr, flush=True)
        load = {}
    # Descriptors given back once the clients are gone.
    settle = time.monotonic() + 15
    after_fds = proc_fds(pid)
    while after_fds > base_fds + 2 and time.monotonic() < settle:
        time.sleep(0.25)
        after_fds = proc_fds(pid)
    return {
        "label": label, "url": url, "pid": pid,
        "baseline": latency_summary(baseline),
        "under_load": latency_summary(latencies),
        "scrapes": len(latencies), "failed": len(failures),
        "failures": sorted(set(failures))[:5],
        "rss_mib": {"baseline": base_rss / 1024, "peak_sampled": peak_rss / 1024,
                    "peak_hwm": proc_status_kib(pid, "VmHWM") / 1024},
        "fds": {"baseline": base_fds, "peak": peak_fds, "after": after_fds},
        "cpu_seconds": cpu_used, "load_seconds": load_seconds,
        "keepalive_rps": load.get("keepalive_requests", 0) / load_seconds,
        "load": load,
    }


# ---- printing ---------------------------------------------------------------------------


def print_results(results: list[dict]) -> None:
    header = (f"{'target':<34} {'scrapes':>7} {'failed':>6} {'idle p50':>9} {'p50 ms':>8} "
              f"{'p99 ms':>8} {'max ms':>8} {'RSS MiB':>15} {'fds':>14} {'CPU s':>6} "
              f"{'ka req/s':>9} {'503s':>6}")
    print(header)
    print("-" * len(header))
    for r in results:
        rss = f"{r['rss_mib']['baseline']:.1f}->{r['rss_mib']['peak_hwm']:.1f}"
        fds = f"{r['fds']['baseline']}/{r['fds']['peak']}/{r['fds']['after']}"
        print(f"{r['label']:<34} {r['scrapes']:>7} {r['failed']:>6} "
              f"{r['baseline']['p50_ms']:>9.2f} {r['under_load']['p50_ms']:>8.2f} "
              f"{r['under_load']['p99_ms']:>8.2f} {r['under_load']['max_ms']:>8.1f} "
              f"{rss:>15} {fds:>14} {r['cpu_seconds']:>6.1f} {r['keepalive_rps']:>9.0f} "
              f"{r['load'].get('refused_503', 0):>6}")
    print("\n(idle p50: scrape latency without load; p50/p99/max: under load; RSS: before ->"
          " peak (VmHWM); fds: before / peak / after the clients left; CPU s: the target's"
          " CPU time during the load; ka req/s: keep-alive requests served per second)")
    for r in results:
        load = r["load"]
        print(f"{r['label']}: idle connections opened {load.get('idle_opened')}, cut by the "
              f"server {load.get('idle_cut')}; slowloris opened {load.get('slow_opened')}, cut "
              f"{load.get('slow_cut')} (longest {load.get('slow_longest', 0):.1f} s); "
              f"keep-alive statuses {load.get('statuses')}; connect errors "
              f"{load.get('connect_errors')}"
              + (f"; failures: {r['failures']}" if r["failures"] else ""))


def print_ratios(results: list[dict], reference: dict) -> None:
    print(f"\nratios against {reference['label']} (lower is better for caloria):")
    for r in results:
        if r is reference:
            continue
        def ratio(a, b):
            return f"{a / b:.2f}" if b else "n/a"
        print(f"  {r['label']}: p50 {ratio(r['under_load']['p50_ms'], reference['under_load']['p50_ms'])}"
              f", p99 {ratio(r['under_load']['p99_ms'], reference['under_load']['p99_ms'])}"
              f", max {ratio(r['under_load']['max_ms'], reference['under_load']['max_ms'])}"
              f", peak RSS {ratio(r['rss_mib']['peak_hwm'], reference['rss_mib']['peak_hwm'])}"
              f", peak fds {ratio(r['fds']['peak'], reference['fds']['peak'])}"
              f", CPU {ratio(r['cpu_seconds'], reference['cpu_seconds'])}"
              f", keep-alive req/s {ratio(r['keepalive_rps'], reference['keepalive_rps'])}")


# ---- --compare ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(proc: subprocess.Popen, port: int, label: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{label} exited with {proc.returncode} at start")
        ok, _, _ = scrape("127.0.0.1", port, "/metrics", "127.0.0.1", 2)
        if ok:
            return
        time.sleep(0.1)
    sys.exit(f"{label} did not answer /metrics within {timeout:g} s")


def sqlite_app(folder: Path) -> Path:
    """A throwaway Flask-like app: .env with a SQLite URL and 3 users."""
    (folder / "instance").mkdir(parents=True)
    con = sqlite3.connect(folder / "instance" / "caloria.db")
    con.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)")
    con.executemany("INSERT INTO users (email) VALUES (?)",
                    [(f"user{i}@example.com",) for i in range(3)])
    con.commit()
    con.close()
    env = folder / ".env"
    env.write_text("DATABASE_URL=sqlite:///caloria.db\n")
    return env


def compare(args) -> list[dict]:
    exporter = Path(args.exporter).resolve()
    if not exporter.is_file():
        sys.exit(f"{exporter} not found: build it (cmake --build build --target "
                 "caloria_exporter) or give --exporter PATH")
    node = args.node_exporter
    if not args.no_node_exporter and not Path(node).is_file():
        sys.exit(f"{node} not found: apt-get install prometheus-node-exporter, or give "
                 "--node-exporter PATH, or --no-node-exporter")
    workdir = Path(tempfile.mkdtemp(prefix="slow-clients-"))
    env_file = sqlite_app(workdir / "app")
    targets = [("caloria (default caps)", []), ("caloria (caps raised)", RAISED_CAPS)]
    procs: list[tuple[str, subprocess.Popen, int]] = []
    try:
        for number, (label, extra) in enumerate(targets):
            port = free_port()
            log = open(workdir / f"caloria{number}.log", "wb")
            proc = subprocess.Popen(
                [str(exporter), f"--app.env-file={env_file}", "--no-collector.backup",
                 f"--web.listen-address=127.0.0.1:{port}", *extra, *args.exporter_args],
                cwd=workdir, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
            procs.append((label, proc, port))
        if not args.no_node_exporter:
            port = free_port()
            log = open(workdir / "node_exporter.log", "wb")
            proc = subprocess.Popen([node, f"--web.listen-address=127.0.0.1:{port}",
                                     *NODE_EXPORTER_ARGS],
                                    cwd=workdir, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
            procs.append(("prometheus-node-exporter", proc, port))
        for label, proc, port in procs:
            wait_ready(proc, port, label)
        results = []
        for label, proc, port in procs:
            results.append(measure(label, f"http://127.0.0.1:{port}/metrics", proc.pid, args))
            if proc.poll() is not None:
                print(f"{label} died during the run (exit {proc.returncode})", file=sys.stderr)
        print(f"(logs in {workdir})", file=sys.stderr)
        return results
    finally:
        for _, proc, _ in procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--target", help="URL to scrape, e.g. http://127.0.0.1:9841/metrics")
    parser.add_argument("--pid", type=int, help="the target's process id (for RSS and fds)")
    parser.add_argument("--compare", action="store_true",
                        help="start caloria_exporter (default and raised caps) and "
                             "prometheus-node-exporter and measure each")
    parser.add_argument("--exporter", default=str(REPO_ROOT / "build" / "caloria_exporter"))
    parser.add_argument("--exporter-args", nargs="*", default=[],
                        help="extra caloria_exporter flags in --compare")
    parser.add_argument("--node-exporter", default=NODE_EXPORTER)
    parser.add_argument("--no-node-exporter", action="store_true")
    parser.add_argument("--duration", type=float, default=60, help="seconds of scraping under load")
    parser.add_argument("--warmup", type=float, default=5,
                        help="seconds of load before scraping starts")
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--slowloris", type=int, default=300)
    parser.add_argument("--keepalive", type=int, default=50)
    parser.add_argument("--byte-every", type=float, default=5.0,
                        help="seconds between a slowloris connection's bytes")
    parser.add_argument("--retry-after", type=float, default=1.0,
                        help="seconds a client waits after a 503 refusal or a failed connect")
    parser.add_argument("--keepalive-path", default="/nope",
                        help="what the keep-alive clients request (default a 404: cheap for "
                             "every server)")
    parser.add_argument("--scrape-every", type=float, default=0.25)
    parser.add_argument("--scrape-timeout", type=float, default=10.0)
    parser.add_argument("--baseline-scrapes", type=int, default=40)
    parser.add_argument("--load-source", default="127.0.0.1")
    parser.add_argument("--scraper-source", default="127.0.0.2")
    parser.add_argument("--json", help="also write the results to this file")
    # The load generator, run by measure() in a child process.
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--host", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker_main(args)

    limit = raise_nofile()
    needed = args.idle + args.slowloris + args.keepalive + 100
    if limit < needed:
        sys.exit(f"RLIMIT_NOFILE is {limit}, the load needs {needed}: raise it (ulimit -n)")
    if args.compare:
        results = compare(args)
    elif args.target and args.pid:
        results = [measure(args.target, args.target, args.pid, args)]
    else:
        parser.error("give --target URL --pid PID, or --compare")
    print(f"\n{args.idle} idle + {args.slowloris} slowloris (a byte every {args.byte_every:g} s)"
          f" + {args.keepalive} keep-alive clients from {args.load_source}; scrapes of /metrics "
          f"from {args.scraper_source} every {args.scrape_every:g} s for {args.duration:g} s; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}\n")
    print_results(results)
    reference = next((r for r in results if "node" in r["label"]), None)
    if reference and len(results) > 1:
        print_ratios(results, reference)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
