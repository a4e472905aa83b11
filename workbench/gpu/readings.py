"""Plain data for one VRAM/host-memory sample (what the UI's gauge draws)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class GpuProcess:
    """A process holding GPU memory; ``used_bytes`` None where the driver does not say."""

    pid: int
    name: str | None
    used_bytes: int | None


@dataclass(frozen=True)
class GpuReading:
    """One GPU at one moment; optional fields are None when the device does not report them."""

    index: int
    name: str
    total_bytes: int
    used_bytes: int
    free_bytes: int
    processes: tuple[GpuProcess, ...]
    utilization_pct: int | None
    temperature_c: int | None
    power_w: float | None


@dataclass(frozen=True)
class CpuFeatures:
    """The CPU capabilities vLLM's CPU platform decides by (vllm/platforms/cpu.py).

    Machines differ (Intel with AMX tiles, AMD EPYC without), so everything that depends on
    them takes a ``CpuFeatures`` argument: read from this host by default, injected by tests.
    """

    x86: bool
    """``CpuPlatform.get_cpu_architecture() == CpuArchEnum.X86``."""
    amx_tiles: bool
    """``torch.cpu._is_amx_tile_supported()``: the kernel exposes AMX tiles (flag ``amx_tile``)."""

    @property
    def label(self) -> str:
        """Short description for messages: "x86 with AMX", "x86 without AMX", "non-x86"."""
        if not self.x86:
            return "non-x86"
        return "x86 with AMX" if self.amx_tiles else "x86 without AMX"


@dataclass(frozen=True)
class HostMemory:
    """Host RAM (/proc/meminfo) and the engine processes' resident memory (VmRSS, children too)."""

    total_bytes: int
    available_bytes: int
    engine_rss_bytes: int | None


@dataclass(frozen=True)
class VramSample:
    """Every GPU plus host memory at ``timestamp``; ``unavailable_reason`` says why no GPUs."""

    timestamp: float
    gpus: tuple[GpuReading, ...]
    host: HostMemory | None
    unavailable_reason: str | None = None


class VramSampler(Protocol):
    """Takes samples; ``engine_pids`` attribute host RSS to the engine (children included)."""

    def sample(self, engine_pids: Sequence[int] = ()) -> VramSample: ...

    def close(self) -> None: ...
