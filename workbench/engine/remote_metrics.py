"""A deployment's live figures from its Prometheus ``/metrics`` (vLLM's own metric names).

Pure: prometheus_client's text parser only. Counters are totals since the server started; the
prefix-cache hit rate is hits / queries over that time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RemoteMetrics:
    """What one scrape of a vLLM server said (None where it did not say)."""

    kv_usage: float | None = None
    """vllm:kv_cache_usage_perc, 0..1."""
    running: int | None = None
    waiting: int | None = None
    preemptions: int | None = None
    prefix_queries: int | None = None
    prefix_hits: int | None = None
    num_blocks: int | None = None
    block_size: int | None = None
    kv_cache_tokens: int | None = None
    """vllm:cache_config_info's kv_cache_size_tokens (else blocks × block size)."""
    kv_cache_bytes: int | None = None

    @property
    def kv_tokens(self) -> int | None:
        """KV cache capacity in tokens."""
        if self.kv_cache_tokens is not None:
            return self.kv_cache_tokens
        if self.num_blocks is None or self.block_size is None:
            return None
        return self.num_blocks * self.block_size

    @property
    def prefix_hit_rate(self) -> float | None:
        if not self.prefix_queries or self.prefix_hits is None:
            return None
        return self.prefix_hits / self.prefix_queries


def parse_metrics(text: str) -> RemoteMetrics:
    """Read vLLM's metrics from Prometheus text (summed over engines/models); raises ValueError
    on text that is not Prometheus exposition format."""
    from prometheus_client.parser import text_string_to_metric_families

    sums: dict[str, float] = {}
    info: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name = sample.name
            if name == "vllm:cache_config_info":
                info.update(sample.labels)
                continue
            if name.endswith("_created"):
                continue
            sums[name] = sums.get(name, 0.0) + float(sample.value)

    def count(*names: str) -> int | None:
        for name in names:
            if name in sums:
                return int(sums[name])
        return None

    def label_int(key: str) -> int | None:
        value = info.get(key)
        return int(value) if value is not None and value.isdigit() else None

    usage = sums.get("vllm:kv_cache_usage_perc", sums.get("vllm:gpu_cache_usage_perc"))
    return RemoteMetrics(
        kv_usage=usage,
        running=count("vllm:num_requests_running"),
        waiting=count("vllm:num_requests_waiting"),
        preemptions=count("vllm:num_preemptions_total", "vllm:num_preemptions"),
        prefix_queries=count("vllm:prefix_cache_queries_total", "vllm:prefix_cache_queries"),
        prefix_hits=count("vllm:prefix_cache_hits_total", "vllm:prefix_cache_hits"),
        num_blocks=label_int("num_gpu_blocks"),
        block_size=label_int("block_size"),
        kv_cache_tokens=label_int("kv_cache_size_tokens"),
        kv_cache_bytes=label_int("kv_cache_memory_bytes"),
    )
