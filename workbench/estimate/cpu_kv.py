"""The CPU engine's KV-cache budget: the one place that decides it.

The estimator, the engine host (which passes it to vLLM), the estimate CLI and the VRAM gauge all
call ``cpu_kv_budget``, so an estimate and a load cannot disagree about it. vLLM's rules
(vllm/platforms/cpu.py::check_and_update_config, v1/worker/cpu_worker.py):

1. ``VLLM_CPU_KVCACHE_SPACE`` (whole GiB, read with ``int()``), when set and not empty, replaces
   ``kv_cache_memory_bytes`` whatever the engine arguments say;
2. else ``kv_cache_memory_bytes`` (the profile's ``engine.kv_cache_memory_bytes``);
3. else vLLM takes ``gpu_memory_utilization`` of host RAM minus the process's RSS, which fails
   on a shared machine — so workbench's engine passes its own default instead:
   ``CPU_DEFAULT_KV_BYTES``, capped to a quarter of the memory available at load time.

The engine sees the app's environment with the profile's ``[env]`` on top.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from workbench.estimate.errors import EstimateError
from workbench.estimate.sizes import GiB, MiB, format_gib

KVCACHE_SPACE_ENV = "VLLM_CPU_KVCACHE_SPACE"
CPU_DEFAULT_KV_BYTES = 2 * GiB
"""workbench's CPU KV budget when neither the profile nor the environment sets one."""
CPU_MIN_DEFAULT_KV_BYTES = 256 * MiB
"""The default is capped to a quarter of available memory, but never below this."""

BudgetSource = Literal["env", "profile", "default"]


@dataclass(frozen=True)
class CpuKvBudget:
    """How many bytes of KV cache the CPU engine gets, and which rule decided it."""

    bytes: int
    source: BudgetSource
    explanation: str
    """For a person: "VLLM_CPU_KVCACHE_SPACE=4 (profile [env])", "engine.kv_cache_memory_bytes"."""


def parse_kvcache_space(value: str, *, where: str) -> int | None:
    """``VLLM_CPU_KVCACHE_SPACE`` in bytes; None when empty (vLLM ignores an empty value).

    vLLM reads it with ``int()``: "4.5" or "4GiB" stop it at start, and 0 leaves no KV cache,
    so each is refused here with one line naming ``where`` it was set.
    """
    text = value.strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise EstimateError(
            f"{where}: {KVCACHE_SPACE_ENV}={value!r} must be a whole number of GiB, at least 1 "
            f"(vLLM reads it with int()); e.g. {KVCACHE_SPACE_ENV}=4"
        )
    return int(text) * GiB


def cpu_kv_budget(
    kv_cache_memory_bytes: int | None,
    *,
    profile_env: Mapping[str, str],
    environ: Mapping[str, str],
    available_bytes: int | None = None,
) -> CpuKvBudget:
    """The CPU engine's KV budget for a profile (see the module docstring for the rules).

    ``profile_env``: the profile's ``[env]`` (wins over ``environ``, as in the engine's process);
    ``available_bytes``: host memory available now, which caps workbench's default.
    """
    for env, where in ((profile_env, "profile [env]"), (environ, "environment")):
        if KVCACHE_SPACE_ENV in env:
            space = parse_kvcache_space(env[KVCACHE_SPACE_ENV], where=where)
            if space is not None:
                return CpuKvBudget(space, "env", f"{KVCACHE_SPACE_ENV}={space // GiB} ({where})")
            if env is profile_env:
                break  # an empty value in [env] hides the app's variable from the engine
    if kv_cache_memory_bytes is not None:
        return CpuKvBudget(kv_cache_memory_bytes, "profile", "engine.kv_cache_memory_bytes")
    budget = CPU_DEFAULT_KV_BYTES
    if available_bytes:
        budget = max(CPU_MIN_DEFAULT_KV_BYTES, min(budget, available_bytes // 4))
    return CpuKvBudget(
        budget,
        "default",
        f"workbench's default {format_gib(budget)} (set engine.kv_cache_memory_bytes or "
        f"{KVCACHE_SPACE_ENV} to change)",
    )
