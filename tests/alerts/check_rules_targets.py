#!/usr/bin/env python3
"""Checks that the rules keep the targets of one exporter apart.

With --config.file one exporter watches several apps and every series of an
app carries its name in the label `target` (docs/configuration.md#many-targets);
the targets share the exporter's job and instance. So, for every rule in
alerts/*.yml:

- each `by (...)` and `on (...)` that names `instance` names `target` too: a
  join on (job, instance) alone fails with "many-to-many matching" or lets one
  target's series match, or silence, another's; an aggregation by (job,
  instance) adds up the apps;
- no `without (...)` or `ignoring (...)` names `target` (the same, the other
  way round);
- in the annotations, every query (`printf "..." ... | query`) that selects
  `instance=%q` selects `target=%q` too (else `first` picks any target's
  value), and names its by/on lists as above;
- an annotation that names `$labels.instance` names `$labels.target` too, so a
  notification says which app (an absent label expands to nothing).

The exporter's own series (process_*, caloria_exporter_build_info, and
Prometheus' `up`) carry no target label on /metrics: a rule that must join
them with an app's series may group or match on (job, instance) alone if the
line of that clause carries the PromQL comment `# exporter-wide: <why>`
(alerts/caloria.rules.yml says how such a join must look).

Standard library only, like check_rules_docs.py: the rule files are read line
by line. Before the rule files, the checker runs against rules made wrong on
purpose (a checker that passes everything proves nothing). Exits 1 listing
every problem found.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXEMPT = "# exporter-wide:"
KEY_RE = re.compile(r"^(\s*)(?:- )?(alert|record|expr|summary|description):\s*(.*)$")
BLOCK_INDICATOR = re.compile(r"^[|>][-+]?$")
CLAUSE_RE = re.compile(r"\b(by|on|without|ignoring)\s*\(([^()]*)\)")
STRING_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|`[^`]*`')
PRINTF_RE = re.compile(r'printf\s+"((?:[^"\\]|\\.)*)"')


def fields(text: str) -> list[tuple[str, str, str, int]]:
    """(rule name, key, value, first line number) of every expr, summary and
    description, the value of a block scalar as its lines joined by newlines."""
    out: list[tuple[str, str, str, int]] = []
    lines = text.splitlines()
    rule = "?"
    i = 0
    while i < len(lines):
        m = KEY_RE.match(lines[i])
        i += 1
        if not m:
            continue
        indent, key, value = len(m.group(1)), m.group(2), m.group(3).strip()
        if key in ("alert", "record"):
            rule = value
            continue
        start = i
        if BLOCK_INDICATOR.match(value):
            block: list[str] = []
            while i < len(lines) and (
                not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent
            ):
                block.append(lines[i].strip())
                i += 1
            value = "\n".join(block).strip()
            start += 1
        elif len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        out.append((rule, key, value, start))
    return out


def clause_problems(code: str, exempt_lines: set[int]) -> list[tuple[int, str]]:
    """(line within `code`, problem) for every by/on/without/ignoring list of
    PromQL `code` (strings and comments already removed) that merges targets."""
    problems = []
    for m in CLAUSE_RE.finditer(code):
        keyword = m.group(1)
        labels = [label.strip().strip("\"'") for label in m.group(2).split(",") if label.strip()]
        first = code.count("\n", 0, m.start())
        last = code.count("\n", 0, m.end())
        clause = f"{keyword} ({', '.join(labels)})"
        if keyword in ("by", "on") and "instance" in labels and "target" not in labels:
            if not exempt_lines & {first, last}:
                problems.append((first, f"{clause} names instance but not target "
                                        f"(or mark an exporter-wide join `{EXEMPT} <why>`)"))
        elif keyword in ("without", "ignoring") and "target" in labels:
            problems.append((first, f"{clause} drops target: it merges the targets of "
                                    "one exporter"))
    return problems


def promql_problems(expr: str) -> list[tuple[int, str]]:
    code_lines, exempt = [], set()
    for n, line in enumerate(expr.split("\n")):
        line = STRING_RE.sub('""', line)
        code, _, comment = line.partition("#")
        if ("#" + comment).startswith(EXEMPT):
            exempt.add(n)
        code_lines.append(code)
    return clause_problems("\n".join(code_lines), exempt)


def annotation_problems(text: str) -> list[tuple[int, str]]:
    problems = []
    for m in PRINTF_RE.finditer(text):
        line = text.count("\n", 0, m.start())
        query = m.group(1).replace('\\"', '"')
        for selector in re.findall(r"\{[^{}]*\}", query):
            if re.search(r"\binstance=%q", selector) and not re.search(r"\btarget=%q", selector):
                problems.append((line, f"query selector {selector} selects instance but "
                                       "not target=%q ($labels.target)"))
        problems += [(line, f"query: {p}") for _, p in promql_problems(query)]
    if "$labels.instance" in text and "$labels.target" not in text:
        problems.append((0, "names $labels.instance but not $labels.target "
                            "(e.g. {{ with $labels.target }} (target {{ . }}){{ end }})"))
    return problems


def check_text(text: str, name: str) -> list[str]:
    problems = []
    for rule, key, value, line in fields(text):
        found = promql_problems(value) if key == "expr" else annotation_problems(value)
        problems += [f"{name}:{line + offset}: {rule} {key}: {p}" for offset, p in found]
    return problems


# ---- the checker against rules made wrong on purpose ---------------------------

GOOD = """
groups:
  - name: g
    rules:
      - record: instance:x:max1h
        expr: max_over_time(x[1h])
      - alert: Good
        expr: |
          sum by (job, instance, target) (a)
          / on (job,instance,target)
            b
          unless on (job, instance, target, collector) c{check="on (job, instance)"}
          or max without (collector) (d)
          or e * ignoring (state) f
          # a comment naming by (job, instance) is no code
          or g * on (job, instance) group_left # exporter-wide: build_info has no target
          max by (job, instance) (caloria_exporter_build_info) # exporter-wide: one per exporter
        annotations:
          summary: "x on {{ $labels.instance }}{{ with $labels.target }} (target {{ . }}){{ end }}"
          description: >-
            {{ with printf "a{job=%q,instance=%q,target=%q}" $labels.job $labels.instance $labels.target | query }}
            {{ . | first | value }}{{ end }} on {{ $labels.instance }}{{ with $labels.target }} ({{ . }}){{ end }}.
