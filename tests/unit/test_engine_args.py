"""Profile → vLLM engine arguments: the mapping, CPU defaults, [engine.extra] checked by vLLM."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.engine.api import EngineError
from workbench.engine.args import (
    engine_args_from_profile,
    engine_kwargs_from_profile,
)
from workbench.estimate.cpu_kv import CPU_DEFAULT_KV_BYTES
from workbench.profiles.schema import Profile


def _profile(**engine: object) -> Profile:
    return Profile.model_validate(
        {
            "model": {"path": "m", "dtype": "bfloat16"},
            "engine": {"max_model_len": 4096, "reasoning_parser": "deepseek_r1", **engine},
        }
    )


def test_profile_fields_map_onto_engine_args_on_gpu() -> None:
    mapped = engine_kwargs_from_profile(
        _profile(gpu_memory_utilization=0.8, max_num_seqs=8),
        Path("/models/m"),
        base_dir=Path("/profiles"),
        on_cpu=False,
        environ={},
    )
    kwargs = mapped.kwargs
    assert kwargs["model"] == "/models/m" and kwargs["dtype"] == "bfloat16"
    assert kwargs["max_model_len"] == 4096 and kwargs["gpu_memory_utilization"] == 0.8
    assert kwargs["max_num_seqs"] == 8 and kwargs["reasoning_parser"] == "deepseek_r1"
    assert kwargs["enforce_eager"] is False and "kv_cache_memory_bytes" not in kwargs
    assert "block_size" not in kwargs  # unset: vLLM's default for the device
    assert mapped.notes == []


def test_cpu_gets_eager_and_a_kv_budget_and_says_so() -> None:
    mapped = engine_kwargs_from_profile(
        _profile(), Path("/m"), base_dir=Path("."), on_cpu=True, environ={}
    )
    assert mapped.kwargs["enforce_eager"] is True
    assert mapped.kwargs["kv_cache_memory_bytes"] == CPU_DEFAULT_KV_BYTES
    assert len(mapped.notes) == 2 and "KV cache budget" in mapped.notes[1]


def test_cpu_budget_is_capped_by_free_memory_and_left_alone_when_the_env_sets_it() -> None:
    capped = engine_kwargs_from_profile(
        _profile(),
        Path("/m"),
        base_dir=Path("."),
        on_cpu=True,
        environ={},
        free_memory_bytes=2 * 1024**3,
    )
    assert capped.kwargs["kv_cache_memory_bytes"] == 512 * 1024**2
    from_env = engine_kwargs_from_profile(
        _profile(),
        Path("/m"),
        base_dir=Path("."),
        on_cpu=True,
        environ={"VLLM_CPU_KVCACHE_SPACE": "4"},
    )
    assert "kv_cache_memory_bytes" not in from_env.kwargs


def test_extra_passes_through_and_is_noted_when_it_overrides() -> None:
    mapped = engine_kwargs_from_profile(
        _profile(extra={"enable_prefix_caching": True, "max_model_len": 2048}),
        Path("/m"),
        base_dir=Path("."),
        on_cpu=False,
        environ={},
    )
    assert mapped.kwargs["enable_prefix_caching"] is True
    assert mapped.kwargs["max_model_len"] == 2048
    assert any("max_model_len" in note for note in mapped.notes)


def test_real_async_engine_args_are_built(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "qwen2"}')
    args, _ = engine_args_from_profile(
        _profile(extra={"enable_prefix_caching": False}),
        tmp_path,
        base_dir=Path("."),
        on_cpu=True,
        environ={},
    )
    assert type(args).__name__ == "AsyncEngineArgs"
    assert args.model == str(tmp_path) and args.enforce_eager is True
    assert args.enable_prefix_caching is False
    assert args.structured_outputs_config.disable_any_whitespace is True


def test_unknown_extra_key_is_refused_with_a_did_you_mean() -> None:
    with pytest.raises(EngineError) as caught:
        engine_args_from_profile(
            _profile(extra={"enable_prefix_cachng": True}),
            Path("/m"),
            base_dir=Path("."),
            on_cpu=False,
            environ={},
        )
    assert caught.value.kind == "invalid_config"
    assert "enable_prefix_cachng" in caught.value.message
    assert "enable_prefix_caching" in caught.value.message
