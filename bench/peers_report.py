"""The Markdown report of bench/run: every figure as a table, ratios of
caloria_exporter to each peer and to the best peer, and issue 13's targets
marked met or missed. Reads only the data dict bench/run collects (also
written beside the report as JSON)."""

from __future__ import annotations

import shlex

from peers_support import median, percentile

PEER_KEYS = ("caloria", "postgres_exporter", "sql_exporter")
PEER_TITLES = {"caloria": "caloria_exporter", "postgres_exporter": "postgres_exporter",
               "sql_exporter": "sql_exporter"}
OTHERS = ("postgres_exporter", "sql_exporter")

# How far RSS may grow over the sequential scrapes and still count as flat.
FLAT_MIB = 1.0


# ---- formatting --------------------------------------------------------------------


def fmt_num(value, digits: int = 3) -> str:
    """About `digits` significant digits, thousands separated."""
    if value is None:
        return "n/a"
    if value == 0:
        return "0"
    a = abs(value)
    if a >= 10 ** (digits - 1):
        return f"{value:,.0f}"
    decimals = digits - 1
    while a >= 1 and decimals > 0:
        a /= 10
        decimals -= 1
    return f"{value:,.{decimals}f}"


def fmt_ms(seconds) -> str:
    return "n/a" if seconds is None else f"{fmt_num(seconds * 1000)} ms"


def fmt_mib(kib) -> str:
    return "n/a" if kib is None else f"{kib / 1024:.1f} MiB"


def fmt_bytes_mib(b) -> str:
    return "n/a" if b is None else f"{b / 1024 / 1024:.1f} MiB"


def ratio(a, b) -> str:
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}"


def best_peer(values: dict, higher_is_better: bool):
    """(key, value) of the best peer on a figure, or (None, None)."""
    candidates = [(k, values.get(k)) for k in OTHERS if values.get(k) is not None]
    if not candidates:
        return None, None
    pick = max if higher_is_better else min
    return pick(candidates, key=lambda kv: kv[1])


def table(header: list[str], rows: list[list[str]], align: str | None = None) -> str:
    align = align or ("l" + "r" * (len(header) - 1))
    marks = ["---" if a == "l" else "---:" for a in align]
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(marks) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def ratio_rows(name: str, values: dict, fmt, higher_is_better: bool) -> list[str]:
    """One row: the three values, caloria ÷ each peer, caloria ÷ the best peer."""
    key, best = best_peer(values, higher_is_better)
    c = values.get("caloria")
    return [name] + [fmt(values.get(k)) for k in PEER_KEYS] + [
        ratio(c, values.get("postgres_exporter")), ratio(c, values.get("sql_exporter")),
        f"{ratio(c, best)} ({PEER_TITLES[key]})" if key else "n/a"]


RATIO_HEADER = ["figure", "caloria_exporter", "postgres_exporter", "sql_exporter",
                "caloria ÷ postgres_exporter", "caloria ÷ sql_exporter", "caloria ÷ best peer"]


def caloria_only_row(name: str, shown: str) -> list[str]:
    """A Summary row for a figure the peers have no equivalent of."""
    return [name, shown] + ["n/a"] * (len(RATIO_HEADER) - 2)


# ---- the figures, from the data ------------------------------------------------------


def outage_summary(o: dict) -> dict:
    """worst, median and p99 in seconds (a scrape with no answer counts as the
    client's timeout, and `timed_out` says how many)."""
    lat = [(x if x is not None else o["timeout_s"] * 1000) / 1000 for x in o["latencies_ms"]]
    timed_out = sum(1 for x in o["latencies_ms"] if x is None)
    return {"worst": max(lat) if lat else None, "median": median(lat),
            "p99": percentile(lat, 99), "timed_out": timed_out, "n": len(lat),
            "statuses": o["statuses"]}


def fmt_outage(s: dict, timeout_s: float) -> str:
    if s["worst"] is None:
        return "n/a"
    worst = fmt_ms(s["worst"])
    if s["timed_out"]:
        worst = f"> {fmt_num(timeout_s)} s ({s['timed_out']} of {s['n']} timed out)"
    return f"{worst} / {fmt_ms(s['median'])}"


