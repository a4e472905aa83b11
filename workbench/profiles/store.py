"""Write profiles: validate first, then atomically replace, keeping the previous version."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workbench import paths
from workbench.files import write_atomic
from workbench.profiles.errors import ProfileError
from workbench.profiles.loader import (
    OVERRIDABLE_SECTIONS,
    ProfileSource,
    deep_merge,
    load_chain,
    parse_profile_bytes,
    strip_none,
    validate_data,
)
from workbench.profiles.schema import TestedOn
from workbench.profiles.toml_edit import patch_toml

SECTION_ORDER = (
    "extends",
    "meta",
    "model",
    "engine",
    "sampling",
    "chat",
    "deployment",
    "env",
    "gpu_overrides",
)


def backup_path(path: Path) -> Path:
    """Where ``save_profile`` keeps the previous version of ``path`` (not a *.toml, so it is
    never discovered as a profile)."""
    return path.with_name(path.name + ".bak")


def render_toml(data: Mapping[str, Any]) -> str:
    """``data`` as TOML text, sections in the documented order."""
    import tomli_w

    clean = strip_none(data)
    ordered = {key: clean[key] for key in SECTION_ORDER if key in clean}
    ordered.update({key: value for key, value in clean.items() if key not in ordered})
    return tomli_w.dumps(ordered)


def save_profile(
    path: Path,
    data: Mapping[str, Any],
    *,
    project_dir: Path | None = None,
    user_dir: Path | None = None,
    gpu_override: str | None = None,
) -> Path | None:
    """Validate ``data`` and write it to ``path`` atomically; return the backup of the previous
    file (None when there was none). An invalid profile is never written.

    Comments and layout of an existing file are kept where the change allows. With ``extends``,
    values the base already provides are not copied into the file. ``gpu_override``: ``data``
    has that GPU's override applied (``LoadedProfile.applied_gpu_override``); keys the override
    sets are written back into ``[gpu_overrides."<name>"]`` and the base values stay as they were.
    """
    path = Path(path)
    own = strip_none(data)
    if gpu_override is not None:
        own = _unapply_gpu_override(own, gpu_override, path)
    if isinstance(own.get("extends"), str):
        own = _without_inherited(own, path, project_dir, user_dir)
    validate_data(own, path, project_dir=project_dir, user_dir=user_dir)
    text = _patched_existing(path, own) or render_toml(own)
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProfileError(
            f"cannot create the directory ({exc.strerror or exc})",
            path=directory,
            hint="check the path and its permissions",
        ) from None
    if path.is_dir():
        raise ProfileError(
            "is a directory; cannot save a profile there",
            path=path,
            hint="choose a .toml file name",
        )
    backup: Path | None = None
    try:
        if path.is_file() and path.read_bytes() == text.encode("utf-8"):
            return None  # nothing changed: no write, no backup of an identical file
        if path.exists():
            backup = backup_path(path)
            write_atomic(backup, path.read_bytes())
        write_atomic(path, text)
    except OSError as exc:
        raise ProfileError(
            f"cannot write the profile ({exc.strerror or exc})",
            path=path,
            hint="check free space and permissions; the old file is unchanged",
        ) from None
    return backup


def _unapply_gpu_override(data: dict[str, Any], gpu_name: str, path: Path) -> dict[str, Any]:
    override = data.get("gpu_overrides", {}).get(gpu_name)
    if not isinstance(override, Mapping):
        return data
    try:
        on_disk = parse_profile_bytes(path.read_bytes(), path).data
    except (OSError, ProfileError):
        on_disk = {}
    result = copy.deepcopy(data)
    for section in OVERRIDABLE_SECTIONS:
        table = override.get(section)
        if not isinstance(table, Mapping):
            continue
        disk_section = on_disk.get(section, {})
        for key in table:
            if key not in result.get(section, {}):
                continue
            result["gpu_overrides"][gpu_name][section][key] = result[section][key]
            if isinstance(disk_section, Mapping) and key in disk_section:
                result[section][key] = disk_section[key]
            else:
                del result[section][key]
    return result


def _patched_existing(path: Path, data: dict[str, Any]) -> str | None:
    """The current file edited in place (comments kept), or None to re-render from scratch."""
    try:
        old = parse_profile_bytes(path.read_bytes(), path)
    except (OSError, ProfileError):
        return None
    return patch_toml(old.text, data)


def _without_inherited(
    data: dict[str, Any], path: Path, project_dir: Path | None, user_dir: Path | None
) -> dict[str, Any]:
    """``data`` minus values its ``extends`` chain already provides (keys the file itself sets
    are kept), so a child profile stays a short list of differences."""
    project_dir = project_dir if project_dir is not None else paths.project_profiles_dir()
    user_dir = user_dir if user_dir is not None else paths.user_profiles_dir()
    stub = ProfileSource(path=path, text="", data={"extends": data["extends"]})
    try:
        bases = load_chain(stub, project_dir, user_dir)[1:]
    except ProfileError:
        return data  # validation reports the broken chain
    inherited: dict[str, Any] = {}
    for source in reversed(bases):
        inherited = deep_merge(inherited, source.data)
    for key in ("extends", "meta"):
        inherited.pop(key, None)
    try:
        own_keys = parse_profile_bytes(path.read_bytes(), path).data
    except (OSError, ProfileError):
        own_keys = {}
    return _subtract(data, inherited, own_keys)


def _subtract(
    data: Mapping[str, Any], inherited: Mapping[str, Any], keep: Mapping[str, Any]
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in data.items():
        base = inherited.get(key)
        kept = keep.get(key) if isinstance(keep, Mapping) else None
        if isinstance(value, Mapping) and isinstance(base, Mapping):
            inner = _subtract(value, base, kept if isinstance(kept, Mapping) else {})
            if inner or key in keep:
                result[key] = inner
        elif key in keep or base != value or type(base) is not type(value):
            result[key] = value
    return result


def record_tested_on(
    path: Path,
    record: Mapping[str, Any] | TestedOn,
    *,
    project_dir: Path | None = None,
    user_dir: Path | None = None,
) -> Path | None:
    """Append a ``[[meta.tested_on]]`` record (a real load's GPU, vLLM version, KV tokens) to
    the profile file at ``path``, comments kept. An identical record is not added twice.
    Returns the backup path, or None when nothing was written or there was no previous file."""
    from pydantic import ValidationError

    try:
        checked = record if isinstance(record, TestedOn) else TestedOn.model_validate(record)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ProfileError(
            f"bad tested_on record: {where}: {first['msg']}",
            path=path,
            key="meta.tested_on",
            hint="gpu (str), vllm_version (str) and kv_cache_tokens (int >= 0) are required",
        ) from None
    data = copy.deepcopy(parse_profile_bytes(_read(path), path).data)
    meta = data.setdefault("meta", {})
    entry = checked.model_dump(exclude_none=True)
    records = meta.setdefault("tested_on", [])
    if entry in records:
        return None
    records.append(entry)
    return save_profile(path, data, project_dir=project_dir, user_dir=user_dir)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ProfileError(
            f"cannot read the file ({exc.strerror or exc})", path=path, hint="check the path"
        ) from None
