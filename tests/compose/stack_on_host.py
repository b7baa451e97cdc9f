#!/usr/bin/env python3
"""Starts the compose stack's Prometheus and Alertmanager on the host, with the stack's own
config files, and checks through their HTTP APIs what they loaded. No Docker engine.

usage: stack_on_host.py [--workdir DIR] [--pidfile FILE] [COMPOSE_CONFIG.yml]
  COMPOSE_CONFIG.yml  the output of `docker-compose config` (default: the repository's
                      docker-compose.yml; relative paths are taken from the repository)
  --workdir DIR       where the containers' file systems are laid out (default: a new
                      temporary folder, removed at the end)
  --pidfile FILE      each started process's id is appended to FILE, one a line, so
                      that the caller can stop them if this script is killed

The registry images (prom/prometheus, prom/alertmanager) cannot be pulled here, so the
same programs come from Debian (/usr/bin/prometheus, /usr/bin/prometheus-alertmanager:
older releases than the images, printed at the start). For each of the two services:

- its container's files are laid out under DIR/<service>/ as docker-compose.yml mounts
  them: every bind mount's source copied to DIR/<service>/<container path>
  (deploy/prometheus.yml to .../etc/prometheus/prometheus.yml, alerts/ to
  .../etc/prometheus/rules/, ...), every named volume an empty folder at its container
  path;
- the program starts with the service's own `command:` flags, each container path
  mapped into that folder; only the listen address is changed, to a free 127.0.0.1 port
  (added when the command gives none);
- the path of its healthcheck URL (/-/ready) must answer 200 within 20 s, and the
  healthcheck's port must be the one the command listens on.

Then, Prometheus (/api/v1/...): the flags it runs with are the command's; the config it
loaded (status/config) is deploy/prometheus.yml's (rule_files, jobs, targets,
alertmanagers, intervals); every job and target of the file is an active target (the
compose service names do not resolve on the host: those targets are down, as expected,
and their state is printed, not judged); every group of every rule file the rule_files
globs match in the repository (alerts/caloria.rules.yml) is loaded, from the container
path, with the same rules in the same order (names, for, labels, annotations), and every
rule evaluates without error (on no data); the alertmanager the file names is in
/api/v1/alertmanagers (as active or dropped: it does not resolve here either).
Alertmanager (/api/v2/status): the config it loaded (config.original) has the file's
global settings, receivers, route tree and inhibit rules, and the cluster is disabled as
the command asks. Both are stopped at the end (SIGTERM, then SIGKILL), whatever happens.

Needs PyYAML (python3-yaml). Exit status 0 only when every check passed.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.exit("stack_on_host.py needs PyYAML: apt-get install python3-yaml")

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
sys.path.insert(0, str(HERE))
from check import short_volume  # noqa: E402  (the same reading of a volume as check.py)

PROMETHEUS = "prometheus"
ALERTMANAGER = "alertmanager"
PROGRAMS = {PROMETHEUS: "/usr/bin/prometheus", ALERTMANAGER: "/usr/bin/prometheus-alertmanager"}
# The programs' own default listen addresses, when the command gives none.
DEFAULT_LISTEN = {PROMETHEUS: ":9090", ALERTMANAGER: ":9093"}
READY_TIMEOUT = 20       # seconds for /-/ready after the start
EVALUATED_TIMEOUT = 30   # seconds for every rule group's first evaluation and target's
                         # first scrape (both within one 15 s interval of the start)
HTTP_TIMEOUT = 5

errors: list[str] = []


def error(where: str, message: str) -> None:
    errors.append(f"{where}: {message}")
    print(f"  FAIL {where}: {message}")


def note(message: str) -> None:
    print(f"  {message}")


# ---- small helpers -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read() if e.fp else b""


def get_json(url: str):
    status, body = http_get(url)
    if status != 200:
        raise AssertionError(f"GET {url} answered {status}: {body[:300]!r}")
    return json.loads(body)


DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|y|w|d|h|m|s)")
DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800,
                  "y": 31536000}


def seconds(value) -> float | None:
    """A Prometheus duration ("1h30m", "30s") or a number of seconds, in seconds."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    parts = DURATION_RE.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {value!r}")
    return sum(float(n) * DURATION_UNITS[u] for n, u in parts)


