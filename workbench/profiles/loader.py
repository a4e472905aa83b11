"""Read, merge (``extends``, GPU overrides) and validate profiles. Validation never writes.

Every failure is a ``ProfileError`` naming the file, the line and the dotted key, with a hint.
"""

from __future__ import annotations

import copy
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from workbench import paths
from workbench.profiles import checks
from workbench.profiles.errors import ProfileError, did_you_mean
from workbench.profiles.models import ModelUnavailableError, resolve_model_dir
from workbench.profiles.pydantic_errors import translate_validation_error
from workbench.profiles.schema import Profile
from workbench.profiles.toml_lines import KeyPath, key_lines, lookup

MAX_PROFILE_BYTES = 1024 * 1024
"""Profiles above this size are refused before parsing (a profile is a few KiB)."""
MAX_EXTENDS_DEPTH = 16
OVERRIDABLE_SECTIONS = ("engine", "sampling", "chat")
BUILTIN_PROFILES_DIR = Path(__file__).parent / "builtin"
"""Profiles shipped inside the package (a copy of ./profiles/demo.toml), found by name last:
by ``workbench app NAME``, by ``extends = "NAME"`` and by discovery (origin "builtin")."""

Origin = Literal["project", "user", "file", "builtin"]


@dataclass(frozen=True)
class ProfileSource:
    """One profile file as read from disk: its text and its raw TOML data."""

    path: Path
    text: str
    data: dict[str, Any]

    def key_lines(self) -> dict[KeyPath, int]:
        return key_lines(self.text)


@dataclass(frozen=True)
class LoadedProfile:
    """A validated profile: ``extends`` resolved, this machine's GPU override applied."""

    name: str
    path: Path
    origin: Origin
    profile: Profile
    data: dict[str, Any]
    """The merged TOML data behind ``profile`` (what the tuner edits and save_profile writes)."""
    model_dir: Path | None
    """The resolved local model directory; None when the model is not on this machine."""
    model_error: str | None
    """Why ``model_dir`` is None, with how to fix it."""
    applied_gpu_override: str | None
    sources: tuple[Path, ...] = ()
    """The files merged into this profile, most derived first (the file itself, then its bases)."""
    project_dir: Path | None = None
    user_dir: Path | None = None
    """The discovery directories it was loaded with: ``extends`` resolves against them."""
    gpu_name: str | None = None
    """The GPU it was loaded for (selects [gpu_overrides]), whether or not one applied."""

    def require_model_dir(self) -> Path:
        """The model directory, or a ProfileError saying why it is not available."""
        if self.model_dir is None:
            raise ProfileError(self.model_error or "the model is not available", path=self.path)
        return self.model_dir


def read_profile_file(path: Path) -> ProfileSource:
    """Read and parse one TOML file; size, encoding and syntax problems become ProfileError."""
    try:
        if path.is_dir():
            raise ProfileError(
                "is a directory, not a profile file", path=path, hint="pass a .toml file"
            )
        size = path.stat().st_size
        if size > MAX_PROFILE_BYTES:
            raise ProfileError(
                f"file is {size:,} bytes, over the {MAX_PROFILE_BYTES:,}-byte limit for a profile",
                path=path,
                hint="a profile is a few KiB of settings; is this the right file?",
            )
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ProfileError(
            "no such file", path=path, hint="check the path, or `workbench profiles list`"
        ) from None
    except PermissionError:
        raise ProfileError(
            "cannot read the file (permission denied)", path=path, hint="check its permissions"
        ) from None
    except OSError as exc:
        raise ProfileError(
            f"cannot read the file ({exc.strerror or exc})", path=path, hint="check the path"
        ) from None
    return parse_profile_bytes(raw, path)


