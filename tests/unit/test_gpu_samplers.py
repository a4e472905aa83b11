"""VRAM/host samplers. NVML's fallback is tested for real on this driverless machine; the field
mapping is a unit test of our code against a fake pynvml module injected via monkeypatch."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from workbench.gpu import (
    FakeVramSampler,
    GpuProcess,
    HostMemorySampler,
    NvmlSampler,
    VramSample,
    make_sampler,
    read_host_memory,
)
from workbench.gpu.host import process_tree, read_meminfo, rss_bytes

MiB = 1024**2


def _nvml_works() -> bool:
    sampler = NvmlSampler()
    try:
        return sampler.available
    finally:
        sampler.close()


@pytest.mark.skipif(_nvml_works(), reason="an NVIDIA driver is present (fallback not reachable)")
def test_real_nvml_fallback_without_driver() -> None:
    sampler = NvmlSampler()
    sample = sampler.sample([os.getpid()])
    assert sample.gpus == ()
    assert sample.unavailable_reason is not None
    assert sample.unavailable_reason.startswith(("no NVIDIA driver (NVML:", "nvidia-ml-py"))
    assert sample.host is not None and sample.host.engine_rss_bytes
    sampler.close()
    sampler.close()  # twice is fine
    fallback = make_sampler()
    assert isinstance(fallback, HostMemorySampler)
    assert fallback.sample().unavailable_reason == sample.unavailable_reason


@pytest.mark.skipif(not _nvml_works(), reason="no NVIDIA driver here")
def test_real_nvml_reads_gpus() -> None:
    sampler = make_sampler()
    sample = sampler.sample()
    sampler.close()
    assert sample.gpus and all(g.total_bytes >= g.used_bytes >= 0 for g in sample.gpus)


class NVMLError(Exception):
    pass


@dataclass
class Memory:
    total: int
    used: int
    free: int


@dataclass
class Utilization:
    gpu: int
    memory: int


@dataclass
class ProcessInfo:
    pid: int
    usedGpuMemory: int | None  # noqa: N815 - NVML's field name


def fake_pynvml(
    *, init_error: str | None = None, unsupported: tuple[str, ...] = (), lost: tuple[int, ...] = ()
) -> types.ModuleType:
    """A stand-in for pynvml with two GPUs; named functions raise NVMLError("Not Supported")."""
    module = types.ModuleType("pynvml")
    module.NVML_TEMPERATURE_GPU = 0  # type: ignore[attr-defined]
    calls: list[str] = []
    module.calls = calls  # type: ignore[attr-defined]

    def wrap(name: str, result: Any) -> Any:
        def function(*args: Any) -> Any:
            calls.append(name)
            if name in unsupported:
                raise NVMLError("Not Supported")
            if args and isinstance(args[0], int) and args[0] in lost and name != "init":
                raise NVMLError("GPU is lost")
            return result(*args) if callable(result) else result

        return function

    def init() -> None:
        if init_error:
            raise NVMLError(init_error)

    module.nvmlInit = init  # type: ignore[attr-defined]
    module.nvmlShutdown = wrap("nvmlShutdown", None)  # type: ignore[attr-defined]
    module.nvmlDeviceGetCount = wrap("count", 2)  # type: ignore[attr-defined]
    module.nvmlDeviceGetHandleByIndex = lambda i: i  # type: ignore[attr-defined]
    module.nvmlDeviceGetName = wrap(  # type: ignore[attr-defined]
        "nvmlDeviceGetName", lambda h: [b"NVIDIA GeForce RTX 3090", "Tesla T4"][h]
    )
    module.nvmlDeviceGetMemoryInfo = wrap(  # type: ignore[attr-defined]
        "nvmlDeviceGetMemoryInfo", lambda h: Memory(24576 * MiB, 1000 * MiB, 23576 * MiB)
    )
    module.nvmlDeviceGetUtilizationRates = wrap(  # type: ignore[attr-defined]
        "nvmlDeviceGetUtilizationRates", Utilization(37, 5)
    )
    module.nvmlDeviceGetTemperature = wrap("nvmlDeviceGetTemperature", 61)  # type: ignore[attr-defined]
    module.nvmlDeviceGetPowerUsage = wrap("nvmlDeviceGetPowerUsage", 123456)  # type: ignore[attr-defined]
    module.nvmlDeviceGetComputeRunningProcesses = wrap(  # type: ignore[attr-defined]
        "nvmlDeviceGetComputeRunningProcesses",
        lambda h: [ProcessInfo(os.getpid(), 900 * MiB), ProcessInfo(999_999, None)],
    )
    module.nvmlDeviceGetGraphicsRunningProcesses = wrap(  # type: ignore[attr-defined]
        "nvmlDeviceGetGraphicsRunningProcesses", lambda h: [ProcessInfo(4242, 2**64 - 1)]
    )
    module.nvmlSystemGetProcessName = wrap(  # type: ignore[attr-defined]
        "nvmlSystemGetProcessName", lambda pid: b"python3"
    )
    return module


def test_nvml_mapping_all_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit test of our mapping code: a fake pynvml injected as the module NvmlSampler imports."""
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml())
    sampler = NvmlSampler()
    sample = sampler.sample()
    assert sampler.available and sample.unavailable_reason is None
    first, second = sample.gpus
    assert (first.index, first.name, second.name) == (0, "NVIDIA GeForce RTX 3090", "Tesla T4")
    assert (first.total_bytes, first.used_bytes, first.free_bytes) == (
        24576 * MiB,
        1000 * MiB,
        23576 * MiB,
    )
    assert (first.utilization_pct, first.temperature_c, first.power_w) == (37, 61, 123.456)
    expected = [
        GpuProcess(4242, "python3", None),  # NVML's "not available" sentinel → None
        GpuProcess(os.getpid(), "python3", 900 * MiB),
        GpuProcess(999_999, "python3", None),
    ]
    assert first.processes == tuple(sorted(expected, key=lambda p: p.pid))  # sorted by pid
    sampler.close()
    assert "nvmlShutdown" in sys.modules["pynvml"].calls


