"""``[model.facts]``: model facts written into a profile, read back, and checked against the model.

Pure. The table's shape and validation are the profile schema's (``ModelFactsSection``); this
module converts between it and the estimator's ``ModelFacts`` and says how two sets differ.
"""

from __future__ import annotations

from typing import Any

from workbench.estimate.facts import LayerKind, ModelFacts
from workbench.profiles.schema import ModelFactsSection

_COMPARED = (
    "architecture",
    "model_type",
    "num_hidden_layers",
    "hidden_size",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "head_dim_v",
    "vocab_size",
    "intermediate_size",
    "max_model_len",
    "torch_dtype",
    "attention",
    "layer_types",
    "sliding_window",
    "quantization",
    "checkpoint_kv_cache_dtype",
    "weight_bytes",
    "num_experts",
)
"""Keys whose difference changes an estimate (``model``/``revision``/provenance do not)."""


def facts_to_table(facts: ModelFacts, *, model: str, revision: str | None = None) -> dict[str, Any]:
    """``facts`` as a ``[model.facts]`` table (TOML-ready: no None values), validated."""
    all_full = all(kind == "full" for kind in facts.layer_kinds)
    table: dict[str, Any] = {
        "model": model,
        "revision": revision,
        "architecture": facts.architecture,
        "model_type": facts.model_type,
        "num_hidden_layers": facts.num_hidden_layers,
        "hidden_size": facts.hidden_size,
        "num_attention_heads": facts.num_attention_heads,
        "num_key_value_heads": facts.num_kv_heads,
        "head_dim": facts.head_dim,
        "head_dim_v": facts.head_dim_v,
        "vocab_size": facts.vocab_size,
        "intermediate_size": facts.intermediate_size,
        "max_model_len": facts.derived_max_model_len,
        "max_len_from_config": facts.max_len_from_config,
        "torch_dtype": facts.dtype,
        "attention": facts.attention,
        "kv_lora_rank": facts.extra.get("kv_lora_rank"),
        "qk_rope_head_dim": facts.extra.get("qk_rope_head_dim"),
        "layer_types": None if all_full else list(facts.layer_kinds),
        "sliding_window": facts.sliding_window,
        "quantization": facts.quantization,
        "quantization_bits": facts.quantization_bits,
        "checkpoint_kv_cache_dtype": facts.checkpoint_kv_cache_dtype,
        "weight_bytes": facts.weights_bytes,
        "weight_bytes_source": facts.weights_source if facts.weights_source != "given" else None,
        "num_experts": facts.num_experts,
        "moe_intermediate_size": facts.extra.get("moe_intermediate_size"),
        "experts_per_token": facts.extra.get("experts_per_token"),
        "tie_word_embeddings": facts.tie_word_embeddings,
    }
    clean = {key: value for key, value in table.items() if value is not None}
    # the schema is the one judge of a valid table: what we write must load back
    return ModelFactsSection.model_validate(clean).model_dump(exclude_none=True)


def facts_from_table(table: ModelFactsSection, *, source: str) -> ModelFacts:
    """The estimator's facts from a validated ``[model.facts]`` table."""
    full: LayerKind = "full"
    kinds = tuple(table.layer_types) if table.layer_types else (full,) * table.num_hidden_layers
    return ModelFacts(
        architecture=table.architecture,
        model_type=table.model_type,
        num_hidden_layers=table.num_hidden_layers,
        hidden_size=table.hidden_size,
        num_attention_heads=table.num_attention_heads,
        num_kv_heads=table.num_key_value_heads,
        head_dim=table.head_dim,
        head_dim_v=table.head_dim_v,
        vocab_size=table.vocab_size,
        intermediate_size=table.intermediate_size,
        dtype=table.torch_dtype,
        attention=table.attention,
        layer_kinds=kinds,
        sliding_window=table.sliding_window,
        derived_max_model_len=table.max_model_len,
        max_len_from_config=table.max_len_from_config,
        quantization=table.quantization,
        quantization_bits=table.quantization_bits,
        checkpoint_kv_cache_dtype=table.checkpoint_kv_cache_dtype,
        weights_bytes=table.weight_bytes,
        weights_source=table.weight_bytes_source,
        num_experts=table.num_experts,
        tie_word_embeddings=table.tie_word_embeddings,
        source=source,
        extra={
            "kv_lora_rank": table.kv_lora_rank,
            "qk_rope_head_dim": table.qk_rope_head_dim,
            "moe_intermediate_size": table.moe_intermediate_size,
            "experts_per_token": table.experts_per_token,
        },
    )


def facts_differences(stored: ModelFactsSection, actual: ModelFacts) -> list[str]:
    """``"key: stored → actual"`` for every estimate-relevant key that differs."""
    have = stored.model_dump()
    want = facts_to_table(actual, model=stored.model)
    differences = []
    for key in _COMPARED:
        if have.get(key) != want.get(key):
            differences.append(f"{key} {have.get(key)!r} → {want.get(key)!r}")
    return differences

