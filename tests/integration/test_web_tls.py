"""TLS from the web-config file (--web.config.file), checked with real clients:
curl and `openssl s_client`. The certificates are made here with the openssl
CLI, in the test's temporary folder: a CA, a server certificate for
127.0.0.1 and localhost signed by it, a client certificate signed by it, and a
client certificate from another CA. No private key is ever committed."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from exporter import (INTERVAL, SLACK, TIMEOUT, Exporter, Response, free_port,
                      make_sqlite, run_once, write_env)

# One interval for the change to be seen, one poll to publish it.
SEEN_WITHIN = 2 * (INTERVAL + TIMEOUT) + SLACK
CLIENT_TIMEOUT = 10  # seconds for any one curl or openssl run


# ---- certificates ---------------------------------------------------------------


def openssl(*args: str, cwd: Path | None = None, input: bytes | None = None) -> bytes:
    result = subprocess.run(["openssl", *args], cwd=cwd, input=input, capture_output=True,
                            timeout=CLIENT_TIMEOUT)
    if result.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed: {result.stderr.decode()}")
    return result.stdout


def _new_key_and_csr(folder: Path, name: str, subject: str) -> None:
    # EC P-256: generated in milliseconds, unlike RSA.
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject,
            cwd=folder)


def make_ca(folder: Path, name: str) -> None:
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2",
            "-subj", f"/CN={name}", cwd=folder)


def sign(folder: Path, name: str, ca: str, serial: int, extensions: str,
         subject: str) -> None:
    _new_key_and_csr(folder, name, subject)
    (folder / f"{name}.ext").write_text(extensions)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
            "-set_serial", str(serial), "-days", "2", "-out", f"{name}.crt",
            "-extfile", f"{name}.ext", cwd=folder)


SERVER_EXT = ("basicConstraints=critical,CA:FALSE\n"
              "keyUsage=critical,digitalSignature\n"
              "extendedKeyUsage=serverAuth\n"
              "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
CLIENT_EXT = ("basicConstraints=critical,CA:FALSE\n"
              "keyUsage=critical,digitalSignature\n"
              "extendedKeyUsage=clientAuth\n")


def make_server_cert(folder: Path, name: str, serial: int, ca: str = "ca") -> None:
    sign(folder, name, ca, serial, SERVER_EXT, "/CN=localhost")


@dataclass
class Pki:
    dir: Path

    def __getitem__(self, name: str) -> Path:
        return self.dir / name


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    make_ca(folder, "ca")
    make_ca(folder, "other-ca")
    make_server_cert(folder, "server", serial=1001)
    sign(folder, "client", "ca", 2001, CLIENT_EXT, "/CN=scraper")
    sign(folder, "stranger", "other-ca", 3001, CLIENT_EXT, "/CN=stranger")
    return Pki(folder)


def cert_identity(pem: bytes) -> tuple[str, str]:
    """(serial, SHA-256 fingerprint) of a PEM certificate."""
    out = openssl("x509", "-noout", "-serial", "-fingerprint", "-sha256", input=pem).decode()
    serial = re.search(r"serial=(\S+)", out).group(1)
    fingerprint = re.search(r"Fingerprint=(\S+)", out).group(1)
    return serial, fingerprint


def file_identity(path: Path) -> tuple[str, str]:
    return cert_identity(path.read_bytes())


# ---- clients --------------------------------------------------------------------


def s_client(port: int, *args: str, request: bytes = b"") -> subprocess.CompletedProcess:
    """One `openssl s_client` run against the exporter; its stdin is `request`
    and then EOF, so it returns after the handshake (or once the server closes,
    with -quiet)."""
    return subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
         *args],
        input=request, capture_output=True, timeout=CLIENT_TIMEOUT)


def served_identity(port: int, pki: Pki) -> tuple[str, str]:
    """The serial and fingerprint of the certificate a new connection gets."""
    result = s_client(port, "-CAfile", str(pki["ca.crt"]))
    out = result.stdout.decode(errors="replace")
    pem = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S)
    assert pem, f"s_client got no certificate (rc={result.returncode}): {result.stderr!r}"
    return cert_identity(pem.group(0).encode())


def handshake(port: int, pki: Pki, *args: str) -> tuple[bool, str]:
    """(whether an s_client handshake completed, its output)."""
    result = s_client(port, "-CAfile", str(pki["ca.crt"]), *args)
    out = result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")
    cipher = re.search(r"Cipher is (\S+)", out)
    ok = result.returncode == 0 and cipher is not None and cipher.group(1) != "(NONE)"
    return ok, out


@dataclass
class CurlResult:
    returncode: int
    status: str  # "000" when no HTTP answer came
    stderr: str


def curl(url: str, *args: str) -> CurlResult:
    result = subprocess.run(
        ["curl", "-sS", "-o", os.devnull, "-w", "%{http_code}", "--max-time", "8", *args, url],
        capture_output=True, text=True, timeout=CLIENT_TIMEOUT)
    return CurlResult(result.returncode, result.stdout.strip(), result.stderr.strip())


def curl_client(pki: Pki, who: str | None) -> list[str]:
    args = ["--cacert", str(pki["ca.crt"])]
    if who:
        args += ["--cert", str(pki[f"{who}.crt"]), "--key", str(pki[f"{who}.key"])]
    return args


# ---- the exporter over TLS --------------------------------------------------------


class TlsExporter(Exporter):
    """An Exporter whose own requests (readiness, metrics) go over TLS."""

    def __init__(self, *args, ssl_context: ssl.SSLContext, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.ssl_context = ssl_context

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def get(self, path: str, method: str = "GET", timeout: float = 2,
            data: bytes | None = None) -> Response:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                           context=self.ssl_context)
        started = time.monotonic()
        try:
            conn.request(method, path, body=data)
            resp = conn.getresponse()
            body = resp.read()
            headers = {k.lower(): v for k, v in resp.getheaders()}
            return Response(resp.status, headers, body, time.monotonic() - started)
        except http.client.HTTPException as e:  # not an OSError: count it as one
            raise OSError(f"{type(e).__name__}: {e}") from e
        finally:
            conn.close()


def client_context(pki: Pki, who: str | None = "client") -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki["ca.crt"]))
    if who:
        context.load_cert_chain(str(pki[f"{who}.crt"]), str(pki[f"{who}.key"]))
    return context


def tls_config(cert: str = "server.crt", key: str = "server.key", **extra: str) -> str:
    lines = ["tls_server_config:", f"  cert_file: {cert}", f"  key_file: {key}"]
    lines += [f"  {k}: {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def app_env(app_dir) -> Path:
    make_sqlite(app_dir / "instance" / "caloria.db", users=3)
    return write_env(app_dir, DATABASE_URL="sqlite:///caloria.db")


@pytest.fixture
def web_dir(tmp_path, pki) -> Path:
    """A folder with the web config's certificates, named relative to it."""
    folder = tmp_path / "web"
    folder.mkdir()
    for name in ("server.crt", "server.key", "ca.crt"):
        (folder / name).write_bytes(pki[name].read_bytes())
    return folder


