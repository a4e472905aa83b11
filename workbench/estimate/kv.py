"""KV-cache bytes and blocks exactly as vLLM computes them (vllm/v1/kv_cache_interface.py and
vllm/v1/core/kv_cache_utils.py of vllm 0.32)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from workbench.estimate.errors import EstimateError
from workbench.estimate.facts import ModelFacts
from workbench.gpu.readings import CpuFeatures

GPU_DEFAULT_BLOCK_SIZE = 16  # vllm/config/cache.py, CUDA platform default
CPU_DEFAULT_BLOCK_SIZE = 128  # vllm/platforms/cpu.py
CPU_MLA_BLOCK_SIZE = 16  # the reference CPU MLA decode kernel compiles only for 16
DEEPSEEK_V4_CPU_BLOCK_SIZE = 256  # DeepSeek-V4's CPU sparse-MLA / indexer kernels

_KV_DTYPE_BYTES = {
    "bfloat16": 2,
    "float16": 2,
    "half": 2,
    "fp8": 1,
    "fp8_e4m3": 1,
    "fp8_e5m2": 1,
    "fp8_inc": 1,
    "int8_per_token_head": 1,
    "fp8_per_token_head": 1,
}


def resolve_kv_cache_dtype(facts: ModelFacts, kv_cache_dtype: str) -> str:
    """ "auto" → the checkpoint's KV dtype if it names one, else the model dtype (vLLM's rule)."""
    if kv_cache_dtype == "auto":
        return facts.checkpoint_kv_cache_dtype or facts.dtype
    return kv_cache_dtype


def cpu_block_size(facts: ModelFacts, requested: int | None, cpu: CpuFeatures) -> int:
    """The block size vLLM's CPU platform ends up with (platforms/cpu.py::check_and_update_config).

    MLA models (not DeepSeek-V4) run the reference CPU MLA kernel unless the CPU is x86 with AMX
    tiles, and that kernel forces 16 whatever was asked; DeepSeek-V4 forces 256; otherwise the
    user's block_size, or 128.
    """
    is_deepseek_v4 = facts.model_type == "deepseek_v4"
    amx_mla = cpu.x86 and cpu.amx_tiles
    if facts.attention == "mla" and not is_deepseek_v4 and not amx_mla:
        return CPU_MLA_BLOCK_SIZE
    if is_deepseek_v4:
        return DEEPSEEK_V4_CPU_BLOCK_SIZE
    return requested or CPU_DEFAULT_BLOCK_SIZE


def kv_dtype_bytes(facts: ModelFacts, kv_cache_dtype: str = "auto") -> int:
    """Bytes per cached element."""
    resolved = resolve_kv_cache_dtype(facts, kv_cache_dtype)
    if resolved not in _KV_DTYPE_BYTES:
        raise EstimateError(
            f"kv_cache_dtype {kv_cache_dtype!r}: unknown; use auto, fp8, bfloat16 or float16"
        )
    return _KV_DTYPE_BYTES[resolved]


def kv_heads_per_gpu(facts: ModelFacts, tensor_parallel_size: int) -> int:
    """KV heads one TP rank caches: max(1, kv_heads // tp); replicated when kv_heads < tp.
    MLA caches one latent "head" on every rank (not split by TP)."""
    if facts.attention == "mla":
        return 1
    if facts.num_kv_heads >= tensor_parallel_size and facts.num_kv_heads % tensor_parallel_size:
        raise EstimateError(
            f"tensor_parallel_size {tensor_parallel_size} does not divide the model's "
            f"{facts.num_kv_heads} KV heads; pick a divisor"
        )
    return max(1, facts.num_kv_heads // tensor_parallel_size)


def page_bytes_per_token(
    facts: ModelFacts, tensor_parallel_size: int = 1, kv_cache_dtype: str = "auto"
) -> int:
    """One layer, one token, one GPU: heads × (head_size + head_size_v) × dtype bytes
    (AttentionSpec.state_content_size_bytes × num_heads)."""
    heads = kv_heads_per_gpu(facts, tensor_parallel_size)
    return heads * (facts.head_dim + facts.head_dim_v) * kv_dtype_bytes(facts, kv_cache_dtype)


def pp_stage_sizes(num_layers: int, pipeline_parallel_size: int) -> list[int]:
    """Layers per pipeline stage (vllm/distributed/utils.py::get_pp_indices)."""
    per = num_layers // pipeline_parallel_size
    sizes = [per] * pipeline_parallel_size
    remaining = num_layers % pipeline_parallel_size
    if remaining:
        for i in range(2, remaining + 2):
            sizes[-i] += 1
    return sizes


def attention_layers_per_gpu(facts: ModelFacts, pipeline_parallel_size: int = 1) -> tuple[int, int]:
    """(full, sliding) attention layers on the most loaded pipeline stage."""
    best = (0, 0)
    start = 0
    for size in pp_stage_sizes(facts.num_hidden_layers, pipeline_parallel_size):
        kinds = facts.layer_kinds[start : start + size]
        start += size
        counts = (kinds.count("full"), kinds.count("sliding"))
        if sum(counts) > sum(best):
            best = counts
    return best


def kv_bytes_per_token(
    facts: ModelFacts,
    tensor_parallel_size: int = 1,
    pipeline_parallel_size: int = 1,
    kv_cache_dtype: str = "auto",
) -> int:
    """KV bytes one token costs on one GPU across all its attention layers.

    Sliding-window layers pay this only for the last ``sliding_window`` tokens of a request;
    ``KvPlan.blocks_per_request`` applies that bound.
    """
    full, sliding = attention_layers_per_gpu(facts, pipeline_parallel_size)
    return (full + sliding) * page_bytes_per_token(facts, tensor_parallel_size, kv_cache_dtype)


GroupKind = Literal["full", "sliding"]


@dataclass(frozen=True)
class KvPlan:
    """How vLLM groups layers into KV cache groups and sizes one pool block."""

    block_size: int
    """Full-attention block size in tokens (vLLM's cache_config.block_size after grouping)."""
    page_bytes: int
    """One layer's page: block_size tokens (FullAttentionSpec.page_size_bytes)."""
    bytes_per_block: int
    """One block of the shared pool: page × layers per group (_get_kv_cache_bytes_per_block)."""
    groups: tuple[GroupKind, ...]
    sliding_window: int | None
    max_in_flight_tokens: int
    sliding_block_size: int | None = None
    """Sliding-window block size when it differs (the backend's kernel block multiple)."""

    def blocks_per_request(self, max_model_len: int) -> int:
        """Blocks one request of ``max_model_len`` tokens takes, summed over groups."""
        total = 0
        for kind in self.groups:
            if kind == "full":
                total += -(-max_model_len // self.block_size)
            else:
                assert self.sliding_window is not None
                block = self.sliding_block_size or self.block_size
                tokens = min(self.sliding_window - 1 + self.max_in_flight_tokens, max_model_len)
                total += -(-tokens // block) + 1
        return total

    def num_blocks(self, available_kv_bytes: int) -> int:
        """Pool blocks: available // bytes_per_block (get_kv_cache_config_from_groups)."""
        return max(0, available_kv_bytes) // self.bytes_per_block if self.bytes_per_block else 0

    def max_concurrency(self, num_blocks: int, max_model_len: int) -> float:
        """get_max_concurrency_for_kv_cache_config: num_blocks / blocks per request."""
        return num_blocks / self.blocks_per_request(max_model_len)

    def kv_tokens(self, num_blocks: int, max_model_len: int) -> int:
        """The "KV cache size: N tokens" of vLLM's log: int(concurrency × max_model_len)."""
        return int(self.max_concurrency(num_blocks, max_model_len) * max_model_len)

    def fits(self, num_blocks: int, max_model_len: int) -> bool:
        """vLLM's startup check: one request must fit after the null block is held back."""
        return self.blocks_per_request(max_model_len) <= num_blocks - 1

    def largest_fitting_len(self, num_blocks: int, upper: int) -> int:
        """Largest max_model_len in [1, upper] that passes ``fits``; 0 if none (binary search,
        as vLLM's _estimate_max_model_len_from_groups)."""
        if not self.fits(num_blocks, 1):
            return 0
        low, high, best = 1, upper, 1
        while low <= high:
            mid = (low + high) // 2
            if self.fits(num_blocks, mid):
                best, low = mid, mid + 1
            else:
                high = mid - 1
        return best


def plan_kv(
    facts: ModelFacts,
    *,
    block_size: int,
    tensor_parallel_size: int = 1,
    pipeline_parallel_size: int = 1,
    kv_cache_dtype: str = "auto",
    max_in_flight_tokens: int = 2048,
    kernel_block_multiple: int = 16,
) -> KvPlan:
    """Group layers as get_kv_cache_groups does: one group when all attention layers share a
    kind, else equal-size groups per kind (_get_kv_cache_groups_uniform_page_size).

    Sliding-window layers pick their own block: the largest multiple of the backend's kernel
    block (``MultipleOf(16)`` for FlashAttention, 32 for the CPU backend) within the primary
    page, else that multiple (attention.py::_largest_kernel_block_within); then pages are
    unified by scaling the smaller block up, or padding it (unify_kv_cache_spec_page_size).
    """
    per_token = page_bytes_per_token(facts, tensor_parallel_size, kv_cache_dtype)
    sliding_block: int | None = None
    if "sliding" in facts.layer_kinds:
        multiple = kernel_block_multiple
        sliding_block = max(multiple, block_size // multiple * multiple)
        if "full" in facts.layer_kinds and sliding_block != block_size:
            small, large = sorted((block_size, sliding_block))
            if large % small == 0:  # the smaller page's block is scaled up
                block_size = sliding_block = large
            # else: the smaller page is padded to the larger; block sizes stay
        elif "full" not in facts.layer_kinds:
            block_size = sliding_block
    page = per_token * max(block_size, sliding_block or 0)
    full_total = facts.layer_kinds.count("full")
    sliding_total = facts.layer_kinds.count("sliding")
    if full_total + sliding_total == 0:
        raise EstimateError(f"{facts.source}: no attention layers; nothing to cache")
    stage_full, stage_sliding = attention_layers_per_gpu(facts, pipeline_parallel_size)
    if sliding_total == 0 or full_total == 0:
        kind: GroupKind = "full" if sliding_total == 0 else "sliding"
        return KvPlan(
            block_size,
            page,
            page * (stage_full + stage_sliding),
            (kind,),
            facts.sliding_window,
            max_in_flight_tokens,
        )
    group_size = min(full_total, sliding_total)
    if max(full_total, sliding_total) < group_size * 1.5:
        group_size = max(full_total, sliding_total)
    n_full = -(-full_total // group_size)
    n_sliding = -(-sliding_total // group_size)
    per_stage = -(-group_size // pipeline_parallel_size)
    full_kind: GroupKind = "full"
    sliding_kind: GroupKind = "sliding"
    groups = (full_kind,) * n_full + (sliding_kind,) * n_sliding
    return KvPlan(
        block_size, page, page * per_stage, groups, facts.sliding_window, max_in_flight_tokens
    )
