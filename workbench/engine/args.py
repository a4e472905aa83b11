"""Profile → vLLM engine arguments, in one place.

``engine_kwargs_from_profile`` is pure (a plain dict, testable without vLLM);
``engine_args_from_profile`` builds vLLM's ``AsyncEngineArgs`` from it and checks ``[engine.extra]``
names against vLLM's own fields.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.engine.api import EngineError
from workbench.estimate.cpu_kv import cpu_kv_budget
from workbench.estimate.errors import EstimateError

if TYPE_CHECKING:
    from vllm.engine.arg_utils import AsyncEngineArgs

    from workbench.profiles.schema import Profile

# Compact JSON for structured output (an engine-level setting in vLLM; the per-request flag is
# ignored; it needs an explicit xgrammar/guidance backend): with free whitespace, small models
# loop on spaces/newlines until max_tokens.
# A profile can override it in [engine.extra.structured_outputs_config].
STRUCTURED_OUTPUT_DEFAULTS: dict[str, Any] = {"backend": "xgrammar", "disable_any_whitespace": True}


@dataclass
class EngineKwargs:
    """Keyword arguments for ``AsyncEngineArgs`` plus notes on what was decided for the user."""

    kwargs: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def _resolve_relative(value: str, base_dir: Path) -> str:
    candidate = Path(value).expanduser()
    if not candidate.is_absolute() and (base_dir / candidate).exists():
        return str((base_dir / candidate).resolve())
    return str(candidate) if candidate.exists() else value


def engine_kwargs_from_profile(
    profile: Profile,
    model_dir: Path,
    *,
    base_dir: Path,
    on_cpu: bool,
    environ: Mapping[str, str] | None = None,
    free_memory_bytes: int | None = None,
) -> EngineKwargs:
    """Map a profile's [model] and [engine] to AsyncEngineArgs keyword arguments."""
    env = os.environ if environ is None else environ
    model, engine = profile.model, profile.engine
    kwargs: dict[str, Any] = {
        "model": str(model_dir),
        "dtype": model.dtype,
        "trust_remote_code": model.trust_remote_code,
        "gpu_memory_utilization": engine.gpu_memory_utilization,
        "kv_cache_dtype": engine.kv_cache_dtype,
        "tensor_parallel_size": engine.tensor_parallel_size,
        "pipeline_parallel_size": engine.pipeline_parallel_size,
        "enforce_eager": engine.enforce_eager,
        # Per-step stats lines would flood the captured log; the UI shows its own numbers.
        "disable_log_stats": True,
    }
    optional = {
        "quantization": model.quantization,
        "max_model_len": engine.max_model_len,
        "kv_cache_memory_bytes": engine.kv_cache_memory_bytes,
        "max_num_seqs": engine.max_num_seqs,
        "max_num_batched_tokens": engine.max_num_batched_tokens,
        "block_size": engine.block_size,
        "reasoning_parser": engine.reasoning_parser,
        "seed": engine.seed,
    }
    kwargs.update({key: value for key, value in optional.items() if value is not None})
    if model.tokenizer:
        kwargs["tokenizer"] = _resolve_relative(model.tokenizer, base_dir)
    notes: list[str] = []
    if on_cpu:
        if not engine.enforce_eager:
            kwargs["enforce_eager"] = True
            notes.append("CPU engine: enforce_eager = true (no graph capture on CPU)")
        try:
            budget = cpu_kv_budget(
                engine.kv_cache_memory_bytes,
                profile_env=profile.env,
                environ=env,
                available_bytes=free_memory_bytes,
            )
        except EstimateError as exc:
            raise EngineError("invalid_config", str(exc)) from None
        if budget.source == "default":
            kwargs["kv_cache_memory_bytes"] = budget.bytes
            notes.append(f"CPU engine: KV cache budget {budget.explanation}")
        elif budget.source == "env" and engine.kv_cache_memory_bytes is not None:
            notes.append(
                f"CPU engine: {budget.explanation} replaces engine.kv_cache_memory_bytes "
                "(vLLM's rule)"
            )
    for key, value in engine.extra.items():
        if key == "structured_outputs_config" and isinstance(value, dict):
            kwargs[key] = {**STRUCTURED_OUTPUT_DEFAULTS, **value}
            continue
        if key in kwargs and key != "disable_log_stats":
            notes.append(f"[engine.extra] {key} = {value!r} overrides the profile's value")
        kwargs[key] = value
    kwargs.setdefault("structured_outputs_config", dict(STRUCTURED_OUTPUT_DEFAULTS))
    return EngineKwargs(kwargs, notes)


def engine_args_from_profile(
    profile: Profile,
    model_dir: Path,
    *,
    base_dir: Path,
    on_cpu: bool,
    environ: Mapping[str, str] | None = None,
    free_memory_bytes: int | None = None,
) -> tuple[AsyncEngineArgs, list[str]]:
    """Build vLLM's ``AsyncEngineArgs`` for a profile; unknown [engine.extra] keys are refused."""
    import dataclasses

    from vllm.engine.arg_utils import AsyncEngineArgs

    mapped = engine_kwargs_from_profile(
        profile,
        model_dir,
        base_dir=base_dir,
        on_cpu=on_cpu,
        environ=environ,
        free_memory_bytes=free_memory_bytes,
    )
    known = {f.name for f in dataclasses.fields(AsyncEngineArgs)}
    for key in profile.engine.extra:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise EngineError(
                "invalid_config",
                f"[engine.extra] {key}: not a vLLM engine argument{hint}",
            )
    kwargs = dict(mapped.kwargs)
    if isinstance(kwargs.get("structured_outputs_config"), dict):
        from vllm.config import StructuredOutputsConfig

        try:
            kwargs["structured_outputs_config"] = StructuredOutputsConfig(
                **kwargs["structured_outputs_config"]
            )
        except (TypeError, ValueError) as exc:
            raise EngineError(
                "invalid_config",
                f"[engine.extra.structured_outputs_config]: {str(exc).splitlines()[0]}",
            ) from None
    return AsyncEngineArgs(**kwargs), mapped.notes
