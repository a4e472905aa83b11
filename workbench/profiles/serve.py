"""The ``vllm serve`` round trip: a profile as the equivalent command line, and back.

What ``vllm serve`` can express maps both ways: [model] and [engine] keys become their flags,
[engine.extra] becomes ``--kebab-case`` flags, sampling defaults go through
``--override-generation-config`` and chat template switches through
``--default-chat-template-kwargs``. The rest (n, stop, the system prompt, [meta], ...) is per
request in vLLM; ``to_serve`` lists it as not expressible.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.profiles.errors import ProfileError
from workbench.profiles.models import BUILTIN_DEMO, BUILTIN_DEMO_MODEL_DIR
from workbench.profiles.schema import EngineSection, ModelSection
from workbench.vllm_source import vllm_boolean_engine_args, vllm_engine_arg_names

# (section, key) -> flag; every [model]/[engine] key except the model itself and engine.extra.
MODEL_FLAGS: dict[str, str] = {
    "revision": "--revision",
    "dtype": "--dtype",
    "quantization": "--quantization",
    "tokenizer": "--tokenizer",
    "chat_template": "--chat-template",
    "trust_remote_code": "--trust-remote-code",
}
ENGINE_FLAGS: dict[str, str] = {
    name: "--" + name.replace("_", "-") for name in EngineSection.model_fields if name != "extra"
}
FLAG_ALIASES = {
    "-tp": "--tensor-parallel-size",
    "-pp": "--pipeline-parallel-size",
    "-q": "--quantization",
}
# Sampling defaults that vLLM reads from the generation config (profile name -> HF name).
GENERATION_CONFIG_KEYS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "min_p": "min_p",
    "repetition_penalty": "repetition_penalty",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
    "max_tokens": "max_new_tokens",
}
# `vllm serve` flags for the HTTP server, not the engine: a profile has no place for them.
SERVER_ONLY_FLAGS = frozenset(
    {
        "host",
        "port",
        "uds",
        "api_key",
        "ssl_keyfile",
        "ssl_certfile",
        "ssl_ca_certs",
        "root_path",
        "allowed_origins",
        "allowed_methods",
        "allowed_headers",
        "uvicorn_log_level",
        "disable_uvicorn_access_log",
        "middleware",
        "api_server_count",
        "headless",
        "enable_ssl_refresh",
        "disable_fastapi_docs",
        "config",
    }
)


@dataclass(frozen=True)
class ServeCommand:
    """A profile rendered as ``vllm serve``: argv, the environment it needs, what was left out."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    not_expressible: list[str] = field(default_factory=list)

    def shell(self) -> str:
        """One shell line: ``VAR=value vllm serve MODEL --flag value ...``."""
        prefix = [f"{k}={shlex.quote(v)}" for k, v in self.env.items()]
        return " ".join([*prefix, shlex.join(self.argv)])


def to_serve(data: Mapping[str, Any], base_dir: Path) -> ServeCommand:
    """Render validated profile data (``LoadedProfile.data``) as a ``vllm serve`` command."""
    model = dict(data.get("model", {}))
    engine = dict(data.get("engine", {}))
    sampling = dict(data.get("sampling", {}))
    chat = dict(data.get("chat", {}))
    argv = ["vllm", "serve", _model_argument(model, base_dir)]
    if model.get("path") is not None and model.get("id") is not None:
        argv += ["--served-model-name", str(model["id"])]
    for key, flag in MODEL_FLAGS.items():
        if key in model:
            value = model[key]
            if key == "chat_template":
                value = str(_absolute(value, base_dir))
            argv += _flag(flag, value)
    for key, flag in ENGINE_FLAGS.items():
        if key in engine:
            argv += _flag(flag, engine[key])
    extra = dict(engine.get("extra", {}))
    generation = dict(extra.pop("override_generation_config", {}) or {})
    template_kwargs = dict(extra.pop("default_chat_template_kwargs", {}) or {})
    for key, value in extra.items():
        argv += _flag("--" + key.replace("_", "-"), value)
    for key, hf_name in GENERATION_CONFIG_KEYS.items():
        if key in sampling:
            generation[hf_name] = sampling[key]
    if generation:
        argv += ["--override-generation-config", json.dumps(generation, separators=(",", ":"))]
    template_kwargs.update(chat.get("chat_template_kwargs", {}))
    if "enable_thinking" in chat:
        template_kwargs["enable_thinking"] = chat["enable_thinking"]
    if template_kwargs:
        argv += [
            "--default-chat-template-kwargs",
            json.dumps(template_kwargs, separators=(",", ":")),
        ]
    left_out = [f"sampling.{key}" for key in sampling if key not in GENERATION_CONFIG_KEYS] + [
        f"chat.{key}" for key in chat if key not in ("enable_thinking", "chat_template_kwargs")
    ]
    if data.get("gpu_overrides"):
        left_out.append("gpu_overrides (pick one with --gpu NAME)")
    env = {str(k): str(v) for k, v in dict(data.get("env", {})).items()}
    return ServeCommand(argv=argv, env=env, not_expressible=left_out)


