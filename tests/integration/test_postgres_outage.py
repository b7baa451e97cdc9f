"""PostgreSQL goes away (stopped, or frozen with SIGSTOP) and comes back:
the exporter notices within one interval plus timeout, keeps answering
scrapes at once, and recovers without a restart."""

import time

from exporter import INTERVAL, SLACK, TIMEOUT, Metrics

DOWN_WITHIN = INTERVAL + TIMEOUT + SLACK
RECOVER_WITHIN = 2 * (INTERVAL + TIMEOUT) + SLACK
FAST = 0.5  # seconds: the most any scrape may take while the database hangs


def is_down(exp):
    m = exp.metrics()
    health = exp.get("/health")
    return m.get("caloria_database_up") == 0 and health.status == 503


def is_up(exp):
    m = exp.metrics()
    health = exp.get("/health")
    return m.get("caloria_database_up") == 1 and health.status == 200 and (
        health.json()["status"] == "healthy"
    )


def test_stopped_postgresql_is_reported_down_then_up_again_after_restart(pg, start_exporter):
    exp = start_exporter(env={"DATABASE_URL": pg.url()})
    exp.wait_metric("caloria_database_up", 1)
    pid = exp.pid()

    pg.stop()
    stopped = time.monotonic()
    exp.wait_for("caloria_database_up 0 and /health 503", lambda: is_down(exp),
                 timeout=DOWN_WITHIN)
    assert time.monotonic() - stopped <= DOWN_WITHIN + 0.5

    db = exp.get("/health/database")
    assert db.status == 503
    body = db.json()
    assert body["status"] == "unhealthy"
    assert body["database"] == "POSTGRESQL"
    assert isinstance(body.get("error"), str) and body["error"], body
    assert body["user_count"] is None, body
    h = exp.get("/health").json()
    assert h["status"] == "unhealthy"
    assert h["checks"]["database"]["status"] == "unhealthy"

    pg.start()  # same port, same data
    exp.wait_for("caloria_database_up 1 and /health 200 after restart", lambda: is_up(exp),
                 timeout=RECOVER_WITHIN)
    assert exp.running() and exp.pid() == pid, "the exporter must recover by itself"
    m = exp.metrics()
    assert m.get("caloria_database_users") == 3
    body = exp.get("/health/database").json()
    assert body["status"] == "healthy" and body["user_count"] == 3
    assert body.get("error") is None


def test_paused_postgresql_never_slows_scrapes_and_is_reported_down(pg, start_exporter):
    exp = start_exporter(env={"DATABASE_URL": pg.url()})
    exp.wait_metric("caloria_database_up", 1)
    pid = exp.pid()

    pg.pause()
    paused = time.monotonic()
    slow = []          # (path, seconds or error) of every scrape that was not fast
    timings = []       # every scrape's duration
    down_after = None  # seconds from the pause until up was 0
    health_status_when_down = None
    # Scrape for the whole window the exporter has to notice the outage,
    # and a little beyond, so hung collections overlap the scrapes.
    while time.monotonic() - paused < DOWN_WITHIN + 1.0 or len(timings) < 30:
        if time.monotonic() - paused > DOWN_WITHIN + 10:
            break
        for path in ("/metrics", "/health", "/health/database"):
            try:
                resp = exp.get(path, timeout=3)
            except OSError as e:
                slow.append((path, repr(e)))
                continue
            timings.append(resp.elapsed)
            if resp.elapsed >= FAST:
                slow.append((path, round(resp.elapsed, 3)))
            if path == "/metrics" and down_after is None:
                if Metrics.parse(resp.text).get("caloria_database_up") == 0:
                    down_after = time.monotonic() - paused
            if path == "/health" and down_after is not None:
                health_status_when_down = resp.status
        time.sleep(0.05)

    assert not slow, f"scrapes were slow while PostgreSQL was paused: {slow}"
    assert len(timings) >= 30
    assert down_after is not None, (
        f"caloria_database_up never became 0 within {DOWN_WITHIN + 1.0}s of the pause"
    )
    assert down_after <= DOWN_WITHIN, f"up became 0 only after {down_after:.2f}s"
    assert health_status_when_down == 503

    pg.resume()
    exp.wait_for("caloria_database_up 1 and /health 200 after resume", lambda: is_up(exp),
                 timeout=RECOVER_WITHIN + TIMEOUT)
    assert exp.running() and exp.pid() == pid
    assert exp.metrics().get("caloria_database_users") == 3
