"""The profile schema: one TOML file that says how to load a model and how to talk to it.

Pure: imports pydantic only (no textual, vllm or torch). Models are strict and frozen: unknown keys
are rejected (``extra="forbid"``) and values are never coerced across types (a string is not a
number). Every field's docstring gives its unit and range.

A profile on disk looks like::

    extends = "base"                 # optional: inherit from another profile by name

    [meta]
    name = "qwen3-8b-24gb"
    description = "Qwen3-8B on one 24 GB card, thinking on"

    [model]
    id = "Qwen/Qwen3-8B"             # resolved in the local HF cache or $WORKBENCH_MODEL_DIR

    [engine]
    max_model_len = 32768
    gpu_memory_utilization = 0.90
    reasoning_parser = "qwen3"

    [engine.extra]                   # any other vLLM engine argument, by its EngineArgs name
    enable_prefix_caching = true

    [sampling]
    temperature = 0.6
    n = 4

    [chat]
    enable_thinking = true
    thinking_history = "strip"

    [gpu_overrides."NVIDIA GeForce RTX 4090".engine]   # used only on that GPU (NVML name)
    max_model_len = 16384
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

Dtype = Literal["auto", "float16", "bfloat16", "float32", "half", "float"]
KvCacheDtype = Literal["auto", "fp8", "fp8_e4m3", "fp8_e5m2", "bfloat16", "float16"]
ThinkingHistory = Literal["strip", "keep_last", "keep_all"]
KV_CACHE_DTYPES: tuple[str, ...] = get_args(KvCacheDtype)
"""The kv_cache_dtype values a profile (and the Tuner, and ``workbench estimate``) accepts."""
THINKING_HISTORY_POLICIES: tuple[str, ...] = get_args(ThinkingHistory)


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, use_attribute_docstrings=True
    )


class ModelSection(_Strict):
    """[model]: which weights to load. Give ``id``, ``path`` or both (``path`` wins locally)."""

    id: str | None = None
    """Hugging Face repo id, e.g. "Qwen/Qwen3-8B". Resolved only against the local HF cache or
    $WORKBENCH_MODEL_DIR (<root>/<org>/<name> or <root>/<org>__<name>); never downloaded."""
    path: str | None = None
    """Local model directory: absolute, ~-relative, relative to the profile file, or "builtin:demo"
    for the model shipped inside the package."""
    revision: str | None = None
    """Snapshot revision (branch, tag or commit) to pick inside the HF cache."""
    dtype: Dtype = "auto"
    """Weight/activation dtype; "auto" follows config.json."""
    quantization: str | None = None
    """vLLM quantization method ("awq", "gptq", "fp8", ...); None = detect from config.json."""
    tokenizer: str | None = None
    """Tokenizer directory or id, when it differs from the model."""
    chat_template: str | None = None
    """Path to a custom Jinja chat template (relative to the profile file). Sharing: needs
    consent."""
    trust_remote_code: bool = False
    """Run Python code shipped with the model. Sharing: needs consent."""

    @model_validator(mode="after")
    def _id_or_path(self) -> ModelSection:
        if self.id is None and self.path is None:
            raise ValueError("[model] needs `id` or `path`")
        return self


class EngineSection(_Strict):
    """[engine]: how vLLM loads the model. Unset values take vLLM's defaults."""

    max_model_len: int | None = Field(default=None, gt=0)
    """Longest prompt + output per request, in tokens (> 0). None = the model's maximum."""
    gpu_memory_utilization: float = Field(default=0.9, gt=0.0, le=1.0)
    """Fraction of each GPU's total memory vLLM may use, in (0, 1]. workbench defaults to 0.9,
    not vLLM 0.32's 0.92: a workstation GPU usually also drives a desktop, and the 2% is what
    keeps a load from failing on the free-memory check."""
    kv_cache_dtype: KvCacheDtype = "auto"
    """KV cache element type; "fp8" halves KV memory on GPUs that support it."""
    kv_cache_memory_bytes: int | None = Field(default=None, gt=0)
    """Fixed KV cache size per GPU in bytes (> 0); overrides gpu_memory_utilization for KV.
    On the CPU engine this is the KV budget (like VLLM_CPU_KVCACHE_SPACE)."""
    tensor_parallel_size: int = Field(default=1, ge=1)
    """GPUs per pipeline stage (>= 1)."""
    pipeline_parallel_size: int = Field(default=1, ge=1)
    """Pipeline stages (>= 1)."""
    max_num_seqs: int | None = Field(default=None, ge=1)
    """Most sequences scheduled at once (>= 1); each of n samples is one sequence."""
    max_num_batched_tokens: int | None = Field(default=None, ge=1)
    """Token budget per scheduler step (>= 1); bounds the activation peak."""
    block_size: int | None = Field(default=None, ge=1)
    """KV block size in tokens; None = vLLM's default (16 on GPU, 128 on CPU)."""
    enforce_eager: bool = False
    """Skip CUDA graph capture: faster start, no graph memory, slower decode."""
    reasoning_parser: str | None = None
    """vLLM reasoning parser name ("deepseek_r1", "qwen3", ...); splits thinking from answer."""
    seed: int | None = None
    """Engine-level random seed."""
    extra: dict[str, Any] = Field(default_factory=dict)
    """[engine.extra]: any other AsyncEngineArgs field by name (validated when vLLM is
    installed)."""


