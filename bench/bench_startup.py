"""First paint: workbench vs a bare Textual app, headless and in a real terminal, same run.

Headless: a fresh interpreter runs the app with an auto-pilot; first paint is the first frame
after the app is ready, timed from just before the interpreter was spawned. It also lists which
heavy modules (vllm, torch, transformers) were imported by then: none may be.
Terminal: the app starts in a tmux pane (160x48); first paint is when its first screen's text
is visible (workbench: the Profiles table with the built-in demo row; bare: its "Hello" line).

Both apps are started ``--repeat`` times, alternating, and the median is reported.

    .venv/bin/python bench/bench_startup.py [--repeat 5] [--json bench/results/startup.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.child import run_child  # noqa: E402

HEAVY = ("vllm", "torch", "transformers")

_HEADLESS = r"""
import json, os, sys, time
T0 = float(os.environ["BENCH_T0"])
import textual.app

def report(app):
    async def pilot(p):
        await p.pause()
        heavy = sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))
        print("BENCH " + json.dumps({"first_paint_s": time.time() - T0, "heavy": heavy}))
        app.exit()
    return pilot

original_run = textual.app.App.run
def run(self, *args, **kwargs):
    kwargs["headless"] = True
    kwargs["auto_pilot"] = report(self)
    return original_run(self, *args, **kwargs)
textual.app.App.run = run
HEAVY = %(heavy)r
%(start)s
"""

_START_WORKBENCH = "from workbench.cli import main\nmain(['--no-load'])"
_BARE_APP = r"""
from textual.app import App
from textual.widgets import DataTable, Footer, Header, Static

class Bare(App):
    def compose(self):
        yield Header()
        yield Static("Hello from a bare Textual app")
        yield DataTable()
        yield Footer()

    def on_mount(self):
        table = self.query_one(DataTable)
        table.add_columns("profile", "origin")
        table.add_row("demo", "built-in")
"""
_START_BARE = _BARE_APP + "\nBare().run()"


def _env(workdir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "WORKBENCH_CONFIG_DIR": str(workdir / "config"),
        "WORKBENCH_DATA_DIR": str(workdir / "data"),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(REPO),
    }


def headless(start: str, workdir: Path) -> dict[str, object]:
    code = _HEADLESS % {"heavy": HEAVY, "start": start}
    env = {**_env(workdir), "BENCH_T0": repr(time.time())}
    result: dict[str, object] = run_child(
        code, cwd=workdir, env=env, what="no first paint reported"
    )
    return result


def in_terminal(start: str, marker: str, workdir: Path) -> float:
    socket = f"wb-startup-{os.getpid()}-{time.monotonic_ns()}"
    script = workdir / "start.py"
    script.write_text(start)
    exports = " ".join(
        f"{k}={v}" for k, v in _env(workdir).items() if k.startswith(("WORK", "HF_", "PYTHONPATH"))
    )
    command = f"cd {workdir} && env {exports} TERM=xterm-256color {sys.executable} {script}"
    started = time.monotonic()
    subprocess.run(
        ["tmux", "-L", socket, "new-session", "-d", "-s", "s", "-x", "160", "-y", "48", command],
        check=True,
    )
    try:
        while time.monotonic() - started < 30:
            screen = subprocess.run(
                ["tmux", "-L", socket, "capture-pane", "-p", "-t", "s"],
                capture_output=True,
                text=True,
            ).stdout
            if marker in screen:
                return time.monotonic() - started
            time.sleep(0.005)
        raise SystemExit(f"{marker!r} never appeared:\n{screen}")
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "startup.json")
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    runs: dict[str, list[float]] = {
        k: [] for k in ("wb_headless", "bare_headless", "wb_pty", "bare_pty")
    }
    heavy: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="wb-bench-startup-") as tmp:
        workdir = Path(tmp)
        for _ in range(args.repeat):
            result = headless(_START_WORKBENCH, workdir)
            runs["wb_headless"].append(float(result["first_paint_s"]))  # type: ignore[arg-type]
            heavy |= {str(name) for name in result["heavy"]}  # type: ignore[attr-defined]
            runs["bare_headless"].append(float(headless(_START_BARE, workdir)["first_paint_s"]))  # type: ignore[arg-type]
            if shutil.which("tmux"):
                runs["wb_pty"].append(in_terminal(_START_WORKBENCH, "built-in", workdir))
                runs["bare_pty"].append(in_terminal(_START_BARE, "Hello from a bare", workdir))
    medians = {k: statistics.median(v) for k, v in runs.items() if v}
    print(f"First paint, median of {args.repeat} (seconds)")
    print(f"{'':<10} {'workbench':>10} {'bare':>8} {'ratio':>7}")
    for where in ("headless", "pty"):
        if f"wb_{where}" in medians:
            wb, bare = medians[f"wb_{where}"], medians[f"bare_{where}"]
            print(f"{where:<10} {wb:>10.3f} {bare:>8.3f} {wb / bare:>6.2f}x")
    print(f"heavy modules imported before first paint: {sorted(heavy) or 'none'}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {"label": args.label, "runs": runs, "medians": medians, "heavy": sorted(heavy)},
            indent=2,
        )
    )
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
