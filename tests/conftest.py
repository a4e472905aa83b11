"""Determinism kit shared by every tier: user dirs under tmp_path, offline hub, no clocks, and
one fixed host for the estimator.

Host-dependent inputs, each made explicit here or where it is used:
- CPU kind (AMX or not) and host RAM decide CPU-engine estimates: pinned by ``_fixed_host``
  below; tests of the real host say so with ``@pytest.mark.real_host`` (and every ``engine``
  test runs on the real host, since the real engine does). Both CPU kinds are covered by
  injected probes (tests/vllm_reference.py: CPU_KINDS).
- uid 0: CI runs as root, which reads any file; the permission test drops to ``nobody``.
- Terminal size: every snapshot and pilot test passes its size (TERMINAL_SIZE).
- Timing: no test asserts a duration; waits are bounded loops with generous limits, and speed
  is measured by bench/ only.
- Locale: files are read and written as UTF-8 explicitly; numbers use Python's own ","
  grouping, which ignores the locale.
- Core count: nothing reads it; the engine tests run on whatever the machine has.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from workbench.engine.lifetime import EngineRegistry

from workbench.gpu.readings import CpuFeatures

REPO_ROOT = Path(__file__).resolve().parent.parent
GiB = 1024**3
FIXED_HOST_MEMORY = (32 * GiB, 24 * GiB)
"""(MemTotal, MemAvailable) the estimator sees in tests: a 32 GiB machine with 24 GiB free."""
FIXED_HOST_CPU = CpuFeatures(x86=True, amx_tiles=False)
"""The CPU kind the estimator sees in tests unless a test injects another: x86 without AMX."""


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Never touch the real user's config/data dirs; never reach a model hub."""
    monkeypatch.setenv("WORKBENCH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    yield


@pytest.fixture(autouse=True)
def _fixed_host(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The estimator's view of "this machine" (its RAM, its CPU kind) is the same on every
    machine, so no result depends on where the suite runs."""
    if request.node.get_closest_marker("real_host") or request.node.get_closest_marker("engine"):
        yield
        return
    monkeypatch.setattr("workbench.estimate.model.read_meminfo", lambda: FIXED_HOST_MEMORY)
    monkeypatch.setattr("workbench.estimate.model.read_cpu_features", lambda: FIXED_HOST_CPU)
    yield


@pytest.fixture
def orphan(tmp_path: Path) -> Iterator[tuple[EngineRegistry, int, int]]:
    """A registry (``<tmp>/engines``) with the file of an "engine" whose app is gone: a real
    session leader sleeping with one child, as a crashed app would leave it. Yields the registry,
    the host's pid and the child's pid; kills whatever is left at the end."""
    import os
    import signal
    import subprocess
    import sys

    import psutil

    from workbench.engine.lifetime import EngineRecord, EngineRegistry

    script = (
        "import subprocess, sys, time; c = subprocess.Popen([sys.executable, '-c', "
        "'import time; time.sleep(600)']); print(c.pid, flush=True); time.sleep(600)"
    )
    host = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert host.stdout is not None
    child_pid = int(host.stdout.readline())
    gone_app = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    registry = EngineRegistry(tmp_path / "engines")
    registry.directory.mkdir()
    record = EngineRecord(
        host_pid=host.pid,
        started_at=psutil.Process(host.pid).create_time(),
        profile="qwen3-8b",
        app_pid=int(gone_app.stdout),
        app_started_at=0.0,
        pids=(host.pid, child_pid),
    )
    (registry.directory / f"{host.pid}.json").write_text(record.to_json())
    yield registry, host.pid, child_pid
    for pid in (host.pid, child_pid):
        if process_running(pid):
            os.kill(pid, signal.SIGKILL)
    host.wait()


def process_running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie has exited and freed its memory already)."""
    import psutil

    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False