class SamplingSection(_Strict):
    """[sampling]: defaults for each chat turn. Unset = the model's generation_config.json."""

    temperature: float | None = Field(default=None, ge=0.0)
    """Softmax temperature (>= 0); 0 = greedy."""
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    """Nucleus sampling mass, in (0, 1]."""
    top_k: int | None = Field(default=None, ge=-1)
    """Keep the k most likely tokens; -1 or 0 = off."""
    min_p: float | None = Field(default=None, ge=0.0, le=1.0)
    """Drop tokens below min_p x the top probability, in [0, 1]."""
    max_tokens: int | None = Field(default=None, ge=1)
    """Most generated tokens per sample (>= 1), thinking included."""
    n: int = Field(default=1, ge=1)
    """Samples per turn (>= 1), shown side by side."""
    seed: int | None = None
    """Per-request seed for reproducible sampling."""
    repetition_penalty: float | None = Field(default=None, gt=0.0)
    """> 1 discourages repeats, < 1 encourages them (> 0)."""
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    """In [-2, 2]."""
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    """In [-2, 2]."""
    stop: list[str] = Field(default_factory=list)
    """Extra stop strings."""
    logprobs: int | None = Field(default=None, ge=0)
    """Return this many logprobs per token (>= 0); enables cumulative logprob per sample."""
    json_schema: str | None = None
    """Path to a JSON-schema file (relative to the profile) for structured output."""
    extra: dict[str, Any] = Field(default_factory=dict)
    """[sampling.extra]: any other vLLM SamplingParams field by name (``min_tokens``,
    ``ignore_eos``, ``logit_bias``, ...), validated against vLLM's SamplingParams when installed."""


SAMPLING_FIELDS_WORKBENCH_SETS: dict[str, str] = {
    "output_kind": "workbench streams deltas",
    "skip_special_tokens": "workbench keeps special tokens so the reasoning parser sees them",
    "structured_outputs": "set sampling.json_schema instead",
    "detokenize": "the chat shows text",
}
"""SamplingParams fields [sampling.extra] may not set, and why."""


class ChatSection(_Strict):
    """[chat]: how the conversation is rendered."""

    system_prompt: str | None = None
    """System message put first in every conversation."""
    enable_thinking: bool = True
    """Passed to the chat template (Qwen3 style); False asks for an answer without reasoning."""
    thinking_history: ThinkingHistory = "strip"
    """Earlier turns' reasoning sent back to the model: "strip" (none, the usual template
    behaviour), "keep_last" (only the previous turn's), "keep_all"."""
    chat_template_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra keyword arguments for the chat template."""


class TestedOn(_Strict):
    """One record of a successful load: where, with what, and what vLLM measured."""

    gpu: str
    """GPU name as NVML reports it, or "cpu"."""
    vllm_version: str
    kv_cache_tokens: int = Field(ge=0)
    """KV cache capacity in tokens, from vLLM's log."""
    max_model_len: int | None = Field(default=None, gt=0)
    gpu_memory_utilization: float | None = Field(default=None, gt=0.0, le=1.0)
    date: str | None = None
    """ISO date of the load."""


class MetaSection(_Strict):
    """[meta]: who made this profile and where it is known to work."""

    name: str | None = None
    """Display name; defaults to the file name without .toml."""
    description: str = ""
    author: str | None = None
    tags: list[str] = Field(default_factory=list)
    tested_on: list[TestedOn] = Field(default_factory=list)
    """[[meta.tested_on]] records, filled in after real loads."""


class GpuOverride(_Strict):
    """[gpu_overrides."<NVML name>"]: partial tables applied only on that GPU."""

    engine: dict[str, Any] = Field(default_factory=dict)
    sampling: dict[str, Any] = Field(default_factory=dict)
    chat: dict[str, Any] = Field(default_factory=dict)


class Profile(_Strict):
    """A whole profile, after `extends` is resolved and before GPU overrides are applied."""

    extends: str | None = None
    """Name of a profile to inherit from (tables merge key by key; this file wins)."""
    meta: MetaSection = Field(default_factory=MetaSection)
    model: ModelSection
    engine: EngineSection = Field(default_factory=EngineSection)
    sampling: SamplingSection = Field(default_factory=SamplingSection)
    chat: ChatSection = Field(default_factory=ChatSection)
    env: dict[str, str] = Field(default_factory=dict)
    """Environment variables set for the engine process. Sharing: stripped on export, consent on
    import."""
    gpu_overrides: dict[str, GpuOverride] = Field(default_factory=dict)
    """Per-GPU partial overrides keyed by the NVML device name."""
