#!/usr/bin/env python3
"""Lints Grafana dashboards with the rules of grafana/dashboard-linter that apply to ours.

usage: lint.py [--strict] [--min-schema-version N] DASHBOARD.json...

Python 3 standard library only, so it runs anywhere the tests run. The rules and their
names follow grafana/dashboard-linter (lint/rule_*.go); like the linter, template variables
are expanded with sample values before a query is parsed ($__rate_interval becomes a
magic duration, variables inside double quotes are left alone), so `job=~"$job"` must be
written exactly so.

  uid-rule                        the dashboard has a stable uid (provisioning, links)
  schema-version-rule             schemaVersion is an integer >= --min-schema-version (39)
  template-datasource-rule        a datasource variable named `datasource`
                                  (or `<type>_datasource`), labelled `Data source`
  template-job-rule               a `job` query variable on ${datasource}: multi, allValue .+
  template-instance-rule          an `instance` query variable, the same way
  template-label-promql-rule      variable queries are label_values(...) etc. of valid PromQL
  template-on-time-change-reload-rule  query variables refresh on time range change (2)
  panel-datasource-rule           every panel and target uses $datasource / ${datasource}
  panel-title-description-rule    every panel has a title and a description
  target-promql-rule              every target has a non-empty query that parses as PromQL
  target-job-rule                 every selector has job=~"$job"
  target-instance-rule            every selector has instance=~"$instance"
  target-rate-interval-rule       rate() and irate() ranges are $__rate_interval

Caloria's own rules, for an exporter that watches several apps (targets, --config.file)
and labels their series target="NAME" (none without --config.file):

  template-target-rule            a `target` query variable on ${datasource}
                                  (label_values(..., target)): multi, Include All, allValue
                                  .* (not .+: without --config.file there is no target
                                  label, and only .* matches a missing label)
  target-target-rule              every selector has target=~"$target"; the exporter's own
                                  series, which carry no target label on /metrics
                                  (process_*, caloria_exporter_build_info, Prometheus' up
                                  and scrape_*), have target=~"$target|" instead
  target-grouping-rule            by (...) and on (...) that name instance name target too,
                                  and without (...) / ignoring (...) never name it: two
                                  targets of one exporter share job and instance

Exit status: 0 when there is no error (warnings are printed; --strict makes them fail
too), 1 when a rule failed, 2 on a usage error or a file that is not a dashboard.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_MIN_SCHEMA_VERSION = 39

# ---- Grafana variables -------------------------------------------------------------------

# Sample values from dashboard-linter's lint/variables.go: odd durations, so that a
# range can be recognised as "this was $__rate_interval" after expansion.
GLOBAL_VARIABLES = {
    "__rate_interval": "8869990787ms",
    "__interval": "4867856611ms",
    "__interval_ms": "7781188786",
    "__range_ms": "6737667980",
    "__range_s": "9397795485",
    "__range": "6069770749ms",
    "__dashboard": "AwREbnft",
    "__from": "1594671549254",
    "__to": "1594671549254",
    "__name": "name",
    "__org": "42",
    "__user.id": "42",
    "__user.login": "user",
    "__auto": "12345ms",
}
RATE_INTERVAL_SAMPLE = GLOBAL_VARIABLES["__rate_interval"]

# The exporter's own series: one per exporter, so without a target label on /metrics of
# an exporter with --config.file (with the one relabeling sets when scraped through
# /probe?target=NAME). Prometheus' own series of a scrape are the same.
EXPORTER_WIDE_RE = re.compile(r"process_\w*|caloria_exporter_build_info|up|scrape_\w*")
TARGET_MATCHER = "$target"
EXPORTER_WIDE_TARGET_MATCHER = "$target|"
TARGET_ALL_VALUE = ".*"

VARIABLE_RE = re.compile(r"\$(\w+)|\$\{([^}]+)\}|\[\[([^\[\]]+)\]\]")


def _current_value(template: dict) -> str:
    current = template.get("current") or {}
    value = current.get("value")
    if isinstance(value, list):
        value = value[0] if value else ""
    if isinstance(value, str) and value:
        return value
    for option in template.get("options") or []:
        value = option.get("value")
        if isinstance(value, list):
            value = value[0] if value else ""
        if isinstance(value, str):
            return value
    return ""


def _sample_value(spec: str, templates: list[dict]) -> str:
    name = spec.split(":")[0]
    if name in GLOBAL_VARIABLES:
        return GLOBAL_VARIABLES[name]
    if name.startswith("__auto_interval"):
        return "10s"
    for template in templates:
        if template.get("name") == name:
            value = _current_value(template)
            if value:
                others = [t for t in templates if t.get("name") != name]
                return expand_variables(value, others)
    return name


def expand_variables(expr: str, templates: list[dict]) -> str:
    """Replaces $var, ${var} and [[var]] outside double-quoted strings with sample
    values, as dashboard-linter does before it parses a query."""
    parts = expr.split('"')
    for i in range(0, len(parts), 2):
        parts[i] = VARIABLE_RE.sub(
            lambda m: _sample_value(next(g for g in m.groups() if g is not None), templates),
            parts[i],
        )
    return '"'.join(parts)


# ---- PromQL --------------------------------------------------------------------------------

AGGREGATIONS = {
    "sum", "avg", "count", "min", "max", "group", "stddev", "stdvar", "topk", "bottomk",
    "count_values", "quantile", "limitk", "limit_ratio",
}
BINARY_KEYWORDS = {"and", "or", "unless", "atan2"}
BINARY_SYMBOLS = {"+", "-", "*", "/", "%", "^", "==", "!=", "<=", ">=", "<", ">"}
MATCH_OPS = {"=", "!=", "=~", "!~"}
DURATION_RE = re.compile(r"(?:\d+(?:ms|[smhdwy]))+")
NUMBER_RE = re.compile(r"0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
IDENT_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_:]*")
STRING_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|`[^`]*`')
OPERATOR_RE = re.compile(r"==|!=|<=|>=|=~|!~|[-+*/%^<>=@:(){}\[\],]")


class PromQLError(ValueError):
    pass


@dataclass
class Token:
    kind: str  # ident, number, duration, string, op, eof
    text: str
    pos: int


def tokenize(expr: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(expr):
        c = expr[i]
        if c.isspace():
            i += 1
            continue
        if c == "#":
            end = expr.find("\n", i)
            i = len(expr) if end < 0 else end
            continue
        for kind, regex in (("string", STRING_RE), ("duration", DURATION_RE),
                            ("number", NUMBER_RE), ("ident", IDENT_RE), ("op", OPERATOR_RE)):
            m = regex.match(expr, i)
            if m:
                text = m.group(0)
                # "5m" is a duration, "5" a number, "5mx" neither.
                if kind == "duration" and IDENT_RE.match(expr, m.end()) and not (
                        expr[m.end()].isdigit()):
                    continue
                tokens.append(Token(kind, text, i))
                i = m.end()
                break
        else:
            raise PromQLError(f"unexpected character {c!r} at position {i}")
    tokens.append(Token("eof", "", len(expr)))
    return tokens


def unquote(literal: str) -> str:
    if literal[0] == "`":
        return literal[1:-1]
    body = literal[1:-1]
    escapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'",
               "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), "\\" + m.group(1)), body)


@dataclass
class Selector:
    name: str | None
    matchers: list[tuple[str, str, str]]  # (label, op, value)
    range: str | None = None  # set for a matrix selector: foo[5m]
    parent_call: str | None = None  # the function whose direct argument it is
    top_level: bool = False


@dataclass
class Grouping:
    keyword: str  # by, without, on, ignoring
    labels: list[str]


@dataclass
class Parsed:
    selectors: list[Selector] = field(default_factory=list)
    groupings: list[Grouping] = field(default_factory=list)


class Parser:
    """A small recursive-descent PromQL parser: enough to reject malformed queries and
    to find every selector with its matchers, its range and the call it sits in."""

    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.tokens = tokenize(expr)
        self.i = 0
        self.result = Parsed()

    # -- helpers
    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return token

    def error(self, message: str, token: Token | None = None) -> PromQLError:
        token = token or self.peek()
        where = f"'{token.text}'" if token.kind != "eof" else "end of query"
        return PromQLError(f"{message} at position {token.pos} ({where})")

    def expect(self, text: str) -> Token:
        token = self.take()
        if token.text != text or token.kind == "string":
            raise self.error(f"expected '{text}'", token)
        return token

    def at(self, *texts: str) -> bool:
        token = self.peek()
        return token.kind in ("op", "ident") and token.text in texts

    # -- grammar
    def parse(self) -> Parsed:
        if self.peek().kind == "eof":
            raise PromQLError("empty query")
        node = self.expression()
        if self.peek().kind != "eof":
            raise self.error("unexpected token")
        if isinstance(node, Selector):
            node.top_level = True
        return self.result

    def expression(self):
        left = self.unary()
        while True:
            token = self.peek()
            is_op = (token.kind == "op" and token.text in BINARY_SYMBOLS) or (
                token.kind == "ident" and token.text.lower() in BINARY_KEYWORDS)
            if not is_op:
                return left
            self.take()
            if self.at("bool"):
                self.take()
            if self.at("on", "ignoring"):
                self.label_list(self.take().text)
            if self.at("group_left", "group_right"):
                self.take()
                if self.at("("):
                    self.label_list()
            self.unary()
            left = "binary"

    def unary(self):
        if self.at("+", "-"):
            self.take()
            self.unary()
            return "unary"
        return self.postfix(self.primary())

    def postfix(self, node):
        while True:
            if self.at("["):
                open_token = self.take()
                range_token = self.take()
                if range_token.kind not in ("duration", "number"):
                    raise self.error("expected a duration in the range", range_token)
                if self.at(":"):  # subquery foo[1h:5m]
                    self.take()
                    if self.peek().kind in ("duration", "number"):
                        self.take()
                    self.expect("]")
                    node = "subquery"
                    continue
                self.expect("]")
                if not isinstance(node, Selector) or node.range is not None:
                    raise self.error("a range [..] needs a vector selector before it",
                                     open_token)
                node.range = range_token.text
            elif self.at("offset"):
                self.take()
                if self.at("-", "+"):
                    self.take()
                if self.peek().kind not in ("duration", "number"):
                    raise self.error("expected a duration after offset")
                self.take()
            elif self.at("@"):
                self.take()
                if self.at("start", "end"):
                    self.take()
                    self.expect("(")
                    self.expect(")")
                else:
                    if self.at("-", "+"):
                        self.take()
                    if self.peek().kind != "number":
                        raise self.error("expected a timestamp after @")
                    self.take()
            else:
                return node

    def primary(self):
        token = self.peek()
        if token.kind in ("number", "duration"):
            self.take()
            return "number"
        if token.kind == "string":
            self.take()
            return "string"
        if token.kind == "op" and token.text == "(":
            self.take()
            self.expression()
            self.expect(")")
            return "paren"
        if token.kind == "op" and token.text == "{":
            return self.selector(None)
        if token.kind == "ident":
            name = token.text
            if name.lower() in ("inf", "nan") and not self.peek(1).text in ("(", "{"):
                self.take()
                return "number"
            if name in AGGREGATIONS and (self.peek(1).text in ("(", "by", "without")):
                return self.aggregation()
            if self.peek(1).kind == "op" and self.peek(1).text == "(":
                return self.call()
            return self.selector(name)
        raise self.error("unexpected token")

    def aggregation(self):
        self.take()
        if self.at("by", "without"):
            self.label_list(self.take().text)
        self.call_arguments("aggregation")
        if self.at("by", "without"):
            self.label_list(self.take().text)
        return "aggregation"

    def call(self):
        name = self.take().text
        self.call_arguments(name)
        return "call"

    def call_arguments(self, name: str) -> None:
        self.expect("(")
        if self.at(")"):
            self.take()
            return
        while True:
            argument = self.expression()
            if isinstance(argument, Selector):
                argument.parent_call = name
            if self.at(","):
                self.take()
                continue
            self.expect(")")
            return

    def label_list(self, keyword: str | None = None) -> None:
        self.expect("(")
        labels: list[str] = []
        while not self.at(")"):
            token = self.take()
            if token.kind not in ("ident", "string"):
                raise self.error("expected a label name", token)
            labels.append(unquote(token.text) if token.kind == "string" else token.text)
            if self.at(","):
                self.take()
            elif not self.at(")"):
                raise self.error("expected ',' or ')' in a label list")
        self.take()
        if keyword is not None:
            self.result.groupings.append(Grouping(keyword, labels))

    def selector(self, name: str | None) -> Selector:
        if name is not None:
            self.take()
        matchers: list[tuple[str, str, str]] = []
        if self.at("{"):
            self.take()
            while not self.at("}"):
                label = self.take()
                if label.kind == "string" and self.at(",", "}"):  # {"metric.name"}
                    name = unquote(label.text)
                else:
                    if label.kind != "ident":
                        raise self.error("expected a label name", label)
                    op = self.take()
                    if op.text not in MATCH_OPS or op.kind != "op":
                        raise self.error("expected =, !=, =~ or !~", op)
                    value = self.take()
                    if value.kind != "string":
                        raise self.error("expected a quoted label value", value)
                    matchers.append((label.text, op.text, unquote(value.text)))
                if self.at(","):
                    self.take()
                elif not self.at("}"):
                    raise self.error("expected ',' or '}' in a selector")
            self.take()
        if name is None and not any(op != "!~" and value for _, op, value in matchers):
            raise PromQLError("a selector needs a metric name or a non-empty matcher")
        selector = Selector(name, matchers)
        self.result.selectors.append(selector)
        return selector


def parse_promql(expr: str) -> Parsed:
    return Parser(expr).parse()


# ---- the dashboard ----------------------------------------------------------------------------


@dataclass
class Finding:
    rule: str
    where: str
    message: str
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        return f"{self.severity}: [{self.rule}] {self.where}: {self.message}"


def datasource_uid(raw) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return raw
    if isinstance(raw, dict):
        uid = raw.get("uid")
        return uid if isinstance(uid, str) else None
    return None


def iter_panels(dashboard: dict):
    """Every panel, rows' nested panels (collapsed rows) and legacy rows included."""
    def walk(panels):
        for panel in panels or []:
            yield panel
            yield from walk(panel.get("panels"))
    for legacy_row in dashboard.get("rows") or []:
        yield from walk(legacy_row.get("panels"))
    yield from walk(dashboard.get("panels"))