@pytest.fixture
def start_tls(exporter_binary, tmp_path, app_env, pki):
    """Factory: start_tls(web_config_text, extra_args, fast=True) -> running
    TlsExporter, with the config written to <tmp>/web/web.yml."""
    started: list[TlsExporter] = []

    def start(config: str, args=(), fast: bool = True, client: str | None = "client"):
        web = tmp_path / "web"
        web.mkdir(exist_ok=True)
        config_file = web / "web.yml"
        config_file.write_text(config)
        exp = TlsExporter(args=[f"--app.env-file={app_env}", f"--web.config.file={config_file}",
                                *args],
                          fast=fast, workdir=tmp_path / f"exporter{len(started)}",
                          ssl_context=client_context(pki, client))
        started.append(exp)
        exp.config_file = config_file
        return exp.start()

    yield start
    for exp in started:
        exp.stop()
        print(f"--- exporter args={exp.args} exit={exp.exit_code} stderr (tail) ---")
        print(exp.logs()[-4000:])


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected exactly one stderr line, got {len(lines)}: {stderr!r}"
    return lines[0]


def replace_file(path: Path, content: bytes) -> None:
    """Swaps the file's content in at once, as a certificate manager does."""
    tmp = path.with_name(path.name + ".new")
    tmp.write_bytes(content)
    os.replace(tmp, path)


# ---- the server certificate ---------------------------------------------------------


