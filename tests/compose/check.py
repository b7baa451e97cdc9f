#!/usr/bin/env python3
"""Static checks of docker-compose.yml and what it builds and mounts; no Docker engine.

usage: check.py NORMALIZED_CONFIG.yml [COMPOSE_FILE]
  NORMALIZED_CONFIG.yml  the output of `docker-compose config`
  COMPOSE_FILE           the file as written, scanned for inline passwords
                         (default: the repository's docker-compose.yml)

Reads the normalized config (variables resolved, relative paths made absolute) and the
raw docker-compose.yml next to it, and fails, naming the service and the fix, unless:

- every file or folder the stack builds from or mounts exists in the repository: build
  contexts, Dockerfiles and their targets, every COPY/ADD source (and .dockerignore
  does not exclude it), bind mounts, secret files, env_files;
- only Grafana's (3000) and Prometheus's (9090) ports are published, and no service
  uses the host's network;
- every service has a healthcheck (in the compose file, or a HEALTHCHECK in its
  image's Dockerfile stage), or is a one-shot (restart: "no");
- every image built from the repository runs as a non-root USER, the exporter's
  included, and no service overrides that with user: root;
- no password is written in docker-compose.yml: secrets come from files;
- deploy/prometheus.yml scrapes services that exist, on ports they listen on, and the
  Grafana dashboard provider reads the folder where dashboards/ is mounted;
- when build/caloria_exporter exists: every library it links comes from a package the
  exporter image installs (or the base image has); the backup image has
  caloria_backup_tool beside scripts/caloria-backup, and (when build/caloria_backup_tool
  exists) every library it links.

Needs python3-yaml (a dependency of Debian's docker-compose).
"""

from __future__ import annotations

import functools
import json
import re
import shlex
import sys
from pathlib import Path

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.exit("check.py needs PyYAML: apt-get install python3-yaml")

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"

PUBLISHED_ALLOWED = {"grafana": {3000}, "prometheus": {9090}}
EXPORTER_SERVICE = "exporter"
BACKUP_SERVICE = "backup"
EXPORTER_PORT = 9841

errors: list[str] = []
notes: list[str] = []


def error(where: str, message: str) -> None:
    errors.append(f"{where}: {message}")


def rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def inside_repo(path: Path) -> bool:
    try:
        path.resolve().relative_to(REPO_ROOT)
        return True
    except ValueError:
        return False


# ---- .dockerignore (moby/patternmatcher semantics) -------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern:
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if i < len(pattern) and pattern[i] == "/":  # "**/": any folders, or none
                out += "(?:.*/)?"
                i += 1
            else:
                out += ".*"
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out += re.escape(c)
            else:
                body = pattern[i + 1:end].replace("\\", "\\\\")
                if body.startswith("^") or body.startswith("!"):
                    body = "^" + body[1:]
                out += f"[{body}]"
                i = end
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(c)
        i += 1
    return re.compile(out + r"\Z")


def read_dockerignore(context: Path) -> list[tuple[bool, re.Pattern, str]]:
    path = context / ".dockerignore"
    rules = []
    if not path.is_file():
        return rules
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        if negated:
            line = line[1:].strip()
        line = line.lstrip("/").rstrip("/")
        line = re.sub(r"/+", "/", line)
        if line in ("", "."):
            continue
        rules.append((negated, _pattern_regex(line), line))
    return rules


def dockerignored(rules, path: str) -> bool:
    path = path.strip("/")
    parents = path.split("/")[:-1]
    excluded = False
    for negated, regex, _ in rules:
        match = bool(regex.match(path))
        if not match:
            for i in range(len(parents)):
                if regex.match("/".join(parents[: i + 1])):
                    match = True
                    break
        if match:
            excluded = not negated
    return excluded


# ---- Dockerfile -------------------------------------------------------------------------


def dockerfile_instructions(path: Path) -> list[tuple[int, str, str]]:
    """(line number, INSTRUCTION, arguments), continuation lines joined."""
    result = []
    pending, start = "", 0
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        pending += stripped
        word, _, rest = pending.partition(" ")
        result.append((start, word.upper(), rest.strip()))
        pending = ""
    return result


class Stage:
    def __init__(self, name: str | None, base: str, index: int) -> None:
        self.name = name
        self.base = base
        self.index = index
        self.user: str | None = None
        self.healthcheck: str | None = None
        self.copies: list[tuple[int, list[str], bool]] = []  # (line, sources, from_stage)
        self.runs: list[str] = []