def parse_profile_bytes(raw: bytes, path: Path) -> ProfileSource:
    """Decode and parse profile bytes (as read from ``path``)."""
    if len(raw) > MAX_PROFILE_BYTES:
        raise ProfileError(
            f"file is {len(raw):,} bytes, over the {MAX_PROFILE_BYTES:,}-byte limit for a profile",
            path=path,
            hint="a profile is a few KiB of settings; is this the right file?",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ProfileError(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            path=path,
            line=line,
            hint="TOML files must be UTF-8; re-save the file as UTF-8",
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise ProfileError(
            "file is empty",
            path=path,
            line=1,
            hint='a profile needs at least [model] with id = "org/name" or path = "/models/x"',
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message, syntax_line = _split_toml_error(str(exc))
        raise ProfileError(
            f"TOML syntax: {message}",
            path=path,
            line=syntax_line,
            hint=_syntax_hint(message),
        ) from None
    return ProfileSource(path=path, text=text, data=data)


def _split_toml_error(text: str) -> tuple[str, int | None]:
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", text)
    if match is None:
        match_end = re.search(r"\s*\(at end of document\)\s*$", text)
        if match_end is not None:
            return text[: match_end.start()] + " at end of file", None
        return text, None
    message = f"{text[: match.start()]} (column {match.group(2)})"
    return message, int(match.group(1))


def _syntax_hint(message: str) -> str:
    lowered = message.lower()
    if "cannot overwrite" in lowered or "cannot declare" in lowered:
        return "each key and table may appear only once"
    if "invalid value" in lowered:
        return 'strings need quotes: key = "value"; booleans are true/false'
    if "expected '=' after a key" in lowered:
        return "write key = value"
    if "illegal character '\\n'" in lowered or "unclosed" in lowered or "unterminated" in lowered:
        return "a string, array or inline table is not closed on this line"
    if "unclosed" in lowered or "unterminated" in lowered:
        return "close the string, array or table"
    return "see https://toml.io for the syntax"


# ---------------------------------------------------------------------------------------------
# Finding profiles by name


def locate_profile(
    name_or_path: str | Path, project_dir: Path, user_dir: Path
) -> tuple[Path, Origin]:
    """The file a profile name or path refers to, and where it came from."""
    if isinstance(name_or_path, Path) or _looks_like_path(name_or_path):
        return Path(name_or_path), "file"
    name = name_or_path
    for directory, origin in ((project_dir, "project"), (user_dir, "user")):
        candidate = directory / f"{name}.toml"
        if candidate.is_file():
            return candidate, origin  # type: ignore[return-value]
    builtin = BUILTIN_PROFILES_DIR / f"{name}.toml"
    if builtin.is_file():  # e.g. `workbench` run outside a checkout still finds "demo"
        return builtin, "builtin"
    known = sorted(
        {
            p.stem
            for d in (project_dir, user_dir, BUILTIN_PROFILES_DIR)
            if d.is_dir()
            for p in d.glob("*.toml")
        }
    )
    suggestion = did_you_mean(name, known)
    if suggestion:
        hint = f"did you mean {suggestion!r}?"
    elif known:
        hint = "known profiles: " + ", ".join(known)
    else:
        hint = f"no profiles in {project_dir} or {user_dir}; `workbench profiles new` makes one"
    raise ProfileError(f"no profile named {name!r}", hint=hint)


def _looks_like_path(value: str) -> bool:
    return value.endswith(".toml") or "/" in value or "\\" in value or Path(value).is_file()


def _find_base(name: str, child: ProfileSource, project_dir: Path, user_dir: Path) -> Path:
    if _looks_like_path(name):
        candidate = Path(name).expanduser()
        if not candidate.is_absolute():
            candidate = child.path.parent / candidate
        if candidate.is_file():
            return candidate
        searched = [candidate]
    else:
        searched = [
            d / f"{name}.toml"
            for d in (child.path.parent, project_dir, user_dir, BUILTIN_PROFILES_DIR)
        ]
        for candidate in searched:
            if candidate.is_file():
                return candidate
    known = sorted(
        {
            p.stem
            for d in (child.path.parent, project_dir, user_dir, BUILTIN_PROFILES_DIR)
            if d.is_dir()
            for p in d.glob("*.toml")
        }
        - {child.path.stem}
    )
    suggestion = did_you_mean(name, known)
    raise ProfileError(
        f"extends unknown profile {name!r}",
        path=child.path,
        line=_line(child, ("extends",)),
        key="extends",
        hint=f"did you mean {suggestion!r}?"
        if suggestion
        else "looked in " + ", ".join(str(p.parent) for p in searched),
    )


def load_chain(source: ProfileSource, project_dir: Path, user_dir: Path) -> list[ProfileSource]:
    """``source`` and the profiles it extends, most derived first; cycles are errors."""
    chain = [source]
    while True:
        current = chain[-1]
        extends = current.data.get("extends")
        if extends is None:
            return chain
        if not isinstance(extends, str):
            raise ProfileError(
                f"expected a string (a profile name), got {toml_type(extends)}",
                path=current.path,
                line=_line(current, ("extends",)),
                key="extends",
                hint='write extends = "other-profile"',
            )
        base_path = _find_base(extends, current, project_dir, user_dir)
        resolved = {_same_file_key(s.path): i for i, s in enumerate(chain)}
        if _same_file_key(base_path) in resolved:
            start = resolved[_same_file_key(base_path)]
            names = [s.path.stem for s in chain[start:]] + [chain[start].path.stem]
            # Point at the file the person asked about when it is part of the cycle.
            culprit = chain[start]
            raise ProfileError(
                "extends cycle: " + " → ".join(names),
                path=culprit.path,
                line=_line(culprit, ("extends",)),
                key="extends",
                hint="remove `extends` from one of these profiles",
            )
        if len(chain) >= MAX_EXTENDS_DEPTH:
            raise ProfileError(
                f"extends chain deeper than {MAX_EXTENDS_DEPTH} profiles",
                path=current.path,
                line=_line(current, ("extends",)),
                key="extends",
                hint="flatten the chain",
            )
        chain.append(read_profile_file(base_path))


def _same_file_key(path: Path) -> str:
    try:
        return str(path.resolve())
    except OSError:
        return str(path.absolute())


# ---------------------------------------------------------------------------------------------
# Merging


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Tables merge key by key (``override`` wins); arrays and scalars are replaced."""
    merged: dict[str, Any] = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def merge_chain(chain: list[ProfileSource]) -> dict[str, Any]:
    """The data of a whole ``extends`` chain; the most derived file wins; ``extends`` is kept."""
    merged: dict[str, Any] = {}
    for source in reversed(chain):
        merged = deep_merge(merged, source.data)
    if "extends" in chain[0].data:
        merged["extends"] = chain[0].data["extends"]
    else:
        merged.pop("extends", None)
    # [meta] describes one file: a base's name, description and test records are not inherited.
    merged["meta"] = copy.deepcopy(chain[0].data.get("meta", {}))
    if not merged["meta"]:
        del merged["meta"]
    return merged


def apply_gpu_override(data: Mapping[str, Any], gpu_name: str) -> dict[str, Any]:
    """``data`` with ``gpu_overrides[gpu_name]`` merged into its sections."""
    overrides = data.get("gpu_overrides", {})
    override = overrides.get(gpu_name, {}) if isinstance(overrides, Mapping) else {}
    result = copy.deepcopy(dict(data))
    if not isinstance(override, Mapping):
        return result
    for section in OVERRIDABLE_SECTIONS:
        table = override.get(section)
        if isinstance(table, Mapping):
            current = result.get(section, {})
            result[section] = deep_merge(current if isinstance(current, Mapping) else {}, table)
    return result


def unapplied_gpu_overrides(loaded: LoadedProfile) -> str | None:
    """When the profile has ``[gpu_overrides]`` but none is for the GPU it was loaded for: one
    line saying so (a teammate's H100 settings do not apply to your 4090), else None."""
    overrides = loaded.data.get("gpu_overrides")
    if not isinstance(overrides, Mapping) or not overrides or loaded.applied_gpu_override:
        return None
    names = ", ".join(repr(name) for name in sorted(overrides))
    here = f"the GPU here is {loaded.gpu_name!r}" if loaded.gpu_name else "no GPU detected or given"
    return (
        f"gpu_overrides for {names} not applied ({here}): the base values are used "
        f"(preview one with `workbench profiles show {loaded.name} --gpu NAME`)"
    )


# ---------------------------------------------------------------------------------------------
# Validation


def toml_type(value: object) -> str:
    """The TOML name of a parsed value's type, with an article."""
    import datetime

    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, datetime.datetime):
        return "a datetime"
    if isinstance(value, datetime.date):
        return "a date"
    if isinstance(value, datetime.time):
        return "a time"
    return type(value).__name__


def _line(source: ProfileSource, key: KeyPath) -> int | None:
    return lookup(source.key_lines(), key)[0]


def locate_key(chain: list[ProfileSource], key: KeyPath) -> tuple[Path, int | None]:
    """The file of ``chain`` (and line) that best explains ``key``: the most derived file that
    holds the longest part of it."""
    best: tuple[Path, int | None] = (chain[0].path, None)
    best_length = 0
    for source in chain:
        line, length = lookup(source.key_lines(), key)
        if length > best_length:
            best, best_length = (source.path, line), length
    return best


def _dotted(key: KeyPath) -> str:
    parts: list[str] = []
    for part in key:
        if isinstance(part, int):
            parts[-1:] = [f"{parts[-1]}[{part}]"] if parts else [f"[{part}]"]
        elif part and all(c.isalnum() or c in "_-" for c in part):
            parts.append(part)
        else:
            parts.append('"' + part.replace('"', '\\"') + '"')
    return ".".join(parts)


def error_at(
    chain: list[ProfileSource], key: KeyPath, message: str, hint: str | None
) -> ProfileError:
    """A ProfileError for ``key``, located in the file and line that set it."""
    path, line = locate_key(chain, key)
    return ProfileError(message, path=path, line=line, key=_dotted(key) or None, hint=hint)


def validate_merged(data: dict[str, Any], chain: list[ProfileSource], base_dir: Path) -> Profile:
    """Validate merged data: schema, every GPU override, and cross-field rules."""
    profile = _validate_schema(data, chain)
    checks.check_profile(profile, data, base_dir, lambda k, m, h: error_at(chain, k, m, h))
    overrides = data.get("gpu_overrides", {})
    for gpu_name in overrides:
        _validate_override(data, gpu_name, chain, base_dir)
    return profile


def _non_finite(value: Any, prefix: KeyPath) -> KeyPath | None:
    """The path of the first nan/inf float in ``value``; None when there is none."""
    if isinstance(value, float) and not math.isfinite(value):
        return prefix
    if isinstance(value, Mapping):
        items: list[tuple[str | int, Any]] = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        return None
    for key, item in items:
        found = _non_finite(item, (*prefix, key))
        if found is not None:
            return found
    return None


def _validate_schema(data: dict[str, Any], chain: list[ProfileSource]) -> Profile:
    bad_number = _non_finite(data, ())
    if bad_number is not None:
        raise error_at(
            chain, bad_number, "nan and inf are not usable settings", "write a finite number"
        )
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        key, message, hint, more = translate_validation_error(exc, data)
        error = error_at(chain, key, message, hint)
        if more:
            error = ProfileError(
                f"{error.message} (+{more} more)",
                path=error.path,
                line=error.line,
                key=error.key,
                hint=error.hint,
            )
        raise error from None


def _validate_override(
    data: dict[str, Any], gpu_name: str, chain: list[ProfileSource], base_dir: Path
) -> None:
    override = data["gpu_overrides"][gpu_name]
    prefix: KeyPath = ("gpu_overrides", gpu_name)

    def remap(key: KeyPath) -> KeyPath:
        if len(key) >= 2 and key[0] in OVERRIDABLE_SECTIONS:
            section = override.get(key[0], {})
            if isinstance(section, Mapping) and key[1] in section:
                return (*prefix, *key)
        return key

    def error(key: KeyPath, message: str, hint: str | None) -> ProfileError:
        remapped = remap(key)
        note = "" if remapped != key else f" (with the {gpu_name!r} override applied)"
        return error_at(chain, remapped, message + note, hint)

    applied = apply_gpu_override(data, gpu_name)
    try:
        profile = Profile.model_validate(applied)
    except ValidationError as exc:
        key, message, hint, _ = translate_validation_error(exc, applied)
        raise error(key, message, hint) from None
    checks.check_profile(profile, applied, base_dir, error)


def load_source(
    source: ProfileSource,
    *,
    origin: Origin,
    gpu_name: str | None,
    project_dir: Path,
    user_dir: Path,
) -> LoadedProfile:
    """Resolve, merge, validate and find the model for an already-read profile file."""
    chain = load_chain(source, project_dir, user_dir)
    merged = merge_chain(chain)
    base_dir = source.path.parent
    validate_merged(merged, chain, base_dir)
    applied_override: str | None = None
    data = merged
    if gpu_name is not None and gpu_name in merged.get("gpu_overrides", {}):
        data = apply_gpu_override(merged, gpu_name)
        applied_override = gpu_name
    profile = Profile.model_validate(data)
    model_dir: Path | None = None
    model_error: str | None = None
    try:
        model_dir = resolve_model_dir(profile.model, _model_base_dir(chain))
    except ModelUnavailableError as exc:
        model_error = f"{exc.message} (hint: {exc.hint})" if exc.hint else exc.message
    except ProfileError as exc:
        key = tuple(exc.key.split(".")) if exc.key else ("model",)
        raise error_at(chain, key, exc.message, exc.hint) from None
    if model_dir is not None:
        checks.check_against_model(profile, model_dir, lambda k, m, h: error_at(chain, k, m, h))
    return LoadedProfile(
        name=source.path.stem,
        path=source.path,
        origin=origin,
        profile=profile,
        data=data,
        model_dir=model_dir,
        model_error=model_error,
        applied_gpu_override=applied_override,
        sources=tuple(s.path for s in chain),
        project_dir=project_dir,
        user_dir=user_dir,
        gpu_name=gpu_name,
    )


def reload_profile(loaded: LoadedProfile) -> LoadedProfile:
    """Read ``loaded``'s file again with the context it was loaded in: the same discovery
    directories (``extends`` resolves as before), GPU (its [gpu_overrides]) and origin."""
    project_dir = loaded.project_dir or paths.project_profiles_dir()
    user_dir = loaded.user_dir or paths.user_profiles_dir()
    return load_source(
        read_profile_file(loaded.path),
        origin=loaded.origin,
        gpu_name=loaded.gpu_name,
        project_dir=project_dir,
        user_dir=user_dir,
    )


def _model_base_dir(chain: list[ProfileSource]) -> Path:
    """A relative ``[model] path`` is relative to the file that set it."""
    for source in chain:
        model = source.data.get("model")
        if isinstance(model, Mapping) and "path" in model:
            return source.path.parent
    return chain[0].path.parent


def load_profile(
    name_or_path: str | Path,
    *,
    gpu_name: str | None = None,
    project_dir: Path | None = None,
    user_dir: Path | None = None,
) -> LoadedProfile:
    """Load a profile by name (project ./profiles wins over the user dir) or by path."""
    project_dir = project_dir if project_dir is not None else paths.project_profiles_dir()
    user_dir = user_dir if user_dir is not None else paths.user_profiles_dir()
    path, origin = locate_profile(name_or_path, project_dir, user_dir)
    source = read_profile_file(path)
    return load_source(
        source, origin=origin, gpu_name=gpu_name, project_dir=project_dir, user_dir=user_dir
    )


def validate_data(
    data: Mapping[str, Any],
    path: Path,
    *,
    project_dir: Path | None = None,
    user_dir: Path | None = None,
) -> LoadedProfile:
    """Validate data as if it were the file at ``path`` (nothing is written)."""
    import tomli_w

    project_dir = project_dir if project_dir is not None else paths.project_profiles_dir()
    user_dir = user_dir if user_dir is not None else paths.user_profiles_dir()
    clean = strip_none(data)
    try:
        text = tomli_w.dumps(clean)
    except (TypeError, ValueError) as exc:
        raise ProfileError(f"cannot be written as TOML: {exc}", path=path) from None
    source = ProfileSource(path=path, text=text, data=tomllib.loads(text))
    return load_source(
        source, origin="file", gpu_name=None, project_dir=project_dir, user_dir=user_dir
    )


def strip_none(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` without None values (TOML has no null), recursively."""
    result: dict[str, Any] = {}
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            result[key] = strip_none(value)
        elif isinstance(value, list):
            result[key] = [
                strip_none(v) if isinstance(v, Mapping) else v for v in value if v is not None
            ]
        else:
            result[key] = value
    return result
