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
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO / "tests" / "data" / "models"
sys.path.insert(0, str(REPO))  # the vLLM-side reference lives with the tests

from tests.vllm_reference import vllm_kv_figures  # noqa: E402

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
    """vLLM's path (the same reference the tests use): engine config, per-layer KVCacheSpec,
    get_kv_cache_configs, capacity; returns (num_blocks, kv_tokens)."""
    figures = vllm_kv_figures(model_dir, max_model_len, 2 * GiB, with_derived_max=False)
    return figures.num_blocks, figures.kv_tokens


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
