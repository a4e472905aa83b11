"""What the estimator needs to know about a model, read from config.json and safetensors headers.

Pure: reads JSON and the first bytes of each ``*.safetensors`` file (the header); never tensors.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from workbench.estimate.errors import EstimateError
from workbench.model_config import derived_max_model_len, tokenizer_max_length

AttentionKind = Literal["full", "mla"]
LayerKind = Literal["full", "sliding", "mamba", "linear", "none"]
WeightsSource = Literal["index", "headers", "given", "config"]
_FULL: LayerKind = "full"
_SLIDING: LayerKind = "sliding"

# Safetensors dtype codes → bytes per element (sub-byte types are packed into U8/I32 tensors).
_SAFETENSORS_DTYPE_BYTES = {
    "F64": 8,
    "I64": 8,
    "U64": 8,
    "F32": 4,
    "I32": 4,
    "U32": 4,
    "F16": 2,
    "BF16": 2,
    "I16": 2,
    "U16": 2,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "F8_E8M0": 1,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
}
_MLA_ARCHS = ("DeepseekV2ForCausalLM", "DeepseekV3ForCausalLM", "KimiK2ForCausalLM")


@dataclass(frozen=True)
class ModelFacts:
    """Architecture numbers that decide memory; per whole model (not per GPU)."""

    architecture: str
    model_type: str
    num_hidden_layers: int
    hidden_size: int
    num_attention_heads: int
    num_kv_heads: int
    head_dim: int
    """K head size; for MLA: kv_lora_rank + qk_rope_head_dim (the cached latent)."""
    head_dim_v: int
    """V head size; 0 for MLA (the latent serves K and V)."""
    vocab_size: int
    intermediate_size: int
    dtype: str
    """Checkpoint dtype as vLLM resolves dtype="auto" ("bfloat16", "float16")."""
    attention: AttentionKind
    layer_kinds: tuple[LayerKind, ...]
    sliding_window: int | None
    derived_max_model_len: int
    """vLLM's default max_model_len: smallest length key, RoPE factor applied where vLLM does."""
    max_len_from_config: bool = True
    """False when config.json names no length (vLLM then accepts any max_model_len)."""
    quantization: str | None = None
    quantization_bits: float | None = None
    """Nominal bits per weight of the quantization method (informational)."""
    checkpoint_kv_cache_dtype: str | None = None
    """KV dtype the checkpoint asks for (ModelOpt "kv_cache_quant_algo": "FP8" → "fp8")."""
    weights_bytes: int | None = None
    weights_source: WeightsSource | None = None
    num_experts: int | None = None
    tie_word_embeddings: bool = False
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def dtype_bytes(self) -> int:
        """Bytes per activation element: 2, since vLLM runs bf16/fp16 (float32 is downcast)."""
        return 2

    @property
    def num_attention_layers(self) -> int:
        """Layers that hold a KV cache (full or sliding)."""
        return sum(1 for kind in self.layer_kinds if kind in ("full", "sliding"))

    @property
    def architecture_key(self) -> str:
        """Architecture plus quantization, the calibration key's model part."""
        return f"{self.architecture}/{self.quantization or 'none'}"

    @classmethod
    def from_config(
        cls, config: dict[str, Any], weights_bytes: int | None, *, source: str = "config.json"
    ) -> ModelFacts:
        """Facts from a parsed config.json; ``weights_bytes`` None → estimated from the shapes."""
        return _facts_from_config(config, weights_bytes, source=source)


def _field(cfg: dict[str, Any], source: str, *names: str, default: Any = None) -> Any:
    for name in names:
        if cfg.get(name) is not None:
            return cfg[name]
    if default is not None:
        return default
    raise EstimateError(f"{source}: missing `{names[0]}`; is this a decoder LLM's config.json?")


