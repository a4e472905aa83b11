"""Fit before load: KV-cache bytes, the per-GPU memory model, the solver and calibration.

Pure Python (no torch, vllm or textual): config.json and safetensors headers in, vLLM's own
arithmetic out. See docs/estimator.md for the formulas and worked examples.
"""

from __future__ import annotations

from workbench.estimate.calibration import CalibrationStore, Correction
from workbench.estimate.errors import EstimateError
from workbench.estimate.facts import ModelFacts, read_model_facts
from workbench.estimate.gpus import GpuSpec, known_gpus, lookup_gpu
from workbench.estimate.kv import KvPlan, kv_bytes_per_token, plan_kv
from workbench.estimate.model import (
    Estimate,
    EstimateSettings,
    Verdict,
    cpu_device,
    estimate,
    estimate_profile,
)
from workbench.estimate.sizes import format_gib, parse_size
from workbench.estimate.solver import (
    largest_concurrency,
    largest_max_model_len,
    smallest_utilization,
)

__all__ = [
    "CalibrationStore",
    "Correction",
    "Estimate",
    "EstimateError",
    "EstimateSettings",
    "GpuSpec",
    "KvPlan",
    "ModelFacts",
    "Verdict",
    "cpu_device",
    "estimate",
    "estimate_profile",
    "format_gib",
    "kv_bytes_per_token",
    "known_gpus",
    "largest_concurrency",
    "largest_max_model_len",
    "lookup_gpu",
    "parse_size",
    "plan_kv",
    "read_model_facts",
    "smallest_utilization",
]