def figures(data: dict) -> dict:
    """The headline figures per exporter: {figure: {peer: value}}."""
    f: dict[str, dict] = {}
    f["startup_s"] = {k: median(data["startup"][k]) if None not in data["startup"][k] else None
                      for k in PEER_KEYS}
    f["rss_start_kib"] = {k: data["memory"][k]["start"]["rss_kib"] for k in PEER_KEYS}
    f["rss_after_kib"] = {k: data["memory"][k]["after_scrapes"]["rss_kib"] for k in PEER_KEYS}
    f["private_after_kib"] = {k: data["memory"][k]["after_scrapes"]["private_kib"]
                              for k in PEER_KEYS}
    f["hwm_end_kib"] = {k: data["memory"][k]["after_wrk"]["hwm_kib"] for k in PEER_KEYS}
    f["rss_growth_kib"] = {}
    for k in PEER_KEYS:
        rounds = data["memory"][k]["rounds"]
        f["rss_growth_kib"][k] = rounds[-1]["rss_kib"] - rounds[0]["rss_kib"]
    f["cpu_per_1000"] = {}
    f["pg_cpu_per_1000"] = {}
    f["queries_per_scrape"] = {}
    f["raw_queries_per_scrape"] = {}
    for k in PEER_KEYS:
        rounds = data["scrapes"][k]["rounds"]
        f["cpu_per_1000"][k] = median([r["cpu_s"] / r["n"] * 1000 for r in rounds])
        f["pg_cpu_per_1000"][k] = median([r["pg_cpu_s"] / r["n"] * 1000 for r in rounds])
        n = sum(r["n"] for r in rounds)
        raw = sum(r["calls"] for r in rounds)
        bg = sum(r["bg_calls"] for r in rounds)
        f["raw_queries_per_scrape"][k] = raw / n
        f["queries_per_scrape"][k] = (raw - bg) / n
    for c, by_peer in data["wrk"].items():
        for k in PEER_KEYS:
            runs = by_peer[k]
            f.setdefault(f"wrk{c}_rps", {})[k] = median([r["rps"] for r in runs])
            f.setdefault(f"wrk{c}_p50_s", {})[k] = median([r["p50_ms"] / 1000 for r in runs])
            f.setdefault(f"wrk{c}_p99_s", {})[k] = median([r["p99_ms"] / 1000 for r in runs])
            f.setdefault(f"wrk{c}_errors", {})[k] = sum(r["non2xx"] + r["socket_errors"]
                                                        for r in runs)
    f["hung"] = {k: outage_summary(data["hung"][k]) for k in PEER_KEYS}
    f["stopped"] = {k: outage_summary(data["stopped"][k]) for k in PEER_KEYS}
    f["size_bytes"] = {k: data["sizes"][k]["stripped_total_bytes"] for k in PEER_KEYS}
    return f


def backup_figures(b: dict) -> dict:
    """The backup phase's figures: the median duration of the cached polls,
    and the exporter's CPU per cached poll, the larger of utime + stime (10 ms
    ticks) and schedstat, as caloria's CPU is judged elsewhere."""
    n = b["cached_polls"]
    return {"cached_median_s": median(b["cached_polls_duration_s"]),
            "cpu_per_poll_s": max(b["cached_cpu_s"], b["cached_sched_s"]) / n,
            "ticks_per_poll_s": b["cached_cpu_s"] / n, "sched_per_poll_s": b["cached_sched_s"] / n,
            "rchar_per_poll": b["cached_rchar"] / n,
            "rss_peak_sampled_kib": max(kib for _, kib in b["rss_samples"]),
            # VmHWM is not brought up to date at every page freed: a sample can
            # read higher. The peak is the larger of the two.
            "rss_peak_kib": max([kib for _, kib in b["rss_samples"]]
                                + [b["at_verified"]["VmHWM"]]),
            "collectors_median_s": {
                k: median([c.get(k) for c in b["cached_polls_collectors_s"]])
                for k in (b["cached_polls_collectors_s"][0] if b["cached_polls_collectors_s"]
                          else {})}}


