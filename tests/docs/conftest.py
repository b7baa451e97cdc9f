"""Fixtures for the documentation drift tests: they compare what the real
binary says (--help, /metrics) with docs/configuration.md and docs/metrics.md.

The binary is started with the integration tests' harness
(tests/integration/exporter.py), imported here rather than copied."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

INTEGRATION = Path(__file__).resolve().parents[1] / "integration"
if str(INTEGRATION) not in sys.path:
    sys.path.insert(0, str(INTEGRATION))

import exporter as exporter_mod  # noqa: E402


@pytest.fixture(scope="session")
def exporter_binary():
    binary = exporter_mod.binary_path()
    if not binary.is_file():
        pytest.fail(
            f"exporter binary not found at {binary}: build it with "
            "`scripts/build` or set CALORIA_EXPORTER_BIN",
            pytrace=False,
        )
    return binary