MATCHER_RE = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$')


def matcher(text: str) -> tuple[str, str, str]:
    """'severity="critical"' -> ("severity", "=", "critical"), quoted or not."""
    m = MATCHER_RE.match(str(text))
    if not m:
        return (str(text), "", "")
    value = m.group(3)
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = json.loads(value)
    return (m.group(1), m.group(2), value)


# ---- the container's file system, laid out on the host ----------------------------------


class Layout:
    """The service's container paths under root: bind mounts copied, volumes empty."""

    def __init__(self, service_name: str, service: dict, root: Path) -> None:
        self.name = service_name
        self.root = root
        self.mounts: list[tuple[PurePosixPath, Path | None]] = []  # (target, source)
        for spec in service.get("volumes") or []:
            volume = short_volume(spec) if isinstance(spec, str) else dict(spec)
            target = PurePosixPath(volume["target"])
            source = None
            if volume.get("type") == "bind":
                source = Path(volume["source"])
                if not source.is_absolute():
                    source = REPO_ROOT / source
            self.mounts.append((target, source))

    def host(self, container_path: str | PurePosixPath) -> Path:
        path = PurePosixPath(container_path)
        assert path.is_absolute(), path
        return self.root / path.relative_to("/")

    def create(self) -> None:
        for target, source in self.mounts:
            where = self.host(target)
            if source is None:
                where.mkdir(parents=True, exist_ok=True)
            elif source.is_dir():
                shutil.copytree(source, where)
            else:
                where.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, where)

    def mounted(self, container_path: str | PurePosixPath) -> bool:
        path = PurePosixPath(container_path)
        return any(path == t or t in path.parents for t, _ in self.mounts)

    def repo_source(self, container_path: str | PurePosixPath) -> Path | None:
        """The repository path a container path comes from (the deepest bind mount)."""
        path = PurePosixPath(container_path)
        best = None
        for target, source in self.mounts:
            if source is not None and (path == target or target in path.parents):
                if best is None or len(target.parts) > len(best[0].parts):
                    best = (target, source)
        if best is None:
            return None
        return best[1] / path.relative_to(best[0]) if path != best[0] else best[1]


def command_flags(service: dict) -> list[tuple[str, str | None]]:
    """The command's --flag=value (or --flag value) items, in order."""
    command = service.get("command") or []
    if isinstance(command, str):
        import shlex
        command = shlex.split(command)
    flags: list[tuple[str, str | None]] = []
    for item in command:
        item = str(item)
        if item.startswith("-"):
            name, sep, value = item.lstrip("-").partition("=")
            flags.append((name, value if sep else None))
        elif flags and flags[-1][1] is None:
            flags[-1] = (flags[-1][0], item)
        else:
            flags.append(("", item))  # a positional argument: reported below
    return flags


def host_flags(layout: Layout, flags, port: int) -> tuple[list[str], dict[str, str]]:
    """The command line for the host: container paths mapped under the layout, the listen
    address a free 127.0.0.1 port. Also returns {flag: value} as given to the program."""
    argv, given = [], {}
    for name, value in flags:
        if not name:
            error(layout.name, f"command has a positional argument {value!r}: not mapped")
            continue
        if name == "web.listen-address":
            value = f"127.0.0.1:{port}"
        elif value and value.startswith("/"):
            if not layout.mounted(value):
                error(layout.name, f"--{name}={value}: no mount provides {value}; the image "
                      "alone would have to (not checked here)")
            value = str(layout.host(value))
        given[name] = value if value is not None else ""
        argv.append(f"--{name}={value}" if value is not None else f"--{name}")
    if "web.listen-address" not in given:
        given["web.listen-address"] = f"127.0.0.1:{port}"
        argv.append(f"--web.listen-address=127.0.0.1:{port}")
    return argv, given


def container_listen_port(service_name: str, flags) -> int:
    value = dict(flags).get("web.listen-address") or DEFAULT_LISTEN[service_name]
    return int(value.rpartition(":")[2])


