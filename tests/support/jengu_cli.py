"""The ``jengu`` command as an operator runs it: a child process, with an environment of the test's choosing."""

from __future__ import annotations

import subprocess
import sys


def jengu(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jengu_pipeline.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