def _positive_int(value: Any, source: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise EstimateError(f"{source}: `{name}` must be a positive integer, got {value!r}")
    return value


def _layer_kinds(cfg: dict[str, Any], model_type: str, num_layers: int) -> tuple[LayerKind, ...]:
    """Which layers hold which cache, following each vLLM model file's rule."""
    window = cfg.get("sliding_window")
    types = cfg.get("layer_types")
    if model_type == "gpt_oss":  # vllm/model_executor/models/gpt_oss.py: even layers slide
        return tuple(_SLIDING if i % 2 == 0 else _FULL for i in range(num_layers))
    if model_type == "gemma2" and not types:  # transformers Gemma2Config default pattern
        return tuple(_SLIDING if (i + 1) % 2 else _FULL for i in range(num_layers))
    if model_type in ("qwen2", "qwen3", "qwen2_moe", "qwen3_moe") and not types:
        if cfg.get("use_sliding_window") and window:
            first = int(cfg.get("max_window_layers", num_layers))
            return tuple(_SLIDING if i >= first else _FULL for i in range(num_layers))
        return (_FULL,) * num_layers
    if isinstance(types, list) and len(types) >= num_layers:
        mapping: dict[str, LayerKind] = {
            "full_attention": "full",
            "attention": "full",
            "sliding_attention": "sliding",
            "mamba": "mamba",
            "linear_attention": "linear",
        }
        kinds = tuple(mapping.get(str(t), _FULL) for t in types[:num_layers])
        if not window:
            return tuple(_FULL if k == _SLIDING else k for k in kinds)
        return kinds
    return (_FULL,) * num_layers


def _quantization(
    cfg: dict[str, Any], hf_quant: dict[str, Any] | None
) -> tuple[str | None, str | None]:
    """(quant method, checkpoint KV dtype) from quantization_config or hf_quant_config.json."""
    method: str | None = None
    kv_dtype: str | None = None
    qcfg = cfg.get("quantization_config")
    if isinstance(qcfg, dict):
        method = qcfg.get("quant_method")
        kv_algo = qcfg.get("kv_cache_quant_algo")
        if isinstance(kv_algo, str) and kv_algo.upper().startswith("FP8"):
            kv_dtype = "fp8"
        if isinstance(qcfg.get("kv_cache_scheme"), dict):
            kv_dtype = "fp8"
    if hf_quant and isinstance(hf_quant.get("quantization"), dict):
        quant = hf_quant["quantization"]
        method = method or "modelopt"
        kv_algo = quant.get("kv_cache_quant_algo")
        if isinstance(kv_algo, str) and kv_algo.upper().startswith("FP8"):
            kv_dtype = "fp8"
    return method, kv_dtype


def _weight_bits(method: str | None, cfg: dict[str, Any]) -> float:
    qcfg = cfg.get("quantization_config") or {}
    if method in ("awq", "gptq", "awq_marlin", "gptq_marlin", "compressed-tensors"):
        bits = qcfg.get("bits") or qcfg.get("w_bit") or 4
        group = qcfg.get("group_size") or qcfg.get("q_group_size") or 128
        # packed weights + one fp16 scale and one packed zero per group
        return float(bits) + (16 + float(bits)) / float(group if group > 0 else 128)
    if method in ("fp8", "modelopt", "fbgemm_fp8"):
        return 8.0
    if method == "mxfp4":
        return 4.25  # 4-bit values + one 8-bit scale per 32
    if method in ("bitsandbytes",):
        return 4.5
    return 16.0


def _nominal_bits(method: str | None, cfg: dict[str, Any]) -> float | None:
    """Bits per weight the quantization method names (no scales); None when unquantized."""
    if method is None:
        return None
    qcfg = cfg.get("quantization_config") or {}
    bits = qcfg.get("bits") or qcfg.get("w_bit") or qcfg.get("num_bits")
    if isinstance(bits, int | float) and not isinstance(bits, bool) and bits > 0:
        return float(bits)
    return {"fp8": 8.0, "modelopt": 8.0, "fbgemm_fp8": 8.0, "mxfp4": 4.0}.get(method)


def estimate_weight_bytes(
    facts_cfg: dict[str, Any],
    layers: int,
    hidden: int,
    heads: int,
    kv_heads: int,
    head_dim: int,
    vocab: int,
    intermediate: int,
    method: str | None,
) -> int:
    """Parameter bytes from shapes, for when no weight files are at hand (an estimate)."""
    attn = hidden * heads * head_dim * 2 + hidden * kv_heads * head_dim * 2
    experts = int(
        facts_cfg.get("num_experts")
        or facts_cfg.get("num_local_experts")
        or facts_cfg.get("n_routed_experts")
        or 0
    )
    moe_inter = int(facts_cfg.get("moe_intermediate_size") or intermediate)
    mlp = 3 * hidden * (moe_inter * experts if experts else intermediate)
    embed = vocab * hidden * (1 if _tied_embeddings(facts_cfg) else 2)
    linear_params = layers * (attn + mlp)
    bits = _weight_bits(method, facts_cfg)
    return int(
        linear_params * bits / 8
        + (embed + _small_params(facts_cfg, layers, hidden, heads, kv_heads, head_dim, experts)) * 2
    )


def _tied_embeddings(cfg: dict[str, Any]) -> bool:
    """tie_word_embeddings, defaulting as transformers' config class for the model type does
    (Gemma's default is tied; Llama's and Qwen's are not)."""
    value = cfg.get("tie_word_embeddings")
    if value is None:
        return str(cfg.get("model_type", "")).startswith("gemma")
    return bool(value)


def _small_params(
    cfg: dict[str, Any],
    layers: int,
    hidden: int,
    heads: int,
    kv_heads: int,
    head_dim: int,
    experts: int,
) -> int:
    """Norm weights, attention biases, q/k norms and routers: unquantized parameters that the
    shapes alone leave out (exact for Llama, Qwen2/2.5/3 and Gemma-2 checkpoints)."""
    model_type = str(cfg.get("model_type", ""))
    norms_per_layer = 4 if model_type in ("gemma2", "gemma3", "gemma3_text") else 2
    params = layers * norms_per_layer * hidden + hidden  # + the final norm
    if model_type in ("qwen2", "qwen2_moe") or cfg.get("attention_bias"):
        params += layers * (heads + 2 * kv_heads) * head_dim
    if model_type in ("qwen3", "qwen3_moe"):
        params += layers * 2 * head_dim  # q_norm and k_norm
    if experts:
        params += layers * hidden * experts  # the router
    return params


def _facts_from_config(
    config: dict[str, Any],
    weights_bytes: int | None,
    *,
    source: str,
    tokenizer_max: int | None = None,
    hf_quant: dict[str, Any] | None = None,
) -> ModelFacts:
    if not isinstance(config, dict):
        raise EstimateError(f"{source}: expected a JSON object at the top level")
    outer = config
    cfg = dict(config.get("text_config") or config)
    # nested text_config inherits quantization and dtype from the outer config
    for key in ("quantization_config", "torch_dtype", "dtype", "architectures"):
        if key not in cfg and key in outer:
            cfg[key] = outer[key]
    archs = cfg.get("architectures") or outer.get("architectures") or ["unknown"]
    architecture = str(archs[0])
    model_type = str(cfg.get("model_type") or outer.get("model_type") or "unknown")
    layers = _positive_int(
        _field(cfg, source, "num_hidden_layers", "n_layer", "num_layers"),
        source,
        "num_hidden_layers",
    )
    hidden = _positive_int(
        _field(cfg, source, "hidden_size", "n_embd", "d_model"), source, "hidden_size"
    )
    heads = _positive_int(
        _field(cfg, source, "num_attention_heads", "n_head"), source, "num_attention_heads"
    )
    kv_heads = _positive_int(
        _field(cfg, source, "num_key_value_heads", "num_kv_heads", "n_head_kv", default=heads),
        source,
        "num_key_value_heads",
    )
    vocab = _positive_int(_field(cfg, source, "vocab_size"), source, "vocab_size")
    intermediate = int(_field(cfg, source, "intermediate_size", "ffn_dim", default=4 * hidden))
    dtype = str(cfg.get("torch_dtype") or cfg.get("dtype") or "bfloat16")
    if dtype in ("float32", "float"):
        dtype = "bfloat16"  # vLLM's auto dtype downcasts float32 checkpoints
    method, kv_dtype = _quantization(cfg, hf_quant)
    kinds = _layer_kinds(cfg, model_type, layers)
    window = cfg.get("sliding_window") if "sliding" in kinds else None

    is_mla = architecture in _MLA_ARCHS or (
        cfg.get("kv_lora_rank") is not None and cfg.get("qk_rope_head_dim") is not None
    )
    if is_mla:
        lora = _positive_int(cfg["kv_lora_rank"], source, "kv_lora_rank")
        rope = _positive_int(cfg["qk_rope_head_dim"], source, "qk_rope_head_dim")
        head_dim, head_dim_v, attention = lora + rope, 0, "mla"
        nope = int(cfg.get("qk_nope_head_dim") or 0)
        weight_head_dim = nope + rope
    else:
        raw_head_dim = cfg.get("head_dim")
        head_dim = (
            _positive_int(raw_head_dim, source, "head_dim")
            if raw_head_dim is not None
            else hidden // heads
        )
        head_dim_v, attention, weight_head_dim = head_dim, "full", head_dim
    if heads % kv_heads:
        raise EstimateError(
            f"{source}: num_attention_heads ({heads}) is not a multiple of "
            f"num_key_value_heads ({kv_heads})"
        )
    source_kind: WeightsSource | None = "given" if weights_bytes is not None else None
    if weights_bytes is None:
        weights_bytes = estimate_weight_bytes(
            cfg, layers, hidden, heads, kv_heads, weight_head_dim, vocab, intermediate, method
        )
        source_kind = "config"
    experts = cfg.get("num_experts") or cfg.get("num_local_experts") or cfg.get("n_routed_experts")
    max_len = derived_max_model_len(cfg, tokenizer_max)
    return ModelFacts(
        architecture=architecture,
        model_type=model_type,
        num_hidden_layers=layers,
        hidden_size=hidden,
        num_attention_heads=heads,
        num_kv_heads=1 if is_mla else kv_heads,
        head_dim=head_dim,
        head_dim_v=head_dim_v,
        vocab_size=vocab,
        intermediate_size=intermediate,
        dtype=dtype,
        attention=attention,  # type: ignore[arg-type]
        layer_kinds=kinds,
        sliding_window=int(window) if window else None,
        derived_max_model_len=max_len.length,
        max_len_from_config=max_len.from_config,
        quantization=method,
        quantization_bits=_nominal_bits(method, cfg),
        checkpoint_kv_cache_dtype=kv_dtype,
        weights_bytes=weights_bytes,
        weights_source=source_kind,
        num_experts=int(experts) if experts else None,
        tie_word_embeddings=_tied_embeddings(cfg),
        source=source,
        extra={
            "kv_lora_rank": cfg.get("kv_lora_rank") if is_mla else None,
            "qk_rope_head_dim": cfg.get("qk_rope_head_dim") if is_mla else None,
            "moe_intermediate_size": cfg.get("moe_intermediate_size"),
            "experts_per_token": cfg.get("num_experts_per_tok") or cfg.get("experts_per_token"),
        },
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise EstimateError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    except OSError as exc:
        raise EstimateError(f"{path}: cannot read ({exc.strerror})") from None


def safetensors_tensor_bytes(path: Path, *, loaded_as_16bit: bool = False) -> int:
    """Bytes of all tensors in one .safetensors file, from its JSON header alone.

    ``loaded_as_16bit``: count F32/F64 tensors at 2 bytes per element, as vLLM holds an
    unquantized float32 checkpoint under dtype="auto" (downcast to bf16/fp16).
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
            if len(head) != 8:
                raise EstimateError(f"{path}: too short to be a safetensors file")
            (header_len,) = struct.unpack("<Q", head)
            if header_len > 100 * 1024 * 1024:
                raise EstimateError(f"{path}: implausible safetensors header size {header_len}")
            header = json.loads(handle.read(header_len))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EstimateError(f"{path}: unreadable safetensors header ({exc})") from None
    total = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            begin, end = entry["data_offsets"]
            size = int(end) - int(begin)
            dtype = str(entry.get("dtype", ""))
        except (KeyError, TypeError, ValueError):
            raise EstimateError(f"{path}: malformed safetensors header entry {name!r}") from None
        total += loaded_tensor_bytes(dtype, size, loaded_as_16bit=loaded_as_16bit)
    return total


def loaded_tensor_bytes(dtype: str, size: int, *, loaded_as_16bit: bool) -> int:
    """Bytes one tensor of ``size`` bytes on disk takes once vLLM has loaded it."""
    if loaded_as_16bit and dtype in ("F32", "F64"):
        return size // _SAFETENSORS_DTYPE_BYTES[dtype] * 2
    return size


def is_quantized(config: Any, hf_quant: dict[str, Any] | None) -> bool:
    """Whether config.json (or hf_quant_config.json) names a quantization method."""
    return isinstance(config, dict) and bool(
        (config.get("text_config") or config).get("quantization_config")
        or config.get("quantization_config")
        or hf_quant
    )


def read_weights_bytes(
    model_dir: Path, *, loaded_as_16bit: bool = False
) -> tuple[int | None, WeightsSource | None]:
    """Exact weight bytes: the index's ``metadata.total_size``, else the sum of file headers."""
    index = model_dir / "model.safetensors.index.json"
    if index.is_file():
        data = _read_json(index)
        total = (data.get("metadata") or {}).get("total_size") if isinstance(data, dict) else None
        if isinstance(total, int | float) and total > 0:
            return int(total), "index"
    files = sorted(model_dir.glob("*.safetensors"))
    if files:
        total = sum(safetensors_tensor_bytes(f, loaded_as_16bit=loaded_as_16bit) for f in files)
        return total, "headers"
    return None, None


def read_model_facts(model_dir: Path) -> ModelFacts:
    """Facts from a model directory: config.json, tokenizer_config.json, safetensors headers."""
    model_dir = Path(model_dir).expanduser()
    config_path = model_dir / "config.json"
    if not model_dir.is_dir():
        raise EstimateError(f"{model_dir}: not a directory; give a model directory or a profile")
    if not config_path.is_file():
        raise EstimateError(f"{model_dir}: no config.json; is this a Hugging Face model directory?")
    config = _read_json(config_path)
    tokenizer_max = tokenizer_max_length(model_dir)
    hf_quant_path = model_dir / "hf_quant_config.json"
    hf_quant = _read_json(hf_quant_path) if hf_quant_path.is_file() else None
    weights, weights_source = read_weights_bytes(
        model_dir, loaded_as_16bit=not is_quantized(config, hf_quant)
    )
    return facts_from_files(
        config,
        weights,
        weights_source,
        source=str(config_path),
        tokenizer_max=tokenizer_max,
        hf_quant=hf_quant,
    )


def facts_from_files(
    config: Any,
    weights_bytes: int | None,
    weights_source: WeightsSource | None,
    *,
    source: str,
    tokenizer_max: int | None,
    hf_quant: dict[str, Any] | None,
) -> ModelFacts:
    """Facts from a model's files however they were fetched (a directory, the Hub)."""
    facts = _facts_from_config(
        config, weights_bytes, source=source, tokenizer_max=tokenizer_max, hf_quant=hf_quant
    )
    if weights_source is not None:
        from dataclasses import replace

        facts = replace(facts, weights_source=weights_source)
    return facts