def parse_dockerfile(path: Path) -> list[Stage]:
    stages: list[Stage] = []
    args: dict[str, str] = {}
    for line, instruction, rest in dockerfile_instructions(path):
        if instruction == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name.strip()] = default.strip().strip('"')
        elif instruction == "FROM":
            words = rest.split()
            words = [w for w in words if not w.startswith("--")]
            base = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)),
                          words[0])
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(name, base, len(stages)))
        elif not stages:
            continue
        elif instruction == "USER":
            stages[-1].user = rest.split()[0] if rest else ""
        elif instruction == "HEALTHCHECK":
            stages[-1].healthcheck = rest
        elif instruction == "RUN":
            stages[-1].runs.append(rest)
        elif instruction in ("COPY", "ADD"):
            if rest.startswith("["):
                words = json.loads(rest)
                flags = []
            else:
                words = shlex.split(rest)
                flags = [w for w in words if w.startswith("--")]
                words = [w for w in words if not w.startswith("--")]
            from_stage = any(f.startswith("--from=") for f in flags)
            stages[-1].copies.append((line, words[:-1], from_stage))
    return stages


def stage_chain(stages: list[Stage], target: str | None) -> list[Stage]:
    """The target stage and the stages it is built FROM, nearest first."""
    by_name = {s.name: s for s in stages if s.name}
    stage = by_name.get(target) if target else stages[-1]
    chain = []
    while stage is not None and stage not in chain:
        chain.append(stage)
        stage = by_name.get(stage.base)
    return chain


def effective(chain: list[Stage], attribute: str) -> str | None:
    for stage in chain:
        value = getattr(stage, attribute)
        if value is not None:
            return value
    return None


def is_root(user: str | None) -> bool:
    if user is None:
        return True
    name = user.split(":")[0].strip()
    return name in ("", "root", "0")


# ---- the compose file ---------------------------------------------------------------------


def short_volume(spec: str) -> dict:
    parts = spec.split(":")
    if len(parts) == 1:
        return {"type": "volume", "target": parts[0]}
    source, target = parts[0], parts[1]
    kind = "bind" if source.startswith(("/", ".", "~")) else "volume"
    return {"type": kind, "source": source, "target": target,
            "read_only": len(parts) > 2 and "ro" in parts[2].split(",")}


def short_port(spec) -> dict:
    if isinstance(spec, int):
        return {"target": spec, "published": None, "host_ip": ""}
    text = str(spec).split("/")[0]
    parts = text.rsplit(":", 2)
    if len(parts) == 1:
        return {"target": int(parts[0]), "published": None, "host_ip": ""}
    if len(parts) == 2:
        return {"target": int(parts[1]), "published": parts[0], "host_ip": ""}
    return {"target": int(parts[2]), "published": parts[1], "host_ip": parts[0]}


def check_build(name: str, service: dict) -> list[Stage] | None:
    build = service.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        build = {"context": build}
    context = Path(build.get("context", "."))
    if not context.is_absolute():
        context = REPO_ROOT / context
    if not context.is_dir():
        error(name, f"build context {rel(context)} does not exist")
        return None
    dockerfile = context / build.get("dockerfile", "Dockerfile")
    if not dockerfile.is_file():
        error(name, f"Dockerfile {rel(dockerfile)} does not exist")
        return None
    stages = parse_dockerfile(dockerfile)
    target = build.get("target")
    if target and target not in {s.name for s in stages}:
        error(name, f"build target {target!r} is not a stage of {rel(dockerfile)}")
        return None
    chain = stage_chain(stages, target)
    ignore = read_dockerignore(context)
    for stage in chain:
        for line, sources, from_stage in stage.copies:
            if from_stage:
                continue
            for source in sources:
                if re.search(r"[*?\[]", source):
                    if not list(context.glob(source)):
                        error(name, f"{rel(dockerfile)}:{line}: COPY {source} matches nothing")
                    continue
                path = context / source
                if not path.exists():
                    error(name, f"{rel(dockerfile)}:{line}: COPY source {source} does not "
                          "exist in the build context")
                elif dockerignored(ignore, source):
                    error(name, f"{rel(dockerfile)}:{line}: COPY source {source} is excluded "
                          f"by {rel(context / '.dockerignore')}")
                elif path.is_dir():
                    kept = [p for p in path.rglob("*") if p.is_file()
                            and not dockerignored(ignore, str(p.relative_to(context)))]
                    if not kept:
                        error(name, f"{rel(dockerfile)}:{line}: every file of {source} is "
                              "excluded by .dockerignore")
    user = service.get("user") or effective(chain, "user")
    if is_root(user):
        error(name, f"runs as root: add a non-root USER to the {target or 'last'} stage of "
              f"{rel(dockerfile)} (and no `user: root` in the service)")
    return chain


