"""Engine processes die with the app, and the registry finds what a crash left: real processes,
real signals (SIGKILL), no vLLM needed for the mechanism itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil

from tests.conftest import process_running
from workbench.engine.lifetime import EngineRecord, EngineRegistry

REPO = Path(__file__).resolve().parents[2]

# A stand-in host: its own session (as the service starts it), dies with its parent, and starts
# a child of its own like vLLM's engine core. It prints "<host pid> <child pid>" when set up.
HOST = textwrap.dedent(
    """
    import os, subprocess, sys, time
    from workbench.engine.lifetime import die_with_parent
    die_with_parent(int(sys.argv[1]))
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    print(os.getpid(), child.pid, flush=True)
    time.sleep(600)
    """
)

# A stand-in app: starts the host in a new session, prints the host's line, then waits.
APP = textwrap.dedent(
    """
    import os, subprocess, sys, time
    host = subprocess.Popen(
        [sys.executable, "-c", sys.argv[1], str(os.getpid())],
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )
    print(host.stdout.readline().strip(), flush=True)
    time.sleep(600)
    """
)


def _wait_gone(pids: list[int], timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if process_running(pid)]
        if not alive:
            return []
        time.sleep(0.05)
    return [pid for pid in pids if process_running(pid)]


def _start_app() -> tuple[subprocess.Popen[str], int, int]:
    app = subprocess.Popen(
        [sys.executable, "-c", APP, HOST],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert app.stdout is not None
    host_pid, child_pid = (int(part) for part in app.stdout.readline().split())
    return app, host_pid, child_pid


def test_host_and_its_children_die_when_the_app_is_killed() -> None:
    app, host_pid, child_pid = _start_app()
    try:
        assert process_running(host_pid) and process_running(child_pid)
        assert os.getpgid(child_pid) == host_pid  # the engine processes are in the host's group
        app.kill()  # SIGKILL: the app runs no cleanup at all
        app.wait()
        assert _wait_gone([host_pid, child_pid], timeout_s=3.0) == []
    finally:
        for pid in (host_pid, child_pid):
            if process_running(pid):
                os.kill(pid, signal.SIGKILL)


def test_sigterm_to_the_host_takes_its_whole_group() -> None:
    app, host_pid, child_pid = _start_app()
    try:
        os.kill(host_pid, signal.SIGTERM)
        assert _wait_gone([host_pid, child_pid], timeout_s=3.0) == []
        assert app.poll() is None  # the app itself is untouched
    finally:
        app.kill()
        app.wait()


def test_registry_finds_a_leftover_engine_with_its_memory_and_stops_it(
    orphan: tuple[EngineRegistry, int, int],
) -> None:
    registry, host_pid, child_pid = orphan
    [leftover] = registry.leftovers()
    assert set(leftover.alive) == {host_pid, child_pid}
    assert leftover.rss_bytes > 1024 * 1024  # two Python processes
    assert "qwen3-8b" in leftover.describe() and str(child_pid) in leftover.describe()
    assert registry.stop(leftover) == []
    assert _wait_gone([host_pid, child_pid], timeout_s=1.0) == []
    assert list(registry.directory.iterdir()) == []


def test_registry_forgets_engines_that_are_gone_and_ignores_running_apps(
    orphan: tuple[EngineRegistry, int, int], tmp_path: Path
) -> None:
    registry, host_pid, child_pid = orphan
    # An engine of an app that is still running (this test process) is not a leftover.
    mine = EngineRecord(
        host_pid,
        psutil.Process(host_pid).create_time(),
        "mine",
        os.getpid(),
        psutil.Process().create_time(),
        (host_pid,),
    )
    (registry.directory / "mine.json").write_text(mine.to_json())
    # A reused pid: the record's start time is not the process's.
    reused = EngineRecord(os.getpid(), 1.0, "old", 1, 0.0, (os.getpid(),))
    (registry.directory / "reused.json").write_text(reused.to_json())
    (registry.directory / "broken.json").write_text("{not json")
    names = {leftover.record.profile for leftover in registry.leftovers()}
    assert names == {"qwen3-8b"}
    assert sorted(p.name for p in registry.directory.iterdir()) == [f"{host_pid}.json", "mine.json"]
    for pid in (host_pid, child_pid):
        os.kill(pid, signal.SIGKILL)
    assert _wait_gone([host_pid, child_pid], timeout_s=3.0) == []
    assert [leftover.record.profile for leftover in registry.leftovers()] == []
    assert not (registry.directory / f"{host_pid}.json").exists()
    assert json.loads((registry.directory / "mine.json").read_text())["profile"] == "mine"