def backup_details(data: dict, b: dict) -> list[str]:
    """The Details subsection of the backup phase."""
    fig = backup_figures(b)
    d = b["file"]
    polls = b["cached_polls_duration_s"]
    n = b["cached_polls"]
    after = b["after_cached"]
    out = ["### Backup verification (caloria_exporter alone)", ""]
    out.append(f"caloria_exporter alone (after the other phases; the peers do not verify "
               f"backups), against the same PostgreSQL and `DATABASE_URL`, its `--backup.dir` a "
               f"folder holding only a generated backup, `--collector.interval="
               f"{b['interval_s']:g}s` for quick cached polls and `--log.level=debug`, whose "
               f"`collector ran` lines give the first poll's durations:")
    out.append("")
    out.append("```sh")
    out.append(data["backup_command"])
    out.append("```")
    out.append("")
    ok = "" if b["reread"] else "; not re-read"
    rows = [
        ["backup file", f"`{d['name']}` (named with the local time a minute before the exporter starts): a plain-SQL "
                        "pg_dump's shape (header, one `COPY public.users` block, `\\.`, "
                        "`-- PostgreSQL database dump complete`), gzipped at level 6"],
        ["its size", f"{fmt_bytes_mib(d['gzip_bytes'])} gzipped ({d['gzip_bytes']:,} bytes), "
                     f"{fmt_bytes_mib(d['sql_bytes'])} of SQL ({d['sql_bytes']:,} bytes)"],
        ["users rows", f"{d['rows']:,}; `caloria_backup_latest_users` {b['users']:,}"],
        ["start to `caloria_backup_latest_verified 1`",
         f"{fmt_num(b['verified_s'])} s: the start, the first poll (which queues the "
         "verification on the collector's background thread), the verification, and the poll "
         "it then asks for; `/metrics` read every 10 ms"],
        ["RSS at the first page / highest VmRSS sampled while verifying / VmHWM once verified",
         f"{fmt_mib(b['rss_first_page_kib'])} / {fmt_mib(fig['rss_peak_sampled_kib'])} "
         f"({len(b['rss_samples'])} samples of `/proc/PID/status`) / "
         f"{fmt_mib(b['at_verified']['VmHWM'])}: peak {fmt_mib(fig['rss_peak_kib'])}, the larger "
         "(Linux does not bring VmHWM up to date at every page freed)"],
        [f"RSS / private / VmHWM after the {n} cached polls",
         f"{fmt_mib(after['rss_kib'])} / {fmt_mib(after['private_kib'])} / "
         f"{fmt_mib(after['hwm_kib'])}, {after['threads']} threads"],
        ["backup collector's duration: first poll (from the log)",
         fmt_ms(b["first_poll_duration_s"])
         + ("" if b["first_page_pending"] else " (the verification had ended before the first "
            "scrape, whose page is a later poll's)")],
        ["... the poll that first showed the result", fmt_ms(b["verified_poll_duration_s"])],
        [f"... the {n} cached polls after it: median (each)",
         f"{fmt_ms(fig['cached_median_s'])} ({', '.join(fmt_ms(x) for x in polls)})"],
        ["the other collectors on those polls (median)",
         ", ".join(f"{k} {fmt_ms(v)}" for k, v in fig["collectors_median_s"].items()
                   if k != "backup")],
        ["CPU per cached poll (the whole exporter: every collector, and one scrape a poll)",
         f"{fmt_ms(fig['cpu_per_poll_s'])}, the larger of utime + stime "
         f"({fmt_ms(fig['ticks_per_poll_s'])}) and schedstat ({fmt_ms(fig['sched_per_poll_s'])}), "
         f"over {fmt_num(b['cached_window_s'])} s"],
        ["read by the exporter during the cached polls (`rchar` of `/proc/PID/io`)",
         f"{b['cached_rchar'] / 1024:,.0f} KiB in all, {fig['rchar_per_poll'] / 1024:,.1f} KiB "
         f"per poll{ok}" + (" **(as much as half the file: re-read?)**" if b["reread"] else "")],
    ]
    main = data.get("memory", {}).get("caloria", {}).get("start")
    if main:
        rows.append(["for scale: caloria_exporter at the start of the main phase (empty backup "
                     "folder), RSS / VmHWM",
                     f"{fmt_mib(main['rss_kib'])} / {fmt_mib(main['hwm_kib'])}"])
    out.append(table(["", ""], rows, "ll"))
    out.append("")
    out.append("The dump was written (and fsync'ed) just before, so it is read from the page "
               "cache, which RSS does not count: the time is CPU, not disk. The harness also "
               "checks that every cached poll still shows `caloria_backup_latest_verified 1` and "
               "the rows written. `bench/backup_verify_bench` compares the verifier with "
               "`gzip -t` and `zcat` "
               + ("(built here, not run by this harness)" if data.get("backup_bench_built")
                  else "(not built here: `-DCALORIA_BUILD_BENCH=ON`)")
               + "; see [bench/README.md](../README.md#backup_verify_bench).")
    out.append("")
    return out