def check_service(name: str, service: dict, volumes_declared: set[str],
                  secrets_declared: dict) -> None:
    chain = check_build(name, service)
    if "build" not in service and "image" not in service:
        error(name, "has neither image nor build")

    # mounts
    for spec in service.get("volumes") or []:
        volume = short_volume(spec) if isinstance(spec, str) else spec
        if volume.get("type") == "bind":
            source = Path(volume["source"])
            if not source.is_absolute():
                source = REPO_ROOT / source
            if not inside_repo(source):
                error(name, f"bind-mounts {source}, outside the repository")
            elif not source.exists():
                error(name, f"bind-mounts {rel(source)}, which does not exist (Docker would "
                      "create an empty folder in its place)")
        elif volume.get("type") == "volume" and volume.get("source"):
            if volume["source"] not in volumes_declared:
                error(name, f"uses volume {volume['source']!r}, not declared under volumes:")
    for spec in service.get("env_file") or []:
        path = Path(spec if isinstance(spec, str) else spec.get("path", ""))
        if not path.is_absolute():
            path = REPO_ROOT / path
        if not path.is_file():
            error(name, f"env_file {rel(path)} does not exist")
    for spec in service.get("secrets") or []:
        source = spec if isinstance(spec, str) else spec.get("source")
        if source not in secrets_declared:
            error(name, f"uses secret {source!r}, not declared under secrets:")

    # ports
    if service.get("network_mode") == "host":
        error(name, "uses network_mode: host, which publishes every port it listens on")
    for spec in service.get("ports") or []:
        port = short_port(spec) if not isinstance(spec, dict) else spec
        target = int(port.get("target"))
        allowed = PUBLISHED_ALLOWED.get(name, set())
        if target not in allowed:
            error(name, f"publishes port {target}: only Grafana's (3000) and Prometheus's "
                  "(9090) may be published; reach the others over the compose network")
        else:
            host_ip = port.get("host_ip") or "0.0.0.0 (all interfaces)"
            notes.append(f"{name}: publishes {target} on {host_ip}")

    # healthcheck
    healthcheck = service.get("healthcheck") or {}
    test = healthcheck.get("test")
    disabled = healthcheck.get("disable") or test in (["NONE"], "NONE")
    # A one-shot says so: restart "no" or on-failure, written out (the default "no"
    # alone would let a forgotten healthcheck pass).
    restart = str(service.get("restart", "")).strip('"')
    one_shot = restart == "no" or restart.startswith("on-failure")
    if test and not disabled:
        pass
    elif chain and effective(chain, "healthcheck") and not disabled and not str(
            effective(chain, "healthcheck")).upper().startswith("NONE"):
        pass
    elif one_shot:
        notes.append(f"{name}: one-shot, no healthcheck")
    else:
        error(name, "has no healthcheck: add one (or, for a one-shot job, say so with "
              "restart: \"no\" or on-failure)")


def check_raw_compose_for_passwords(compose_file: Path) -> None:
    text = compose_file.read_text()
    for number, line in enumerate(text.splitlines(), 1):
        code = line.split("#", 1)[0]
        m = re.search(r"(\w*(?:PASSWORD|SECRET|TOKEN)\w*)\s*[:=]\s*(\S.*)?$", code, re.I)
        if m and m.group(2) and not m.group(1).upper().endswith(("_FILE", "__FILE")):
            value = m.group(2).strip().strip("'\"")
            if value and not value.startswith("/run/secrets/"):
                error("docker-compose.yml", f"line {number}: {m.group(1)} is set inline: "
                      "use a secret file (…_FILE=/run/secrets/…)")
        if re.search(r"://[^/\s:@]+:[^/\s@]+@", code):
            error("docker-compose.yml", f"line {number}: a URL with a password: put it in "
                  "the env file or a secret file")


