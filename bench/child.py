"""Run a measuring script in a fresh Python and read the one ``BENCH {json}`` line it prints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def run_child(code: str, *, cwd: Path, what: str, env: dict[str, str] | None = None) -> Any:
    """The JSON after ``BENCH `` on the child's stdout; stops the bench, with the child's
    output, when there is none (``what`` says what was expected)."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=env, check=False
    )
    for line in done.stdout.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line[6:])
    raise SystemExit(f"{what}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