def _model_argument(model: Mapping[str, Any], base_dir: Path) -> str:
    path = model.get("path")
    if path is None:
        return str(model["id"])
    if path == BUILTIN_DEMO:
        return str(BUILTIN_DEMO_MODEL_DIR)
    return str(_absolute(path, base_dir))


def _absolute(raw: str, base_dir: Path) -> Path:
    expanded = Path(raw).expanduser()
    return expanded if expanded.is_absolute() else (base_dir / expanded).resolve()


def _flag(flag: str, value: Any) -> list[str]:
    if isinstance(value, bool):
        return [flag] if value else ["--no-" + flag.removeprefix("--")]
    if isinstance(value, Mapping | list):
        return [flag, json.dumps(value, separators=(",", ":"))]
    return [flag, str(value)]


@dataclass(frozen=True)
class ParsedServe:
    """A profile's data built from a ``vllm serve`` command line, plus what had to be dropped."""

    data: dict[str, Any]
    dropped: list[str] = field(default_factory=list)


def from_serve(args: Sequence[str]) -> ParsedServe:
    """Build profile data from ``[ENV=x ...] [vllm serve] MODEL [flags]``; raise ProfileError."""
    tokens = list(args)
    env: dict[str, str] = {}
    while tokens and "=" in tokens[0] and not tokens[0].startswith("-"):
        key, _, value = tokens.pop(0).partition("=")
        env[key] = value
    if tokens[:2] == ["vllm", "serve"]:
        tokens = tokens[2:]
    elif tokens[:1] == ["serve"]:
        tokens = tokens[1:]
    model_arg: str | None = None
    flags: list[tuple[str, str | None]] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if not token.startswith("-") or _is_number(token):
            if model_arg is not None:
                raise ProfileError(
                    f"unexpected argument {token!r}",
                    key="vllm serve",
                    hint="vllm serve takes one model; quote values with spaces",
                )
            model_arg = token
            continue
        name, has_value, value = token.partition("=")
        name = FLAG_ALIASES.get(name, name)
        if not has_value:
            if (
                not _is_boolean_flag(name)
                and index < len(tokens)
                and (not tokens[index].startswith("-") or _is_number(tokens[index]))
            ):
                value = tokens[index]
                index += 1
                flags.append((name, value))
            else:
                flags.append((name, None))
        else:
            flags.append((name, value))
    data: dict[str, Any] = {"model": {}, "engine": {}}
    dropped: list[str] = []
    served_name: str | None = None
    for name, flag_value in flags:
        snake = name.lstrip("-").replace("-", "_")
        if snake == "model":
            model_arg = _require_value(name, flag_value)
        elif snake == "served_model_name":
            served_name = _require_value(name, flag_value)
        else:
            _apply_flag(data, snake, name, flag_value, dropped)
    if model_arg is None:
        raise ProfileError(
            "no model given", key="vllm serve", hint="write `vllm serve MODEL [flags]`"
        )
    if _looks_like_local_path(model_arg):
        data["model"]["path"] = _demo_or_path(model_arg)
        if served_name is not None:
            data["model"]["id"] = served_name
    else:
        data["model"]["id"] = model_arg
        if served_name is not None:
            data["engine"].setdefault("extra", {})["served_model_name"] = served_name
    if env:
        data["env"] = env
    ordered = {
        key: data[key] for key in ("model", "engine", "sampling", "chat", "env") if data.get(key)
    }
    if "model" not in ordered:
        ordered["model"] = data["model"]
    return ParsedServe(data=ordered, dropped=dropped)


