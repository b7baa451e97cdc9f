"""The HTTP server under slow, idle and greedy clients (issue 9's figures at a
reduced scale), its connection caps, keep-alive latency, security headers and
its answers to what is not a proper HTTP/1.x request. Plain HTTP, raw sockets.

Linux routes all of 127.0.0.0/8 to lo: the load comes from 127.0.0.1 and the
"other client" (the scraper) binds 127.0.0.2, so the per-address cap tells
them apart.

Run as a script, this file is the load generator of
test_slow_clients_do_not_delay_another_clients_scrapes (a separate process,
so that its busy clients never hold the scraper's GIL)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

import pytest

from exporter import make_sqlite, write_env

LOAD_ADDRESS = "127.0.0.1"
SCRAPER_ADDRESS = "127.0.0.2"
READ_TIMEOUT = 2.0  # --web.read-timeout of the load test
SCRAPE_BOUND = 1.0  # seconds: any scrape slower fails the test
NOSNIFF = ("x-content-type-options", "nosniff")
# http_server_config.headers of the web config these tests use.
CONFIG_HEADERS = {"x-frame-options": "deny",
                  "strict-transport-security": "max-age=31536000"}


# ---- raw HTTP -------------------------------------------------------------------


class SilentClose(AssertionError):
    """The server closed the connection without answering."""


@dataclass
class Answer:
    version: str
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed: float = 0.0

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Conn:
    """One client connection, reading answers off a buffer (keep-alive and
    pipelining)."""
    sock: socket.socket
    buffer: bytes = b""

    @classmethod
    def open(cls, port: int, source: str = LOAD_ADDRESS, timeout: float = 5) -> "Conn":
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.bind((source, 0))
        sock.connect(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(sock)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        self.buffer += chunk
        return bool(chunk)

    def answer(self, head: bool = False) -> Answer:
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                raise SilentClose(f"closed without an answer; got {self.buffer[:200]!r}")
        head_part, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head_part.decode("latin-1").split("\r\n")
        version, status = lines[0].split(" ", 2)[:2]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = 0 if head else int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            if not self._fill():
                raise SilentClose("closed in the middle of a body")
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return Answer(version, int(status), headers, body)

    def closed_within(self, seconds: float) -> bool:
        """Whether the server closes the connection (after what was read) in time."""
        self.sock.settimeout(seconds)
        try:
            while self._fill():
                pass
            return True
        except socket.timeout:
            return False

    def close(self) -> None:
        self.sock.close()


def exchange(port: int, data: bytes, source: str = LOAD_ADDRESS, head: bool = False) -> Answer:
    conn = Conn.open(port, source)
    try:
        started = time.perf_counter()
        conn.send(data)
        answer = conn.answer(head=head)
        answer.elapsed = time.perf_counter() - started
        return answer
    finally:
        conn.close()


def get(path: str, *extra: str, version: str = "1.1", method: str = "GET") -> bytes:
    return (f"{method} {path} HTTP/{version}\r\nHost: 127.0.0.1\r\n" +
            "".join(f"{h}\r\n" for h in extra) + "\r\n").encode()


# ---- the exporter -------------------------------------------------------------------


@pytest.fixture
def start(app_dir, start_exporter, tmp_path):
    """Factory: start(*extra_args) -> running Exporter on a SQLite app, with a
    web config that adds CONFIG_HEADERS to every response."""
    make_sqlite(app_dir / "instance" / "caloria.db", users=3)
    env_file = write_env(app_dir, DATABASE_URL="sqlite:///caloria.db")
    config_file = tmp_path / "web.yml"
    config_file.write_text("http_server_config:\n  headers:\n" + "".join(
        f"    {name.title()}: '{value}'\n" for name, value in CONFIG_HEADERS.items()))

    def run(*extra: str):
        exp = start_exporter(args=[f"--app.env-file={env_file}",
                                   f"--web.config.file={config_file}", *extra])
        exp.wait_metric("caloria_database_up", 1)
        return exp
    return run


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# ---- slow clients -------------------------------------------------------------------


def test_slow_clients_do_not_delay_another_clients_scrapes(start):
    """From 127.0.0.1: 200 idle connections, 60 slowloris connections (a
    partial request line, then a byte a second) and 10 keep-alive clients as
    fast as they can, each reconnecting when the server drops it; meanwhile
    127.0.0.2 scrapes /metrics on new connections. A scrape over 1 s fails:
    CivetWeb's 8 threads (or any 8-thread pool) were held by the first 8 idle
    sockets for --web.read-timeout each, so a scrape there waited seconds."""
    exp = start(f"--web.read-timeout={READ_TIMEOUT:g}s", "--web.max-connections=400",
                "--web.max-connections-per-ip=350")
    pid = exp.pid()
    exp.get("/metrics")
    time.sleep(0.2)
    base_fds, base_rss = open_fds(pid), rss_bytes(pid)

    load_log = exp.workdir / "load.log"
    with open(load_log, "w") as log:
        load = subprocess.Popen(
            [sys.executable, __file__, "--port", str(exp.port), "--idle", "200",
             "--slowloris", "60", "--keepalive", "10", "--byte-every", "1"],
            stdout=subprocess.PIPE, stderr=log, text=True)
    latencies: list[float] = []
    failures: list[str] = []
    peak_fds, peak_rss = base_fds, base_rss
    try:
        ready = load.stdout.readline()
        assert ready.strip() == "ready", f"load generator: {ready!r} {load_log.read_text()}"
        # Past one read timeout: the first idle and slowloris sockets are being
        # cut and replaced, as in a sustained attack.
        time.sleep(READ_TIMEOUT + 0.5)
        started = time.monotonic()
        while len(latencies) < 120 or time.monotonic() - started < 3 * READ_TIMEOUT:
            t0 = time.perf_counter()
            try:
                answer = exchange(exp.port, get("/metrics", "Connection: close"),
                                  source=SCRAPER_ADDRESS)
                if answer.status != 200 or b"caloria_database_up" not in answer.body:
                    failures.append(f"answered {answer.status}: {answer.body[:100]!r}")
            except OSError as e:  # includes timeouts (5 s) and SilentClose
                failures.append(f"{type(e).__name__}: {e}")
            except SilentClose as e:
                failures.append(str(e))
            latencies.append(time.perf_counter() - t0)
            peak_fds = max(peak_fds, open_fds(pid))
            peak_rss = max(peak_rss, rss_bytes(pid))
            time.sleep(0.02)
            assert exp.running(), exp.logs()[-2000:]
    finally:
        load.send_signal(signal.SIGTERM)
        try:
            # Generous, and not what the test measures: the generator once missed
            # 15 s to report on a machine also building the container images.
            out, _ = load.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            load.kill()
            out, _ = load.communicate()
    stats = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    p50, p99, worst = (percentile(latencies, 0.5), percentile(latencies, 0.99), max(latencies))
    summary = (f"{len(latencies)} scrapes: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
               f"max {worst * 1000:.1f} ms, failed {len(failures)}; exporter fds {base_fds} -> "
               f"peak {peak_fds}, RSS {base_rss >> 20} -> peak {peak_rss >> 20} MiB; "
               f"load: {stats}")
    print(summary)
    assert stats, f"the load generator reported nothing: {load_log.read_text()[-2000:]}"

    assert not failures, f"{failures[:5]}\n{summary}"
    assert worst < SCRAPE_BOUND, f"a scrape took {worst:.2f} s\n{summary}"
    # The load was real: the connections were open at the server at once...
    assert peak_fds >= base_fds + 150, summary
    assert stats["keepalive_requests"] >= 200, summary
    # ...and the read timeout cut both the idle and the slowloris sockets.
    assert stats["idle_cut"] >= 50, summary
    assert stats["slow_cut"] >= 30, summary
    assert stats["slow_longest"] < READ_TIMEOUT + 2.5, summary
    # Bounded: file descriptors under the connection cap, memory flat.
    assert peak_fds < 400 + 64, summary
    # Under AddressSanitizer (scripts/test runs the suite against build-asan's binary
    # and says so in CALORIA_EXPORTER_SANITIZED) freed memory waits in ASan's
    # quarantine (up to 256 MiB), so RSS says nothing about leaks there: LeakSanitizer
    # checks those at exit instead.
    if not os.environ.get("CALORIA_EXPORTER_SANITIZED"):
        assert peak_rss < base_rss + 64 * 2 ** 20, summary
    # Everything is given back once the clients go.
    exp.wait_for("file descriptors back to the baseline",
                 lambda: open_fds(pid) <= base_fds + 4, timeout=5)


# ---- connection caps ----------------------------------------------------------------


def _assert_refused(port: int, source: str, what: str) -> Answer:
    """A connection over a cap: the server answers 503 at once, unasked, and closes."""
    conn = Conn.open(port, source)
    try:
        answer = conn.answer()
        assert answer.status == 503, f"{what}: {answer}"
        assert conn.closed_within(2), f"{what}: the refused connection stayed open"
        return answer
    except SilentClose as e:
        raise AssertionError(f"{what}: {e}; received {conn.buffer[:300]!r}") from None
    finally:
        conn.close()


def test_per_address_and_total_connection_caps(start):
    exp = start("--web.max-connections-per-ip=20", "--web.max-connections=25")
    held: list[Conn] = []
    try:
        # 20 from 127.0.0.1, each answered once and kept alive: all admitted.
        for _ in range(20):
            conn = Conn.open(exp.port, LOAD_ADDRESS)
            held.append(conn)
            conn.send(get("/health"))
            assert conn.answer().status == 200
        refused = _assert_refused(exp.port, LOAD_ADDRESS, "the 21st connection from 127.0.0.1")
        assert refused.header(NOSNIFF[0]) == NOSNIFF[1], refused.headers
        # Another address is still served, on up to the total cap.
        conn = Conn.open(exp.port, SCRAPER_ADDRESS)
        try:
            conn.send(get("/metrics", "Connection: close"))
            answer = conn.answer()
            assert answer.status == 200 and b"caloria_database_up" in answer.body
            assert conn.closed_within(2)
        finally:
            conn.close()
        time.sleep(0.1)  # the server gives the slot back after its close
        for _ in range(5):
            conn = Conn.open(exp.port, SCRAPER_ADDRESS)
            held.append(conn)
            conn.send(get("/health"))
            assert conn.answer().status == 200
        _assert_refused(exp.port, "127.0.0.3", "a connection over --web.max-connections")
        # A slot given back is a slot free again.
        held.pop(0).close()
        exp.wait_for("a free slot for 127.0.0.1",
                     lambda: exchange(exp.port, get("/health"), LOAD_ADDRESS).status == 200,
                     timeout=3, interval=0.05)
    finally:
        for conn in held:
            conn.close()
    # The web config's headers go on every response, the refusal's too.
    missing = {h: refused.header(h) for h, v in CONFIG_HEADERS.items() if refused.header(h) != v}
    assert not missing, f"the 503 refusal lacks the web-config headers: {refused.headers}"


def test_refused_connections_do_not_flood_the_log(start):
    """The server logs the first refusal, then a count at most once a minute:
    an attacker's retries must not fill the disk."""
    exp = start("--web.max-connections-per-ip=2")
    held = [Conn.open(exp.port) for _ in range(2)]
    try:
        for conn in held:
            conn.send(get("/health"))
            assert conn.answer().status == 200
        for _ in range(20):
            conn = Conn.open(exp.port)
            try:
                conn.closed_within(2)  # the refusal, then the close
            finally:
                conn.close()
    finally:
        for conn in held:
            conn.close()
    lines = [line for line in exp.logs().splitlines() if "refusing connections" in line]
    assert 1 <= len(lines) <= 2, f"{len(lines)} log lines for 20 refusals:\n" + "\n".join(
        lines[:5])


