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


LayerType = Literal["full", "sliding", "mamba", "linear", "none"]


class ModelFactsSection(_Strict):
    """[model.facts]: what the memory estimate needs to know about the model, so a profile can be
    estimated on a machine that has not downloaded it. Written by ``workbench profiles facts``
    (and ``profiles new``, Tuner saves and exports) from the model's config.json and safetensors
    headers; checked against the model whenever it is present (a mismatch is reported and the
    model's own files win). Counts are for the whole model, not per GPU."""

    model: str
    """The model these facts describe: its Hub id (or directory name); a profile whose
    [model] id differs is told its facts are stale."""
    revision: str | None = None
    """The Hub commit the files were read at, when known."""
    architecture: str
    """config.json ``architectures[0]``, e.g. "Qwen3ForCausalLM"."""
    model_type: str
    """config.json ``model_type``, e.g. "qwen3"."""
    num_hidden_layers: int = Field(gt=0)
    hidden_size: int = Field(gt=0)
    num_attention_heads: int = Field(gt=0)
    num_key_value_heads: int = Field(gt=0)
    """KV heads (1 for MLA, whose latent is shared by all heads)."""
    head_dim: int = Field(gt=0)
    """K head size in elements; for MLA the cached latent: kv_lora_rank + qk_rope_head_dim."""
    head_dim_v: int = Field(ge=0)
    """V head size (0 for MLA)."""
    vocab_size: int = Field(gt=0)
    intermediate_size: int = Field(gt=0)
    max_model_len: int = Field(gt=0)
    """The model's maximum length as vLLM derives it (tokens)."""
    max_len_from_config: bool = True
    """False when config.json names no length (vLLM then accepts any max_model_len)."""
    torch_dtype: str
    """Checkpoint dtype as vLLM resolves dtype="auto" ("bfloat16", "float16")."""
    attention: Literal["full", "mla"] = "full"
    kv_lora_rank: int | None = Field(default=None, gt=0)
    """MLA only: the latent rank."""
    qk_rope_head_dim: int | None = Field(default=None, gt=0)
    """MLA only: the rotary part of each cached key."""
    layer_types: list[LayerType] | None = None
    """One entry per layer when not every layer is full attention (sliding window, Mamba)."""
    sliding_window: int | None = Field(default=None, gt=0)
    """Tokens a sliding layer keeps."""
    quantization: str | None = None
    """Quantization method from the checkpoint ("fp8", "awq", "mxfp4", ...); absent = none."""
    quantization_bits: float | None = Field(default=None, gt=0)
    """Bits per weight the method stores (informational; weight_bytes is what counts)."""
    checkpoint_kv_cache_dtype: str | None = None
    """KV dtype the checkpoint asks for ("fp8"), if any."""
    weight_bytes: int | None = Field(default=None, gt=0)
    """Exact bytes of all tensors as loaded, from the safetensors headers."""
    weight_bytes_source: Literal["index", "headers", "config"] | None = None
    """Where weight_bytes came from: the shard index, the file headers, or shapes (an estimate)."""
    num_experts: int | None = Field(default=None, gt=0)
    moe_intermediate_size: int | None = Field(default=None, gt=0)
    experts_per_token: int | None = Field(default=None, gt=0)
    tie_word_embeddings: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> ModelFactsSection:
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(
                f"num_attention_heads ({self.num_attention_heads}) is not a multiple of "
                f"num_key_value_heads ({self.num_key_value_heads})"
            )
        if self.attention == "mla":
            if self.kv_lora_rank is None or self.qk_rope_head_dim is None:
                raise ValueError('attention = "mla" needs kv_lora_rank and qk_rope_head_dim')
            if self.head_dim != self.kv_lora_rank + self.qk_rope_head_dim:
                raise ValueError("for MLA head_dim must be kv_lora_rank + qk_rope_head_dim")
        if self.layer_types is not None and len(self.layer_types) != self.num_hidden_layers:
            raise ValueError(
                f"layer_types has {len(self.layer_types)} entries for "
                f"{self.num_hidden_layers} layers"
            )
        if self.layer_types and "sliding" in self.layer_types and self.sliding_window is None:
            raise ValueError("sliding layers need sliding_window")
        return self


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
    facts: ModelFactsSection | None = None
    """[model.facts]: the model's architecture numbers, for estimating without the model."""

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


class DeploymentSection(_Strict):
    """[deployment]: a running vLLM server (or any OpenAI-compatible one) to chat with instead of
    loading the model here. The API key is never in a profile: name its environment variable."""

    url: str = Field(pattern=r"^https?://[^\s/]+")
    """Base URL of the server, e.g. "http://gpu-box:8000" (a trailing /v1 is fine)."""
    model: str | None = None
    """Served model name (``--served-model-name``); None = the server's only model, or [model]
    id when the server serves several."""
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """Name of the environment variable that holds the API key (``vllm serve --api-key``),
    e.g. "VLLM_API_KEY"; the key itself never goes in a profile."""
    timeout_s: float = Field(default=30.0, gt=0.0, le=3600.0)
    """Seconds to wait for the server to answer (connect, and each streamed chunk)."""
    nodes: int = Field(default=1, ge=1)
    """Machines the deployment spans (for the plan: `workbench profiles plan`)."""
    gpus_per_node: int | None = Field(default=None, ge=1)
    """GPUs on each machine; None = tensor × pipeline × data parallel size / nodes."""
    data_parallel_size: int = Field(default=1, ge=1)
    """Engine replicas behind the one endpoint (``--data-parallel-size``)."""
    backend: Literal["mp", "ray"] = "mp"
    """How the machines coordinate: vLLM's multiprocessing (``--nnodes``/``--node-rank``) or
    Ray (``--distributed-executor-backend ray``)."""
    head_address: str | None = None
    """Address of the first machine as the others reach it; None = deployment.url's host."""
    gpu: str | None = None
    """The servers' GPU as the built-in table names it ("H100", "A100 80GB", "L40S"): estimates
    of this profile are for that GPU, whatever this machine has."""


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
    deployment: DeploymentSection | None = None
    """[deployment]: chat with a running server instead of loading the model here."""
    env: dict[str, str] = Field(default_factory=dict)
    """Environment variables set for the engine process. Sharing: stripped on export, consent on
    import."""
    gpu_overrides: dict[str, GpuOverride] = Field(default_factory=dict)
    """Per-GPU partial overrides keyed by the NVML device name."""
