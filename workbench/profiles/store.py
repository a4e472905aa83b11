"""Write profiles: validate first, then atomically replace, keeping the previous version."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workbench.profiles.errors import ProfileError
from workbench.profiles.loader import strip_none, validate_data

SECTION_ORDER = ("extends", "meta", "model", "engine", "sampling", "chat", "env", "gpu_overrides")


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
) -> Path | None:
    """Validate ``data`` and write it to ``path`` atomically; return the backup of the previous
    file (None when there was none). An invalid profile is never written."""
    path = Path(path)
    validate_data(data, path, project_dir=project_dir, user_dir=user_dir)
    text = render_toml(data)
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
    temp_name: str | None = None
    try:
        if path.exists():
            backup = backup_path(path)
            _atomic_copy(path, backup)
        fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if backup is not None:
            shutil.copymode(path, temp_name)
        os.replace(temp_name, path)
        temp_name = None
        _fsync_dir(directory)
    except OSError as exc:
        raise ProfileError(
            f"cannot write the profile ({exc.strerror or exc})",
            path=path,
            hint="check free space and permissions; the old file is unchanged",
        ) from None
    finally:
        if temp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
    return backup


def _atomic_copy(source: Path, target: Path) -> None:
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(source.read_bytes())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
