"""Bounded waiting, shared by the integration tests: nothing here can hang."""

from __future__ import annotations

import signal
import subprocess
import time


def poll_until(what: str, predicate, timeout: float, interval: float = 0.25,
               diagnostics=lambda: "", error=AssertionError,
               not_yet=(OSError, ValueError, KeyError, AssertionError)):
    """Calls predicate() until it returns a truthy value, which is returned.

    Exceptions of the `not_yet` types count as "not yet". After `timeout`
    seconds raises `error` naming `what`, the last value or exception seen,
    and whatever diagnostics() returns (logs, say)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = predicate()
            if value:
                return value
            last = value
        except not_yet as e:  # noqa: PERF203 - polling is the point
            last = e
        if time.monotonic() >= deadline:
            detail = diagnostics()
            raise error(f"timed out after {timeout}s waiting for {what}; last: {last!r}"
                        + (f"\n{detail}" if detail else ""))
        time.sleep(interval)


def terminate(proc, grace: float = 10) -> int | None:
    """Stops a child process: SIGTERM, up to `grace` seconds to exit, then
    SIGKILL. Returns its exit code (None if it could not be reaped)."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    return proc.returncode
