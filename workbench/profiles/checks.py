"""Cross-field rules a schema cannot express, and checks against vLLM's own argument names.

vLLM's names come from ``workbench.vllm_source``, which reads the installed package's source and
never imports it (an import contract checks both modules).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.model_config import derived_max_model_len, tokenizer_max_length
from workbench.profiles.errors import ProfileError, did_you_mean
from workbench.profiles.models import expand_model_path
from workbench.profiles.schema import (
    SAMPLING_FIELDS_WORKBENCH_SETS,
    EngineSection,
    Profile,
    SamplingSection,
)
from workbench.profiles.toml_lines import KeyPath
from workbench.vllm_source import (
    vllm_engine_arg_names,
    vllm_engine_arg_types,
    vllm_quantization_names,
    vllm_reasoning_parser_names,
    vllm_sampling_param_types,
)

ErrorFactory = Callable[[KeyPath, str, "str | None"], ProfileError]

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MIN_KV_CACHE_BYTES = 64 * 1024
"""Below this a KV cache is a unit mistake (bytes meant as MiB), not a setting."""
MAX_GPUS = 256
"""More GPUs than this (tensor × pipeline parallel) is a typo, not a deployment."""

# EngineArgs names that a first-class profile key already sets.
FIRST_CLASS_ENGINE_ARGS: dict[str, str] = {
    **{name: f"engine.{name}" for name in EngineSection.model_fields if name != "extra"},
    "model": "model.id / model.path",
    "tokenizer": "model.tokenizer",
    "revision": "model.revision",
    "dtype": "model.dtype",
    "quantization": "model.quantization",
    "trust_remote_code": "model.trust_remote_code",
}


def _value_matches(value: Any, allowed: frozenset[str]) -> bool:
    if isinstance(value, bool):
        return "bool" in allowed
    if isinstance(value, int):
        return bool({"int", "float"} & allowed)
    if isinstance(value, float):
        return "float" in allowed
    if isinstance(value, str):
        return "str" in allowed
    return False


_TOML_TYPE_NAMES = {"bool": "a boolean", "int": "an integer", "float": "a float", "str": "a string"}


def check_profile(
    profile: Profile, data: dict[str, Any], base_dir: Path, error: ErrorFactory
) -> None:
    """Raise the first cross-field contradiction as a ProfileError."""
    engine, sampling = profile.engine, profile.sampling
    if engine.max_num_seqs is not None and sampling.n > engine.max_num_seqs:
        raise error(
            ("sampling", "n"),
            f"n = {sampling.n} is more than engine.max_num_seqs = {engine.max_num_seqs}",
            f"vLLM schedules each sample as one sequence: raise engine.max_num_seqs to at least "
            f"{sampling.n} or lower n",
        )
    gpus = engine.tensor_parallel_size * engine.pipeline_parallel_size
    if gpus > MAX_GPUS:
        raise error(
            ("engine", "tensor_parallel_size"),
            f"tensor_parallel_size × pipeline_parallel_size = {gpus} GPUs",
            f"more than {MAX_GPUS} GPUs for one model is surely a typo; use the GPU count per node",
        )
    if (
        engine.kv_cache_memory_bytes is not None
        and engine.kv_cache_memory_bytes < MIN_KV_CACHE_BYTES
    ):
        raise error(
            ("engine", "kv_cache_memory_bytes"),
            f"{engine.kv_cache_memory_bytes} bytes (under 64 KiB) is too small for a KV cache; "
            "this looks like a unit mistake",
            "the value is in bytes: 67108864 is 64 MiB",
        )
    if (
        sampling.max_tokens is not None
        and engine.max_model_len is not None
        and sampling.max_tokens >= engine.max_model_len
    ):
        raise error(
            ("sampling", "max_tokens"),
            f"max_tokens = {sampling.max_tokens} leaves no room for the prompt within "
            f"engine.max_model_len = {engine.max_model_len}",
            "prompt + output must fit in max_model_len: lower max_tokens or raise max_model_len",
        )
    if "enable_thinking" in profile.chat.chat_template_kwargs:
        raise error(
            ("chat", "chat_template_kwargs", "enable_thinking"),
            "duplicates chat.enable_thinking",
            "set chat.enable_thinking instead",
        )
    for name in profile.env:
        if not ENV_NAME.fullmatch(name):
            raise error(
                ("env", name),
                f"{name!r} is not a usable environment variable name",
                "use letters, digits and underscores, not starting with a digit",
            )
    if sampling.json_schema is not None:
        _check_json_schema(sampling.json_schema, base_dir, error)
    if profile.model.chat_template is not None:
        template = expand_model_path(profile.model.chat_template, base_dir)
        if not template.is_file():
            raise error(
                ("model", "chat_template"),
                f"chat template {template} does not exist",
                "the path is relative to the profile file",
            )
    _check_engine_extra(engine.extra, error)
    _check_sampling_extra(sampling.extra, error)
    _check_vllm_names(profile, error)


def _check_vllm_names(profile: Profile, error: ErrorFactory) -> None:
    parser = profile.engine.reasoning_parser
    plugin = profile.engine.extra.get("reasoning_parser_plugin")
    parsers = vllm_reasoning_parser_names()
    if parser is not None and not plugin and parsers is not None and parser not in parsers:
        suggestion = did_you_mean(parser, parsers)
        raise error(
            ("engine", "reasoning_parser"),
            f"vLLM has no reasoning parser {parser!r}",
            f"did you mean {suggestion!r}?"
            if suggestion
            else "known: " + ", ".join(sorted(parsers)),
        )
    method = profile.model.quantization
    methods = vllm_quantization_names()
    if method is not None and methods is not None and method not in methods:
        suggestion = did_you_mean(method, methods)
        raise error(
            ("model", "quantization"),
            f"vLLM has no quantization method {method!r}",
            f"did you mean {suggestion!r}?"
            if suggestion
            else "remove it: vLLM reads the method from config.json",
        )


def _check_json_schema(raw: str, base_dir: Path, error: ErrorFactory) -> None:
    key = ("sampling", "json_schema")
    schema_path = expand_model_path(raw, base_dir)
    if not schema_path.is_file():
        raise error(
            key,
            f"JSON schema file {schema_path} does not exist",
            "the path is relative to the profile file",
        )
    try:
        parsed = json.loads(schema_path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise error(key, f"{schema_path} is not UTF-8 text", "save it as UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise error(
            key,
            f"{schema_path} is not valid JSON ({exc.msg} at line {exc.lineno})",
            "check it with `python -m json.tool`",
        ) from None
    if not isinstance(parsed, dict):
        raise error(
            key,
            f"{schema_path} holds a JSON {type(parsed).__name__}, not a schema object",
            'a JSON schema is an object such as {"type": "object", ...}',
        )


def _check_engine_extra(extra: dict[str, Any], error: ErrorFactory) -> None:
    if not extra:
        return
    known = vllm_engine_arg_names()
    for name in extra:
        key = ("engine", "extra", name)
        snake = name.replace("-", "_")
        if snake in FIRST_CLASS_ENGINE_ARGS:
            raise error(
                key,
                f"duplicates {FIRST_CLASS_ENGINE_ARGS[snake]}",
                f"set {FIRST_CLASS_ENGINE_ARGS[snake]} instead of engine.extra.{name}",
            )
        if known is None:
            continue  # vLLM not installed here: the engine host checks it
        if name not in known:
            if snake in known:
                raise error(
                    key, "vLLM engine arguments use snake_case names", f"write {snake} = ..."
                )
            suggestion = did_you_mean(name, known)
            raise error(
                key,
                "not a vLLM engine argument (EngineArgs has no such field)",
                f"did you mean `{suggestion}`?"
                if suggestion
                else "see `vllm serve --help` for the names (dashes become underscores)",
            )
        _check_scalar_type(
            extra[name], vllm_engine_arg_types().get(name), key, f"EngineArgs.{name}", error
        )


def _check_scalar_type(
    value: Any, allowed: frozenset[str] | None, key: KeyPath, field: str, error: ErrorFactory
) -> None:
    """A value given for a vLLM field whose annotation is plain scalars must be one of them."""
    if not allowed or _value_matches(value, allowed):
        return
    from workbench.profiles.loader import toml_type

    expected = " or ".join(_TOML_TYPE_NAMES[t] for t in sorted(allowed))
    raise error(
        key,
        f"vLLM expects {expected}, got {toml_type(value)}",
        "write true/false without quotes" if allowed == {"bool"} else f"{field} is {expected}",
    )


def _check_sampling_extra(extra: dict[str, Any], error: ErrorFactory) -> None:
    first_class = set(SamplingSection.model_fields) - {"extra", "json_schema"}
    known = vllm_sampling_param_types() if extra else None
    for name, value in extra.items():
        key = ("sampling", "extra", name)
        if name in first_class:
            raise error(key, f"duplicates sampling.{name}", f"set sampling.{name} instead")
        if name in SAMPLING_FIELDS_WORKBENCH_SETS:
            raise error(
                key,
                "workbench sets this SamplingParams field itself",
                SAMPLING_FIELDS_WORKBENCH_SETS[name],
            )
        if known is None:
            continue  # vLLM not installed here: SamplingParams checks it at request time
        if name not in known:
            suggestion = did_you_mean(name, known)
            raise error(
                key,
                "not a vLLM sampling parameter (SamplingParams has no such field)",
                f"did you mean `{suggestion}`?"
                if suggestion
                else "see vLLM's SamplingParams for the names",
            )
        _check_scalar_type(value, known[name], key, f"SamplingParams.{name}", error)
        if name == "logit_bias":
            _check_logit_bias(value, key, error)


def _check_logit_bias(value: Any, key: KeyPath, error: ErrorFactory) -> None:
    hint = 'a table of token id = bias, e.g. logit_bias = { "151643" = -100.0 }'
    if not isinstance(value, dict):
        raise error(key, "is not a table", hint)
    for token, bias in value.items():
        if not str(token).isdigit() or isinstance(bias, bool) or not isinstance(bias, int | float):
            raise error((*key, str(token)), "is not token id = number", hint)


def check_against_model(profile: Profile, model_dir: Path, error: ErrorFactory) -> None:
    """Checks that need the model's config.json (only when the model is on this machine)."""
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(
            ("model",),
            f"{model_dir / 'config.json'} is unreadable or not JSON ({exc})",
            "re-download or re-copy the model",
        ) from None
    if not isinstance(config, dict):
        raise error(
            ("model",),
            f"{model_dir / 'config.json'} is not a JSON object",
            "re-download or re-copy the model",
        )
    text_config = config.get("text_config") if isinstance(config.get("text_config"), dict) else None
    heads = (text_config or config).get("num_attention_heads")
    _check_context_length(profile, config, model_dir, error)
    tp = profile.engine.tensor_parallel_size
    if isinstance(heads, int) and heads > 0 and heads % tp != 0:
        raise error(
            ("engine", "tensor_parallel_size"),
            f"{tp} does not divide the model's {heads} attention heads",
            f"vLLM splits attention heads evenly across GPUs: pick a divisor of {heads}",
        )


def _check_context_length(
    profile: Profile, config: dict[str, Any], model_dir: Path, error: ErrorFactory
) -> None:
    """max_model_len above the model's maximum as vLLM derives it (workbench.model_config);
    vLLM refuses that at once unless the profile extends the context or allows long lengths."""
    wanted = profile.engine.max_model_len
    if wanted is None:
        return
    derived = derived_max_model_len(config, tokenizer_max_length(model_dir))
    if not derived.refuses(wanted):
        return
    overridden = {"hf_overrides", "rope_scaling", "rope_theta"} & set(profile.engine.extra)
    if overridden or "VLLM_ALLOW_LONG_MAX_MODEL_LEN" in profile.env:
        return
    raise error(
        ("engine", "max_model_len"),
        f"{wanted} is above the model's maximum {derived.length} ({derived.source}, config.json)",
        f"use at most {derived.length}, or extend the context with rope scaling "
        "(engine.extra.hf_overrides) as the model card describes",
    )
