"""Regenerate screenshots/*.svg from the same app states the snapshot tests check.

Run from the repository root:  .venv/bin/python screenshots/generate.py [NAME ...]
Shell states come from tests/ui/scenarios_shell.py, chat states from tests/ui/scenarios_chat.py;
every app runs headless on the scripted fake engine and fake VRAM sampler, at 140×42.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

SCREENSHOTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = SCREENSHOTS_DIR.parent


async def _capture(app: Any, run_before: Callable[[Any], Awaitable[None]], target: Path) -> None:
    from tests.ui.scenarios_shell import TERMINAL_SIZE

    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await run_before(pilot)
        await pilot.pause()
        app.save_screenshot(filename=target.name, path=str(target.parent))


def main(names: list[str]) -> int:
    sys.path.insert(0, str(REPO_ROOT))
    with tempfile.TemporaryDirectory(prefix="workbench-shots-") as scratch:
        scratch_dir = Path(scratch)
        # Same isolation as the tests: no real user dirs, no hub, stable short paths.
        os.environ["WORKBENCH_CONFIG_DIR"] = str(scratch_dir / "config")
        os.environ["WORKBENCH_DATA_DIR"] = str(scratch_dir / "data")
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TEXTUAL_ANIMATIONS"] = "none"
        from tests.ui import scenarios_chat, scenarios_shell

        written: list[str] = []
        for name, build in scenarios_shell.SCENARIOS.items():
            if names and name not in names:
                continue
            root = scratch_dir / name
            root.mkdir()
            os.chdir(root)
            scenario = build(root)
            target = SCREENSHOTS_DIR / f"{name.replace('_', '-')}.svg"
            asyncio.run(_capture(scenario.app, scenario.run_before, target))
            written.append(target.name)
        for name, build_chat in scenarios_chat.SCENARIOS.items():
            if names and name not in names:
                continue
            os.chdir(scratch_dir)
            app, run_before = build_chat()
            target = SCREENSHOTS_DIR / f"{name}.svg"
            asyncio.run(_capture(app, run_before, target))
            written.append(target.name)
        os.chdir(REPO_ROOT)
    for name in written:
        print(f"screenshots/{name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
