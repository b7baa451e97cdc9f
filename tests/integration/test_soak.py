"""A reduced soak (issue 10, point 6) for CI: bench/soak.py's run_soak, the
same code and the same checks as the 5-minute soak, for 50 s against the
session's PostgreSQL: 64 keep-alive connections scraping /metrics and /health,
PostgreSQL stopped and started every 15 s, the configuration reloaded every
8 s; zero failed scrapes, RSS, fds and threads within their bounds after a
15 s warm-up, and the exporter healthy again at the end."""

from __future__ import annotations

import sys

from exporter import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "bench"))

import soak  # noqa: E402  bench/soak.py


def test_reduced_soak(pg):
    config = soak.SoakConfig(duration=50, pg_cycle=15, pg_down=5, reload_every=8,
                             warmup=15, sample_every=2)
    report = soak.run_soak(config, server=pg)
    print(report.text())
    assert report.pg_stops >= 2, report.text()
    assert sum(report.reloads.values()) >= 5, report.text()
    assert report.health_503 > 0, "PostgreSQL's stops never showed on /health"
    assert report.ok(), report.text()