def targets(data: dict, f: dict) -> list[list[str]]:
    """Issue 13 point 3: [target, measured, verdict] rows."""
    rows = []

    def verdict(ok):
        return "n/a" if ok is None else ("**met**" if ok else "**missed**")

    scrapes = data["scrapes_total"]
    for c in (16, 128):
        vals = f.get(f"wrk{c}_rps")
        if vals is None:
            continue
        key, best = best_peer(vals, True)
        cal = vals["caloria"]
        ok = None if best is None else cal >= 3 * best
        rows.append([f"throughput at {c} connections ≥ 3 × the fastest peer's",
                     f"{fmt_num(cal)}/s vs 3 × {fmt_num(best)}/s ({PEER_TITLES.get(key, '?')})"
                     f" = {fmt_num(3 * best) if best else 'n/a'}/s", verdict(ok)])
    if "wrk128_p99_s" in f:
        p99 = f["wrk128_p99_s"]["caloria"]
        rows.append(["p99 under 5 ms at 128 connections", fmt_ms(p99), verdict(p99 < 0.005)])
    rss = f["rss_after_kib"]
    key, best = best_peer(rss, False)
    rows.append([f"RSS after {scrapes:,} scrapes ≤ ⅓ of the lightest peer's",
                 f"{fmt_mib(rss['caloria'])} vs ⅓ × {fmt_mib(best)} ({PEER_TITLES[key]}) = "
                 f"{fmt_mib(best / 3)}", verdict(rss["caloria"] <= best / 3)])
    growth = f["rss_growth_kib"]["caloria"]
    rows.append([f"RSS flat over the {scrapes:,} scrapes (grows ≤ {FLAT_MIB:g} MiB)",
                 f"{growth / 1024:+.2f} MiB", verdict(growth <= FLAT_MIB * 1024)])
    cpu = f["cpu_per_1000"]
    key, best = best_peer(cpu, False)
    # utime + stime counts 10 ms ticks, coarse for a process that runs in short
    # bursts: caloria is judged on the larger of that and its schedstat time.
    rounds = data["scrapes"]["caloria"]["rounds"]
    sched = sum(r["sched_s"] for r in rounds) / sum(r["n"] for r in rounds) * 1000
    cal = max(cpu["caloria"], sched)
    rows.append(["CPU per 1,000 scrapes ≤ ⅕ of the lightest peer's",
                 f"{fmt_num(cal)} s (the larger of utime + stime, {fmt_num(cpu['caloria'])} s, "
                 f"and schedstat, {fmt_num(sched)} s) vs ⅕ × {fmt_num(best)} s "
                 f"({PEER_TITLES[key]}) = {fmt_num(best / 5)} s", verdict(cal <= best / 5)])
    q = f["queries_per_scrape"]["caloria"]
    rows.append(["zero queries per scrape", f"{abs(q):.3f} (rounds to {round(q)})",
                 verdict(round(q) == 0)])
    s = f["startup_s"]["caloria"]
    rows.append(["first scrape with data within 100 ms of start", fmt_ms(s),
                 verdict(None if s is None else s <= 0.100)])
    h = f["hung"]["caloria"]
    rows.append([f"every scrape under 10 ms p99 while the database hangs ({h['n']} scrapes)",
                 f"p99 {fmt_ms(h['p99'])}, worst {fmt_ms(h['worst'])}",
                 verdict(None if h["p99"] is None else (h["p99"] < 0.010 and not h["timed_out"]))])
    return rows


# ---- the report ------------------------------------------------------------------------


