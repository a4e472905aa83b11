"""The estimator's KV math equals vLLM's own, computed by the installed vllm package.

For every reference config, vLLM builds its VllmConfig (EngineArgs.create_engine_config, CPU
platform, no weights), its real ``Attention`` layers produce their ``KVCacheSpec`` objects, and
vLLM's ``get_kv_cache_configs`` / ``get_kv_cache_capacity`` turn a KV budget into blocks, tokens
and concurrency. Our pure estimate must give the same numbers. MLA layers (DeepSeek) cannot be
built without the model's projections, so their spec is vLLM's ``MLAAttentionSpec`` class fed
vLLM's own head size, and the hand derivation is written out in ``test_mla_hand_derivation``.

Every case runs for both kinds of CPU (x86 with AMX tiles, x86 without): vLLM's CPU platform
decides the block size by that probe (MLA: 16 without AMX), so both sides are given the same
injected probe and a green run here means green on either machine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.vllm_reference import CPU_KINDS, VllmFigures, vllm_kv_figures
from workbench.estimate import (
    EstimateError,
    EstimateSettings,
    cpu_device,
    estimate,
    read_model_facts,
)
from workbench.estimate.kv import kv_heads_per_gpu, page_bytes_per_token

vllm = pytest.importorskip("vllm", reason="vllm is not installed")

MODELS_DIR = Path(__file__).resolve().parent.parent / "data" / "models"
MODEL_NAMES = sorted(p.name for p in MODELS_DIR.iterdir() if (p / "config.json").is_file())
GiB = 1024**3


def _vllm_figures(model: str, cpu_kind: str, *args: Any) -> VllmFigures:
    return vllm_kv_figures(MODELS_DIR / model, *args, cpu=CPU_KINDS[cpu_kind])


def _cpu(cpu_kind: str) -> Any:
    return cpu_device(64 * GiB, cpu=CPU_KINDS[cpu_kind])


CASES: list[tuple[int, int, str, int | None]] = [
    # (max_model_len, KV budget bytes, kv_cache_dtype, block_size)
    (4096, 2 * GiB, "auto", None),
    (8192, 1 * GiB, "auto", 16),
    (2048, 3 * GiB // 7, "auto", None),  # odd budget: floor division of blocks matters
    (8192, GiB // 8, "auto", None),  # too small for some models: the startup check must agree
]


@pytest.fixture(scope="module")
def vllm_cache() -> Iterator[dict[tuple[Any, ...], VllmFigures]]:
    """vLLM's figures, computed once per (model, case) for the whole module."""
    yield {}


def _figures(
    cache: dict[tuple[Any, ...], VllmFigures],
    model: str,
    cpu_kind: str,
    case: tuple[int, int, str, int | None],
) -> VllmFigures:
    key = (model, cpu_kind, *case)
    if key not in cache:
        cache[key] = _vllm_figures(model, cpu_kind, *case)
    return cache[key]


@pytest.mark.parametrize("cpu_kind", sorted(CPU_KINDS))
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"len{c[0]}-kv{c[1]}-{c[2]}-bs{c[3]}")
@pytest.mark.parametrize("model", MODEL_NAMES)
def test_blocks_tokens_and_concurrency_equal_vllm(
    model: str,
    case: tuple[int, int, str, int | None],
    cpu_kind: str,
    vllm_cache: dict[tuple[Any, ...], VllmFigures],
) -> None:
    max_model_len, kv_bytes, kv_dtype, block_size = case
    facts = read_model_facts(MODELS_DIR / model)
    max_model_len = min(max_model_len, facts.derived_max_model_len)
    theirs = _figures(vllm_cache, model, cpu_kind, (max_model_len, kv_bytes, kv_dtype, block_size))
    settings = EstimateSettings(
        max_model_len=max_model_len,
        kv_cache_memory_bytes=kv_bytes,
        kv_cache_dtype=kv_dtype,
        block_size=block_size,
    )
    ours = estimate(facts, _cpu(cpu_kind), settings)

    assert facts.derived_max_model_len == theirs.derived_max_model_len
    assert facts.num_attention_layers == theirs.num_layers
    per_token = page_bytes_per_token(facts, 1, kv_dtype)
    assert {per_token * size for size in theirs.block_sizes} == theirs.page_size_bytes
    assert ours.kv_bytes_per_token == per_token * theirs.num_layers
    assert ours.block_size == theirs.group_block_size
    assert (ours.verdict != "does_not_fit") == theirs.fits
    # vLLM searches lengths up to the configured max_model_len; we search up to the model's
    assert min(ours.largest_fitting_max_model_len or 0, max_model_len) == theirs.estimated_max_len
    if theirs.fits:
        assert ours.num_blocks == theirs.num_blocks
        assert ours.kv_tokens == theirs.kv_tokens
        assert ours.max_concurrency == pytest.approx(theirs.max_concurrency, rel=1e-12)