def check_prometheus(config: dict) -> None:
    services = config.get("services") or {}
    prometheus = services.get("prometheus")
    if not prometheus:
        error("prometheus", "no prometheus service")
        return
    mounts = [short_volume(v) if isinstance(v, str) else v
              for v in prometheus.get("volumes") or []]
    config_mount = next((m for m in mounts if m.get("type") == "bind"
                         and m.get("target") == "/etc/prometheus/prometheus.yml"), None)
    if config_mount is None:
        error("prometheus", "does not mount a prometheus.yml at /etc/prometheus/prometheus.yml")
        return
    prom_config = yaml.safe_load(Path(config_mount["source"]).read_text())
    listening = {EXPORTER_SERVICE: {EXPORTER_PORT}, "prometheus": {9090},
                 "alertmanager": {9093}, "grafana": {3000}}
    jobs = {}
    for scrape in prom_config.get("scrape_configs") or []:
        for static in scrape.get("static_configs") or []:
            for target in static.get("targets") or []:
                host, _, port = target.rpartition(":")
                jobs.setdefault(scrape.get("job_name"), []).append(target)
                if host in ("localhost", "127.0.0.1"):
                    continue
                if host not in services:
                    error("deploy/prometheus.yml", f"job {scrape.get('job_name')!r} scrapes "
                          f"{target}, but there is no service {host!r}")
                elif host in listening and int(port) not in listening[host]:
                    error("deploy/prometheus.yml", f"job {scrape.get('job_name')!r} scrapes "
                          f"{target}, but {host} listens on {sorted(listening[host])}")
    exporter_jobs = [job for job, targets in jobs.items()
                     if any(t.startswith(f"{EXPORTER_SERVICE}:") for t in targets)]
    if not exporter_jobs:
        error("deploy/prometheus.yml", "does not scrape the exporter")
    for job in exporter_jobs:
        if not re.fullmatch(r"caloria.*", job or ""):
            error("deploy/prometheus.yml", f"the exporter's job {job!r} does not match "
                  "caloria.*, which the alert rules select")
    if not prom_config.get("rule_files"):
        error("deploy/prometheus.yml", "has no rule_files: the alerts would not be loaded")
    rules_mount = next((m for m in mounts if m.get("type") == "bind"
                        and Path(m["source"]).resolve() == (REPO_ROOT / "alerts").resolve()),
                       None)
    if rules_mount is None:
        error("prometheus", "does not mount the repository's alerts/ folder")


def check_grafana(config: dict) -> None:
    grafana = (config.get("services") or {}).get("grafana")
    if not grafana:
        error("grafana", "no grafana service")
        return
    mounts = [short_volume(v) if isinstance(v, str) else v
              for v in grafana.get("volumes") or []]
    dashboards_mount = next((m for m in mounts if m.get("type") == "bind" and Path(
        m["source"]).resolve() == (REPO_ROOT / "dashboards").resolve()), None)
    if dashboards_mount is None:
        error("grafana", "does not mount the repository's dashboards/ folder")
        return
    provisioning = next((m for m in mounts if m.get("target") == "/etc/grafana/provisioning"),
                        None)
    if provisioning is None:
        error("grafana", "does not mount a provisioning folder at /etc/grafana/provisioning")
        return
    paths = []
    for path in (Path(provisioning["source"]) / "dashboards").glob("*.y*ml"):
        for provider in (yaml.safe_load(path.read_text()) or {}).get("providers") or []:
            paths.append((provider.get("options") or {}).get("path"))
    if dashboards_mount["target"] not in paths:
        error("grafana", f"no dashboard provider reads {dashboards_mount['target']}, where "
              f"dashboards/ is mounted (providers read {paths})")
    datasources = []
    for path in (Path(provisioning["source"]) / "datasources").glob("*.y*ml"):
        datasources += (yaml.safe_load(path.read_text()) or {}).get("datasources") or []
    if not any(d.get("type") == "prometheus" and d.get("isDefault") for d in datasources):
        error("grafana", "no default Prometheus data source is provisioned: the dashboards' "
              "${datasource} variable would have nothing to pick")


# Libraries every debian:12 image has (Priority: required / apt's own dependencies).
BASE_IMAGE_PACKAGES = {"libc6", "libstdc++6", "libgcc-s1"}


def apt_installed_packages(stage: Stage) -> set[str]:
    packages = set()
    for run in stage.runs:
        for command in re.split(r"&&|;", run):
            words = command.split()
            if "apt-get" in words and "install" in words:
                after = words[words.index("install") + 1:]
                packages |= {w for w in after if not w.startswith("-") and w != "\\"}
    return packages


@functools.lru_cache(maxsize=None)
def owning_packages(library: str) -> frozenset[str]:
    import subprocess
    owner = subprocess.run(["dpkg", "-S", f"*/{library}"], capture_output=True, text=True,
                           timeout=30).stdout
    return frozenset(line.split(":")[0] for line in owner.splitlines() if ":" in line)