def render(data: dict) -> str:
    f = figures(data)
    p = data["profile"]
    quick = data["mode"] == "quick"
    scrapes = data["scrapes_total"]
    out = []
    title = "caloria_exporter against its peers"
    out.append(f"# {title}: {data['started_utc'][:10]}, {data['machine']['hostname']}"
               + (" (quick mode)" if quick else ""))
    out.append("")
    if quick:
        out.append("**Quick mode** (`bench/run --quick`): tiny sizes that only prove the harness "
                   "works. Its figures are not meaningful and are not judged against the "
                   "targets; the verdicts below are printed only to exercise the code.")
        out.append("")
    out.append(f"Written by `bench/run` ([bench/README.md](../README.md) says how each figure is "
               f"measured). Run took {data['duration_s']:.0f} s.")
    out.append("")
    out.append("```sh")
    out.append(data["command"])
    out.append("```")
    out.append("")

    # ---- summary
    out.append("## Summary")
    out.append("")
    rows = []
    cap = p["startup_cap"]
    rows.append(ratio_rows("first scrape with data after start (median)", f["startup_s"],
                           lambda v: f"> {fmt_num(cap)} s" if v is None else fmt_ms(v), False))
    rows.append(ratio_rows("RSS at start", f["rss_start_kib"], fmt_mib, False))
    rows.append(ratio_rows(f"RSS after {scrapes:,} scrapes", f["rss_after_kib"], fmt_mib, False))
    rows.append(ratio_rows(f"private memory after {scrapes:,} scrapes", f["private_after_kib"],
                           fmt_mib, False))
    rows.append(ratio_rows("peak RSS (VmHWM) at the end of the load", f["hwm_end_kib"], fmt_mib,
                           False))
    rows.append(ratio_rows("installed size (stripped binary + shared libraries)",
                           f["size_bytes"], fmt_bytes_mib, False))
    rows.append(ratio_rows("database queries per scrape", f["queries_per_scrape"],
                           lambda v: "n/a" if v is None else f"{abs(v):.2f}", False))
    rows.append(ratio_rows("CPU seconds per 1,000 scrapes", f["cpu_per_1000"],
                           lambda v: "n/a" if v is None else f"{fmt_num(v)} s", False))
    rows.append(ratio_rows("PostgreSQL's CPU seconds per 1,000 scrapes", f["pg_cpu_per_1000"],
                           lambda v: "n/a" if v is None else f"{fmt_num(v)} s", False))
    for c in data["wrk"]:
        rows.append(ratio_rows(f"wrk {c} connections: requests/s", f[f"wrk{c}_rps"],
                               lambda v: "n/a" if v is None else fmt_num(v), True))
        rows.append(ratio_rows(f"wrk {c} connections: p50", f[f"wrk{c}_p50_s"], fmt_ms, False))
        rows.append(ratio_rows(f"wrk {c} connections: p99", f[f"wrk{c}_p99_s"], fmt_ms, False))
    timeout = p["outage_timeout"]

    def fmt_worst(v):
        if v is not None and v >= timeout:
            return f"> {fmt_num(timeout)} s (no answer)"
        return fmt_ms(v)
    hung_worst = {k: f["hung"][k]["worst"] for k in PEER_KEYS}
    rows.append(ratio_rows(f"worst of {f['hung']['caloria']['n']} scrapes while the database "
                           f"hangs (no answer counts as the {fmt_num(timeout)} s client "
                           f"timeout)", hung_worst, fmt_worst, False))
    stopped_worst = {k: f["stopped"][k]["worst"] for k in PEER_KEYS}
    rows.append(ratio_rows(f"worst of {f['stopped']['caloria']['n']} scrapes while PostgreSQL "
                           f"is stopped", stopped_worst, fmt_worst, False))
    backup = data.get("backup")
    if backup:
        b = backup_figures(backup)
        rows.append(caloria_only_row(
            f"first verification of a backup of {fmt_bytes_mib(backup['file']['sql_bytes'])} "
            f"of SQL ({fmt_bytes_mib(backup['file']['gzip_bytes'])} gzipped): start to "
            "`caloria_backup_latest_verified 1` / peak RSS meanwhile",
            f"{fmt_num(backup['verified_s'])} s / {fmt_mib(b['rss_peak_kib'])}"))
        rows.append(caloria_only_row(
            f"its {backup['cached_polls']} cached polls (every "
            f"{backup['interval_s']:g} s): backup collector's duration (median) / CPU per poll",
            f"{fmt_ms(b['cached_median_s'])} / {fmt_ms(b['cpu_per_poll_s'])}"))
    out.append(table(RATIO_HEADER, rows))
    out.append("")
    out.append("A ratio below 1 means caloria_exporter needs less (time, memory, CPU, queries); "
               "for requests/s above 1 means it serves more. The best peer is picked per "
               "figure. postgres_exporter's \"first scrape with data\" is its first scrape with "
               "`pg_up 1`, since it has no user count."
               + (" The backup rows are caloria_exporter's alone: the peers do not verify "
                  "backups." if backup else ""))
    out.append("")
    out.append(f"Container image: {data['container_image']}.")
    out.append("")

    # ---- targets
    out.append("## Issue 13's targets" + (" (not judged in quick mode)" if quick else ""))
    out.append("")
    out.append(table(["target", "measured", "verdict"], targets(data, f), "llr"))
    out.append("")
    if data.get("backup"):
        out.append("The backup collector's first verification of a dump and its cached polls "
                   "(issue 13, point 1) are in [Details](#backup-verification-caloria_exporter"
                   "-alone); issue 13 sets no target for them.")
        out.append("")

    # ---- machine and versions
    m = data["machine"]
    out.append("## Machine and versions")
    out.append("")
    rows = [["machine", f"{m['hostname']}: {m['cpu_model']}, {m['cores']} cores, "
                        f"{m['memory_gib']} GiB, Linux {m['kernel']}"],
            ["load average (1, 5, 15 min)", f"before {data['load_before']}, "
                                            f"after {data['load_after']}"
                                            + (f" (the peers' figures); at the end "
                                               f"{data['load_end']}, after the backup phase "
                                               f"and the generation of its dump"
                                               if data.get("load_end") else "")],
            ["caloria_exporter", f"{data['versions']['caloria']}; `{data['exporter_binary']}` "
                                 f"built {data['exporter_built']}; repository at "
                                 f"{data['versions']['git_head']}"],
            ["postgres_exporter", f"{data['versions']['postgres_exporter']} (Debian "
                                  f"`prometheus-postgres-exporter` "
                                  f"{data['packages'].get('prometheus-postgres-exporter')})"],
            ["sql_exporter", f"Debian `prometheus-sql-exporter` "
                             f"{data['packages'].get('prometheus-sql-exporter')} (its "
                             f"`-version` prints no version)"],
            ["PostgreSQL", data["postgres"]["version"]],
            ["wrk", f"{data['versions']['wrk']} (Debian {data['packages'].get('wrk')})"],
            ["Python", m["python"]]]
    if data.get("foreign_daemons"):
        rows.append(["other exporters running", ", ".join(data["foreign_daemons"])])
    out.append(table(["", ""], rows, "ll"))
    out.append("")

    # ---- setup
    out.append("## Setup")
    out.append("")
    out.append(f"- PostgreSQL on 127.0.0.1 (initdb into a temporary folder, "
               f"tests/integration/postgres.py), with `{data['postgres']['settings']}`; "
               f"database `caloria`, table `users` with {data['users']:,} rows; "
               f"`CREATE EXTENSION pg_stat_statements`.")
    out.append("- Each exporter logs in as its own role (member of `pg_monitor`, `SELECT` on "
               "`users`), so pg_stat_statements tells their queries apart.")
    out.append("- The exporters run one beside the other for the whole run, each on its own "
               "port; the figures alternate between them (caloria, postgres_exporter, "
               "sql_exporter, caloria, ...). The client (Python or wrk) runs on the same "
               "2 cores.")
    out.append("")
    out.append("Commands (passwords shown as `***`):")
    out.append("")
    out.append("```sh")
    for k in PEER_KEYS:
        out.append(data["commands"][k])
    out.append("```")
    out.append("")
    out.append("sql_exporter's configuration:")
    out.append("")
    out.append("```yaml")
    out.append(data["sql_exporter_config"].rstrip())
    out.append("```")
    out.append("")
    out.append("wrk, for each number of connections C (threads: 1 at 1 connection, else 2):")
    out.append("")
    out.append("```sh")
    out.append(data["wrk_command"])
    out.append("```")
    out.append("")

    # ---- details
    out.append("## Details")
    out.append("")
    out.append("### Start to the first scrape with data ("
               + (f"{p['startup_rounds']} starts each, one exporter at a time)"
                  if p["startup_rounds"] else "one start each, the three at once)"))
    out.append("")
    rows = []
    for k in PEER_KEYS:
        vals = data["startup"][k]
        shown = ", ".join("> cap" if v is None else fmt_ms(v) for v in vals)
        rows.append([PEER_TITLES[k], data["data_notes"][k], shown,
                     fmt_ms(f["startup_s"][k]) if f["startup_s"][k] is not None
                     else f"> {p['startup_cap']:g} s"])
    out.append(table(["exporter", "data", "each start", "median"], rows, "llll"))
    out.append("")

    first_poll = data.get("caloria_first_poll") or {}
    if first_poll:
        out.append("caloria_exporter polls once before it listens; "
                   "`caloria_exporter_collector_duration_seconds` of that first poll (main "
                   "phase): " + ", ".join(f"{k} {fmt_ms(v)}" for k, v in first_poll.items())
                   + f"; {fmt_ms(sum(first_poll.values()))} in all.")
        out.append("")
    out.append(f"### Memory ({scrapes:,} sequential keep-alive scrapes, then the wrk runs)")
    out.append("")
    rows = []
    for k in PEER_KEYS:
        mem = data["memory"][k]
        rows.append([PEER_TITLES[k],
                     f"{fmt_mib(mem['start']['rss_kib'])} / {fmt_mib(mem['start']['private_kib'])}",
                     f"{fmt_mib(mem['after_scrapes']['rss_kib'])} / "
                     f"{fmt_mib(mem['after_scrapes']['private_kib'])}",
                     f"{fmt_mib(mem['after_scrapes']['hwm_kib'])}",
                     f"{fmt_mib(mem['after_wrk']['rss_kib'])} / "
                     f"{fmt_mib(mem['after_wrk']['private_kib'])}",
                     fmt_mib(mem["after_wrk"]["hwm_kib"]),
                     f"{mem['start']['threads']} → {mem['after_wrk']['threads']}"])
    out.append(table(["exporter", "RSS / private at start", f"after {scrapes:,} scrapes",
                      "VmHWM then", "after wrk", "VmHWM after wrk", "threads"], rows))
    out.append("")
    out.append("Private memory is `Private_Clean` + `Private_Dirty` of `smaps_rollup`: pages "
               "no other process maps. PSS (each shared page divided among the processes "
               "mapping it) after the scrapes: "
               + ", ".join(f"{PEER_TITLES[k]} {fmt_mib(data['memory'][k]['after_scrapes']['pss_kib'])}"
                           for k in PEER_KEYS) + ".")
    out.append("")
    by_map = data.get("caloria_rss_by_mapping") or {}
    if by_map:
        total = sum(by_map.values())
        top = list(by_map.items())[:8]
        rest = total - sum(v for _, v in top)
        out.append(f"caloria_exporter's RSS after the scrapes by mapping ({fmt_mib(total)} in all, "
                   "from `/proc/PID/smaps`):")
        out.append("")
        rows = [[f"`{name}`", fmt_mib(kib)] for name, kib in top]
        rows.append(["everything else", fmt_mib(rest)])
        out.append(table(["mapping", "RSS"], rows))
        out.append("")
    out.append(f"RSS after each round of {p['scrapes_per_round']:,} scrapes:")
    out.append("")
    rows = []
    for k in PEER_KEYS:
        rows.append([PEER_TITLES[k]] + [fmt_mib(r["rss_kib"]) for r in data["memory"][k]["rounds"]]
                    + [f"{f['rss_growth_kib'][k] / 1024:+.2f} MiB"])
    out.append(table(["exporter"] + [f"after {(i + 1) * p['scrapes_per_round']:,}"
                                     for i in range(p["scrape_rounds"])] + ["growth"], rows))
    out.append("")

    out.append("### Installed size")
    out.append("")
    rows = []
    for k in PEER_KEYS:
        s = data["sizes"][k]
        rows.append([PEER_TITLES[k], f"`{s['binary']}`", fmt_bytes_mib(s["binary_bytes"]),
                     fmt_bytes_mib(s["stripped_bytes"]) + (" (stripped copy)" if s["debug_info"]
                                                           else ""),
                     f"{s['libraries']} / {fmt_bytes_mib(s['library_bytes'])}",
                     fmt_bytes_mib(s["stripped_total_bytes"])])
    out.append(table(["exporter", "binary", "as installed here", "stripped",
                      "shared libraries (ldd)", "stripped + libraries"], rows, "llrrrr"))
    out.append("")

    out.append(f"### Sequential scrapes: CPU and queries ({p['scrape_rounds']} rounds of "
               f"{p['scrapes_per_round']:,} each)")
    out.append("")
    idle = data["idle"]
    rows = []
    for k in PEER_KEYS:
        rs = data["scrapes"][k]["rounds"]
        rows.append([PEER_TITLES[k],
                     ", ".join(f"{r['cpu_s'] / r['n'] * 1000:.3f}" for r in rs),
                     f"{fmt_num(f['cpu_per_1000'][k])} s",
                     f"{fmt_num(sum(r['cpu_s'] for r in rs) / sum(r['n'] for r in rs) * 1000)} s",
                     f"{fmt_num(sum(r['sched_s'] for r in rs) / sum(r['n'] for r in rs) * 1000)} s",
                     f"{fmt_num(f['pg_cpu_per_1000'][k])} s",
                     fmt_ms(median([r["wall_s"] / r["n"] for r in rs])),
                     f"{data['scrapes'][k]['body_bytes']:,}",
                     str(sum(r["non200"] for r in rs)), str(sum(r["reconnects"] for r in rs)),
                     f"{idle['cpu_s'][k]:.2f} s"])
    out.append(table(["exporter", "CPU s per 1,000, each round", "median",
                      "all rounds together", "all rounds, from schedstat",
                      "PostgreSQL's CPU per 1,000 (median)",
                      "median time per scrape", "body bytes", "non-200", "reconnects",
                      f"CPU while idle {idle['window_s']:g} s"], rows))
    out.append("")
    rows = []
    for k in PEER_KEYS:
        rs = data["scrapes"][k]["rounds"]
        rows.append([PEER_TITLES[k], f"{idle['calls'][k]:,}",
                     f"{sum(r['calls'] for r in rs):,}", f"{sum(r['bg_calls'] for r in rs):.1f}",
                     f"{f['raw_queries_per_scrape'][k]:.3f}",
                     f"{f['queries_per_scrape'][k]:.3f}"])
    out.append(table(["exporter", f"statements while idle {idle['window_s']:g} s",
                      f"statements during the {scrapes:,} scrapes",
                      "of which background (estimated)", "raw per scrape",
                      "per scrape, background removed"], rows))
    out.append("")

    out.append(f"### wrk ({p['wrk_rounds']} runs of {p['wrk_duration']:g} s each, medians)")
    out.append("")
    rows = []
    for c in data["wrk"]:
        for k in PEER_KEYS:
            runs = data["wrk"][c][k]
            rows.append([str(c), PEER_TITLES[k],
                         ", ".join(fmt_num(r["rps"]) for r in runs),
                         fmt_num(f[f"wrk{c}_rps"][k]), fmt_ms(f[f"wrk{c}_p50_s"][k]),
                         fmt_ms(f[f"wrk{c}_p99_s"][k]),
                         fmt_ms(max(r["max_ms"] for r in runs) / 1000),
                         str(int(f[f"wrk{c}_errors"][k]))])
    out.append(table(["connections", "exporter", "requests/s, each run", "median", "p50", "p99",
                      "max", "errors (non-2xx + socket)"], rows, "llrrrrrr"))
    out.append("")

    out.append(f"### Outages ({p['outage_scrapes']} scrapes each, a new connection each, "
               f"client timeout {fmt_num(p['outage_timeout'])} s)")
    out.append("")
    rows = []
    for what in ("hung", "stopped"):
        for k in PEER_KEYS:
            s = f[what][k]
            statuses = {}
            for st in s["statuses"]:
                statuses[st] = statuses.get(st, 0) + 1
            rows.append(["database hangs" if what == "hung" else "PostgreSQL stopped",
                         PEER_TITLES[k], fmt_outage(s, p["outage_timeout"]), fmt_ms(s["p99"]),
                         ", ".join(f"{st}×{n}" for st, n in sorted(statuses.items(),
                                                                  key=lambda x: str(x[0])))])
    out.append(table(["database", "exporter", "worst / median", "p99", "answers"], rows,
                     "llrrl"))
    out.append("")
    hl = data["hung"]["listen_s"]
    out.append("With the database hung, the exporters started listening after: "
               + ", ".join(f"{PEER_TITLES[k]} {fmt_ms(hl[k])}" for k in PEER_KEYS)
               + " (caloria polls every target once before it listens, each collector under "
                 "`--collector.timeout`).")
    out.append("")

    if data.get("targets"):
        out.append("### caloria_exporter with `--config.file`: cost per target")
        out.append("")
        rows = []
        base = data["targets"][0]
        for t in data["targets"]:
            per_cpu = per_rss = "n/a"
            if t["n"] > base["n"]:
                per_rss = fmt_num((t["memory"]["rss_kib"] - base["memory"]["rss_kib"])
                                  / (t["n"] - base["n"])) + " KiB"
                per_cpu = fmt_num((t["cpu_per_interval"] - base["cpu_per_interval"])
                                  / (t["n"] - base["n"]) * 1000) + " ms"
            rows.append([str(t["n"]), fmt_ms(t["listen_s"]), fmt_mib(t["memory"]["rss_kib"]),
                         fmt_mib(t["memory"]["private_kib"]), str(t["memory"]["threads"]),
                         f"{t['cpu_per_interval'] * 1000:.1f} ms", per_rss, per_cpu])
        out.append(table(["targets", "start to a page with every target", "RSS", "private", "threads",
                          f"CPU per {p['target_interval']} s poll interval",
                          "RSS per added target", "CPU per added target and interval"], rows))
        out.append("")
        out.append(f"Each target is a SQLite file with {p['target_users']:,} users and an empty "
                   f"backup folder of its own; every default collector is on. "
                   f"`--collector.interval={p['target_interval']}s`; CPU over "
                   f"{p['target_window']} intervals after {p['target_warmup']} of warm-up, no "
                   f"scrapes meanwhile. \"Per added target\" is the difference to the "
                   f"{base['n']}-target run divided by the targets added.")
        out.append("")

    if data.get("backup"):
        out += backup_details(data, data["backup"])

    out.append("## Raw data")
    out.append("")
    out.append(f"Every sample is in `{data['json_name']}` beside this file.")
    out.append("")
    return "\n".join(out)


def shell_join(argv: list[str], env: dict[str, str]) -> str:
    return " ".join([f"{k}={shlex.quote(v)}" for k, v in env.items()]
                    + [shlex.quote(a) for a in argv])
