"""Every shell script in the repository is shellcheck-clean: the ones we ship (the
backup and restore-test scripts, the containers' and the package's scripts) and the
ones that build and test (scripts/, tests/*/run, bench/run is Python). Found by their
shebang among the tracked files, so a new script is checked without being listed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHEBANGS = (b"#!/bin/bash", b"#!/usr/bin/env bash", b"#!/bin/sh", b"#!/usr/bin/env sh")


def shell_scripts() -> list[Path]:
    try:
        listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"],
                                capture_output=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout: the tracked files are unknown")
    scripts = []
    for name in listed.decode().split("\0"):
        path = REPO / name
        if not name or not path.is_file() or path.is_symlink():
            continue
        with path.open("rb") as f:
            first = f.readline(100).rstrip()
        if name.endswith((".bash", ".sh")) or first.startswith(SHEBANGS):
            scripts.append(path)
    return scripts


def test_every_shell_script_is_shellcheck_clean():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck not installed (Debian package shellcheck)")
    scripts = shell_scripts()
    # The ones we know of, so that a broken search cannot pass by finding nothing.
    for known in ("scripts/caloria-backup", "scripts/debian-base-image", "tests/images/run",
                  "deploy/bin/caloria-backup-daily", "packaging/debian/postinst"):
        assert REPO / known in scripts, f"{known} not found among the shell scripts"
    result = subprocess.run([shellcheck, *map(str, scripts)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
