"""Sharing profiles: portable export, consent-gated import, a new profile from a model dir."""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.model_config import derived_max_model_len, tokenizer_max_length
from workbench.profiles.errors import ProfileError
from workbench.profiles.loader import (
    LoadedProfile,
    load_chain,
    load_source,
    locate_key,
    merge_chain,
    read_profile_file,
)
from workbench.profiles.models import BUILTIN_DEMO, MODEL_DIR_ENV, expand_model_path

SECRET_WORDS = frozenset(
    {"token", "password", "passwd", "secret", "secrets", "credential", "credentials", "apikey"}
)


def looks_secret(key: str) -> bool:
    """``hf_token``, ``api_key``, ``db_password``: yes; ``max_tokens``, ``kv_cache_tokens``: no."""
    words = re.split(r"[_\-.\s]+", key.lower())
    return bool(SECRET_WORDS & set(words)) or ("api" in words and "key" in words)


TRUST_FLAG = "--trust-profile"
NAMES_A_VARIABLE = frozenset({"deployment.api_key_env"})
"""Keys that look secret but hold the *name* of the environment variable with the secret."""


@dataclass(frozen=True)
class Exported:
    """A portable copy of a profile and what was changed to make it portable."""

    data: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def export_profile(loaded: LoadedProfile, *, keep_url: bool = False) -> Exported:
    """A copy that works on a teammate's machine: ``extends`` flattened, machine paths turned into
    model ids or $WORKBENCH_MODEL_DIR-relative paths, env vars and secrets stripped, and a
    [deployment] (a server's address) dropped unless ``keep_url``."""
    data = copy.deepcopy(loaded.data)
    notes: list[str] = []
    if "deployment" in data and not keep_url:
        url = data.pop("deployment").get("url")
        notes.append(f"dropped [deployment] ({url}); pass --keep-url to share the server address")
    if "extends" in data:
        notes.append(f"flattened extends = {data.pop('extends')!r} into the copy")
    if data.pop("env", None):
        notes.append("stripped [env] (environment variables stay on this machine)")
    notes += _strip_secrets(data, ())
    model = data.get("model", {})
    path_value = model.get("path")
    if path_value is not None and path_value != BUILTIN_DEMO:
        base_dir = _model_base(loaded)
        notes += _portable_model(model, expand_model_path(path_value, base_dir))
    for key in ("tokenizer",):
        value = model.get(key)
        if isinstance(value, str) and (value.startswith(("/", "~")) or Path(value).exists()):
            notes.append(f"model.{key} = {value!r} is a local path; send that folder along")
    for section, key in (("model", "chat_template"), ("sampling", "json_schema")):
        value = data.get(section, {}).get(key)
        if isinstance(value, str):
            notes.append(f"{section}.{key} refers to the file {value!r}; send it along")
    return Exported(data=data, notes=notes)


def _model_base(loaded: LoadedProfile) -> Path:
    for source in loaded.sources:
        try:
            raw = read_profile_file(source).data.get("model", {})
        except ProfileError:
            continue
        if isinstance(raw, Mapping) and "path" in raw:
            return source.parent
    return loaded.path.parent


def _portable_model(model: dict[str, Any], directory: Path) -> list[str]:
    original = model["path"]
    resolved = directory.resolve() if directory.exists() else directory
    root_value = os.environ.get(MODEL_DIR_ENV)
    if root_value:
        root = Path(root_value).expanduser().resolve()
        try:
            relative = resolved.relative_to(root)
        except ValueError:
            relative = None
        if relative is not None:
            parts = relative.parts
            if len(parts) == 2:
                model.setdefault("id", f"{parts[0]}/{parts[1]}")
            elif len(parts) == 1 and "__" in parts[0]:
                model.setdefault("id", parts[0].replace("__", "/", 1))
            if "id" in model:
                del model["path"]
                return [f"model.path {original!r} became model.id {model['id']!r}"]
            model["path"] = f"${MODEL_DIR_ENV}/{relative.as_posix()}"
            return [f"model.path {original!r} became {model['path']!r}"]
    match = re.search(r"models--([^/]+)--([^/]+)/snapshots/([0-9a-f]{40})", resolved.as_posix())
    if match:
        model.setdefault("id", f"{match.group(1)}/{match.group(2)}")
        model.setdefault("revision", match.group(3))
        del model["path"]
        return [
            f"model.path in the HF cache became model.id {model['id']!r} "
            f"at revision {model['revision'][:12]}"
        ]
    if "id" in model:
        del model["path"]
        return [
            f"dropped machine-specific model.path {original!r}; model.id {model['id']!r} "
            "finds it elsewhere"
        ]
    return [
        f"model.path {original!r} is specific to this machine; the recipient must edit it "
        "(or set model.id)"
    ]