# ---- keep-alive latency ---------------------------------------------------------------


def test_a_keep_alive_scrape_is_not_held_by_nagle(start):
    """The old server wrote header and body apart: every kept-alive scrape
    after the first waited about 44 ms for a delayed ACK."""
    exp = start()
    conn = Conn.open(exp.port, SCRAPER_ADDRESS)
    times = []
    try:
        for _ in range(200):
            t0 = time.perf_counter()
            conn.send(get("/metrics"))
            answer = conn.answer()
            times.append(time.perf_counter() - t0)
            assert answer.status == 200
            assert answer.header("connection") != "close"
    finally:
        conn.close()
    p50 = statistics.median(times)
    print(f"200 kept-alive scrapes: p50 {p50 * 1000:.2f} ms, p99 "
          f"{percentile(times, 0.99) * 1000:.2f} ms, max {max(times) * 1000:.2f} ms")
    assert p50 < 0.005, f"p50 {p50 * 1000:.1f} ms"


# ---- what the server answers -------------------------------------------------------------


def test_security_and_configured_headers_on_every_answer(start):
    exp = start()
    port = exp.port
    cases = {
        "GET /metrics": (get("/metrics"), 200),
        "HEAD /metrics": (get("/metrics", method="HEAD"), 200),
        "GET /": (get("/"), 200),
        "GET /health": (get("/health"), 200),
        "GET /nope": (get("/nope"), 404),
        "POST /metrics": (get("/metrics", "Content-Length: 0", method="POST"), 405),
        "DELETE /health": (get("/health", method="DELETE"), 405),
        "GET /-/reload": (get("/-/reload"), 405),
        "garbage": (b"\x00\x01\x02\xff garbage \x7f\r\n\r\n", 400),
        "HTTP/2.0": (get("/", version="2.0"), 505),
    }
    wrong = {}
    answers = {}
    for name, (data, status) in cases.items():
        try:
            answer = exchange(port, data, head=name.startswith("HEAD"))
        except SilentClose as e:
            wrong[name] = str(e)
            continue
        answers[name] = answer
        problems = []
        if answer.status != status:
            problems.append(f"status {answer.status}, expected {status}")
        if answer.header(NOSNIFF[0]) != NOSNIFF[1]:
            problems.append(f"X-Content-Type-Options={answer.header(NOSNIFF[0])!r}")
        for header, value in CONFIG_HEADERS.items():
            if answer.header(header) != value:
                problems.append(f"web-config header {header}={answer.header(header)!r}")
        if problems:
            wrong[name] = problems
    assert not wrong, wrong

    csp = answers["GET /"].header("content-security-policy") or ""
    assert "default-src 'none'" in csp, answers["GET /"].headers
    for name in ("GET /health", "GET /metrics", "GET /"):
        assert answers[name].header("cache-control") == "no-store", (name, answers[name].headers)
    assert "GET" in (answers["POST /metrics"].header("allow") or ""), answers["POST /metrics"]
    assert answers["GET /-/reload"].header("allow") == "POST"
    assert answers["HEAD /metrics"].body == b""
    assert int(answers["HEAD /metrics"].header("content-length")) > 0


