"""Find every profile: the project's ``./profiles`` and the user's config dir."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from workbench import paths
from workbench.profiles.errors import ProfileError
from workbench.profiles.loader import (
    BUILTIN_PROFILES_DIR,
    LoadedProfile,
    load_source,
    read_profile_file,
)


@dataclass(frozen=True)
class DiscoveredProfile:
    """One profile file found by discovery, loaded or with the error that stopped it."""

    name: str
    path: Path
    origin: Literal["project", "user", "builtin"]
    loaded: LoadedProfile | None
    error: ProfileError | None
    shadowed: tuple[Path, ...] = ()
    """User files with the same name, hidden by this project profile."""


def discover_profiles(
    project_dir: Path | None = None,
    user_dir: Path | None = None,
    *,
    gpu_name: str | None = None,
) -> list[DiscoveredProfile]:
    """All profiles by name; a project profile wins over a user profile of the same name, and
    either over a built-in one (shipped in the package, e.g. "demo")."""
    project_dir = project_dir if project_dir is not None else paths.project_profiles_dir()
    user_dir = user_dir if user_dir is not None else paths.user_profiles_dir()
    project_files = _toml_files(project_dir)
    user_files = _toml_files(user_dir)
    builtin_files = _toml_files(BUILTIN_PROFILES_DIR)
    found: list[DiscoveredProfile] = []
    for name in sorted(set(project_files) | set(user_files) | set(builtin_files)):
        shadowed: tuple[Path, ...] = ()
        if name in project_files:
            path, origin = project_files[name], "project"
            shadowed = (user_files[name],) if name in user_files else ()
        elif name in user_files:
            path, origin = user_files[name], "user"
        else:
            path, origin = builtin_files[name], "builtin"
        loaded: LoadedProfile | None = None
        error: ProfileError | None = None
        try:
            source = read_profile_file(path)
            loaded = load_source(
                source,
                origin=origin,  # type: ignore[arg-type]
                gpu_name=gpu_name,
                project_dir=project_dir,
                user_dir=user_dir,
            )
        except ProfileError as exc:
            error = exc
        found.append(
            DiscoveredProfile(
                name=name,
                path=path,
                origin=origin,  # type: ignore[arg-type]
                loaded=loaded,
                error=error,
                shadowed=shadowed,
            )
        )
    return found


def _toml_files(directory: Path) -> dict[str, Path]:
    try:
        return {p.stem: p for p in sorted(directory.glob("*.toml")) if not p.name.startswith(".")}
    except OSError:
        return {}