def test_nvml_unsupported_fields_become_none(monkeypatch: pytest.MonkeyPatch) -> None:
    module = fake_pynvml(
        unsupported=(
            "nvmlDeviceGetUtilizationRates",
            "nvmlDeviceGetTemperature",
            "nvmlDeviceGetPowerUsage",
            "nvmlDeviceGetComputeRunningProcesses",
            "nvmlSystemGetProcessName",
            "nvmlDeviceGetName",
        )
    )
    monkeypatch.setitem(sys.modules, "pynvml", module)
    reading = NvmlSampler().sample().gpus[0]
    assert (reading.utilization_pct, reading.temperature_c, reading.power_w) == (None, None, None)
    assert reading.name == "GPU 0"
    assert [p.pid for p in reading.processes] == [4242]


def test_nvml_lost_gpu_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(lost=(1,)))
    assert [g.index for g in NvmlSampler().sample().gpus] == [0]


def test_nvml_init_failure_is_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(init_error="Driver Not Loaded"))
    sampler = NvmlSampler()
    sample = sampler.sample()
    assert not sampler.available and sample.gpus == ()
    assert sample.unavailable_reason == "no NVIDIA driver (NVML: Driver Not Loaded)"
    assert isinstance(make_sampler(), HostMemorySampler)


def test_nvml_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError
    assert NvmlSampler().unavailable_reason == "nvidia-ml-py is not installed"


def test_host_memory_counts_children() -> None:
    """A child process's RSS is attributed to its parent's tree (vLLM's EngineCore, worker)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        for _ in range(100):
            if child.pid in process_tree([os.getpid()]):
                break
            time.sleep(0.05)
        assert child.pid in process_tree([os.getpid()])
        alone = rss_bytes(os.getpid())
        host = read_host_memory([os.getpid()])
        assert host is not None and alone is not None and host.engine_rss_bytes is not None
        assert host.engine_rss_bytes > alone
        assert 0 < host.available_bytes <= host.total_bytes
    finally:
        child.kill()
        child.wait()


def test_host_memory_edge_cases(tmp_path: Path) -> None:
    assert read_meminfo(tmp_path) is None
    (tmp_path / "meminfo").write_text("MemTotal:  1000 kB\nMemFree: 10 kB\n")
    assert read_meminfo(tmp_path) == (1000 * 1024, 10 * 1024)
    assert rss_bytes(2**22 + 12345, tmp_path) is None
    host = read_host_memory([2**22 + 12345], tmp_path)
    assert host is not None and host.engine_rss_bytes is None
    assert read_host_memory(proc=tmp_path) == host.__class__(1000 * 1024, 10 * 1024, None)


def test_fake_sampler_holds_then_cycles() -> None:
    samples = [VramSample(float(i), (), None, "fake") for i in range(3)]
    holding = FakeVramSampler(samples)
    assert [holding.sample([7]).timestamp for _ in range(5)] == [0.0, 1.0, 2.0, 2.0, 2.0]
    assert holding.calls[0] == (7,)
    cycling = FakeVramSampler(samples, cycle=True)
    assert [cycling.sample().timestamp for _ in range(4)] == [0.0, 1.0, 2.0, 0.0]
    cycling.close()
    assert cycling.closed
    with pytest.raises(ValueError):
        FakeVramSampler([])


def test_importing_the_gpu_package_loads_no_pynvml() -> None:
    """The UI imports workbench.gpu at start-up; pynvml loads only when a sampler is made."""
    code = (
        "import sys, workbench.gpu; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pynvml', 'torch', 'vllm')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
