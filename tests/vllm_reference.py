"""vLLM's own KV-cache figures for a model directory, computed by the installed vllm package.

The reference the estimator is tested against (tests/integration/test_estimate_vs_vllm.py) and
timed against (bench/bench_estimate.py): one implementation, so the two cannot drift apart.
Imports vllm inside the function only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from workbench.gpu.readings import CpuFeatures

AMX_X86 = CpuFeatures(x86=True, amx_tiles=True)
"""An Intel Xeon with AMX tiles (Sapphire Rapids and later)."""
PLAIN_X86 = CpuFeatures(x86=True, amx_tiles=False)
"""An AMD EPYC, or an Intel CPU without AMX."""
CPU_KINDS = {"amx": AMX_X86, "no-amx": PLAIN_X86}


@contextlib.contextmanager
def vllm_sees_cpu(cpu: CpuFeatures) -> Iterator[None]:
    """Make vLLM's CPU platform probe answer as ``cpu`` does, whatever this host is.

    vllm/platforms/cpu.py decides by ``cls.get_cpu_architecture()`` and
    ``torch.cpu._is_amx_tile_supported()``; both are replaced for the duration.
    """
    import torch
    from vllm.platforms import CpuArchEnum
    from vllm.platforms.cpu import CpuPlatform

    arch = CpuArchEnum.X86 if cpu.x86 else CpuArchEnum.ARM
    saved_probe = torch.cpu._is_amx_tile_supported
    saved_arch = CpuPlatform.__dict__.get("get_cpu_architecture")  # else inherited
    torch.cpu._is_amx_tile_supported = lambda: cpu.amx_tiles
    CpuPlatform.get_cpu_architecture = classmethod(lambda cls: arch)  # type: ignore[assignment,method-assign]
    try:
        yield
    finally:
        torch.cpu._is_amx_tile_supported = saved_probe
        if saved_arch is None:
            del CpuPlatform.get_cpu_architecture
        else:
            CpuPlatform.get_cpu_architecture = saved_arch  # type: ignore[method-assign]


@dataclass(frozen=True)
class VllmFigures:
    """What vLLM computed for one (model, settings) case."""

    page_size_bytes: set[int]
    block_sizes: set[int]
    group_block_size: int
    """min block size over KV cache groups: cache_config.block_size after vLLM's load."""
    num_layers: int
    num_blocks: int
    kv_tokens: int
    max_concurrency: float
    fits: bool
    estimated_max_len: int
    derived_max_model_len: int


def vllm_kv_figures(
    model_dir: Path,
    max_model_len: int,
    kv_bytes: int,
    kv_cache_dtype: str = "auto",
    block_size: int | None = None,
    tp: int = 1,
    pp: int = 1,
    *,
    with_derived_max: bool = True,
    cpu: CpuFeatures = PLAIN_X86,
) -> VllmFigures:
    """vLLM's own numbers: per-layer specs from real ``Attention`` layers, split into pipeline
    stages as vLLM does, then ``get_kv_cache_configs`` (which raises its startup error when one
    request does not fit; the estimated maximum length is read from that message). vLLM's
    platform sees ``cpu`` (not this host's CPU)."""
    with vllm_sees_cpu(cpu):
        return _vllm_kv_figures(
            model_dir, max_model_len, kv_bytes, kv_cache_dtype, block_size, tp, pp, with_derived_max
        )