def _strip_secrets(table: dict[str, Any], prefix: tuple[str, ...]) -> list[str]:
    notes: list[str] = []
    for key in list(table):
        value = table[key]
        dotted = ".".join((*prefix, key))
        if dotted in NAMES_A_VARIABLE:
            continue
        if looks_secret(key):
            del table[key]
            notes.append(f"stripped {dotted} (looks like a secret)")
        elif isinstance(value, dict):
            notes += _strip_secrets(value, (*prefix, key))
    return notes


def consent_needed(data: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    """What in ``data`` runs code or changes the environment: (key, why) pairs."""
    needed: list[tuple[tuple[str, ...], str]] = []
    model = data.get("model", {})
    if isinstance(model, Mapping):
        if model.get("trust_remote_code") is True:
            needed.append(
                (("model", "trust_remote_code"), "runs Python code shipped with the model")
            )
        if model.get("chat_template") is not None:
            needed.append((("model", "chat_template"), "uses a custom chat template"))
    env = data.get("env")
    if env:
        names = ", ".join(sorted(env)) if isinstance(env, Mapping) else "?"
        needed.append((("env",), f"sets environment variables ({names})"))
    return needed


def import_profile(
    file: Path,
    *,
    user_dir: Path,
    project_dir: Path,
    name: str | None = None,
    trust: bool = False,
    force: bool = False,
) -> tuple[Path, Path | None]:
    """Copy a shared profile into the user profiles dir; return (written path, backup path)."""
    from workbench.profiles.store import save_profile

    source = read_profile_file(file)
    # Validate the file as it is, so errors point at its own lines, before anything is written.
    load_source(source, origin="file", gpu_name=None, project_dir=project_dir, user_dir=user_dir)
    chain = load_chain(source, project_dir, user_dir)
    merged = merge_chain(chain)
    needed = consent_needed(merged)
    if needed and not trust:
        path, line = locate_key(chain, needed[0][0])
        what = "; ".join(f"{'.'.join(key)} {why}" for key, why in needed)
        raise ProfileError(
            f"needs your consent: {what}",
            path=path,
            line=line,
            key=".".join(needed[0][0]),
            hint=f"read the file, then re-run with {TRUST_FLAG} to import it anyway",
        )
    target_name = name or source.path.stem
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", target_name):
        raise ProfileError(
            f"{target_name!r} is not a usable profile name",
            key="name",
            hint="use letters, digits, '.', '_' and '-'",
        )
    target = user_dir / f"{target_name}.toml"
    if target.exists() and not force:
        raise ProfileError(
            "a profile with this name already exists",
            path=target,
            hint="pass --force to replace it (the old one is kept as a .bak), or --name NEW",
        )
    data = _anchor_relative_paths(source.data, source.path.parent)
    backup = save_profile(target, data, project_dir=project_dir, user_dir=user_dir)
    return target, backup


def _anchor_relative_paths(data: Mapping[str, Any], base_dir: Path) -> dict[str, Any]:
    """Relative file references made absolute: the profile moves, the files it names do not."""
    anchored = copy.deepcopy(dict(data))
    for section, key in (
        ("model", "path"),
        ("model", "chat_template"),
        ("sampling", "json_schema"),
    ):
        table = anchored.get(section)
        value = table.get(key) if isinstance(table, dict) else None
        if not isinstance(value, str) or value == BUILTIN_DEMO or value.startswith(("~", "$")):
            continue
        if not Path(value).is_absolute():
            table[key] = str((base_dir / value).resolve())  # type: ignore[index]
    return anchored


def new_profile_data(model_dir: Path, name: str) -> tuple[dict[str, Any], list[str]]:
    """Profile data prefilled from a model's config.json / generation_config.json."""
    model_dir = model_dir.expanduser()
    config_path = model_dir / "config.json"
    if not config_path.is_file():
        raise ProfileError(
            "no config.json here",
            path=model_dir,
            hint="point --from at a Hugging Face model folder",
        )
    config = _read_json(config_path)
    notes: list[str] = []
    text_config = config.get("text_config") if isinstance(config.get("text_config"), dict) else {}
    merged_config = {**config, **(text_config or {})}
    model: dict[str, Any] = {"path": str(model_dir.resolve())}
    portable = dict(model)
    portable_notes = _portable_model(portable, model_dir.resolve())
    if portable.get("path") != model["path"]:  # under $WORKBENCH_MODEL_DIR or the HF cache
        model = portable
        notes += portable_notes
    engine: dict[str, Any] = {}
    sampling: dict[str, Any] = {}
    chat: dict[str, Any] = {}
    derived = derived_max_model_len(merged_config, tokenizer_max_length(model_dir))
    engine["max_model_len"] = min(derived.length, 8192)
    if derived.length > 8192:
        notes.append(
            f"max_model_len set to 8192 of the model's {derived.length} ({derived.source}); "
            "raise it with the tuner once you see what fits"
        )
    quant = config.get("quantization_config")
    if isinstance(quant, dict) and isinstance(quant.get("quant_method"), str):
        notes.append(
            f"quantized ({quant['quant_method']}); vLLM detects the method from config.json"
        )
    generation_path = model_dir / "generation_config.json"
    if generation_path.is_file():
        generation = _read_json(generation_path)
        for key in ("temperature", "top_p", "top_k", "min_p", "repetition_penalty"):
            value = generation.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                sampling[key] = float(value) if key != "top_k" else int(value)
    template = _chat_template_text(model_dir)
    model_type = str(merged_config.get("model_type", ""))
    if "<think>" in template or "enable_thinking" in template:
        engine["reasoning_parser"] = "qwen3" if model_type.startswith("qwen3") else "deepseek_r1"
        chat["enable_thinking"] = True
        # room to think, and for the prompt within max_model_len
        sampling.setdefault("max_tokens", min(4096, engine["max_model_len"] // 2))
        notes.append(f"the chat template thinks: reasoning_parser = {engine['reasoning_parser']!r}")
    data: dict[str, Any] = {
        "meta": {
            "name": name,
            "description": f"Made by `workbench profiles new` from {model_dir.name}",
        },
        "model": model,
    }
    for section_name, section in (("engine", engine), ("sampling", sampling), ("chat", chat)):
        if section:
            data[section_name] = section
    return data, notes


def _read_json(path: Path) -> dict[str, Any]:
    try:
        parsed = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProfileError(
            f"cannot read JSON ({exc})", path=path, hint="re-download or re-copy the model"
        ) from None
    if not isinstance(parsed, dict):
        raise ProfileError("is not a JSON object", path=path, hint="re-download the model")
    return parsed


def _chat_template_text(model_dir: Path) -> str:
    for candidate in ("chat_template.jinja", "chat_template.json", "tokenizer_config.json"):
        path = model_dir / candidate
        if path.is_file():
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if candidate.endswith(".jinja"):
                return text
            try:
                template = json.loads(text).get("chat_template", "")
            except (json.JSONDecodeError, AttributeError):
                continue
            if isinstance(template, str) and template:
                return template
    return ""
