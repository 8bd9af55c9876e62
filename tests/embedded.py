"""Running a check on the embedded SQLite default (no DATABASE_URL), in a process of its own:
settings are read once per process."""

import json
import subprocess
import sys
from typing import Any

from tests.e2e.processes import ROOT, child_environment


def run_on_embedded_sqlite(module: str, var_dir: Any) -> dict[str, Any]:
    """Run `python -m module` on a fresh embedded database under `var_dir`; its last line of
    output is JSON, returned."""
    env = child_environment(CONSOLE_VAR_DIR=str(var_dir), SECRET_KEY="test-only-secret-key")
    done = subprocess.run(
        [sys.executable, "-m", module],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result
