"""Host memory from /proc: MemTotal/MemAvailable and the VmRSS of engine processes and their
children (vLLM runs EngineCore and a worker as child processes)."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from workbench.gpu.readings import CpuFeatures, HostMemory, VramSample

PROC = Path("/proc")


def read_meminfo(proc: Path = PROC) -> tuple[int, int] | None:
    """(MemTotal, MemAvailable) in bytes, or None where /proc/meminfo is missing."""
    values: dict[str, int] = {}
    try:
        text = (proc / "meminfo").read_text("ascii")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[key] = int(parts[0]) * 1024
    if "MemTotal" not in values:
        return None
    return values["MemTotal"], values.get("MemAvailable", values.get("MemFree", 0))


def read_cpu_features(proc: Path = PROC, machine: str | None = None) -> CpuFeatures:
    """This host's CPU as vLLM's CPU platform sees it. AMX: the ``amx_tile`` flag in
    /proc/cpuinfo, which Linux lists only when the CPU has the tiles and the kernel enabled
    them (what torch's ``_is_amx_tile_supported`` checks; a test compares the two)."""
    arch = (machine or platform.machine()).lower()
    x86 = arch in ("x86_64", "amd64", "i386", "i686", "x86")
    flags: set[str] = set()
    try:
        text = (proc / "cpuinfo").read_text("ascii", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key.strip() == "flags":
            flags.update(rest.split())
            break
    return CpuFeatures(x86=x86, amx_tiles=x86 and "amx_tile" in flags)


def _children(pid: int, proc: Path) -> list[int]:
    found: list[int] = []
    task_dir = proc / str(pid) / "task"
    try:
        tasks = list(task_dir.iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return found


def process_tree(pids: Iterable[int], proc: Path = PROC) -> set[int]:
    """The pids and all their descendants (via /proc/<pid>/task/*/children)."""
    seen: set[int] = set()
    stack = list(pids)
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        stack.extend(_children(pid, proc))
    return seen


def rss_bytes(pid: int, proc: Path = PROC) -> int | None:
    """VmRSS of one process in bytes; None when it is gone or unreadable."""
    try:
        for line in (proc / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def read_host_memory(engine_pids: Sequence[int] = (), proc: Path = PROC) -> HostMemory | None:
    """Host memory plus the summed RSS of the engine's process tree (None without pids)."""
    meminfo = read_meminfo(proc)
    if meminfo is None:
        return None
    rss: int | None = None
    if engine_pids:
        sizes = [rss_bytes(pid, proc) for pid in process_tree(engine_pids, proc)]
        known = [s for s in sizes if s is not None]
        rss = sum(known) if known else None
    return HostMemory(total_bytes=meminfo[0], available_bytes=meminfo[1], engine_rss_bytes=rss)


class HostMemorySampler:
    """No GPU: host memory only, with the reason NVML was not available."""

    def __init__(self, unavailable_reason: str = "no NVIDIA GPU") -> None:
        self.unavailable_reason = unavailable_reason

    def sample(self, engine_pids: Sequence[int] = ()) -> VramSample:
        return VramSample(
            timestamp=time.time(),
            gpus=(),
            host=read_host_memory(engine_pids),
            unavailable_reason=self.unavailable_reason,
        )

    def close(self) -> None:
        return None


def own_pid() -> int:
    """This process's id (tests attribute their own RSS)."""
    return os.getpid()
