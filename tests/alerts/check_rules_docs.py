#!/usr/bin/env python3
"""Checks that the alert rules, their runbooks and their unit tests agree.

promtool checks syntax and behaviour; this checks the conventions promtool
cannot see, for every alert in alerts/*.rules.yml:

- labels.severity is critical or warning;
- annotations summary, description and runbook_url are set, and runbook_url
  is RUNBOOK_BASE#<alert name in lower case>;
- docs/runbooks.md has a heading that is exactly the alert's name (so that
  GitHub's anchor is that lower-case name);
- tests/alerts/*.test.yml has a case where it fires (exp_alerts with
  entries) and one where it must not (exp_alerts: []);
- each `for:` and `keep_firing_for:` stands on a line of its own (the
  end-to-end test shortens them line by line).

Standard library only (no PyYAML): the rule files are read line by line,
which their layout (one `- alert:` per rule, two-space indents) allows.
Exits 1 listing every problem found.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK_BASE = "https://github.com/caloria/caloria_exporter/blob/main/docs/runbooks.md"
RULE_START = re.compile(r"^\s*- (alert|record):\s*(\S+)\s*$")


def rules_in(path: Path) -> list[tuple[str, str, str]]:
    """(kind, name, text of the rule) for every rule of a rule file."""
    rules: list[tuple[str, str, list[str]]] = []
    for line in path.read_text().splitlines():
        m = RULE_START.match(line)
        if m:
            rules.append((m.group(1), m.group(2), []))
        elif rules and re.match(r"^\s*- name:", line):
            rules.append(("group", "", []))  # a new group ends the last rule
        if rules:
            rules[-1][2].append(line)
    return [(kind, name, "\n".join(lines)) for kind, name, lines in rules if kind != "group"]


def field(text: str, key: str) -> str | None:
    m = re.search(rf"^\s*{key}:\s*(.*)$", text, re.M)
    return m.group(1).strip().strip("\"'") if m else None


def main() -> int:
    problems: list[str] = []
    rule_files = sorted((ROOT / "alerts").glob("*.yml"))
    if not rule_files:
        problems.append("no rule files in alerts/")
    headings = set(
        re.findall(r"^#{1,6}\s+(\S+)\s*$", (ROOT / "docs" / "runbooks.md").read_text(), re.M)
    )
    tests = "\n".join(p.read_text() for p in sorted((ROOT / "tests" / "alerts").glob("*.test.yml")))

    alerts = []
    for path in rule_files:
        for line_no, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0] if not line.lstrip().startswith("#") else ""
            if re.search(r"(^|[\s{,])for:", code) and not re.match(
                r"^\s*for:\s*(\d+[smhdwy])+\s*$", code
            ):
                problems.append(f"{path.name}:{line_no}: `for:` must stand alone on its line")
            if "keep_firing_for:" in code and not re.match(
                r"^\s*keep_firing_for:\s*(\d+[smhdwy])+\s*$", code
            ):
                problems.append(
                    f"{path.name}:{line_no}: `keep_firing_for:` must stand alone on its line")
        for kind, name, text in rules_in(path):
            if kind == "record":
                if not re.match(r"^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$", name):
                    problems.append(f"recording rule {name}: not named level:metric:operations")
                continue
            alerts.append(name)
            severity = field(text, "severity")
            if severity not in ("critical", "warning"):
                problems.append(f"{name}: severity is {severity!r}, not critical or warning")
            for key in ("summary", "description"):
                if not field(text, key):
                    problems.append(f"{name}: annotation {key} missing")
            url = field(text, "runbook_url")
            want = f"{RUNBOOK_BASE}#{name.lower()}"
            if url != want:
                problems.append(f"{name}: runbook_url is {url!r}, want {want!r}")
            if name not in headings:
                problems.append(f"{name}: docs/runbooks.md has no heading `{name}`")
            fires = re.search(
                rf"alertname:\s*{name}\s*\n\s*exp_alerts:\s*\n\s*- exp_labels:", tests
            )
            silent = re.search(rf"alertname:\s*{name}\s*,?\s*\n?\s*exp_alerts:\s*\[\]", tests)
            if not fires:
                problems.append(f"{name}: no unit test where it fires")
            if not silent:
                problems.append(f"{name}: no unit test where it must stay silent")
    if len(set(alerts)) != len(alerts):
        problems.append(f"duplicate alert names: {sorted(alerts)}")
    for heading in sorted(headings):
        if heading.startswith("Caloria") and heading not in alerts:
            problems.append(f"docs/runbooks.md: section {heading} matches no alert")

    if problems:
        print("\n".join(f"FAIL: {p}" for p in problems))
        return 1
    print(f"OK: {len(alerts)} alerts, each with severity, annotations, a runbook and tests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