"""

BAD = {
    "sum by (job, instance) (a)": "by (job, instance) names instance but not target",
    "sum(a) by (instance)": "by (instance) names instance but not target",
    "a / on(job,instance) b": "on (job, instance) names instance but not target",
    "a\n  unless on (\n    job, instance\n  ) b": "on (job, instance) names instance",
    "sum without (target) (a)": "without (target) drops target",
    "a * ignoring (target, state) b": "ignoring (target, state) drops target",
    "a * on (job, instance) group_left b  # why not": "on (job, instance) names instance",
}

BAD_ANNOTATIONS = {
    '{{ $labels.instance }}{{ with $labels.target }}{{ . }}{{ end }}{{ with printf "a{job=%q,instance=%q}" $labels.job $labels.instance | query }}{{ end }}':
        "selects instance but not target=%q",
    '{{ $labels.instance }}{{ $labels.target }}{{ with printf "sum by (job, instance) (a{target=%q})" $labels.target | query }}{{ end }}':
        "query: by (job, instance) names instance but not target",
    "The exporter {{ $labels.instance }} has failed.": "names $labels.instance but not $labels.target",
}


def rule_text(expr: str, summary: str = "s") -> str:
    body = "\n".join("          " + line for line in expr.split("\n"))
    return (
        "groups:\n  - name: g\n    rules:\n      - alert: Bad\n        expr: |\n" + body + "\n"
        "        annotations:\n          summary: '" + summary.replace("'", "''") + "'\n")


def self_test() -> list[str]:
    failures = []
    found = check_text(GOOD, "good.yml")
    if found:
        failures.append(f"rules right for targets were refused: {found}")
    for expr, want in BAD.items():
        found = check_text(rule_text(expr), "bad.yml")
        if not any(want in p for p in found):
            failures.append(f"{expr!r} passed; want a problem {want!r}, got {found}")
    for summary, want in BAD_ANNOTATIONS.items():
        found = check_text(rule_text("a", summary), "bad.yml")
        if not any(want in p for p in found):
            failures.append(f"annotation {summary!r} passed; want {want!r}, got {found}")
    return failures


def main() -> int:
    failures = self_test()
    if failures:
        print("\n".join(f"FAIL: the checker itself: {f}" for f in failures))
        return 1
    problems = []
    rule_files = sorted((ROOT / "alerts").glob("*.yml"))
    if not rule_files:
        problems.append("no rule files in alerts/")
    count = 0
    for path in rule_files:
        text = path.read_text()
        count += sum(1 for _, key, _, _ in fields(text) if key == "expr")
        problems += check_text(text, f"alerts/{path.name}")
    if problems:
        print("\n".join(f"FAIL: {p}" for p in problems))
        return 1
    print(f"OK: {count} rules keep the targets of one exporter apart "
          f"(every by/on naming instance names target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