def panel_name(panel: dict) -> str:
    return f"panel {panel.get('id', '?')} '{panel.get('title', '')}'"


def template_query(template: dict) -> str:
    query = template.get("query")
    if isinstance(query, dict):
        query = query.get("query", "")
    return query if isinstance(query, str) else ""


def lint_dashboard(dashboard: dict, min_schema_version: int = DEFAULT_MIN_SCHEMA_VERSION
                   ) -> list[Finding]:
    findings: list[Finding] = []

    def add(rule, where, message, severity="error"):
        findings.append(Finding(rule, where, message, severity))

    # uid and schemaVersion
    uid = dashboard.get("uid")
    if not isinstance(uid, str) or not uid:
        add("uid-rule", "dashboard", "has no uid: set a stable \"uid\" so that links and "
            "provisioning keep pointing at the same dashboard")
    elif len(uid) > 40 or not re.fullmatch(r"[A-Za-z0-9_-]+", uid):
        add("uid-rule", "dashboard", f"uid {uid!r} must be 1-40 characters of "
            "letters, digits, '-' and '_'")
    schema = dashboard.get("schemaVersion")
    if not isinstance(schema, int) or isinstance(schema, bool):
        add("schema-version-rule", "dashboard",
            f"schemaVersion is {schema!r}: set an integer, {min_schema_version} or newer")
    elif schema < min_schema_version:
        add("schema-version-rule", "dashboard",
            f"schemaVersion {schema} is older than {min_schema_version}: re-save the "
            "dashboard with a current Grafana")
    if not dashboard.get("title"):
        add("uid-rule", "dashboard", "has no title")

    templating = dashboard.get("templating") or {}
    templates = templating.get("list") if isinstance(templating, dict) else None
    if not isinstance(templates, list):
        templates = []

    # template-datasource-rule
    ds_templates = [t for t in templates if str(t.get("type", "")).lower() == "datasource"]
    if not ds_templates:
        add("template-datasource-rule", "dashboard", "does not have a templated data source: "
            "add a variable of type datasource named 'datasource' (query 'prometheus')")
    for t in ds_templates:
        query = template_query(t)
        names = {f"{query.lower()}_datasource"}
        labels = {f"{query.title()} data source"}
        if len(ds_templates) == 1:
            names.add("datasource")
            labels.add("Data source")
        if t.get("name") not in names:
            add("template-datasource-rule", "dashboard",
                f"templated data source variable named {t.get('name')!r}, should be named "
                + " or ".join(repr(n) for n in sorted(names)))
        if t.get("label") not in labels:
            add("template-datasource-rule", "dashboard",
                f"templated data source variable labeled {t.get('label')!r}, should be "
                "labeled " + " or ".join(repr(n) for n in sorted(labels)), "warning")
    prometheus = bool(ds_templates) and template_query(ds_templates[0]) == "prometheus"

    # template-job-rule, template-instance-rule
    if prometheus:
        for name in ("job", "instance"):
            rule = f"template-{name}-rule"
            t = next((t for t in templates if t.get("name") == name), None)
            if t is None:
                add(rule, "dashboard", f"is missing the {name} template: add a query variable "
                    f"'{name}' (label_values(<metric>, {name}))")
                continue
            uid = datasource_uid(t.get("datasource"))
            if uid not in ("$datasource", "${datasource}", "$prometheus_datasource",
                           "${prometheus_datasource}"):
                add(rule, "dashboard", f"{name} template should use datasource "
                    f"'$datasource', is currently {uid!r}")
            if t.get("type") != "query":
                add(rule, "dashboard", f"{name} template should be a Prometheus query, "
                    f"is currently {t.get('type')!r}")
            if t.get("label") != name.title():
                add(rule, "dashboard", f"{name} template should be labeled "
                    f"{name.title()!r}, is currently {t.get('label')!r}", "warning")
            if t.get("multi") is not True:
                add(rule, "dashboard", f"{name} template should be a multi select")
            if t.get("allValue") != ".+":
                add(rule, "dashboard", f"{name} template allValue should be '.+', is "
                    f"currently {t.get('allValue')!r}")

        # template-target-rule
        t = next((t for t in templates if t.get("name") == "target"), None)
        if t is None:
            add("template-target-rule", "dashboard", "is missing the target template: add a "
                "query variable 'target' (label_values(caloria_database_up, target)), multi, "
                f"Include All with allValue '{TARGET_ALL_VALUE}'")
        else:
            uid = datasource_uid(t.get("datasource"))
            if uid not in ("$datasource", "${datasource}", "$prometheus_datasource",
                           "${prometheus_datasource}"):
                add("template-target-rule", "dashboard", "target template should use "
                    f"datasource '$datasource', is currently {uid!r}")
            if t.get("type") != "query":
                add("template-target-rule", "dashboard", "target template should be a "
                    f"Prometheus query, is currently {t.get('type')!r}")
            elif not re.fullmatch(r"\s*label_values\(.+,\s*target\s*\)\s*",
                                  template_query(t), re.S):
                add("template-target-rule", "dashboard", "target template should list "
                    f"label_values(<metric>, target), is {template_query(t)!r}")
            if t.get("label") != "Target":
                add("template-target-rule", "dashboard", "target template should be labeled "
                    f"'Target', is currently {t.get('label')!r}", "warning")
            if t.get("multi") is not True:
                add("template-target-rule", "dashboard", "target template should be a multi "
                    "select")
            if t.get("includeAll") is not True:
                add("template-target-rule", "dashboard", "target template should include All")
            if t.get("allValue") != TARGET_ALL_VALUE:
                add("template-target-rule", "dashboard", "target template allValue should be "
                    f"'{TARGET_ALL_VALUE}' (matching series without a target label, as an "
                    f"exporter without --config.file has), is currently {t.get('allValue')!r}")

        # template-label-promql-rule, template-on-time-change-reload-rule
        for t in templates:
            if t.get("type") != "query":
                continue
            query = template_query(t)
            m = re.fullmatch(r"\s*([a-z_]+)\((.+)\)\s*", query, re.S)
            if not m or m.group(1) not in ("label_names", "label_values", "metrics",
                                           "query_result"):
                add("template-label-promql-rule", "dashboard",
                    f"template {t.get('name')!r} query {query!r} is not label_values(...), "
                    "label_names(...), metrics(...) or query_result(...)")
            elif m.group(1) in ("label_values", "query_result"):
                inner = m.group(2)
                if m.group(1) == "label_values" and "," in inner:
                    inner = inner.rsplit(",", 1)[0]
                try:
                    parse_promql(expand_variables(inner, templates))
                except PromQLError as e:
                    add("template-label-promql-rule", "dashboard",
                        f"template {t.get('name')!r} query {query!r}: invalid PromQL: {e}")
            if t.get("refresh") != 2:
                add("template-on-time-change-reload-rule", "dashboard",
                    f"template {t.get('name')!r} should refresh on time range change "
                    f"(refresh: 2), is {t.get('refresh')!r}")

    ds_names = {t.get("name") for t in ds_templates}
    allowed_uids = {f"${n}" for n in ds_names} | {f"${{{n}}}" for n in ds_names}

    for panel in iter_panels(dashboard):
        if panel.get("type") == "row":
            continue
        where = panel_name(panel)

        # panel-title-description-rule
        if not panel.get("title") or not panel.get("description"):
            add("panel-title-description-rule", where,
                f"has missing title or description, currently has title "
                f"{panel.get('title', '')!r} and description {panel.get('description', '')!r}")

        # panel-datasource-rule
        uid = datasource_uid(panel.get("datasource"))
        if uid not in allowed_uids:
            add("panel-datasource-rule", where,
                f"does not use a templated datasource, uses {uid!r}: set "
                "\"datasource\": {\"type\": \"prometheus\", \"uid\": \"${datasource}\"}")
        targets = panel.get("targets") or []
        if not targets:
            add("target-promql-rule", where, "has no targets")
        for index, target in enumerate(targets):
            twhere = f"{where} target {target.get('refId', index)}"
            tuid = datasource_uid(target.get("datasource"))
            if tuid is not None and tuid not in allowed_uids and tuid != "__expr__":
                add("panel-datasource-rule", twhere,
                    f"does not use a templated datasource, uses {tuid!r}")
            if not prometheus:
                continue
            expr = target.get("expr")
            if not isinstance(expr, str) or not expr.strip():
                add("target-promql-rule", twhere, "has an empty expr")
                continue
            try:
                parsed = parse_promql(expand_variables(expr, templates))
            except PromQLError as e:
                add("target-promql-rule", twhere, f"invalid PromQL query {expr!r}: {e}")
                continue
            for selector in parsed.selectors:
                shown = selector.name or "{...}"
                for label in ("job", "instance"):
                    wanted = f"${label}"
                    found = [m for m in selector.matchers if m[0] == label]
                    if not any(op == "=~" and value == wanted for _, op, value in found):
                        have = ", ".join(f'{l}{op}"{v}"' for l, op, v in found) or "none"
                        add(f"target-{label}-rule", twhere,
                            f"selector {shown} in {expr!r} lacks {label}=~\"{wanted}\" "
                            f"(has: {have})")
                # target-target-rule
                exporter_wide = bool(selector.name and EXPORTER_WIDE_RE.fullmatch(
                    selector.name))
                wanted = EXPORTER_WIDE_TARGET_MATCHER if exporter_wide else TARGET_MATCHER
                found = [m for m in selector.matchers if m[0] == "target"]
                if not any(op == "=~" and value == wanted for _, op, value in found):
                    have = ", ".join(f'{l}{op}"{v}"' for l, op, v in found) or "none"
                    why = (" (the exporter's own series have no target label on /metrics: "
                           "the empty alternative keeps them)" if exporter_wide else "")
                    add("target-target-rule", twhere,
                        f"selector {shown} in {expr!r} lacks target=~\"{wanted}\"{why} "
                        f"(has: {have})")
                # target-rate-interval-rule
                if selector.range is not None and selector.range != RATE_INTERVAL_SAMPLE:
                    if selector.parent_call in ("rate", "irate"):
                        add("target-rate-interval-rule", twhere,
                            f"{selector.parent_call}({shown}[...]) in {expr!r} should use "
                            "[$__rate_interval]")
                    elif selector.parent_call is None and not selector.top_level:
                        add("target-rate-interval-rule", twhere,
                            f"range vector {shown}[...] in {expr!r} is not inside a function")
            # target-grouping-rule
            for grouping in parsed.groupings:
                labels = ", ".join(grouping.labels)
                if (grouping.keyword in ("by", "on") and "instance" in grouping.labels
                        and "target" not in grouping.labels):
                    add("target-grouping-rule", twhere,
                        f"{grouping.keyword} ({labels}) in {expr!r} should name target too: "
                        "the targets of one exporter share job and instance")
                elif grouping.keyword in ("without", "ignoring") and "target" in grouping.labels:
                    add("target-grouping-rule", twhere,
                        f"{grouping.keyword} ({labels}) in {expr!r} merges the targets of "
                        "one exporter: keep target")
    return findings


