"""Solve the memory model for one unknown: the longest context, the lowest utilization, the
most concurrent samples."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from workbench.estimate.facts import ModelFacts
from workbench.estimate.gpus import GpuSpec
from workbench.estimate.model import EstimateSettings, estimate

if TYPE_CHECKING:
    from workbench.estimate.calibration import CalibrationStore


def largest_max_model_len(
    facts: ModelFacts, gpu: GpuSpec, settings: EstimateSettings
) -> int | None:
    """Largest max_model_len that loads at ``settings.gpu_memory_utilization``; None if none."""
    result = estimate(facts, gpu, replace(settings, max_model_len=None))
    return result.largest_fitting_max_model_len


def smallest_utilization(
    facts: ModelFacts,
    gpu: GpuSpec,
    settings: EstimateSettings,
    *,
    step: float = 0.01,
    calibration: CalibrationStore | None = None,
) -> float | None:
    """Smallest gpu_memory_utilization (to ``step``) at which ``settings.max_model_len`` loads
    with room for n concurrent full-length samples; None if even 1.0 is not enough."""

    def ok(util: float) -> bool:
        changed = replace(settings, gpu_memory_utilization=util)
        result = estimate(facts, gpu, changed, calibration=calibration)
        return result.verdict != "does_not_fit" and result.max_concurrency >= settings.n

    steps = int(round(1.0 / step))
    if not ok(1.0):
        return None
    low, high = 1, steps  # ok(high * step) holds
    while low < high:
        mid = (low + high) // 2
        if ok(mid * step):
            high = mid
        else:
            low = mid + 1
    return round(high * step, 6)


def largest_concurrency(
    facts: ModelFacts, gpu: GpuSpec, settings: EstimateSettings, *, length: int | None = None
) -> int:
    """How many sequences of ``length`` tokens (default max_model_len) fit in the KV cache at
    once: floor(max_concurrency) at that length; 0 when not even one fits."""
    result = estimate(facts, gpu, settings)
    if result.verdict == "does_not_fit" and result.available_kv_bytes <= 0:
        return 0
    if length is None:
        return int(result.max_concurrency)
    from workbench.estimate.model import make_plan

    plan = make_plan(facts, gpu, settings)
    return result.num_blocks // plan.blocks_per_request(length)