def check_healthcheck_port(service_name: str, service: dict, flags) -> str | None:
    """The healthcheck's URL must reach the port the command listens on; returns its path."""
    test = (service.get("healthcheck") or {}).get("test") or []
    text = " ".join(test) if isinstance(test, list) else str(test)
    m = re.search(r"https?://[^\s'\"]+", text)
    if not m:
        note(f"{service_name}: no HTTP URL in the healthcheck: its path not checked")
        return None
    url = urllib.parse.urlsplit(m.group(0))
    listening = container_listen_port(service_name, flags)
    if url.port != listening:
        error(service_name, f"the healthcheck asks port {url.port}, but the command listens "
              f"on {listening}")
    return url.path or "/"


# ---- processes ----------------------------------------------------------------------------


class Program:
    def __init__(self, name: str, argv: list[str], port: int, workdir: Path, pidfile: Path | None):
        self.name, self.argv, self.port = name, argv, port
        self.log_path = workdir / f"{name}.log"
        self.pidfile = pidfile
        self.proc: subprocess.Popen | None = None
        self.base = f"http://127.0.0.1:{port}"

    def start(self, cwd: Path) -> None:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.argv, cwd=str(cwd), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        if self.pidfile is not None:
            with open(self.pidfile, "a") as f:
                f.write(f"{self.proc.pid}\n")

    def log_tail(self, chars: int = 2500) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def wait_ready(self, path: str) -> bool:
        deadline = time.monotonic() + READY_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                error(self.name, f"exited with {self.proc.returncode} at the start:\n"
                      f"{self.log_tail()}")
                return False
            try:
                status, _ = http_get(self.base + path)
                if status == 200:
                    return True
                last = status
            except OSError as e:
                last = e
            time.sleep(0.25)
        error(self.name, f"GET {path} not 200 within {READY_TIMEOUT}s (last: {last!r}):\n"
              f"{self.log_tail()}")
        return False

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            self.forget_pid()
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.forget_pid()
        return self.proc.returncode

    def forget_pid(self) -> None:
        """Takes the reaped process's id out of the pidfile: the caller must never signal
        an id the system may have given to another process since."""
        if self.pidfile is None or self.proc is None:
            return
        try:
            lines = self.pidfile.read_text().split()
        except OSError:
            return
        self.pidfile.write_text("".join(f"{pid}\n" for pid in lines
                                        if pid != str(self.proc.pid)))


def version(binary: str) -> str:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError) as e:
        return f"(version unknown: {e})"


# ---- Prometheus ---------------------------------------------------------------------------


def expected_rule_groups(layout: Layout, config_container: PurePosixPath, prom_config: dict):
    """[(container file, group)] of the repository's files the rule_files globs match,
    with the paths as the container sees them."""
    found = []
    for pattern in prom_config.get("rule_files") or []:
        container_pattern = PurePosixPath(pattern)
        if not container_pattern.is_absolute():
            container_pattern = config_container.parent / container_pattern
        source = layout.repo_source(container_pattern)
        if source is None:
            error(PROMETHEUS, f"rule_files {pattern!r} ({container_pattern}) is in no mount")
            continue
        matches = sorted(glob.glob(str(source)))
        if not matches:
            error(PROMETHEUS, f"rule_files {pattern!r} matches no file in the repository "
                  f"({source})")
        for path in matches:
            container_file = PurePosixPath(str(container_pattern.parent)) / Path(path).name
            for group in (yaml.safe_load(Path(path).read_text()) or {}).get("groups") or []:
                found.append((str(container_file), group))
    return found