def _apply_flag(
    data: dict[str, Any], snake: str, flag: str, value: str | None, dropped: list[str]
) -> None:
    negated = snake.startswith("no_")
    base = snake[3:] if negated else snake
    if base in MODEL_FLAGS and (not negated or value is None):
        data["model"][base] = _typed_for(ModelSection, base, flag, False if negated else value)
    elif base in ENGINE_FLAGS and (not negated or value is None):
        data["engine"][base] = _typed_for(EngineSection, base, flag, False if negated else value)
    elif snake == "override_generation_config":
        generation = _json_object(flag, value)
        by_hf_name = {hf: key for key, hf in GENERATION_CONFIG_KEYS.items()}
        for key, item in generation.items():
            if key in by_hf_name:
                data.setdefault("sampling", {})[by_hf_name[key]] = item
            else:
                extra = data["engine"].setdefault("extra", {})
                extra.setdefault("override_generation_config", {})[key] = item
    elif snake == "default_chat_template_kwargs":
        kwargs = _json_object(flag, value)
        if "enable_thinking" in kwargs:
            data.setdefault("chat", {})["enable_thinking"] = kwargs.pop("enable_thinking")
        if kwargs:
            data.setdefault("chat", {})["chat_template_kwargs"] = kwargs
    elif snake in SERVER_ONLY_FLAGS or base in SERVER_ONLY_FLAGS:
        shown = "" if value is None else (" ***" if "key" in snake else f" {value}")
        dropped.append(f"{flag}{shown} (an HTTP server setting, not part of a profile)")
    else:
        known = vllm_engine_arg_names()
        if negated and value is None and (known is None or base in known):
            data["engine"].setdefault("extra", {})[base] = False
        elif value is None:
            data["engine"].setdefault("extra", {})[snake] = True
        else:
            data["engine"].setdefault("extra", {})[snake] = guess_type(value)


def _typed_for(
    section: type[ModelSection] | type[EngineSection], key: str, flag: str, value: str | bool | None
) -> Any:
    annotation = str(section.model_fields[key].annotation)
    if value is None or isinstance(value, bool):
        if "bool" not in annotation:
            raise ProfileError(
                f"{flag} needs a value", key="vllm serve", hint=f"write {flag} VALUE"
            )
        return True if value is None else value
    if "bool" in annotation:
        lowered = value.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    if "int" in annotation:
        number = human_readable_int(value)
        if number is not None:
            return number
    if "float" in annotation:
        try:
            return float(value)
        except ValueError:
            pass
    return value  # validation will name the wrong type


def human_readable_int(value: str) -> int | None:
    """``"32768"``, ``"32k"`` (32000) or ``"32K"`` (32768) as vLLM's flags read them; else None."""
    import re

    text = value.strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmMgGtT])", text)
    if match is None:
        try:
            return int(text)
        except ValueError:
            return None
    number, suffix = match.groups()
    power = "kmgt".index(suffix.lower()) + 1
    multiplier = 1000**power if suffix.islower() else 1024**power
    return int(float(number) * multiplier)


def _require_value(flag: str, value: str | None) -> str:
    if value is None:
        raise ProfileError(f"{flag} needs a value", key="vllm serve", hint=f"write {flag} VALUE")
    return value


def _json_object(flag: str, value: str | None) -> dict[str, Any]:
    try:
        parsed = json.loads(_require_value(flag, value))
    except json.JSONDecodeError as exc:
        raise ProfileError(
            f"{flag} is not valid JSON ({exc.msg})",
            key="vllm serve",
            hint=f"quote it: {flag} '{{\"key\": 1}}'",
        ) from None
    if not isinstance(parsed, dict):
        raise ProfileError(
            f"{flag} must be a JSON object", key="vllm serve", hint=f"write {flag} '{{\"key\": 1}}'"
        )
    return parsed


def guess_type(value: str) -> Any:
    """A flag value as the TOML type it most likely is: integer, float, boolean, table, string."""
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        pass
    if value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            pass
    return value


def _is_boolean_flag(flag: str) -> bool:
    """A flag that never takes a separate value: ``--enforce-eager``, ``--no-...``."""
    snake = flag.lstrip("-").replace("-", "_")
    base = snake.removeprefix("no_")
    for section, key in ((ModelSection, snake), (EngineSection, snake)):
        if key in section.model_fields:
            return section.model_fields[key].annotation is bool
    booleans = vllm_boolean_engine_args()
    return snake in booleans or (snake.startswith("no_") and base in booleans)


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _looks_like_local_path(value: str) -> bool:
    return value.startswith(("/", "./", "../", "~")) or Path(value).expanduser().is_dir()


def _demo_or_path(value: str) -> str:
    try:
        if Path(value).expanduser().resolve() == BUILTIN_DEMO_MODEL_DIR.resolve():
            return BUILTIN_DEMO
    except OSError:
        pass
    return value
