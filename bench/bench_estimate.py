"""Time workbench's pure estimate() against vLLM's own computation of the same KV figures.

Usage: .venv/bin/python bench/bench_estimate.py [--repeat N]
Prints ms per estimate for each reference config (target: <= 50 ms), then the same figures
computed the vLLM way (VllmConfig from config.json, Attention layers' KVCacheSpec,
get_kv_cache_configs), and the ratio. Both paths start from the model directory on disk.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

MODELS = Path(__file__).resolve().parent.parent / "tests" / "data" / "models"
GiB = 1024**3


def ours(model_dir: Path) -> tuple[int, int]:
    """Read facts and estimate; returns (num_blocks, kv_tokens)."""
    from workbench.estimate import EstimateSettings, cpu_device, estimate, read_model_facts

    facts = read_model_facts(model_dir)
    length = min(4096, facts.derived_max_model_len)
    result = estimate(
        facts,
        cpu_device(64 * GiB),
        EstimateSettings(max_model_len=length, kv_cache_memory_bytes=2 * GiB),
    )
    return result.num_blocks, result.kv_tokens


def theirs(model_dir: Path, max_model_len: int) -> tuple[int, int]:
    """vLLM's path: engine config, per-layer KVCacheSpec, get_kv_cache_configs, capacity."""
    from vllm.config import set_current_vllm_config
    from vllm.distributed.kv_transfer.kv_connector.utils import get_current_attn_backends
    from vllm.engine.arg_utils import EngineArgs
    from vllm.model_executor.layers.attention.attention import Attention
    from vllm.utils.torch_utils import kv_cache_dtype_str_to_dtype
    from vllm.v1.attention.backends.utils import (
        get_supported_kv_cache_layouts,
        resolve_kv_cache_layout,
    )
    from vllm.v1.core import kv_cache_utils
    from vllm.v1.kv_cache_interface import KVCacheSpec, MLAAttentionSpec

    config = EngineArgs(
        model=str(model_dir),
        skip_tokenizer_init=True,
        enforce_eager=True,
        max_model_len=max_model_len,
        load_format="dummy",
    ).create_engine_config()
    model_config, parallel = config.model_config, config.parallel_config
    hf_text = model_config.hf_text_config
    specs: dict[str, KVCacheSpec] = {}
    with set_current_vllm_config(config):
        for index in range(model_config.get_num_layers(parallel)):
            name = f"model.layers.{index}.self_attn.attn"
            if model_config.use_mla:
                specs[name] = MLAAttentionSpec(
                    block_size=config.cache_config.block_size,
                    num_kv_heads=1,
                    head_size=model_config.get_head_size(),
                    dtype=kv_cache_dtype_str_to_dtype("auto", model_config),
                )
                continue
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
        resolve_kv_cache_layout(config, [[x.name for x in layouts]], list(specs.values()))
    configs = kv_cache_utils.get_kv_cache_configs(config, [specs], [2 * GiB])
    scheduler = kv_cache_utils.generate_scheduler_kv_cache_config(configs)
    tokens, _ = kv_cache_utils.get_kv_cache_capacity(config, scheduler)
    return configs[0].num_blocks, tokens


def timed(function: object, *args: object, repeat: int) -> tuple[float, object]:
    samples = []
    result: object = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function(*args)  # type: ignore[operator]
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    models = sorted(p for p in MODELS.iterdir() if (p / "config.json").is_file())

    start = time.perf_counter()
    import workbench.estimate  # noqa: F401

    ours_import = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    import vllm.engine.arg_utils  # noqa: F401
    import vllm.v1.core.kv_cache_utils  # noqa: F401

    theirs_import = (time.perf_counter() - start) * 1000
    ours(models[0])  # warm caches (GPU table, imports inside functions)
    theirs(models[0], 4096)

    print(f"import: workbench.estimate {ours_import:.1f} ms, vllm {theirs_import:.0f} ms")
    print(f"{'model':42} {'ours ms':>8} {'vllm ms':>8} {'ratio':>7}  same result")
    worst = 0.0
    ratios = []
    for model_dir in models:
        ours_ms, ours_result = timed(ours, model_dir, repeat=args.repeat)
        from workbench.estimate import read_model_facts

        length = min(4096, read_model_facts(model_dir).derived_max_model_len)
        theirs_ms, theirs_result = timed(theirs, model_dir, length, repeat=max(3, args.repeat // 5))
        worst = max(worst, ours_ms)
        ratios.append(theirs_ms / ours_ms)
        print(
            f"{model_dir.name:42} {ours_ms:8.2f} {theirs_ms:8.1f} {theirs_ms / ours_ms:6.0f}x"
            f"  {ours_result == theirs_result}"
        )
    print(
        f"worst ours: {worst:.2f} ms per estimate (target <= 50 ms); "
        f"median speed-up vs vLLM path: {statistics.median(ratios):.0f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