def check_prometheus(prom: Program, layout: Layout, given: dict, config_file: Path,
                     config_container: PurePosixPath) -> None:
    api = prom.base + "/api/v1"
    prom_config = yaml.safe_load(config_file.read_text()) or {}

    # The flags it runs with are the command's (mapped).
    running = get_json(api + "/status/flags")["data"]
    for name, value in given.items():
        if running.get(name) != value:
            error(PROMETHEUS, f"runs with --{name}={running.get(name)!r}, not {value!r}")
    note("flags as the compose command gives them (paths mapped): "
         + " ".join(f"--{k}={v}" for k, v in given.items()))

    # The config it loaded.
    errors_before = len(errors)
    loaded = yaml.safe_load(get_json(api + "/status/config")["data"]["yaml"]) or {}
    # Prometheus shows rule_files made absolute, relative to the config file's folder.
    want_rule_files = [str(config_container.parent / f) for f in
                       prom_config.get("rule_files") or []]
    got_rule_files = [layout_container_path(layout, f) for f in loaded.get("rule_files") or []]
    if got_rule_files != want_rule_files:
        error(PROMETHEUS, f"loaded rule_files {got_rule_files} (container paths), the file "
              f"has {prom_config.get('rule_files')}, i.e. {want_rule_files}")
    for key in ("scrape_interval", "scrape_timeout", "evaluation_interval"):
        want = (prom_config.get("global") or {}).get(key)
        got = (loaded.get("global") or {}).get(key)
        if want is not None and seconds(want) != seconds(got):
            error(PROMETHEUS, f"loaded global.{key} {got}, the file has {want}")

    def static_targets(jobs):
        return {j.get("job_name"): sorted(t for s in j.get("static_configs") or []
                                          for t in s.get("targets") or []) for j in jobs or []}

    want_jobs = static_targets(prom_config.get("scrape_configs"))
    got_jobs = static_targets(loaded.get("scrape_configs"))
    if want_jobs != got_jobs:
        error(PROMETHEUS, f"loaded scrape jobs {got_jobs}, the file has {want_jobs}")

    def alertmanager_targets(config):
        return sorted(t for a in (config.get("alerting") or {}).get("alertmanagers") or []
                      for s in a.get("static_configs") or [] for t in s.get("targets") or [])

    if alertmanager_targets(loaded) != alertmanager_targets(prom_config):
        error(PROMETHEUS, f"loaded alertmanagers {alertmanager_targets(loaded)}, the file "
              f"has {alertmanager_targets(prom_config)}")
    if len(errors) == errors_before:
        note(f"status/config: deploy/prometheus.yml loaded ({len(want_jobs)} jobs, rule_files "
             f"{prom_config.get('rule_files')}, alertmanagers "
             f"{alertmanager_targets(prom_config)}, intervals)")

    # The rules: the groups of the repository's files, from their container paths.
    expected = expected_rule_groups(layout, config_container, prom_config)
    if not any(f.endswith("/caloria.rules.yml") for f, _ in expected):
        error(PROMETHEUS, "rule_files do not select alerts/caloria.rules.yml")
    interval = seconds((prom_config.get("global") or {}).get("evaluation_interval", "1m"))

    def rules_api():
        return get_json(api + "/rules")["data"]["groups"]

    def targets_api():
        return get_json(api + "/targets")["data"]

    # Bounded wait for the first evaluation of every group and scrape of every target.
    deadline = time.monotonic() + EVALUATED_TIMEOUT
    while True:
        groups, targets = rules_api(), targets_api()
        evaluated = all(r.get("health") not in (None, "unknown")
                        for g in groups for r in g.get("rules") or [])
        scraped = all(t.get("health") != "unknown" for t in targets["activeTargets"])
        if (evaluated and scraped and groups) or time.monotonic() >= deadline:
            break
        time.sleep(0.5)

    got_groups = [(layout_container_path(layout, g.get("file", "")), g) for g in groups]
    # The API lists the groups sorted by name; the rules of a group in the file's order.
    errors_before = len(errors)
    want_names = sorted((f, g.get("name")) for f, g in expected)
    got_names = sorted((f, g.get("name")) for f, g in got_groups)
    if want_names != got_names:
        error(PROMETHEUS, "rule groups loaded differ from the rule files':\n"
              f"    file:   {want_names}\n    loaded: {got_names}")
    got_by_name = {g.get("name"): g for _, g in got_groups}
    rules_checked = 0
    for _, group in expected:
        got = got_by_name.get(group.get("name"))
        if got is None:
            continue
        want_interval = seconds(group.get("interval")) or interval
        if got.get("interval") != want_interval:
            error(PROMETHEUS, f"group {group['name']}: interval {got.get('interval')}s, "
                  f"expected {want_interval}s")
        want_rules = group.get("rules") or []
        got_rules = got.get("rules") or []
        want_ids = [("alerting", r["alert"]) if "alert" in r else ("recording", r.get("record"))
                    for r in want_rules]
        got_ids = [(r.get("type"), r.get("name")) for r in got_rules]
        if want_ids != got_ids:
            error(PROMETHEUS, f"group {group['name']}: rules loaded {got_ids}, the file has "
                  f"{want_ids}")
            continue
        for want, rule in zip(want_rules, got_rules):
            where = f"group {group['name']} rule {rule.get('name')}"
            rules_checked += 1
            if rule.get("health") == "err":
                error(PROMETHEUS, f"{where}: evaluation failed: {rule.get('lastError')}")
            elif rule.get("health") in (None, "unknown"):
                error(PROMETHEUS, f"{where}: not evaluated within {EVALUATED_TIMEOUT}s")
            if (want.get("labels") or {}) != (rule.get("labels") or {}):
                error(PROMETHEUS, f"{where}: labels {rule.get('labels')}, the file has "
                      f"{want.get('labels')}")
            if rule.get("type") == "alerting":
                if seconds(want.get("for", 0)) != seconds(rule.get("duration", 0)):
                    error(PROMETHEUS, f"{where}: for {rule.get('duration')}s, the file has "
                          f"{want.get('for')}")
                if (want.get("annotations") or {}) != (rule.get("annotations") or {}):
                    error(PROMETHEUS, f"{where}: annotations differ from the file's")
    files = sorted({f for f, _ in expected})
    if len(errors) == errors_before:
        note(f"rules: {len(got_groups)} groups, {rules_checked} rules from {', '.join(files)} "
             "loaded as in the file (group names; rule names and order, for, labels, "
             "annotations); every rule evaluated without error (no data)")

    # The targets: every job and target of the file.
    active = targets["activeTargets"]
    got_targets = {}
    for t in active:
        labels = t.get("discoveredLabels") or {}
        got_targets.setdefault(labels.get("job") or t["labels"].get("job"), []).append(
            labels.get("__address__"))
    got_targets = {k: sorted(v) for k, v in got_targets.items()}
    if got_targets != want_jobs:
        error(PROMETHEUS, f"active targets {got_targets}, the file scrapes {want_jobs}")
    if targets.get("droppedTargets"):
        error(PROMETHEUS, f"dropped targets: {targets['droppedTargets']}")
    for t in sorted(active, key=lambda t: (t["labels"].get("job", ""), t.get("scrapeUrl", ""))):
        address = (t.get("discoveredLabels") or {}).get("__address__", "")
        host = address.rpartition(":")[0]
        why = ("a compose service name, which does not resolve on the host: down is expected"
               if host not in ("localhost", "127.0.0.1") else
               "the container's own Prometheus; on the host it is whatever listens on that "
               "port, so its state says nothing")
        state = t.get("health")
        if state == "unknown":
            state += f" (not scraped within {EVALUATED_TIMEOUT}s)"
        error_text = f", {t.get('lastError')}" if t.get("lastError") else ""
        note(f"target job={t['labels'].get('job')} {address}: {state}{error_text} [{why}]")

    # The alertmanager the config names.
    data = get_json(api + "/alertmanagers")["data"]
    listed = ([("active", a["url"]) for a in data.get("activeAlertmanagers") or []]
              + [("dropped", a["url"]) for a in data.get("droppedAlertmanagers") or []])
    for am in (prom_config.get("alerting") or {}).get("alertmanagers") or []:
        scheme = am.get("scheme", "http")
        prefix = (am.get("path_prefix") or "/").rstrip("/")
        api_version = am.get("api_version", "v2")
        for static in am.get("static_configs") or []:
            for target in static.get("targets") or []:
                url = f"{scheme}://{target}{prefix}/api/{api_version}/alerts"
                found = [kind for kind, u in listed if u == url]
                if found:
                    note(f"alertmanager {url}: listed as {found[0]} in /api/v1/alertmanagers "
                         "(not reachable on the host: alerts are not delivered here)")
                else:
                    error(PROMETHEUS, f"alertmanager {url} not in /api/v1/alertmanagers "
                          f"({listed})")


