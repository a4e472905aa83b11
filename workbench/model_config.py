"""What a model's config.json says about its maximum length: the one owner of that rule.

vLLM derives the default ``max_model_len`` from the config (vllm/config/model_arch.py and
vllm/config/model.py::_get_and_verify_max_len): the smallest of several length keys, capped by
the tokenizer's ``model_max_length``, multiplied by the RoPE scaling factor unless the RoPE type
is already scaled. The estimator, the profile checks, the engine's pre-load check and
``profiles new`` all call ``derived_max_model_len``; the estimator test checks it against vLLM
for every reference config. Pure: JSON in, numbers out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_LEN_KEYS = (
    "max_position_embeddings",
    "n_positions",
    "max_seq_len",
    "seq_length",
    "model_max_length",
    "max_sequence_length",
    "max_seq_length",
    "seq_len",
)
"""vLLM's derived max-length keys; the smallest present wins."""
PRESCALED_ROPE = ("su", "longrope", "llama3", "yarn", "deepseek_yarn", "deepseek_llama_scaling")
"""RoPE types whose max_position_embeddings is already the scaled length."""
DEFAULT_MAX_LEN = 2048
"""vLLM's fallback when the config names no length at all."""


@dataclass(frozen=True)
class DerivedMaxLen:
    """The model's maximum length and what decided it, for messages."""

    length: int
    source: str
    """e.g. "max_position_embeddings = 40960", "tokenizer model_max_length = 8192"."""
    from_config: bool = True
    """False when the config names no length: vLLM then falls back to 2048 but accepts any
    max_model_len the user sets (config/model.py::_get_and_verify_max_len)."""

    def refuses(self, max_model_len: int) -> bool:
        """Whether vLLM refuses ``max_model_len`` for this model at startup (without
        VLLM_ALLOW_LONG_MAX_MODEL_LEN or a context-extending override)."""
        return self.from_config and max_model_len > self.length


def text_config(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """The language model's part of a config (``text_config`` of a multimodal one)."""
    nested = config.get("text_config")
    return nested if isinstance(nested, Mapping) else config


def derived_max_model_len(
    config: Mapping[str, Any], tokenizer_max: int | None = None
) -> DerivedMaxLen:
    """vLLM's default max_model_len for a parsed config.json (the whole file, or its
    text_config) and the tokenizer's ``model_max_length``."""
    cfg = text_config(config)
    lengths = {k: cfg[k] for k in MAX_LEN_KEYS if isinstance(cfg.get(k), int | float)}
    if lengths:
        key = min(lengths, key=lambda k: lengths[k])
        derived, source = float(lengths[key]), f"{key} = {int(lengths[key])}"
    elif tokenizer_max is None:
        return DerivedMaxLen(DEFAULT_MAX_LEN, f"vLLM's default {DEFAULT_MAX_LEN}", False)
    else:
        derived, source = float("inf"), ""
    if tokenizer_max is not None and tokenizer_max < derived:
        derived, source = float(tokenizer_max), f"tokenizer model_max_length = {tokenizer_max}"
    rope = cfg.get("rope_scaling") or cfg.get("rope_parameters")
    if isinstance(rope, Mapping) and "gemma3" not in str(cfg.get("model_type", "")):
        rope_type = rope.get("rope_type", rope.get("type", "default"))
        factor = float(rope.get("factor") or 1.0)
        if rope_type not in PRESCALED_ROPE and rope_type != "default" and factor != 1.0:
            derived *= factor
            source += f" × {rope_type} RoPE factor {factor:g}"
    return DerivedMaxLen(int(derived), source)


def tokenizer_max_length(model_dir: Path) -> int | None:
    """``model_max_length`` of tokenizer_config.json when it is a real limit (HF writes a huge
    sentinel when there is none); None when absent or unreadable."""
    try:
        value = json.loads((model_dir / "tokenizer_config.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    limit = value.get("model_max_length") if isinstance(value, dict) else None
    if isinstance(limit, int | float) and not isinstance(limit, bool) and 0 < limit < 1e12:
        return int(limit)
    return None
