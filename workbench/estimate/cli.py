"""`workbench estimate`: will this profile or model directory load, and how much context fits?

Imports nothing heavy at import time (the CLI builds its parser at --help time).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.estimate.facts import ModelFacts
    from workbench.estimate.gpus import GpuSpec
    from workbench.estimate.model import Estimate, EstimateSettings
    from workbench.estimate.resolve import ResolvedFacts


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``estimate`` command."""
    from workbench.profiles.schema import KV_CACHE_DTYPES
    parser = subparsers.add_parser(
        "estimate",
        help="predict KV cache, max concurrency and fit before loading",
        description=(
            "Predict, before loading, how vLLM will split GPU memory for a profile or model "
            "directory: weights, overhead, KV cache tokens, max concurrency, and the largest "
            "max_model_len that fits. Without --gpu/--gpu-mem the first NVML GPU is used, "
            "else the CPU engine's semantics."
        ),
    )
    parser.add_argument(
        "target",
        metavar="PROFILE|MODEL_DIR|ORG/NAME",
        help="profile name or .toml path, a model directory with config.json, or a Hub id "
        "(its config.json and safetensors headers are read, never its weights)",
    )
    device = parser.add_mutually_exclusive_group()
    device.add_argument(
        "--gpu",
        metavar="NAME",
        help='a GPU from the built-in table: "3090", "RTX 4090", "A100 80GB", "T4", "H100" ...',
    )
    device.add_argument("--gpu-mem", metavar="SIZE", help="memory per GPU: 24GiB, 24GB, 80G")
    device.add_argument("--cpu", action="store_true", help="use the CPU engine's semantics")
    parser.add_argument("--tp", type=int, metavar="N", help="tensor_parallel_size")
    parser.add_argument("--pp", type=int, metavar="N", help="pipeline_parallel_size")
    parser.add_argument("--max-model-len", type=int, metavar="N", help="max_model_len (tokens)")
    parser.add_argument("--util", type=float, metavar="F", help="gpu_memory_utilization (0, 1]")
    parser.add_argument(
        "--kv-cache-dtype", metavar="DTYPE", help=", ".join(KV_CACHE_DTYPES)
    )
    parser.add_argument(
        "--kv-cache-memory",
        metavar="SIZE",
        help="fixed KV budget per GPU (CPU engine: like VLLM_CPU_KVCACHE_SPACE)",
    )
    parser.add_argument("--max-num-batched-tokens", type=int, metavar="N")
    parser.add_argument("--max-num-seqs", type=int, metavar="N")
    parser.add_argument("--block-size", type=int, metavar="N")
    parser.add_argument(
        "--enforce-eager",
        action="store_true",
        default=None,
        help="no CUDA graphs (no graph memory)",
    )
    parser.add_argument(
        "-n", type=int, metavar="N", dest="n", help="samples per request that must fit at once"
    )
    parser.add_argument(
        "--for",
        dest="runtime",
        choices=("embedded", "serve"),
        default=None,
        help="whose defaults to model: workbench's embedded engine (AsyncLLM, 2048 batched "
        "tokens; the default) or `vllm serve` (up to 16384 on big GPUs, so a larger activation "
        "peak; the default for a profile with [deployment])",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="never ask the Hub for a model's metadata (as HF_HUB_OFFLINE=1)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)

    from workbench.estimate.facts_cli import register_under_profiles

    register_under_profiles(subparsers)


def _fail(message: str) -> Exception:
    from workbench.cli import CliError

    return CliError(message, code=2)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    from workbench.estimate.sizes import parse_size

    overrides: dict[str, Any] = {}
    for arg, field in (
        ("tp", "tensor_parallel_size"),
        ("pp", "pipeline_parallel_size"),
        ("max_model_len", "max_model_len"),
        ("util", "gpu_memory_utilization"),
        ("kv_cache_dtype", "kv_cache_dtype"),
        ("max_num_batched_tokens", "max_num_batched_tokens"),
        ("max_num_seqs", "max_num_seqs"),
        ("block_size", "block_size"),
        ("enforce_eager", "enforce_eager"),
        ("n", "n"),
    ):
        value = getattr(args, arg)
        if value is not None:
            overrides[field] = value
    if args.kv_cache_memory is not None:
        overrides["kv_cache_memory_bytes"] = parse_size(args.kv_cache_memory)
    return overrides


def _device(args: argparse.Namespace) -> tuple[GpuSpec, str]:
    """The device (count 1 unless NVML counted) and words saying where it came from."""
    from workbench.estimate.gpus import GpuSpec, lookup_gpu
    from workbench.estimate.model import cpu_device
    from workbench.estimate.sizes import parse_size

    if args.cpu:
        return cpu_device(), "CPU engine (--cpu)"
    if args.gpu:
        found = lookup_gpu(args.gpu)
        if found is None:
            from workbench.estimate.gpus import known_gpus

            names = ", ".join(g.name for g in known_gpus())
            raise _fail(f"--gpu {args.gpu!r}: unknown GPU; known: {names}; or use --gpu-mem 24GiB")
        return found, f"{found.name} (built-in table)"
    if args.gpu_mem:
        total = parse_size(args.gpu_mem)
        return GpuSpec(f"GPU with {args.gpu_mem}", total), f"{args.gpu_mem} per GPU"
    from workbench.gpu import NvmlSampler

    sampler = NvmlSampler()
    try:
        sample = sampler.sample()
    finally:
        sampler.close()
    if sample.gpus:
        first = sample.gpus[0]
        spec = GpuSpec(
            first.name, first.total_bytes, free_bytes=first.free_bytes, count=len(sample.gpus)
        )
        return spec, f"{first.name} (NVML, GPU 0 of {len(sample.gpus)}, free memory checked)"
    reason = sample.unavailable_reason or "no GPU"
    return cpu_device(), f"CPU engine ({reason}; pass --gpu NAME or --gpu-mem SIZE for a GPU)"


def _load(
    target: str, gpu_name: str | None, *, offline: bool | None
) -> tuple[ResolvedFacts, EstimateSettings, str, dict[str, str]]:
    """Model facts, settings, a description and the profile's [env], from a model directory,
    a profile (with the [gpu_overrides] for ``gpu_name`` applied) or a Hub id ``ORG/NAME``."""
    from workbench.estimate.facts import read_model_facts
    from workbench.estimate.model import EstimateSettings
    from workbench.estimate.resolve import ResolvedFacts, resolve_facts

    path = Path(target).expanduser()
    if path.is_dir():
        return ResolvedFacts(read_model_facts(path), "model"), EstimateSettings(), str(path), {}
    from workbench.profiles import ProfileError, load_profile

    if _looks_like_repo_id(target) and not path.exists():
        return _load_repo_id(target, offline=offline), EstimateSettings(), target, {}
    try:
        loaded = load_profile(target, gpu_name=gpu_name)
    except ProfileError as exc:
        raise _fail(str(exc)) from None
    settings = EstimateSettings.from_profile(loaded.profile)
    source = f"profile {loaded.name}"
    if loaded.applied_gpu_override:
        source += f' (with [gpu_overrides."{loaded.applied_gpu_override}"])'
    resolved = resolve_facts(loaded, hub=True, offline=offline)
    return resolved, settings, source, dict(loaded.profile.env)


def _looks_like_repo_id(target: str) -> bool:
    """``ORG/NAME`` as the Hub spells ids (not a path to a .toml file)."""
    import re

    return bool(re.fullmatch(r"[\w.-]+/[\w.-]+", target)) and not target.endswith(".toml")


def _load_repo_id(repo_id: str, *, offline: bool | None) -> ResolvedFacts:
    """A Hub id: the local copy when there is one ($WORKBENCH_MODEL_DIR, HF cache), else the
    Hub's metadata files."""
    from workbench.estimate.facts import read_model_facts
    from workbench.estimate.hub import fetch_hub_facts
    from workbench.estimate.resolve import ResolvedFacts
    from workbench.profiles import ModelSection, ProfileError, resolve_model_dir

    try:
        local = resolve_model_dir(ModelSection(id=repo_id), Path.cwd())
    except ProfileError:
        local = None
    if local is not None:
        return ResolvedFacts(read_model_facts(local), "model")
    found = fetch_hub_facts(repo_id, offline=offline)
    return ResolvedFacts(found.facts, "hub", notes=found.notes, commit=found.commit)


def _deployment_gpu(args: argparse.Namespace) -> None:
    """A profile whose [deployment] names its servers' GPU is estimated on it, unless a device
    flag says otherwise."""
    if args.cpu or args.gpu or args.gpu_mem:
        return
    from workbench.profiles import ProfileError, load_profile

    try:
        deployment = load_profile(args.target).profile.deployment
    except (ProfileError, OSError):
        return  # not a profile (a model directory, a Hub id): _load says what it is
    if deployment is not None and deployment.gpu is not None:
        args.gpu = deployment.gpu


def _gib(value: int) -> str:
    return f"{value / 1024**3:8.2f} GiB"


def render_table(
    result: Estimate,
    facts: ModelFacts,
    settings: EstimateSettings,
    source: str,
    device: str,
    lowest_utilization: float | None = None,
    facts_words: str | None = None,
) -> str:
    """The human-readable report."""
    from workbench.estimate.model import RUNTIME_WORDS

    weights_note = "" if result.weights_exact else "  (estimated from config: no weight files)"
    rows = [
        f"model      {source}  [{facts.architecture}, {facts.quantization or 'unquantized'}]",
        *([f"facts      from {facts_words}"] if facts_words else []),
        f"device     {device}",
        f"runtime    {RUNTIME_WORDS[result.runtime]}",
        f"settings   max_model_len={result.max_model_len}  "
        f"gpu_memory_utilization={settings.gpu_memory_utilization}  "
        f"tp={settings.tensor_parallel_size}  pp={settings.pipeline_parallel_size}  "
        f"kv_cache_dtype={settings.kv_cache_dtype}  n={settings.n}",
        "",
        f"  total memory              {_gib(result.total_bytes)}",
        f"  budget (total x util)     {_gib(result.budget_bytes)}",
        f"  weights (per GPU)         {_gib(result.weights_bytes)}{weights_note}",
        f"  non-torch overhead        {_gib(result.non_torch_bytes)}",
        f"  activation peak           {_gib(result.activation_bytes)}",
        f"  CUDA graphs               {_gib(result.cuda_graph_bytes)}",
        f"  KV cache available        {_gib(result.available_kv_bytes)}",
        f"  KV bytes per token        {result.kv_bytes_per_token:>8,} B",
        f"  KV blocks                 {result.num_blocks:>8,} x {result.block_size} tokens",
        f"  KV cache tokens           {result.kv_tokens:>8,}",
        f"  max concurrency           {result.max_concurrency:8.2f} x {result.max_model_len:,}"
        " tokens",
        f"  largest max_model_len     {result.largest_fitting_max_model_len or 0:>8,}"
        f"   (model maximum {facts.derived_max_model_len:,})",
        "",
        f"verdict    {result.verdict.replace('_', ' ').upper()}: {result.reason}",
    ]
    if lowest_utilization is not None:
        rows.insert(
            -2,
            f"  smallest util for this    {lowest_utilization:8.2f}"
            "   (gpu_memory_utilization that still fits n requests)",
        )
    if result.calibrated_from_loads:
        rows.append(f"calibrated from {result.calibrated_from_loads} earlier load(s) on this GPU")
    rows.extend(f"warning    {w}" for w in result.warnings)
    return "\n".join(rows)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``workbench estimate``."""
    from workbench.estimate.calibration import CalibrationStore
    from workbench.estimate.errors import EstimateError
    from workbench.estimate.model import EstimateWarning, estimate, settings_for_device
    from workbench.estimate.solver import smallest_utilization

    _deployment_gpu(args)
    try:
        gpu, device = _device(args)
        resolved, settings, source, profile_env = _load(
            args.target, gpu.name if gpu.device == "cuda" else None, offline=args.offline or None
        )
        facts = resolved.facts
        settings = replace(settings, **_overrides(args))
        if args.runtime is not None:
            settings = replace(settings, runtime=args.runtime)
        settings, note = settings_for_device(settings, gpu, profile_env=profile_env)
        if gpu.device == "cuda" and (args.gpu or args.gpu_mem):
            # a named GPU stands for as many identical GPUs as tp × pp needs
            count = settings.tensor_parallel_size * settings.pipeline_parallel_size
            gpu = replace(gpu, count=count)
            device += f", {count} of them" if count > 1 else ""
        store = CalibrationStore()
        result = estimate(facts, gpu, settings, calibration=store)
        notes = [EstimateWarning("model_facts", text) for text in resolved.notes]
        if note is not None:
            notes.append(note)
        result = replace(
            result, warnings=(*result.warnings, *notes), facts_from=resolved.origin
        )
        lowest = None
        if gpu.device == "cuda" and settings.kv_cache_memory_bytes is None:
            lowest = smallest_utilization(facts, gpu, settings, calibration=store)
    except EstimateError as exc:
        raise _fail(str(exc)) from None
    if args.json:
        payload = {
            "model": source,
            "facts_source": resolved.described,
            "facts_commit": resolved.commit,
            "device_source": device,
            "architecture": facts.architecture,
            "quantization": facts.quantization,
            "settings": vars_of(settings),
            "derived_max_model_len": facts.derived_max_model_len,
            **result.as_dict(),
            "smallest_utilization": lowest,
        }
        json.dump(payload, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(render_table(result, facts, settings, source, device, lowest, resolved.described))
    return 0


def vars_of(settings: EstimateSettings) -> dict[str, Any]:
    """Settings as a plain dict."""
    from dataclasses import asdict

    return asdict(settings)
