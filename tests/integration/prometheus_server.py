"""Debian's real `prometheus`, started by a test on a free 127.0.0.1 port with a
config the test writes and throwaway storage, and its HTTP API."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from postgres import free_port
from waiting import poll_until, terminate

READY_TIMEOUT = 30
HTTP_TIMEOUT = 5


def http_get_json(url: str, timeout: float = HTTP_TIMEOUT):
    """The JSON answer of a GET, also of an error status whose body is JSON
    (Prometheus explains a bad query in one)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as e:
        body = e.read().decode(errors="replace") if e.fp else ""
        try:
            return json.loads(body)
        except ValueError:
            raise AssertionError(f"GET {url} answered {e.code}: {body[:500]}") from e


def probe_job(job: str, names: list[str], exporter: str) -> str:
    """A scrape_configs entry that scrapes each target of an exporter's
    --config.file through /probe?target=NAME, blackbox style, as
    deploy/prometheus-fleet.example.yml does (less the instance relabeling,
    which the callers do not need)."""
    return (
        f"  - job_name: {job}\n"
        "    metrics_path: /probe\n"
        "    static_configs:\n"
        f"      - targets: {json.dumps(names)}\n"
        "    relabel_configs:\n"
        "      - source_labels: [__address__]\n"
        "        target_label: __param_target\n"
        "      - source_labels: [__param_target]\n"
        "        target_label: target\n"
        "      - target_label: __address__\n"
        f"        replacement: {json.dumps(exporter)}\n")


class PrometheusServer:
    def __init__(self, binary: str, workdir: Path, config_text: str) -> None:
        self.binary = binary
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.config = workdir / "prometheus.yml"
        self.config.write_text(config_text)
        self.log_path = workdir / "prometheus.log"
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "PrometheusServer":
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [self.binary,
                 f"--config.file={self.config}",
                 f"--storage.tsdb.path={self.workdir / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}",
                 "--storage.tsdb.retention.time=1h",
                 "--log.level=info"],
                cwd=str(self.workdir), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        poll_until("Prometheus to be ready", self.ready, READY_TIMEOUT, diagnostics=self.logs)
        return self

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"prometheus exited with {self.proc.returncode}:\n{self.logs()}")
        try:
            with urllib.request.urlopen(self.base_url + "/-/ready", timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc)
            self.proc = None

    def logs(self) -> str:
        try:
            return "--- prometheus log (tail) ---\n" + self.log_path.read_text(
                errors="replace")[-3000:]
        except OSError:
            return "(no prometheus log)"

    def answer(self, expr: str) -> dict:
        """The whole answer of an instant query, errors included."""
        return http_get_json(self.base_url + "/api/v1/query?"
                             + urllib.parse.urlencode({"query": expr}))

    def query(self, expr: str) -> list[dict]:
        """The instant vector of `expr`; fails on a query error."""
        answer = self.answer(expr)
        assert answer.get("status") == "success", (expr, answer)
        return answer["data"]["result"]

    def label_values(self, label: str, match: str) -> list[str]:
        answer = http_get_json(self.base_url + f"/api/v1/label/{label}/values?"
                               + urllib.parse.urlencode({"match[]": match}))
        assert answer.get("status") == "success", answer
        return answer["data"]

    def targets(self) -> list[dict]:
        return http_get_json(self.base_url + "/api/v1/targets")["data"]["activeTargets"]
