"""Engine logs do not pile up: one per load, the newest kept."""

from __future__ import annotations

import os
from pathlib import Path

from workbench.engine.service import prune_logs


def test_prune_keeps_the_newest_logs_only(tmp_path: Path) -> None:
    for age in range(5):
        path = tmp_path / f"load-{age}.log"
        path.write_text("x")
        os.utime(path, (1_000_000 - age, 1_000_000 - age))  # load-0 is the newest
    (tmp_path / "notes.txt").write_text("not a log")
    prune_logs(tmp_path, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["load-0.log", "load-1.log", "notes.txt"]