def test_the_server_certificate_is_served_and_verifies(start_tls, web_dir, pki):
    exp = start_tls(tls_config())
    exp.wait_metric("caloria_database_up", 1)
    url = f"https://127.0.0.1:{exp.port}/metrics"
    assert curl(url, *curl_client(pki, None)).status == "200"
    # By name too (DNS:localhost in subjectAltName), resolved to the listener.
    named = curl(f"https://localhost:{exp.port}/health", "--resolve",
                 f"localhost:{exp.port}:127.0.0.1", *curl_client(pki, None))
    assert named.status == "200", named
    # Without the CA, curl cannot verify it: the chain is ours, not a public one.
    unverified = curl(url)
    assert unverified.returncode != 0 and unverified.status == "000", unverified

    assert served_identity(exp.port, pki) == file_identity(pki["server.crt"])
    ok, out = handshake(exp.port, pki, "-verify_return_error")
    assert ok, out
    assert "Verify return code: 0 (ok)" in out, out
    assert re.search(r"subject=\s*CN\s*=\s*localhost", out), out


def test_plain_http_to_the_tls_port_gets_no_page(start_tls, web_dir):
    exp = start_tls(tls_config())
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", exp.port), timeout=5) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
        except socket.timeout:
            pytest.fail("the TLS port kept a plain-HTTP connection open for 5 s")
    assert not received.startswith(b"HTTP/1.1 200") and b"caloria_" not in received, received[:200]
    assert time.monotonic() - started < 5
    # ...and the server goes on serving TLS.
    assert exp.get("/metrics").status == 200


# ---- client certificates --------------------------------------------------------------

# client_auth_type -> which clients get an answer: none, one from our CA, one
# from another CA. "Request" and "RequireAny" do not verify, as in Go.
CLIENT_AUTH_CASES = {
    "NoClientCert": {None: True, "client": True, "stranger": True},
    "RequestClientCert": {None: True, "client": True, "stranger": True},
    "RequireAnyClientCert": {None: False, "client": True, "stranger": True},
    "VerifyClientCertIfGiven": {None: True, "client": True, "stranger": False},
    "RequireAndVerifyClientCert": {None: False, "client": True, "stranger": False},
}


@pytest.mark.parametrize("auth_type", list(CLIENT_AUTH_CASES))
def test_client_certificates(start_tls, web_dir, pki, auth_type):
    # As in exporter-toolkit, a client CA without a client_auth_type that
    # asks for certificates is refused (a case of the start-up test below).
    extra = {} if auth_type == "NoClientCert" else {"client_ca_file": "ca.crt"}
    exp = start_tls(tls_config(client_auth_type=auth_type, **extra))
    url = f"https://127.0.0.1:{exp.port}/metrics"
    got = {}
    for who in (None, "client", "stranger"):
        got[who] = curl(url, *curl_client(pki, who))
    wrong = {}
    for who, allowed in CLIENT_AUTH_CASES[auth_type].items():
        result = got[who]
        if allowed and result.status != "200":
            wrong[who] = f"refused: {result}"
        if not allowed and (result.returncode == 0 or result.status != "000"):
            wrong[who] = f"answered: {result}"
    assert not wrong, f"{auth_type}: {wrong}"


def test_a_required_client_certificate_is_refused_in_the_handshake(start_tls, web_dir, pki):
    """With TLS 1.2 the refusal is in the handshake itself, where s_client sees it."""
    exp = start_tls(tls_config(client_ca_file="ca.crt",
                               client_auth_type="RequireAndVerifyClientCert"))
    ok, out = handshake(exp.port, pki, "-tls1_2")
    assert not ok, f"a handshake without a client certificate completed:\n{out}"
    ok, out = handshake(exp.port, pki, "-tls1_2", "-cert", str(pki["stranger.crt"]),
                        "-key", str(pki["stranger.key"]))
    assert not ok, f"a handshake with another CA's certificate completed:\n{out}"
    ok, out = handshake(exp.port, pki, "-tls1_2", "-cert", str(pki["client.crt"]),
                        "-key", str(pki["client.key"]))
    assert ok, out
    # And over TLS 1.3 a request goes through with the right certificate.
    result = s_client(exp.port, "-quiet", "-CAfile", str(pki["ca.crt"]),
                      "-cert", str(pki["client.crt"]), "-key", str(pki["client.key"]),
                      request=b"GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n")
    assert result.stdout.startswith(b"HTTP/1.0 200"), (result.stdout[:300], result.stderr)


# ---- protocol versions and cipher suites --------------------------------------------------


def test_min_version_tls13_refuses_tls12(start_tls, web_dir, pki):
    exp = start_tls(tls_config(min_version="TLS13"))
    ok, out = handshake(exp.port, pki, "-tls1_2")
    assert not ok, f"TLS 1.2 was accepted under min_version TLS13:\n{out}"
    ok, out = handshake(exp.port, pki, "-tls1_3")
    assert ok, out
    assert "TLSv1.3" in out, out
    refused = curl(f"https://127.0.0.1:{exp.port}/metrics", "--tls-max", "1.2",
                   *curl_client(pki, None))
    assert refused.returncode != 0 and refused.status == "000", refused