PARALLEL = [(2, 1), (4, 1), (1, 2), (2, 2)]


@pytest.mark.parametrize("cpu_kind", sorted(CPU_KINDS))
@pytest.mark.parametrize(("tp", "pp"), PARALLEL, ids=lambda v: str(v))
@pytest.mark.parametrize("model", MODEL_NAMES)
def test_tensor_and_pipeline_parallel_equal_vllm(
    model: str, tp: int, pp: int, cpu_kind: str, vllm_cache: dict[tuple[Any, ...], VllmFigures]
) -> None:
    """Per-GPU KV under tp × pp: replicated KV heads, MLA unsplit, the most loaded stage,
    pp concurrent batches in flight; where vLLM refuses the split, so do we."""
    facts = read_model_facts(MODELS_DIR / model)
    max_model_len = min(4096, facts.derived_max_model_len)
    settings = EstimateSettings(
        max_model_len=max_model_len,
        kv_cache_memory_bytes=GiB // 2,
        tensor_parallel_size=tp,
        pipeline_parallel_size=pp,
    )
    key = (model, cpu_kind, max_model_len, GiB // 2, "auto", None, tp, pp)
    try:
        if key not in vllm_cache:
            vllm_cache[key] = _vllm_figures(
                model, cpu_kind, max_model_len, GiB // 2, "auto", None, tp, pp
            )
    except Exception as exc:  # vLLM's config validation refused this split
        assert "divisible" in str(exc), exc
        with pytest.raises(EstimateError, match="divisible"):
            estimate(facts, _cpu(cpu_kind), settings)
        return
    theirs = vllm_cache[key]
    ours = estimate(facts, _cpu(cpu_kind), settings)
    assert ours.kv_bytes_per_token == page_bytes_per_token(facts, tp) * theirs.num_layers
    assert (ours.verdict != "does_not_fit") == theirs.fits
    assert min(ours.largest_fitting_max_model_len or 0, max_model_len) == theirs.estimated_max_len
    if theirs.fits:
        assert (ours.num_blocks, ours.kv_tokens) == (theirs.num_blocks, theirs.kv_tokens)
        assert ours.max_concurrency == pytest.approx(theirs.max_concurrency, rel=1e-12)


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_fp8_kv_halves_the_page_as_in_vllm(model: str) -> None:
    """kv_cache_dtype="fp8": vLLM's spec dtype is 1 byte; our page must match its class."""
    import torch
    from vllm.v1.kv_cache_interface import FullAttentionSpec, MLAAttentionSpec

    facts = read_model_facts(MODELS_DIR / model)
    cls = MLAAttentionSpec if facts.attention == "mla" else FullAttentionSpec
    spec = cls(
        block_size=16,
        num_kv_heads=kv_heads_per_gpu(facts, 1),
        head_size=facts.head_dim,
        dtype=torch.float8_e4m3fn,
    )
    assert page_bytes_per_token(facts, 1, "fp8") * 16 == spec.page_size_bytes


@pytest.mark.parametrize("tp", [1, 2, 4, 8, 16])
@pytest.mark.parametrize("model", MODEL_NAMES)
def test_kv_heads_per_gpu_equal_vllm_under_tensor_parallel(model: str, tp: int) -> None:
    """Replication when kv_heads < tp: vLLM's ModelConfig.get_num_kv_heads(parallel_config)."""
    from vllm.config import ModelConfig, ParallelConfig

    facts = read_model_facts(MODELS_DIR / model)
    if facts.attention == "full" and facts.num_kv_heads >= tp and facts.num_kv_heads % tp:
        # vLLM refuses this split at startup (heads not divisible); so must we.
        with pytest.raises(EstimateError, match="does not divide"):
            kv_heads_per_gpu(facts, tp)
        return
    model_config = ModelConfig(model=str(MODELS_DIR / model), skip_tokenizer_init=True)
    parallel = ParallelConfig.__new__(ParallelConfig)
    object.__setattr__(parallel, "tensor_parallel_size", tp)
    object.__setattr__(parallel, "pipeline_parallel_size", 1)
    assert kv_heads_per_gpu(facts, tp) == model_config.get_num_kv_heads(parallel)


def test_mla_hand_derivation() -> None:
    """DeepSeek-V2-Lite: MLA caches one latent of kv_lora_rank + qk_rope_head_dim per layer and
    token, on every TP rank: (512 + 64) × 2 bytes (bf16) = 1152 B; × 27 layers = 31104 B."""
    facts = read_model_facts(MODELS_DIR / "deepseek-ai__DeepSeek-V2-Lite")
    config = json.loads((MODELS_DIR / "deepseek-ai__DeepSeek-V2-Lite" / "config.json").read_text())
    assert (config["kv_lora_rank"], config["qk_rope_head_dim"]) == (512, 64)
    for tp in (1, 2, 8):
        assert page_bytes_per_token(facts, tp) == 1152
    assert page_bytes_per_token(facts, 1, "fp8") == 576
    from workbench.estimate import kv_bytes_per_token

    assert kv_bytes_per_token(facts, tensor_parallel_size=8) == 27 * 1152


BLOCK_RULE_MODELS = ["Qwen__Qwen3-0.6B", "deepseek-ai__DeepSeek-V2-Lite"]


@pytest.mark.parametrize("cpu_kind", sorted(CPU_KINDS))
@pytest.mark.parametrize("requested", [None, 16, 64])
@pytest.mark.parametrize("deepseek_v4", [False, True], ids=["as-is", "as-deepseek_v4"])
@pytest.mark.parametrize("model", BLOCK_RULE_MODELS)
def test_cpu_block_size_rule_equals_vllm_platform(
    model: str, deepseek_v4: bool, requested: int | None, cpu_kind: str
) -> None:
    """Our CPU block-size rule against vLLM's own ``CpuPlatform.check_and_update_config`` run on
    a real VllmConfig, for plain attention, MLA and DeepSeek-V4 (no DeepSeek-V4 config ships
    here, so the MLA config is relabelled ``model_type = "deepseek_v4"``, the only thing vLLM's
    rule reads), with and without AMX, with and without a requested block size."""
    from dataclasses import replace

    from vllm.engine.arg_utils import EngineArgs
    from vllm.platforms.cpu import CpuPlatform

    from tests.vllm_reference import vllm_sees_cpu
    from workbench.estimate.kv import cpu_block_size

    cpu = CPU_KINDS[cpu_kind]
    with vllm_sees_cpu(cpu):
        config = EngineArgs(
            model=str(MODELS_DIR / model),
            skip_tokenizer_init=True,
            enforce_eager=True,
            max_model_len=2048,
            load_format="dummy",
            block_size=requested,
        ).create_engine_config()
        if deepseek_v4:
            setattr(config.model_config.hf_config, "model_type", "deepseek_v4")  # noqa: B010
            config.cache_config.block_size = requested or 1  # 1: as if unset (not user-given)
            object.__setattr__(
                config.cache_config, "user_specified_block_size", requested is not None
            )
            CpuPlatform.check_and_update_config(config)
        theirs = config.cache_config.block_size
    facts = read_model_facts(MODELS_DIR / model)
    if deepseek_v4:
        facts = replace(facts, model_type="deepseek_v4")
    assert cpu_block_size(facts, requested, cpu) == theirs


@pytest.mark.real_host
def test_host_cpu_probe_agrees_with_torch() -> None:
    """Our /proc/cpuinfo probe says what torch (which vLLM asks) says about this machine."""
    import platform

    import torch

    from workbench.gpu import read_cpu_features

    ours = read_cpu_features()
    assert ours.x86 == (platform.machine().lower() in ("x86_64", "amd64", "i386", "i686"))
    assert ours.amx_tiles == bool(torch.cpu._is_amx_tile_supported())
