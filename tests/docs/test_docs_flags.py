"""docs/configuration.md's flags table and `caloria_exporter --help` name the same
flags: a flag added, renamed or removed in one but not the other fails here."""

from __future__ import annotations

import re

from exporter import REPO_ROOT, run_once

CONFIGURATION_MD = REPO_ROOT / "docs" / "configuration.md"
DOC = "docs/configuration.md"

# A flag at the start of a --help line: "-h, --help", "--version",
# "--web.listen-address=ADDRESS", "--[no-]collector.backup", and collector names
# with underscores ("--[no-]collector.app_process"). Flag lines are
# indented by at most 6 spaces; their descriptions, deeper, are not read.
_HELP_FLAG = re.compile(r"^ {0,6}(?:(-[A-Za-z]), )?--(\[no-\])?([a-z0-9][a-z0-9._-]*)")
# A flag in the first cell of a docs table row: `--name`, `-h`, `--[no-]name`.
_DOC_FLAG = re.compile(r"`(-[A-Za-z]|--(?:\[no-\])?[a-z0-9][a-z0-9._-]*)`")


def expand(flag: str) -> set[str]:
    """--[no-]name stands for --name and --no-name."""
    if flag.startswith("--[no-]"):
        name = flag[len("--[no-]"):]
        return {f"--{name}", f"--no-{name}"}
    return {flag}


def help_flags() -> set[str]:
    """Every flag `caloria_exporter --help` lists, in any of its sections."""
    result = run_once(["--help"])
    assert result.returncode == 0, (
        f"caloria_exporter --help exited with {result.returncode}:\n{result.stderr}")
    text = result.stdout or result.stderr
    flags: set[str] = set()
    for line in text.splitlines():
        match = _HELP_FLAG.match(line)
        if match:
            short, negatable, name = match.groups()
            if short:
                flags.add(short)
            flags |= expand(f"--{negatable or ''}{name}")
    # A --help whose layout changed must not make this test pass vacuously.
    assert {"-h", "--help", "--version"} <= flags and len(flags) >= 10, (
        f"could not read the flags from caloria_exporter --help (found {sorted(flags)}); "
        f"update the parser in {__file__}:\n{text}")
    return flags


def documented_flags() -> set[str]:
    """Every flag in the first column of the table under "## Flags"."""
    text = CONFIGURATION_MD.read_text()
    section = re.search(r"^## Flags\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert section, f"{DOC} has no '## Flags' section"
    flags: set[str] = set()
    for line in section.group(1).splitlines():
        if not line.startswith("|") or re.match(r"^\|\s*(flag\s*\||-+)", line):
            continue  # not a row, the header, or the separator
        first_cell = line.split("|")[1]
        for flag in _DOC_FLAG.findall(first_cell):
            flags |= expand(flag)
    assert len(flags) >= 10, f"could not read the flags table of {DOC} (found {sorted(flags)})"
    return flags


def test_every_help_flag_is_documented(exporter_binary):
    missing = sorted(help_flags() - documented_flags())
    assert not missing, (
        f"flags listed by `caloria_exporter --help` but missing from the flags table of {DOC}: "
        f"{', '.join(missing)}. Add a row for each (as `--name`) to {DOC}.")


def test_every_documented_flag_exists(exporter_binary):
    unknown = sorted(documented_flags() - help_flags())
    assert not unknown, (
        f"flags in the flags table of {DOC} that `caloria_exporter --help` does not list: "
        f"{', '.join(unknown)}. Remove or rename their rows in {DOC}, or, if the flag "
        "exists, list it in the exporter's --help text.")