def test_max_version_tls12_refuses_tls13(start_tls, web_dir, pki):
    exp = start_tls(tls_config(max_version="TLS12"))
    ok, out = handshake(exp.port, pki, "-tls1_3")
    assert not ok, f"TLS 1.3 was accepted under max_version TLS12:\n{out}"
    ok, out = handshake(exp.port, pki, "-tls1_2")
    assert ok, out
    assert re.search(r"Protocol\s*:\s*TLSv1\.2", out), out
    assert curl(f"https://127.0.0.1:{exp.port}/metrics", *curl_client(pki, None)).status == "200"


def test_cipher_suites_limit_tls12(start_tls, web_dir, pki):
    exp = start_tls(tls_config(max_version="TLS12") +
                    "  cipher_suites:\n    - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\n")
    ok, out = handshake(exp.port, pki, "-tls1_2")
    assert ok, out
    assert "ECDHE-ECDSA-AES128-GCM-SHA256" in out, out
    ok, out = handshake(exp.port, pki, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384")
    assert not ok, f"a suite outside cipher_suites was negotiated:\n{out}"


# ---- certificate rotation -----------------------------------------------------------------


def rotate(web_dir: Path, pki: Pki, name: str, serial: int) -> tuple[str, str]:
    """Makes a new server key and certificate, swaps them in for server.crt and
    server.key, and returns the new certificate's identity."""
    make_server_cert(pki.dir, name, serial)
    replace_file(web_dir / "server.key", pki[f"{name}.key"].read_bytes())
    replace_file(web_dir / "server.crt", pki[f"{name}.crt"].read_bytes())
    return file_identity(pki[f"{name}.crt"])


def test_a_rotated_certificate_is_served_after_post_reload_and_sighup(start_tls, web_dir, pki):
    # A long interval: only the reload requests may pick the new files up.
    exp = start_tls(tls_config(), args=["--collector.interval=1m", "--collector.timeout=1s"],
                    fast=False)
    first = served_identity(exp.port, pki)
    assert first == file_identity(pki["server.crt"])

    second = rotate(web_dir, pki, "server-rotated-1", serial=1002)
    assert second != first
    assert served_identity(exp.port, pki) == first, "reloaded before it was asked to"
    resp = exp.get("/-/reload", method="POST", data=b"")
    assert resp.status == 200, resp.text
    assert served_identity(exp.port, pki) == second
    assert curl(f"https://127.0.0.1:{exp.port}/metrics", *curl_client(pki, None)).status == "200"

    third = rotate(web_dir, pki, "server-rotated-2", serial=1003)
    os.kill(exp.pid(), signal.SIGHUP)
    exp.wait_for("the certificate rotated by SIGHUP",
                 lambda: served_identity(exp.port, pki) == third, timeout=5)
    assert exp.metrics().get("caloria_exporter_config_last_reload_successful") == 1
    assert exp.running()


def test_a_rotated_certificate_is_picked_up_by_the_file_watch(start_tls, web_dir, pki):
    exp = start_tls(tls_config())  # --collector.interval=1s
    first = served_identity(exp.port, pki)
    rotated = rotate(web_dir, pki, "server-watched", serial=1004)
    assert rotated != first
    changed_at = time.monotonic()
    exp.wait_for("the rotated certificate on a new connection",
                 lambda: served_identity(exp.port, pki) == rotated, timeout=SEEN_WITHIN)
    assert time.monotonic() - changed_at <= SEEN_WITHIN
    exp.wait_metric("caloria_exporter_config_last_reload_successful", 1, timeout=SEEN_WITHIN)
    assert curl(f"https://127.0.0.1:{exp.port}/metrics", *curl_client(pki, None)).status == "200"


# ---- bad web configs --------------------------------------------------------------------


def _bad_start_configs(web: Path, pki: Pki) -> dict[str, tuple[str, str]]:
    """case -> (web config text, the file name the message must name)."""
    (web / "other.key").write_bytes(pki["client.key"].read_bytes())
    (web / "garbage.crt").write_text("not a certificate\n")
    return {
        "yaml syntax": ("tls_server_config: [cert_file: server.crt\n", "web.yml"),
        "not a mapping": ("- just\n- a list\n", "web.yml"),
        "missing certificate": (tls_config(cert="missing.crt"), "missing.crt"),
        "not a certificate": (tls_config(cert="garbage.crt"), "garbage.crt"),
        "key of another certificate": (tls_config(key="other.key"), "other.key"),
        "unknown client_auth_type": (
            tls_config(client_auth_type="Sometimes", client_ca_file="ca.crt"), "web.yml"),
        "unknown min_version": (tls_config(min_version="TLS99"), "web.yml"),
        "client CA without client_auth_type": (tls_config(client_ca_file="ca.crt"), "web.yml"),
        "missing client CA": (
            tls_config(client_ca_file="missing-ca.crt",
                       client_auth_type="RequireAndVerifyClientCert"), "missing-ca.crt"),
    }


def test_a_bad_web_config_at_start_exits_2_with_one_line(tmp_path, web_dir, pki, app_env):
    failures = {}
    for case, (text, named) in _bad_start_configs(web_dir, pki).items():
        config_file = web_dir / "web.yml"
        config_file.write_text(text)
        try:
            result = run_once([f"--app.env-file={app_env}", f"--web.config.file={config_file}",
                               f"--web.listen-address=127.0.0.1:{free_port()}",
                               "--no-collector.backup"], timeout=10)
        except subprocess.TimeoutExpired:
            failures[case] = "kept running (did not refuse the config)"
            continue
        if result.returncode != 2:
            failures[case] = f"exit {result.returncode}: {result.stderr[-500:]!r}"
            continue
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        if len(lines) != 1:
            failures[case] = f"{len(lines)} stderr lines: {result.stderr!r}"
        elif named not in lines[0]:
            failures[case] = f"does not name {named}: {lines[0]!r}"
    # An unreadable web config itself.
    result = run_once([f"--app.env-file={app_env}",
                       f"--web.config.file={web_dir / 'no-such-web.yml'}",
                       f"--web.listen-address=127.0.0.1:{free_port()}"])
    if result.returncode != 2 or "no-such-web.yml" not in one_line(result.stderr):
        failures["missing web config"] = f"exit {result.returncode}: {result.stderr!r}"
    assert not failures, failures


@pytest.mark.parametrize("broken", ["yaml syntax", "key of another certificate",
                                    "tls turned off"])
def test_a_bad_web_config_at_reload_is_rejected_and_the_old_one_kept(start_tls, web_dir, pki,
                                                                      broken):
    exp = start_tls(tls_config())
    exp.wait_metric("caloria_exporter_config_last_reload_successful", 1)
    served = served_identity(exp.port, pki)
    good = exp.config_file.read_text()

    (web_dir / "other.key").write_bytes(pki["client.key"].read_bytes())
    exp.config_file.write_text({
        "yaml syntax": "tls_server_config: [cert_file: server.crt\n",
        "key of another certificate": tls_config(key="other.key"),
        "tls turned off": "http_server_config:\n  headers:\n    X-Frame-Options: deny\n",
    }[broken])
    resp = exp.get("/-/reload", method="POST", data=b"")
    assert resp.status == 500, (resp.status, resp.text)
    assert "web.yml" in resp.text or "TLS" in resp.text, resp.text
    # Still serving, the same certificate, and saying the reload failed.
    exp.wait_metric("caloria_exporter_config_last_reload_successful", 0, timeout=SEEN_WITHIN)
    assert served_identity(exp.port, pki) == served
    assert curl(f"https://127.0.0.1:{exp.port}/metrics", *curl_client(pki, None)).status == "200"
    assert exp.running()

    exp.config_file.write_text(good)
    resp = exp.get("/-/reload", method="POST", data=b"")
    assert resp.status == 200, resp.text
    exp.wait_metric("caloria_exporter_config_last_reload_successful", 1, timeout=SEEN_WITHIN)


def test_tls_cannot_be_turned_on_by_reload(app_dir, app_env, start_exporter, web_dir, pki):
    config_file = web_dir / "web.yml"
    config_file.write_text("http_server_config:\n  headers:\n    X-Frame-Options: deny\n")
    exp = start_exporter(args=[f"--app.env-file={app_env}", f"--web.config.file={config_file}"])
    config_file.write_text(tls_config())
    resp = exp.get("/-/reload", method="POST", data=b"")
    assert resp.status == 500, (resp.status, resp.text)
    assert "restart" in resp.text, resp.text
    exp.wait_metric("caloria_exporter_config_last_reload_successful", 0, timeout=SEEN_WITHIN)
    assert exp.get("/metrics").status == 200, "plain HTTP must go on"