def layout_container_path(layout: Layout, host_path: str) -> str:
    """A path under the layout as the container sees it."""
    try:
        return "/" + str(Path(host_path).relative_to(layout.root))
    except ValueError:
        return host_path


# ---- Alertmanager -------------------------------------------------------------------------


def route_differences(want: dict, got: dict, where: str = "route") -> list[str]:
    out = []
    for key in ("receiver", "continue"):
        if key in want and want[key] != got.get(key):
            out.append(f"{where}.{key}: {got.get(key)!r}, the file has {want[key]!r}")
    if "group_by" in want and sorted(want["group_by"]) != sorted(got.get("group_by") or []):
        out.append(f"{where}.group_by: {got.get('group_by')}, the file has {want['group_by']}")
    for key in ("group_wait", "group_interval", "repeat_interval"):
        if key in want and seconds(want[key]) != seconds(got.get(key)):
            out.append(f"{where}.{key}: {got.get(key)}, the file has {want[key]}")
    for key in ("matchers", "mute_time_intervals", "active_time_intervals"):
        if key in want:
            w = sorted(matcher(m) for m in want[key]) if key == "matchers" else want[key]
            g = (sorted(matcher(m) for m in got.get(key) or []) if key == "matchers"
                 else got.get(key))
            if w != g:
                out.append(f"{where}.{key}: {got.get(key)}, the file has {want[key]}")
    want_routes, got_routes = want.get("routes") or [], got.get("routes") or []
    if len(want_routes) != len(got_routes):
        out.append(f"{where}: {len(got_routes)} child routes, the file has {len(want_routes)}")
    else:
        for i, (w, g) in enumerate(zip(want_routes, got_routes)):
            out += route_differences(w, g, f"{where}.routes[{i}]")
    return out


