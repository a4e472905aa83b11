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