def lint_file(path: Path, min_schema_version: int) -> list[Finding]:
    try:
        dashboard = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise SystemExit(f"{path}: cannot read: {e}") from e
    except json.JSONDecodeError as e:
        return [Finding("json", "dashboard", f"is not valid JSON: {e}")]
    if not isinstance(dashboard, dict):
        return [Finding("json", "dashboard", "is not a JSON object")]
    return lint_dashboard(dashboard, min_schema_version)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dashboards", nargs="+", type=Path, metavar="DASHBOARD.json")
    parser.add_argument("--strict", action="store_true", help="fail on warnings too")
    parser.add_argument("--min-schema-version", type=int, default=DEFAULT_MIN_SCHEMA_VERSION)
    args = parser.parse_args(argv)
    errors = warnings = 0
    for path in args.dashboards:
        if not path.is_file():
            print(f"{path}: no such file", file=sys.stderr)
            return 2
        findings = lint_file(path, args.min_schema_version)
        for finding in findings:
            print(f"{path}: {finding}")
        file_errors = sum(f.severity == "error" for f in findings)
        file_warnings = len(findings) - file_errors
        errors += file_errors
        warnings += file_warnings
        if not findings:
            print(f"{path}: ok")
    failed = errors > 0 or (args.strict and warnings > 0)
    print(f"{len(args.dashboards)} dashboard(s): {errors} error(s), {warnings} warning(s)"
          + (" -> FAIL" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
