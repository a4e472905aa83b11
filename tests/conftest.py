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

import pytest

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