BAD_REQUESTS = {
    # name: (bytes sent, the statuses that may answer them)
    "binary": (b"\x00\x01\x02\xff\xfe\r\n\r\n", 400),
    "no version": (b"GET /metrics\r\n\r\n", 400),
    "a word": (b"HELLO\r\n\r\n", 400),
    "header without a colon": (get("/metrics", "no colon here"), 400),
    "bad content-length": (get("/metrics", "Content-Length: lots"), 400),
    "HTTP/2.0": (get("/", version="2.0"), 505),
    # Nothing was promised for an unknown HTTP/1 minor (Go serves it as 1.1).
    "HTTP/1.2": (get("/", version="1.2"), (200, 400, 505)),
    "HTTP/2 preface": (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", (400, 505)),
    "target not a path": (get("*", method="OPTIONS"), (400, 404, 405)),
    "header over 8 KiB": (get("/metrics", "X-Big: " + "a" * 9000), 431),
    "101 header fields": (get("/metrics", *(f"X-F{i}: v" for i in range(101))), 431),
    "body over 1 KiB": (get("/-/reload", "Content-Length: 4096", method="POST"), 413),
}


@pytest.mark.parametrize("name", list(BAD_REQUESTS))
def test_what_is_not_a_proper_request_is_answered_never_silently_closed(start, name):
    data, status = BAD_REQUESTS[name]
    exp = start("--web.read-timeout=3s")
    conn = Conn.open(exp.port)
    try:
        conn.send(data)
        try:
            answer = conn.answer()
        except SilentClose as e:
            pytest.fail(f"{name}: {e}")
        except socket.timeout:
            pytest.fail(f"{name}: no answer in 5 s")
        expected = status if isinstance(status, tuple) else (status,)
        assert answer.status in expected, (name, answer)
        assert answer.header(NOSNIFF[0]) == NOSNIFF[1], answer.headers
        assert answer.version == "HTTP/1.1", answer
        if answer.status >= 400:
            assert conn.closed_within(2), f"{name}: left open after {answer.status}"
    finally:
        conn.close()
    assert exchange(exp.port, get("/health")).status == 200, "the server must go on serving"


def test_http_1_0_is_answered_in_http_1_0_and_pipelining_works(start):
    exp = start()
    conn = Conn.open(exp.port)
    try:
        conn.send(b"GET /metrics HTTP/1.0\r\n\r\n")
        answer = conn.answer()
        assert answer.version == "HTTP/1.0" and answer.status == 200, answer
        assert b"caloria_database_up" in answer.body
        assert conn.closed_within(2), "an HTTP/1.0 request without keep-alive must close"
    finally:
        conn.close()
    conn = Conn.open(exp.port)
    try:
        conn.send(get("/health") + get("/metrics") + get("/nope"))
        assert [conn.answer().status for _ in range(3)] == [200, 200, 404]
    finally:
        conn.close()
    for target in ("/../../etc/passwd", "/metrics/../../../etc/passwd", "/%2e%2e/etc/passwd",
                   "/health/../metrics"):
        answer = exchange(exp.port, get(target))
        assert answer.status == 404, (target, answer)
        assert b"root:" not in answer.body


# ---- the load generator (this file run as a script) -----------------------------------------


@dataclass
class LoadStats:
    idle_opened: int = 0
    idle_cut: int = 0
    slow_opened: int = 0
    slow_cut: int = 0
    slow_longest: float = 0.0
    keepalive_requests: int = 0
    keepalive_reconnects: int = 0
    refused_503: int = 0
    connect_errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)


