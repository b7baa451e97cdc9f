#!/usr/bin/env python3
"""Fails when an include runs against the data path.

The source folders are layers, in the order data flows (docs/architecture.md):

    core -> config -> collectors -> poll -> render -> http -> cmd

A file may include its own layer and the layers before it, never one after
it. The libraries that talk to the outside world are confined too: libpq and
SQLite and libcurl to collectors/, Boost.Beast/Asio and OpenSSL to http/, so a page
never opens a database and a collector never answers HTTP; yaml-cpp (the web-config
file) to config/ and libcrypt (basic auth) to http/.

    check_layers.py [ROOT]    prints each offending include; exit 1 if any
"""
import re
import sys
from pathlib import Path

LAYERS = ["core", "config", "collectors", "poll", "render", "http", "cmd"]

# A system header, or a header folder (ending in /), and the only layers that may
# include it.
CONFINED = {
    "libpq-fe.h": {"collectors"},
    "sqlite3.h": {"collectors"},
    "curl/": {"collectors"},
    "boost/beast/": {"http"},
    "boost/asio/": {"http"},
    "openssl/": {"http"},
    "yaml-cpp/": {"config"},
    "crypt.h": {"http"},
}


def confined_to(header: str) -> set[str] | None:
    for name, layers in CONFINED.items():
        if header == name or (name.endswith("/") and header.startswith(name)):
            return layers
    return None

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def violations(root: Path) -> list[str]:
    found = []
    for rank, layer in enumerate(LAYERS):
        folder = root / layer
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.suffix not in (".h", ".cpp", ".in"):
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            for number, line in enumerate(text.splitlines(), 1):
                match = INCLUDE.match(line)
                if not match:
                    continue
                quote, header = match.groups()
                where = f"{path.relative_to(root)}:{number}"
                if quote == '"':
                    target = header.split("/", 1)[0]
                    if target in LAYERS and LAYERS.index(target) > rank:
                        found.append(f"{where}: {layer}/ includes {header}, but {target}/ comes "
                                     f"after {layer}/ on the data path: move the shared part down "
                                     f"into {layer}/ or an earlier folder, or pass it in")
                elif (layers := confined_to(header)) is not None and layer not in layers:
                    allowed = ", ".join(sorted(layers))
                    found.append(f"{where}: {layer}/ includes <{header}>, which only {allowed}/ "
                                 f"may use")
    return found


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2])
    missing = [layer for layer in LAYERS if not (root / layer).is_dir()]
    if missing:
        print(f"check_layers: no folder {', '.join(missing)} under {root}", file=sys.stderr)
        return 2
    found = violations(root)
    for line in found:
        print(line)
    if found:
        print(f"check_layers: {len(found)} include(s) against the data path", file=sys.stderr)
        return 1
    print(f"check_layers: every include in {', '.join(LAYERS)} follows the data path")
    return 0


if __name__ == "__main__":
    sys.exit(main())
