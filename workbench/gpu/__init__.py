"""GPU and host memory samplers for the VRAM gauge. Only this package imports pynvml."""

from __future__ import annotations

from workbench.gpu.fake import FakeVramSampler
from workbench.gpu.host import HostMemorySampler, read_cpu_features, read_host_memory, read_meminfo
from workbench.gpu.nvml import NvmlSampler
from workbench.gpu.readings import (
    CpuFeatures,
    GpuProcess,
    GpuReading,
    HostMemory,
    VramSample,
    VramSampler,
)


def make_sampler() -> VramSampler:
    """NVML when it initialises and sees a GPU, else host memory only (saying why)."""
    nvml = NvmlSampler()
    if nvml.available:
        return nvml
    reason = nvml.unavailable_reason or "no NVIDIA GPU"
    nvml.close()
    return HostMemorySampler(reason)


__all__ = [
    "CpuFeatures",
    "FakeVramSampler",
    "GpuProcess",
    "GpuReading",
    "HostMemory",
    "HostMemorySampler",
    "NvmlSampler",
    "VramSample",
    "VramSampler",
    "make_sampler",
    "read_cpu_features",
    "read_host_memory",
    "read_meminfo",
]