async def _connect(args, stats: LoadStats):
    while True:
        try:
            return await asyncio.open_connection("127.0.0.1", args.port,
                                                 local_addr=(LOAD_ADDRESS, 0))
        except OSError:
            stats.connect_errors += 1
            await asyncio.sleep(0.1)


def _close(writer) -> None:
    try:
        writer.close()
    except OSError:
        pass


async def _idle(args, stats: LoadStats, opened: asyncio.Event) -> None:
    while True:
        reader, writer = await _connect(args, stats)
        stats.idle_opened += 1
        opened.set()
        try:
            data = await reader.read(65536)
            if data.startswith(b"HTTP/1.1 503"):
                stats.refused_503 += 1
                await asyncio.sleep(0.1)
            else:
                stats.idle_cut += 1
        except OSError:
            stats.idle_cut += 1
        finally:
            _close(writer)


async def _slowloris(args, stats: LoadStats, opened: asyncio.Event) -> None:
    request = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100000
    while True:
        reader, writer = await _connect(args, stats)
        stats.slow_opened += 1
        opened.set()
        first = None
        refused = False
        try:
            for i in range(6, len(request)):
                if i == 6:
                    writer.write(request[:6])  # "GET /m"
                else:
                    writer.write(request[i:i + 1])
                await writer.drain()
                if first is None:
                    first = time.monotonic()
                try:
                    data = await asyncio.wait_for(reader.read(65536), args.byte_every)
                except asyncio.TimeoutError:
                    continue
                refused = data.startswith(b"HTTP/1.1 503")
                break  # closed (or answered) by the server
        except OSError:
            pass
        finally:
            _close(writer)
        # Only reached when the server ended it (a cancel skips this).
        if refused:
            stats.refused_503 += 1
            await asyncio.sleep(0.1)
        elif first is not None:
            stats.slow_cut += 1
            stats.slow_longest = max(stats.slow_longest, time.monotonic() - first)