def check_alertmanager(am: Program, config_file: Path) -> None:
    status = get_json(am.base + "/api/v2/status")
    want = yaml.safe_load(config_file.read_text()) or {}
    original = (status.get("config") or {}).get("original")
    if not original:
        error(ALERTMANAGER, "/api/v2/status has no config.original")
        return
    got = yaml.safe_load(original) or {}
    problems = []
    want_receivers = [r.get("name") for r in want.get("receivers") or []]
    got_receivers = [r.get("name") for r in got.get("receivers") or []]
    if want_receivers != got_receivers:
        problems.append(f"receivers {got_receivers}, the file has {want_receivers}")
    for receiver in want.get("receivers") or []:
        kinds = sorted(k for k in receiver if k.endswith("_configs"))
        loaded = next((r for r in got.get("receivers") or [] if r.get("name") == receiver["name"]),
                      {})
        if kinds != sorted(k for k in loaded if k.endswith("_configs") and loaded[k]):
            problems.append(f"receiver {receiver['name']}: integrations {sorted(loaded)}, the "
                            f"file has {kinds}")
    for key, value in (want.get("global") or {}).items():
        got_value = (got.get("global") or {}).get(key)
        try:
            same = seconds(value) == seconds(got_value)
        except ValueError:
            same = value == got_value
        if not same:
            problems.append(f"global.{key}: {got_value!r}, the file has {value!r}")
    problems += route_differences(want.get("route") or {}, got.get("route") or {})
    want_inhibit, got_inhibit = want.get("inhibit_rules") or [], got.get("inhibit_rules") or []
    if len(want_inhibit) != len(got_inhibit):
        problems.append(f"{len(got_inhibit)} inhibit rules, the file has {len(want_inhibit)}")
    else:
        for i, (w, g) in enumerate(zip(want_inhibit, got_inhibit)):
            for key in ("source_matchers", "target_matchers"):
                if sorted(matcher(m) for m in w.get(key) or []) != sorted(
                        matcher(m) for m in g.get(key) or []):
                    problems.append(f"inhibit_rules[{i}].{key}: {g.get(key)}, the file has "
                                    f"{w.get(key)}")
            if sorted(w.get("equal") or []) != sorted(g.get("equal") or []):
                problems.append(f"inhibit_rules[{i}].equal: {g.get('equal')}, the file has "
                                f"{w.get('equal')}")
    for p in problems:
        error(ALERTMANAGER, p)
    cluster = (status.get("cluster") or {}).get("status")
    if cluster != "disabled":
        error(ALERTMANAGER, f"cluster status {cluster!r}: --cluster.listen-address= should "
              "disable the gossip cluster")
    if not problems:
        routes = len((want.get("route") or {}).get("routes") or [])
        note(f"/api/v2/status: deploy/alertmanager.yml loaded (receivers {want_receivers}, "
             f"the route and its {routes} child route(s), {len(want_inhibit)} inhibit rules, "
             f"global); cluster {cluster}")


