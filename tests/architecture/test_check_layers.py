"""The layer check itself: it must catch what it exists to catch."""
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CHECK = HERE / "check_layers.py"
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
import check_layers  # noqa: E402


def make_tree(root: Path, files: dict[str, str]) -> Path:
    for layer in check_layers.LAYERS:
        (root / layer).mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def run(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECK), str(root)], capture_output=True, text=True)


def test_the_repository_follows_the_data_path():
    result = run(REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_includes_of_earlier_layers_pass(tmp_path):
    root = make_tree(tmp_path, {
        "render/page.cpp": '#include "poll/snapshot.h"\n#include "core/clock.h"\n',
        "collectors/backup/verifier.cpp": '#include "collectors/database/sqlite.h"\n',
        "cmd/tool/main.cpp": '#include "http/router.h"\n',
    })
    assert run(root).returncode == 0


@pytest.mark.parametrize("source, include", [
    ("core/clock.cpp", "config/config.h"),
    ("config/config.cpp", "collectors/collector.h"),
    ("collectors/database/db.h", "poll/snapshot.h"),
    ("poll/poller.h", "render/page_store.h"),
    ("render/pages.h", "http/router.h"),
    ("http/router.h", "cmd/caloria_exporter/main.cpp"),
])
def test_an_include_running_back_up_fails(tmp_path, source, include):
    root = make_tree(tmp_path, {source: f'#include <string>\n\n#include "{include}"\n'})
    result = run(root)
    assert result.returncode == 1
    assert f"{source}:3" in result.stdout
    assert include in result.stdout


@pytest.mark.parametrize("source, header", [
    ("render/health_page.cpp", "libpq-fe.h"),
    ("http/router.cpp", "sqlite3.h"),
    ("collectors/collector.cpp", "boost/beast/http.hpp"),
    ("render/pages.cpp", "boost/asio/ip/tcp.hpp"),
    ("config/config.cpp", "openssl/ssl.h"),
    ("http/router.cpp", "curl/curl.h"),
    ("http/router.cpp", "yaml-cpp/eventhandler.h"),
    ("config/web_config.cpp", "crypt.h"),
])
def test_outside_world_libraries_stay_in_their_layer(tmp_path, source, header):
    root = make_tree(tmp_path, {source: f"#include <{header}>\n"})
    result = run(root)
    assert result.returncode == 1
    assert header in result.stdout