async def _keepalive(args, stats: LoadStats, opened: asyncio.Event) -> None:
    request = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    while True:
        reader, writer = await _connect(args, stats)
        opened.set()
        try:
            while True:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = head[9:12].decode()
                stats.statuses[status] = stats.statuses.get(status, 0) + 1
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                stats.keepalive_requests += 1
                if status == "503":
                    await asyncio.sleep(0.1)
                    break
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            stats.keepalive_reconnects += 1
            _close(writer)


async def _generate(args) -> LoadStats:
    stats = LoadStats()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    events, tasks = [], []
    for kind, count in ((_idle, args.idle), (_slowloris, args.slowloris),
                        (_keepalive, args.keepalive)):
        for _ in range(count):
            event = asyncio.Event()
            events.append(event)
            tasks.append(asyncio.create_task(kind(args, stats, event)))
    for event in events:
        await event.wait()
    print("ready", flush=True)
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return stats


def _main() -> None:
    parser = argparse.ArgumentParser(description="slow-client load for the web server test")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--idle", type=int, default=200)
    parser.add_argument("--slowloris", type=int, default=60)
    parser.add_argument("--keepalive", type=int, default=10)
    parser.add_argument("--byte-every", type=float, default=1.0)
    args = parser.parse_args()
    stats = asyncio.run(_generate(args))
    print(json.dumps(stats.__dict__), flush=True)


if __name__ == "__main__":
    _main()
