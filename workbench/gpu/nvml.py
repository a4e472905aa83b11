"""NVML sampler: the only module that imports pynvml (nvidia-ml-py), lazily.

Every per-field query is guarded: a field the device does not support becomes None, never an
exception. An nvmlInit failure leaves ``gpus=()`` and ``unavailable_reason`` set.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, TypeVar

from workbench.gpu.host import read_host_memory
from workbench.gpu.readings import GpuProcess, GpuReading, VramSample

T = TypeVar("T")


def _nvml_message(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"no NVIDIA driver (NVML: {text})"


def _bind(function: Callable[[Any], T], argument: Any) -> Callable[[], T]:
    return lambda: function(argument)


class NvmlSampler:
    """Samples every GPU through NVML; falls back to host memory only when NVML fails."""

    def __init__(self, nvml: ModuleType | None = None) -> None:
        self._nvml: Any = None
        self._handles: list[Any] = []
        self.unavailable_reason: str | None = None
        try:
            if nvml is None:
                import pynvml as nvml_module

                nvml = nvml_module
            nvml.nvmlInit()
            count = int(nvml.nvmlDeviceGetCount())
            self._handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            self._nvml = nvml
            if not self._handles:
                self.unavailable_reason = "NVML found no GPUs"
        except ImportError:
            self.unavailable_reason = "nvidia-ml-py is not installed"
        except Exception as exc:  # pynvml raises NVMLError subclasses; any failure = no NVML
            self.unavailable_reason = _nvml_message(exc)

    @property
    def available(self) -> bool:
        """True when NVML initialised and sees at least one GPU."""
        return self._nvml is not None and bool(self._handles)

    def _try(self, call: Callable[[], T]) -> T | None:
        try:
            return call()
        except Exception:  # NVMLError_NotSupported, NoPermission, GpuIsLost, ...
            return None

    def _processes(self, handle: Any) -> tuple[GpuProcess, ...]:
        nvml = self._nvml
        found: dict[int, GpuProcess] = {}
        getters = ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses")
        for getter in getters:
            function = getattr(nvml, getter, None)
            if function is None:
                continue
            infos = self._try(_bind(function, handle)) or []
            for info in infos:
                pid = int(getattr(info, "pid", 0))
                used = getattr(info, "usedGpuMemory", None)
                # NVML reports "not available" (e.g. under WDDM or without permission) as None
                # or as a huge sentinel value.
                used_bytes = int(used) if isinstance(used, int) and 0 <= used < 1 << 60 else None
                name = self._process_name(pid)
                if pid not in found or found[pid].used_bytes is None:
                    found[pid] = GpuProcess(pid=pid, name=name, used_bytes=used_bytes)
        return tuple(sorted(found.values(), key=lambda p: p.pid))

    def _process_name(self, pid: int) -> str | None:
        function = getattr(self._nvml, "nvmlSystemGetProcessName", None)
        if function is not None:
            raw = self._try(lambda: function(pid))
            if raw:
                return raw.decode() if isinstance(raw, bytes) else str(raw)
        try:
            with open(f"/proc/{pid}/comm", encoding="utf-8") as handle:
                return handle.read().strip() or None
        except OSError:
            return None

    def _reading(self, index: int, handle: Any) -> GpuReading | None:
        nvml = self._nvml
        memory = self._try(lambda: nvml.nvmlDeviceGetMemoryInfo(handle))
        if memory is None:
            return None
        raw_name = self._try(lambda: nvml.nvmlDeviceGetName(handle)) or f"GPU {index}"
        name = raw_name.decode() if isinstance(raw_name, bytes) else str(raw_name)
        util = self._try(lambda: nvml.nvmlDeviceGetUtilizationRates(handle))
        temp = self._try(lambda: nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))
        power_mw = self._try(lambda: nvml.nvmlDeviceGetPowerUsage(handle))
        return GpuReading(
            index=index,
            name=name,
            total_bytes=int(memory.total),
            used_bytes=int(memory.used),
            free_bytes=int(memory.free),
            processes=self._processes(handle),
            utilization_pct=int(util.gpu) if util is not None else None,
            temperature_c=int(temp) if temp is not None else None,
            power_w=float(power_mw) / 1000.0 if power_mw is not None else None,
        )

    def sample(self, engine_pids: Sequence[int] = ()) -> VramSample:
        """One reading of every GPU (lost GPUs are skipped) plus host memory."""
        readings = tuple(
            reading
            for index, handle in enumerate(self._handles)
            if (reading := self._reading(index, handle)) is not None
        )
        return VramSample(
            timestamp=time.time(),
            gpus=readings,
            host=read_host_memory(engine_pids),
            unavailable_reason=self.unavailable_reason,
        )

    def close(self) -> None:
        """Shut NVML down (safe to call twice)."""
        if self._nvml is not None:
            self._try(self._nvml.nvmlShutdown)
            self._nvml = None
            self._handles = []