# ---- main ---------------------------------------------------------------------------------


def run(config: dict, workdir: Path, pidfile: Path | None) -> None:
    services = config.get("services") or {}
    programs: list[Program] = []
    try:
        started = {}
        for name in (ALERTMANAGER, PROMETHEUS):
            service = services.get(name)
            if not service:
                error(name, "no such service in docker-compose.yml")
                continue
            binary = PROGRAMS[name]
            if not os.access(binary, os.X_OK):
                error(name, f"{binary} not installed (apt-get install "
                      f"{'prometheus' if name == PROMETHEUS else 'prometheus-alertmanager'})")
                continue
            note(f"{name}: {service.get('image')} in the stack; here {binary}: {version(binary)}")
            layout = Layout(name, service, workdir / name)
            layout.create()
            flags = command_flags(service)
            ready_path = check_healthcheck_port(name, service, flags) or "/-/ready"
            port = free_port()
            argv, given = host_flags(layout, flags, port)
            program = Program(name, [binary] + argv, port, workdir, pidfile)
            program.start(cwd=layout.root)
            programs.append(program)
            if program.wait_ready(ready_path):
                note(f"{name}: started on 127.0.0.1:{port}; GET {ready_path} (its "
                     "healthcheck's URL) answers 200")
                started[name] = (program, layout, given)
        def config_of(name: str, default: str):
            """The service's config file in the container, and the repository file
            mounted there (None, reported, when no mount provides it)."""
            _, layout, _ = started[name]
            config_container = PurePosixPath(
                dict(command_flags(services[name])).get("config.file") or default)
            source = layout.repo_source(config_container)
            if source is None:
                error(name, f"no mount provides {config_container}")
            else:
                print(f"  -- {name} ({source.relative_to(REPO_ROOT)})")
            return config_container, source

        if PROMETHEUS in started:
            program, layout, given = started[PROMETHEUS]
            config_container, source = config_of(PROMETHEUS, "/etc/prometheus/prometheus.yml")
            if source is not None:
                check_prometheus(program, layout, given, source, config_container)
        if ALERTMANAGER in started:
            program, _, _ = started[ALERTMANAGER]
            _, source = config_of(ALERTMANAGER, "/etc/alertmanager/alertmanager.yml")
            if source is not None:
                check_alertmanager(program, source)
    except (AssertionError, OSError, ValueError, KeyError, TypeError) as e:
        error("stack_on_host", f"{type(e).__name__}: {e}")
    finally:
        for program in programs:
            code = program.stop()
            if code not in (0, None):
                note(f"{program.name}: exited with {code} when stopped:\n{program.log_tail(800)}")
        if programs:
            note("stopped: " + ", ".join(p.name for p in programs))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", nargs="?", default=str(COMPOSE_FILE))
    parser.add_argument("--workdir")
    parser.add_argument("--pidfile")
    args = parser.parse_args(argv)
    # A SIGTERM (the run script's trap, a CI timeout) stops the programs too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    config = yaml.safe_load(Path(args.config).read_text()) or {}
    errors.clear()
    own_workdir = args.workdir is None
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="caloria-stack-on-host."))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        run(config, workdir, Path(args.pidfile) if args.pidfile else None)
    finally:
        if own_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    if errors:
        print(f"{len(errors)} problem(s): Prometheus or Alertmanager did not load the stack's "
              "files as written")
        return 1
    print("ok: Prometheus and Alertmanager run with the stack's own files and flags")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
