"""The memory model for one GPU (or the CPU engine): where the bytes go, and the verdict.

GPU: vllm/v1/worker/gpu_worker.py::determine_available_memory —
    available KV = total × gpu_memory_utilization − (weights + non-torch + activation peak)
                   − CUDA-graph estimate.
CPU: vllm/v1/worker/cpu_worker.py — the KV budget is kv_cache_memory_bytes
    (VLLM_CPU_KVCACHE_SPACE GiB sets it), nothing is subtracted.
Weights are exact (safetensors headers). KV bytes, blocks, tokens and concurrency are exact
(workbench.estimate.kv). Non-torch, activation and CUDA-graph figures are estimates whose
sources are given in their docstrings; calibration replaces them with measured ones.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from workbench.estimate.cpu_kv import cpu_kv_budget
from workbench.estimate.errors import EstimateError
from workbench.estimate.facts import ModelFacts
from workbench.estimate.gpus import GpuSpec
from workbench.estimate.kv import (
    GPU_DEFAULT_BLOCK_SIZE,
    KvPlan,
    cpu_block_size,
    kv_bytes_per_token,
    plan_kv,
)
from workbench.estimate.sizes import GiB, MiB, format_gib
from workbench.gpu.host import read_cpu_features, read_meminfo
from workbench.gpu.readings import CpuFeatures

if TYPE_CHECKING:
    from workbench.estimate.calibration import CalibrationStore
    from workbench.profiles import LoadedProfile, Profile

Verdict = Literal["fits", "tight", "does_not_fit"]
Runtime = Literal["embedded", "serve"]
WarningKind = Literal[
    "state_not_counted",
    "too_few_gpus",
    "no_kv_budget",
    "host_memory",
    "calibration_ignored",
    "gpu_out_of_memory",
    "gpu_busy",
    "block_size_forced",
    "kv_budget_from_env",
    "model_facts",
]
BLOCKING_WARNINGS: dict[WarningKind, str] = {
    "gpu_busy": "not enough free memory on the GPU for total × gpu_memory_utilization",
    "gpu_out_of_memory": "kv_cache_memory_bytes plus the weights exceed the GPU's memory",
    "host_memory": "not enough available host memory for the weights plus the KV budget",
}
"""Warnings that make vLLM refuse to start, so the verdict is does_not_fit, with this reason."""


@dataclass(frozen=True)
class EstimateWarning:
    """Something the estimate's figures depend on or that stops a load; ``kind`` decides."""

    kind: WarningKind
    message: str

    def __str__(self) -> str:
        return self.message


CUDA_RESERVED_BYTES = 444 * MiB
"""NVML's total minus what CUDA (torch.cuda.mem_get_info, which vLLM uses) reports as total.
Public vLLM logs: RTX 3090 NVML 24576 MiB vs "Free memory on device (22.93/23.56 GiB)" → 451 MiB;
H100 80GB HBM3 NVML 81559 MiB vs "total_gpu_memory 79.22GiB" → 438 MiB."""

TIGHT_HEADROOM = 0.05
"""Below 5 % spare KV (or room for fewer than n full-length sequences × 1.05) is "tight"."""


@dataclass(frozen=True)
class EstimateSettings:
    """The engine arguments that decide memory (names and meaning as vLLM's EngineArgs)."""

    max_model_len: int | None = None
    gpu_memory_utilization: float = 0.9
    kv_cache_dtype: str = "auto"
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    max_num_seqs: int | None = None
    max_num_batched_tokens: int | None = None
    enforce_eager: bool = False
    block_size: int | None = None
    kv_cache_memory_bytes: int | None = None
    n: int = 1
    runtime: Runtime = "embedded"
    """Which vLLM entry point runs it: the defaults differ (``scheduler_limits``)."""

    @classmethod
    def from_profile(cls, profile: Profile) -> EstimateSettings:
        """Settings from a profile's [engine] and [sampling] tables."""
        engine = profile.engine
        return cls(
            max_model_len=engine.max_model_len,
            gpu_memory_utilization=engine.gpu_memory_utilization,
            kv_cache_dtype=engine.kv_cache_dtype,
            tensor_parallel_size=engine.tensor_parallel_size,
            pipeline_parallel_size=engine.pipeline_parallel_size,
            max_num_seqs=engine.max_num_seqs,
            max_num_batched_tokens=engine.max_num_batched_tokens,
            enforce_eager=engine.enforce_eager,
            block_size=engine.block_size,
            kv_cache_memory_bytes=engine.kv_cache_memory_bytes,
            n=profile.sampling.n,
            # a deployment runs as `vllm serve`, with that entry point's defaults
            runtime="serve" if profile.deployment is not None else "embedded",
        )