def check_runtime_libraries(binary: Path, dockerfile: Path, target: str) -> None:
    """Every shared library a binary links directly comes from a package the image's
    stages install (or the base image has)."""
    import subprocess
    try:
        out = subprocess.run(["readelf", "-d", str(binary)], capture_output=True, text=True,
                             timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as e:
        notes.append(f"runtime libraries not checked: readelf: {e}")
        return
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)
    chain = stage_chain(parse_dockerfile(dockerfile), target)
    installed = set(BASE_IMAGE_PACKAGES)
    for stage in chain:
        installed |= apt_installed_packages(stage)
    missing = 0
    for library in needed:
        try:
            packages = owning_packages(library)
        except OSError as e:
            notes.append(f"runtime libraries not checked: dpkg: {e}")
            return
        if not packages:
            notes.append(f"{library}: no Debian package owns it here")
        elif not packages & installed:
            missing += 1
            error(f"{rel(dockerfile)} stage {target}",
                  f"{binary.name} needs {library} (Debian package {', '.join(sorted(packages))}),"
                  f" which the {target} stage does not install")
    if not missing:
        notes.append(f"{binary.name} links {len(needed)} libraries, all from packages the "
                     f"{target} stage installs or its base image has")


def check_backup_tool(service: dict) -> None:
    """The image that runs scripts/caloria-backup has caloria_backup_tool beside it (the
    script asks it where the database is and whether a backup is complete), and every
    library the tool links."""
    build = service.get("build")
    if not isinstance(build, dict):
        return
    dockerfile = Path(build.get("context", REPO_ROOT)) / build.get("dockerfile", "Dockerfile")
    target = build.get("target") or BACKUP_SERVICE
    chain = stage_chain(parse_dockerfile(dockerfile), target)
    copied = [(sources, from_stage) for stage in chain for _, sources, from_stage in stage.copies]
    if any(source.endswith("scripts/caloria-backup") for sources, _ in copied for source in sources):
        if not any(from_stage and source.endswith("/caloria_backup_tool")
                   for sources, from_stage in copied for source in sources):
            error(f"{rel(dockerfile)} stage {target}", "copies scripts/caloria-backup but not "
                  "caloria_backup_tool from the build stage: the script cannot run without it")
    tool = REPO_ROOT / "build" / "caloria_backup_tool"
    if tool.is_file():
        check_runtime_libraries(tool, dockerfile, target)
    else:
        notes.append("runtime libraries not checked: build/caloria_backup_tool not built")


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print(__doc__, file=sys.stderr)
        return 2
    errors.clear()
    notes.clear()
    config = yaml.safe_load(Path(argv[0]).read_text())
    compose_file = Path(argv[1]) if len(argv) == 2 else COMPOSE_FILE
    services = config.get("services") or {}
    if not services:
        error("docker-compose.yml", "no services")
    volumes_declared = set((config.get("volumes") or {}).keys())
    secrets_declared = config.get("secrets") or {}
    for name, secret in secrets_declared.items():
        path = Path((secret or {}).get("file", ""))
        if not (secret or {}).get("file"):
            continue
        if not path.is_absolute():
            path = REPO_ROOT / path
        if not path.is_file():
            error(f"secret {name}", f"file {rel(path)} does not exist")
    for name, service in services.items():
        check_service(name, service or {}, volumes_declared, secrets_declared)
    if EXPORTER_SERVICE not in services:
        error(EXPORTER_SERVICE, "no exporter service")
    elif "build" not in services[EXPORTER_SERVICE]:
        error(EXPORTER_SERVICE, "is not built from the repository's Dockerfile")
    for wanted in PUBLISHED_ALLOWED:
        if not (services.get(wanted) or {}).get("ports"):
            error(wanted, "is not published: its UI is what the stack is for")
    check_raw_compose_for_passwords(compose_file)
    binary = REPO_ROOT / "build" / "caloria_exporter"
    exporter_build = (services.get(EXPORTER_SERVICE) or {}).get("build")
    if binary.is_file() and isinstance(exporter_build, dict):
        context = Path(exporter_build.get("context", REPO_ROOT))
        check_runtime_libraries(binary, context / exporter_build.get("dockerfile", "Dockerfile"),
                                exporter_build.get("target") or "exporter")
    else:
        notes.append("runtime libraries not checked: build/caloria_exporter not built")
    check_backup_tool(services.get(BACKUP_SERVICE) or {})
    check_prometheus(config)
    check_grafana(config)

    for note in notes:
        if note:
            print(f"  note: {note}")
    if errors:
        for e in errors:
            print(f"FAIL {e}")
        print(f"{len(errors)} problem(s) in docker-compose.yml and what it uses")
        return 1
    print(f"ok: {len(services)} services ({', '.join(sorted(services))}): mounts and build "
          "inputs exist, only grafana and prometheus published, healthchecks everywhere, "
          "non-root images, no inline passwords")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