def _vllm_kv_figures(
    model_dir: Path,
    max_model_len: int,
    kv_bytes: int,
    kv_cache_dtype: str,
    block_size: int | None,
    tp: int,
    pp: int,
    with_derived_max: bool,
) -> VllmFigures:
    import re

    from vllm.config import set_current_vllm_config
    from vllm.distributed.kv_transfer.kv_connector.utils import get_current_attn_backends
    from vllm.distributed.utils import get_pp_indices
    from vllm.engine.arg_utils import EngineArgs
    from vllm.model_executor.layers.attention.attention import Attention
    from vllm.utils.torch_utils import kv_cache_dtype_str_to_dtype
    from vllm.v1.attention.backends.utils import (
        get_supported_kv_cache_layouts,
        resolve_kv_cache_layout,
    )
    from vllm.v1.core import kv_cache_utils
    from vllm.v1.kv_cache_interface import KVCacheSpec, MLAAttentionSpec, get_kv_quant_mode

    args = EngineArgs(
        model=str(model_dir),
        skip_tokenizer_init=True,
        enforce_eager=True,
        max_model_len=max_model_len,
        load_format="dummy",
        kv_cache_dtype=cast(Any, kv_cache_dtype),
        block_size=block_size,
        tensor_parallel_size=tp,
        pipeline_parallel_size=pp,
    )
    config = args.create_engine_config()
    model_config, parallel = config.model_config, config.parallel_config
    derived = (
        EngineArgs(model=str(model_dir), skip_tokenizer_init=True, load_format="dummy")
        .create_engine_config()
        .model_config.max_model_len
        if with_derived_max
        else -1  # a second config build the caller does not need (the benchmark times this)
    )
    hf_text = model_config.hf_text_config
    total_layers = hf_text.num_hidden_layers
    specs: dict[str, KVCacheSpec] = {}
    with set_current_vllm_config(config):
        for index in range(total_layers):
            name = f"model.layers.{index}.self_attn.attn"
            if model_config.use_mla:
                cache_dtype = config.cache_config.cache_dtype
                specs[name] = MLAAttentionSpec(
                    block_size=config.cache_config.block_size,
                    num_kv_heads=1,
                    max_tp_shards=1,
                    head_size=model_config.get_head_size(),
                    dtype=kv_cache_dtype_str_to_dtype(cache_dtype, model_config),
                    cache_dtype_str=cache_dtype,
                    kv_quant_mode=get_kv_quant_mode(cache_dtype),
                )
                continue
            # Each model file's own rule for which layers slide (gpt_oss.py, gemma2.py, llama.py)
            window = None
            layer_types = getattr(hf_text, "layer_types", None)
            if model_config.hf_config.model_type == "gpt_oss":
                window = hf_text.sliding_window if index % 2 == 0 else None
            elif layer_types and layer_types[index] == "sliding_attention":
                window = hf_text.sliding_window
            layer = Attention(
                num_heads=model_config.get_num_attention_heads(parallel),
                head_size=model_config.get_head_size(),
                scale=1.0,
                num_kv_heads=model_config.get_num_kv_heads(parallel),
                cache_config=config.cache_config,
                per_layer_sliding_window=window,
                prefix=name,
            )
            spec = layer.get_kv_cache_spec(config)
            assert spec is not None
            specs[name] = spec
        layouts = get_supported_kv_cache_layouts(get_current_attn_backends(config))
        resolve_kv_cache_layout(config, [[layout.name for layout in layouts]], list(specs.values()))
    names = list(specs)
    stages = []
    for rank in range(pp):
        start, end = get_pp_indices(total_layers, rank, pp)
        stages.append({name: specs[name] for name in names[start:end]})
    groups = kv_cache_utils.get_kv_cache_groups(config, dict(specs))
    try:
        worker_configs = kv_cache_utils.get_kv_cache_configs(config, stages, [kv_bytes] * pp)
    except ValueError as exc:
        found = re.search(r"estimated maximum model length is (\d+)", str(exc))
        fits, estimated = False, int(found.group(1)) if found else 0
        tokens, concurrency, num_blocks = -1, -1.0, -1
    else:
        fits, estimated = True, config.model_config.max_model_len
        scheduler = kv_cache_utils.generate_scheduler_kv_cache_config(worker_configs)
        tokens, concurrency = kv_cache_utils.get_kv_cache_capacity(config, scheduler)
        num_blocks = worker_configs[0].num_blocks
    return VllmFigures(
        page_size_bytes={s.page_size_bytes for s in specs.values()},
        block_sizes={s.block_size for s in specs.values()},
        group_block_size=min(g.kv_cache_spec.block_size for g in groups),
        num_layers=max(len(stage) for stage in stages),
        num_blocks=num_blocks,
        kv_tokens=tokens,
        max_concurrency=concurrency,
        fits=fits,
        estimated_max_len=estimated,
        derived_max_model_len=derived,
    )
