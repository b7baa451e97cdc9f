"""Running scripts/caloria-backup from the tests that need real backups, the same
way each time: the database URL in the environment only, no BACKUP_* setting or
PGPASSWORD inherited, in the time zone the test reads backup names in."""

from __future__ import annotations

import subprocess
from pathlib import Path

from exporter import REPO_ROOT, clean_env

SCRIPT = REPO_ROOT / "scripts" / "caloria-backup"


def run_backup(url: str, folder: Path, tz: str, log: Path | None = None,
               expect_ok: bool = True) -> subprocess.CompletedProcess:
    args = [str(SCRIPT), "--dir", str(folder), "-q"]
    if log is not None:
        args += ["--log", str(log)]
    env = {k: v for k, v in clean_env({"DATABASE_URL": url, "TZ": tz}).items()
           if not k.startswith("BACKUP_") and k != "PGPASSWORD"}
    result = subprocess.run(args, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, timeout=60)
    if expect_ok:
        assert result.returncode == 0, f"caloria-backup failed:\n{result.stderr}"
    else:
        assert result.returncode != 0, "caloria-backup succeeded where it should fail"
    return result