@dataclass(frozen=True)
class Estimate:
    """Where one GPU's memory goes and what that buys (all bytes per GPU)."""

    device: str
    total_bytes: int
    budget_bytes: int
    """total × gpu_memory_utilization (CPU: the KV budget plus weights, for display)."""
    weights_bytes: int
    non_torch_bytes: int
    activation_bytes: int
    cuda_graph_bytes: int
    available_kv_bytes: int
    kv_bytes_per_token: int
    block_size: int
    num_blocks: int
    kv_tokens: int
    max_model_len: int
    """The effective max_model_len (the setting, or the model's derived maximum)."""
    max_concurrency: float
    verdict: Verdict
    reason: str
    largest_fitting_max_model_len: int | None
    warnings: tuple[EstimateWarning, ...] = ()
    calibrated_from_loads: int = 0
    weights_exact: bool = True
    facts_from: str = "model"
    """Where the model's numbers came from: "model" (its files), "profile" ([model.facts]),
    "hub" (the Hub's metadata files)."""
    runtime: Runtime = "embedded"
    """The vLLM entry point whose defaults the figures model (``RUNTIME_WORDS``)."""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``workbench estimate --json``)."""
        from dataclasses import asdict

        data = asdict(self)
        data["warnings"] = [{"kind": w.kind, "message": w.message} for w in self.warnings]
        return data


RUNTIME_WORDS: dict[Runtime, str] = {
    "embedded": "workbench's embedded engine (AsyncLLM: vLLM's ENGINE_CONTEXT defaults)",
    "serve": "`vllm serve` (vLLM's OPENAI_API_SERVER defaults)",
}
"""How each runtime is named wherever an estimate says which one it models."""
RUNTIME_SHORT: dict[Runtime, str] = {"embedded": "Embedded engine", "serve": "vllm serve"}


def scheduler_limits(
    gpu: GpuSpec, settings: EstimateSettings, max_model_len: int
) -> tuple[int, int]:
    """(max_num_batched_tokens, max_num_seqs) as vLLM sets them for ``settings.runtime``.

    vllm/engine/arg_utils.py (0.32): ``get_batch_defaults`` lists LLM_CLASS and
    OPENAI_API_SERVER only. The embedded engine (AsyncLLM.from_engine_args, ENGINE_CONTEXT)
    therefore gets SchedulerConfig's 2048 tokens / 128 sequences on every device; ``vllm
    serve`` gets 16384 / 1024 on devices with ≥ 160 GiB, 8192 / 1024 on ≥ 70 GiB except A100,
    else 2048 / 256; on the CPU 2048 × world / 128 × world. Then
    ``_set_default_max_num_seqs_and_batched_tokens_args``: a defaulted token budget is capped
    at max_num_seqs × max_model_len, and a defaulted max_num_seqs at the token budget. The
    device memory vLLM compares is CUDA's total (torch), NVML's total less CUDA's reserve.
    """
    world = settings.tensor_parallel_size * settings.pipeline_parallel_size
    batched, seqs = 2048, 128  # SchedulerConfig.DEFAULT_MAX_NUM_BATCHED_TOKENS / _SEQS
    if settings.runtime == "serve":
        if gpu.device == "cpu":
            batched, seqs = 2048 * world, 128 * world
        else:
            device_memory = gpu.total_bytes - CUDA_RESERVED_BYTES
            if device_memory >= 160 * GiB:
                batched, seqs = 16384, 1024
            elif device_memory >= 70 * GiB and "a100" not in gpu.name.lower():
                batched, seqs = 8192, 1024
            else:
                batched, seqs = 2048, 256
    if settings.max_num_seqs is not None:
        seqs = settings.max_num_seqs
    if settings.max_num_batched_tokens is not None:
        batched = settings.max_num_batched_tokens
    else:
        batched = min(seqs * max_model_len, batched)
    if settings.max_num_seqs is None:
        seqs = min(seqs, batched)
    return batched, seqs


def non_torch_bytes(settings: EstimateSettings) -> int:
    """Memory outside PyTorch's allocator that grows during load (cuBLAS/NCCL workspaces).

    Estimate: vLLM's memory-profiling log on single GPUs typically reports
    "non_torch_memory takes 0.1–0.3GiB"; with tensor parallelism NCCL and the custom
    all-reduce buffers add roughly 0.5 GiB per rank. We use 0.25 GiB, + 0.5 GiB when TP > 1.
    """
    base = 256 * MiB
    if settings.tensor_parallel_size > 1 or settings.pipeline_parallel_size > 1:
        base += 512 * MiB
    return base


def activation_bytes(
    facts: ModelFacts, settings: EstimateSettings, batched_tokens: int, num_seqs: int
) -> int:
    """Peak activation of vLLM's profile run (a dummy forward of max_num_batched_tokens).

    Estimate: per token the MLP holds gate+up (2 × intermediate) and the activated product
    (1 × intermediate), plus ~6 hidden-size buffers (residual, norm, qkv, attention output);
    the sampler holds fp32 logits and their softmax for max_num_seqs rows. Checked against
    vLLM's "PyTorch activation peak memory takes 1.19GiB" for Llama-3.1-8B at 8192 tokens
    (this formula: 1.27 GiB).
    """
    tp = settings.tensor_parallel_size
    intermediate = facts.intermediate_size
    if facts.num_experts:
        per_expert = int(facts.extra.get("moe_intermediate_size") or intermediate)
        intermediate = per_expert * int(facts.extra.get("experts_per_token") or 8)
    dtype = facts.dtype_bytes
    per_token = 3 * intermediate * dtype // tp + 6 * facts.hidden_size * dtype
    sampler = num_seqs * facts.vocab_size * 4 * 2
    return batched_tokens * per_token + sampler


def cuda_graph_bytes(facts: ModelFacts, settings: EstimateSettings, num_seqs: int) -> int:
    """CUDA-graph memory vLLM subtracts (VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=1 default).

    0 with enforce_eager. Estimate otherwise: vLLM logs "Graph capturing finished ... took
    0.3–1.5 GiB" for 7–70B models; we take 0.25 GiB plus the largest captured batch's
    per-layer hidden buffers (layers × hidden × 2 bytes × min(max_num_seqs × 2, 512)).
    """
    if settings.enforce_eager:
        return 0
    capture = min(num_seqs * 2, 512)
    layers = -(-facts.num_hidden_layers // settings.pipeline_parallel_size)
    return 256 * MiB + layers * facts.hidden_size * 2 * capture


def weights_per_gpu(facts: ModelFacts, settings: EstimateSettings) -> int:
    """Weights one GPU holds: total / (tp × pp) (vocab-parallel embeddings split too)."""
    assert facts.weights_bytes is not None
    return facts.weights_bytes // (settings.tensor_parallel_size * settings.pipeline_parallel_size)


def cpu_device(
    total_bytes: int | None = None,
    free_bytes: int | None = None,
    *,
    cpu: CpuFeatures | None = None,
) -> GpuSpec:
    """The host as a device (CPU engine semantics). Without arguments: this host's
    MemTotal and MemAvailable; with ``total_bytes`` only: no free-memory check. ``cpu``: the
    CPU features vLLM decides by (this host's when None; tests inject both kinds)."""
    if total_bytes is None:
        meminfo = read_meminfo()
        total_bytes = meminfo[0] if meminfo else 0
        if free_bytes is None and meminfo is not None:
            free_bytes = meminfo[1]
    features = cpu or read_cpu_features()
    return GpuSpec(
        f"cpu ({features.label})", total_bytes, free_bytes=free_bytes, device="cpu", cpu=features
    )


def _validate(facts: ModelFacts, settings: EstimateSettings) -> None:
    if not 0 < settings.gpu_memory_utilization <= 1:
        raise EstimateError(
            f"gpu_memory_utilization {settings.gpu_memory_utilization}: must be in (0, 1]"
        )
    for name in ("tensor_parallel_size", "pipeline_parallel_size", "n"):
        if getattr(settings, name) < 1:
            raise EstimateError(f"{name} {getattr(settings, name)}: must be >= 1")
    tp = settings.tensor_parallel_size
    if facts.num_attention_heads % tp:
        raise EstimateError(
            f"tensor_parallel_size {tp}: the model's {facts.num_attention_heads} attention heads "
            "are not divisible by it (vLLM refuses); pick a divisor"
        )
    if settings.max_model_len is not None and settings.max_model_len < 1:
        raise EstimateError(f"max_model_len {settings.max_model_len}: must be >= 1")
    if facts.weights_bytes is None:
        raise EstimateError(f"{facts.source}: weight size unknown")


def make_plan(facts: ModelFacts, gpu: GpuSpec, settings: EstimateSettings) -> KvPlan:
    """The KV plan for this device and settings (block size by the device's rules)."""
    if gpu.device == "cpu":
        block_size = cpu_block_size(facts, settings.block_size, gpu.cpu or read_cpu_features())
    else:
        block_size = settings.block_size or GPU_DEFAULT_BLOCK_SIZE
    batched, _ = scheduler_limits(gpu, settings, _effective_max_len(facts, settings))
    # vllm/config/vllm.py::max_concurrent_batches: async scheduling (GPU default) keeps 2
    # batches in flight at pp=1; the CPU platform turns async scheduling off.
    pp = settings.pipeline_parallel_size
    concurrent = pp if (gpu.device == "cpu" or pp > 1) else 2
    return plan_kv(
        facts,
        block_size=block_size,
        tensor_parallel_size=settings.tensor_parallel_size,
        pipeline_parallel_size=pp,
        kv_cache_dtype=settings.kv_cache_dtype,
        max_in_flight_tokens=concurrent * batched,
        # kernel block multiple: CPU attention backend MultipleOf(32), FlashAttention 16
        kernel_block_multiple=32 if gpu.device == "cpu" else 16,
    )


def _effective_max_len(facts: ModelFacts, settings: EstimateSettings) -> int:
    """The max_model_len vLLM will run with: the setting, else the model's maximum."""
    return settings.max_model_len or facts.derived_max_model_len


def estimate(
    facts: ModelFacts,
    gpu: GpuSpec,
    settings: EstimateSettings,
    *,
    calibration: CalibrationStore | None = None,
    vllm_version: str | None = None,
) -> Estimate:
    """Predict vLLM's KV capacity and whether ``settings`` load on ``gpu`` (per-GPU figures)."""
    _validate(facts, settings)
    plan = make_plan(facts, gpu, settings)
    per_token = kv_bytes_per_token(
        facts,
        settings.tensor_parallel_size,
        settings.pipeline_parallel_size,
        settings.kv_cache_dtype,
    )
    derived = facts.derived_max_model_len
    if not facts.max_len_from_config and settings.max_model_len:
        derived = max(derived, settings.max_model_len)  # vLLM takes the user's length as is
    max_len = _effective_max_len(facts, settings)
    warnings: list[EstimateWarning] = []

    def warn(kind: WarningKind, message: str) -> None:
        warnings.append(EstimateWarning(kind, message))

    if "mamba" in facts.layer_kinds or "linear" in facts.layer_kinds:
        warn("state_not_counted", "mamba/linear-attention state per request is not counted")
    world = settings.tensor_parallel_size * settings.pipeline_parallel_size
    if gpu.device == "cuda" and gpu.count < world:
        warn("too_few_gpus", f"tp × pp = {world} GPUs but only {gpu.count} present")
    if settings.block_size is not None and plan.block_size != settings.block_size:
        cpu = gpu.cpu.label if gpu.cpu else gpu.name
        warn(
            "block_size_forced",
            f"block_size {settings.block_size} is replaced by {plan.block_size}: vLLM's kernel "
            f"for this model on this device ({cpu}) requires it",
        )
    batched, num_seqs = scheduler_limits(gpu, settings, max_len)
    weights = weights_per_gpu(facts, settings)
    loads = 0

    if gpu.device == "cpu":
        kv_budget = settings.kv_cache_memory_bytes
        if kv_budget is None:
            # vllm/v1/worker/cpu_worker.py: requested = total × util − process RSS (≈ weights).
            # A profile's estimate never gets here: estimate_profile resolves the budget as
            # workbench's engine will (workbench.estimate.cpu_kv).
            kv_budget = int(gpu.total_bytes * settings.gpu_memory_utilization) - weights
            warn(
                "no_kv_budget",
                "no KV budget set: VLLM_CPU_KVCACHE_SPACE or "
                "engine.kv_cache_memory_bytes makes the CPU engine predictable",
            )
        overhead, act, graphs = 0, 0, 0
        available = kv_budget
        budget = kv_budget + weights
        if gpu.free_bytes is not None and budget > gpu.free_bytes:
            # vllm/v1/worker/cpu_worker.py refuses a KV budget above the memory still
            # available after the weights are loaded
            warn(
                "host_memory",
                f"host memory: KV {format_gib(kv_budget)} + weights {format_gib(weights)} > "
                f"available {format_gib(gpu.free_bytes)}; vLLM refuses to start; lower "
                "VLLM_CPU_KVCACHE_SPACE / kv_cache_memory_bytes",
            )
    else:
        cuda_total = max(0, gpu.total_bytes - CUDA_RESERVED_BYTES)
        budget = int(cuda_total * settings.gpu_memory_utilization)
        overhead = non_torch_bytes(settings)
        act = activation_bytes(facts, settings, batched, num_seqs)
        graphs = cuda_graph_bytes(facts, settings, num_seqs)
        correction = None
        if calibration is not None:
            try:
                correction = calibration.correction_for(
                    gpu_name=gpu.name, vllm_version=vllm_version, facts=facts, settings=settings
                )
            except EstimateError as exc:  # a broken calibration file must not block estimates
                warn("calibration_ignored", f"calibration ignored: {exc}")
            if correction is not None:
                loads = correction.loads
                if correction.weights_bytes is not None:
                    weights = correction.weights_bytes
                overhead = max(0, overhead + correction.overhead_delta_bytes)
        if settings.kv_cache_memory_bytes is not None:
            # vLLM skips the utilization budget here (gpu_worker.py), so only the card limits it
            available = settings.kv_cache_memory_bytes
            needed = weights + overhead + act + graphs + available
            if needed > cuda_total:
                warn(
                    "gpu_out_of_memory",
                    f"out of memory: weights, overhead and kv_cache_memory_bytes need "
                    f"{format_gib(needed)} but the GPU has {format_gib(cuda_total)}",
                )
        else:
            available = budget - weights - overhead - act - graphs
        cuda_free = None if gpu.free_bytes is None else gpu.free_bytes - CUDA_RESERVED_BYTES
        if cuda_free is not None and cuda_free < budget:
            used = gpu.total_bytes - (gpu.free_bytes or 0)
            highest = max(0.0, cuda_free / cuda_total) if cuda_total else 0.0
            warn(
                "gpu_busy",
                f"other processes use {format_gib(used)}: free {format_gib(cuda_free)} < "
                f"total × util {format_gib(budget)}; vLLM refuses to start; lower "
                f"gpu_memory_utilization to {int(highest * 100) / 100:.2f} or less",
            )

    num_blocks = plan.num_blocks(available)
    blocks_needed = plan.blocks_per_request(max_len)
    concurrency = num_blocks / blocks_needed if blocks_needed else 0.0
    kv_tokens = int(concurrency * max_len)
    largest = plan.largest_fitting_len(num_blocks, derived) if num_blocks > 1 else 0

    verdict: Verdict
    if settings.max_model_len is not None and settings.max_model_len > derived:
        verdict = "does_not_fit"
        reason = (
            f"max_model_len {max_len} exceeds the model's maximum {derived} "
            f"(config.json); vLLM refuses it before loading"
        )
    elif available <= 0:
        verdict = "does_not_fit"
        reason = (
            f"weights {format_gib(weights)} plus overhead leave no memory for the KV "
            f"cache within {format_gib(budget)}; raise gpu_memory_utilization, add GPUs "
            f"(tensor_parallel_size) or use a quantized model"
        )
    elif not plan.fits(num_blocks, max_len):
        verdict = "does_not_fit"
        need = blocks_needed * plan.bytes_per_block
        reason = (
            f"one {max_len}-token request needs {format_gib(need)} of KV cache but only "
            f"{format_gib(available)} is left; largest max_model_len that fits: {largest}"
        )
    elif blocking := [w for w in warnings if w.kind in BLOCKING_WARNINGS]:
        verdict = "does_not_fit"
        reason = BLOCKING_WARNINGS[blocking[0].kind]
    elif concurrency < settings.n * (1 + TIGHT_HEADROOM):
        verdict = "tight"
        reason = (
            f"KV holds {concurrency:.2f} requests of {max_len} tokens; n={settings.n} "
            f"full-length samples need {settings.n}× plus {TIGHT_HEADROOM:.0%} headroom"
        )
    else:
        verdict = "fits"
        reason = (
            f"KV holds {kv_tokens:,} tokens: {concurrency:.2f} requests of "
            f"{max_len:,} tokens at once"
        )

    return Estimate(
        device=gpu.name,
        total_bytes=gpu.total_bytes,
        budget_bytes=budget,
        weights_bytes=weights,
        non_torch_bytes=overhead,
        activation_bytes=act,
        cuda_graph_bytes=graphs,
        available_kv_bytes=available,
        kv_bytes_per_token=per_token,
        block_size=min(plan.block_size, plan.sliding_block_size or plan.block_size),
        num_blocks=num_blocks,
        kv_tokens=kv_tokens,
        max_model_len=max_len,
        max_concurrency=concurrency,
        verdict=verdict,
        reason=reason,
        largest_fitting_max_model_len=largest or None,
        warnings=tuple(warnings),
        calibrated_from_loads=loads,
        weights_exact=facts.weights_source in ("index", "headers", "given"),
        runtime=settings.runtime,
    )


_USER_CALIBRATION: Any = object()


def estimate_profile(
    loaded: LoadedProfile,
    gpu: GpuSpec | None,
    *,
    calibration: CalibrationStore | None = _USER_CALIBRATION,
    hub: bool = False,
    **setting_overrides: Any,
) -> Estimate:
    """Estimate for a loaded profile; ``gpu`` None → CPU engine semantics.

    By default the user's calibration store (data_dir()/calibration.json) corrects the estimate
    with earlier loads on the same GPU; ``calibration=None`` gives pure math. The model's facts
    come from ``workbench.estimate.resolve``: its files, else [model.facts], else (``hub``) the
    Hub's metadata.
    """
    from workbench.estimate.resolve import resolve_facts

    if calibration is _USER_CALIBRATION:
        from workbench.estimate.calibration import CalibrationStore

        calibration = CalibrationStore()
    resolved = resolve_facts(loaded, hub=hub)
    settings = replace(EstimateSettings.from_profile(loaded.profile), **setting_overrides)
    device = gpu or cpu_device()
    settings, note = settings_for_device(settings, device, profile_env=loaded.profile.env)
    result = estimate(resolved.facts, device, settings, calibration=calibration)
    notes = [EstimateWarning("model_facts", text) for text in resolved.notes]
    if note:
        notes.append(note)
    return replace(
        result, warnings=(*result.warnings, *notes), facts_from=resolved.origin
    )


def settings_for_device(
    settings: EstimateSettings,
    device: GpuSpec,
    *,
    profile_env: Mapping[str, str],
    environ: Mapping[str, str] | None = None,
) -> tuple[EstimateSettings, EstimateWarning | None]:
    """On the CPU engine: the KV budget workbench's engine will pass to vLLM
    (``workbench.estimate.cpu_kv``), plus a warning when the environment replaces an explicit
    ``kv_cache_memory_bytes``. Elsewhere: ``settings`` unchanged."""
    if device.device != "cpu":
        return settings, None
    budget = cpu_kv_budget(
        settings.kv_cache_memory_bytes,
        profile_env=profile_env,
        environ=os.environ if environ is None else environ,
        available_bytes=device.free_bytes,
    )
    note = None
    if budget.source == "env" and settings.kv_cache_memory_bytes not in (None, budget.bytes):
        note = EstimateWarning(
            "kv_budget_from_env",
            f"{budget.explanation} replaces kv_cache_memory_bytes (vLLM's rule)",
        )
    return replace(settings, kv_cache_memory_bytes=budget.bytes), note
