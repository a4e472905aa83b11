"""The shell's calls into the profiles and estimate layers, in one place (blocking: use workers)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.ui.profile_edits import renamed, with_setting

if TYPE_CHECKING:
    from workbench.engine.api import Suggestion
    from workbench.estimate import Estimate, GpuSpec
    from workbench.profiles import DiscoveredProfile, LoadedProfile


def discover(
    project_dir: Path | None, user_dir: Path | None, gpu: GpuSpec | None = None
) -> list[DiscoveredProfile]:
    """Every profile in the project and user dirs, valid or not."""
    from workbench.profiles import discover_profiles

    return discover_profiles(project_dir, user_dir, gpu_name=_gpu_name(gpu))


def _gpu_name(gpu: GpuSpec | None) -> str | None:
    """The NVML name that selects [gpu_overrides], or None on CPU."""
    return gpu.name if gpu is not None and gpu.device == "cuda" else None


def find_profile(
    name: str, project_dir: Path | None, user_dir: Path | None, gpu: GpuSpec | None = None
) -> LoadedProfile:
    """Load the profile called ``name`` (or at path ``name``); raises ProfileError."""
    from workbench.profiles import load_profile

    return load_profile(
        name,
        gpu_name=_gpu_name(gpu),
        project_dir=project_dir,
        user_dir=user_dir,
    )


def reload_profile(loaded: LoadedProfile) -> LoadedProfile:
    """Read ``loaded``'s file again (after a save, on F5) with the discovery directories, GPU
    and origin it was loaded with; raises ProfileError."""
    from workbench.profiles import reload_profile as read_again

    return read_again(loaded)


def estimate(
    loaded: LoadedProfile, gpu: GpuSpec | None, *, as_deployed: bool = True, **settings: Any
) -> Estimate:
    """The estimator's figures for ``loaded`` with tuner ``settings`` on top; a deployment that
    names its servers' GPU is estimated on that GPU, not this machine's (``as_deployed``)."""
    from workbench.estimate import estimate_profile

    target = (deployment_gpu(loaded, settings) if as_deployed else None) or gpu
    return estimate_profile(loaded, target, **settings)


def deployment_gpu(loaded: LoadedProfile, settings: dict[str, Any] | None = None) -> GpuSpec | None:
    """The GPUs a [deployment] runs on (``deployment.gpu``, as many as tp × pp), else None."""
    from dataclasses import replace

    from workbench.estimate import lookup_gpu

    deployment = loaded.profile.deployment
    if deployment is None or deployment.gpu is None:
        return None
    found = lookup_gpu(deployment.gpu)
    if found is None:
        return None
    engine = loaded.profile.engine
    settings = settings or {}
    tp = settings.get("tensor_parallel_size") or engine.tensor_parallel_size
    return replace(found, count=int(tp) * engine.pipeline_parallel_size)


def fit_verdict(
    loaded: LoadedProfile, gpu: GpuSpec | None, *, as_deployed: bool = True
) -> tuple[str, str]:
    """(verdict, reason) for the profile as saved; ("unknown", why) if it cannot be estimated."""
    try:
        result = estimate(loaded, gpu, as_deployed=as_deployed)
    except Exception as error:  # noqa: BLE001 - any estimator failure is just "unknown" here
        return "unknown", str(error).splitlines()[0] if str(error) else type(error).__name__
    return result.verdict, result.reason


def fit_verdict_on(
    path: Path, gpu: GpuSpec, project_dir: Path | None, user_dir: Path | None
) -> tuple[str, str]:
    """(verdict, reason) for the profile at ``path`` on a GPU that is not this machine's: its
    [gpu_overrides] for that GPU applied, and as many of them as tensor × pipeline parallel
    size asks for (as ``workbench estimate --gpu`` does)."""
    from dataclasses import replace

    from workbench.profiles import ProfileError

    try:
        loaded = find_profile(str(path), project_dir, user_dir, gpu)
    except ProfileError as error:
        return "invalid", str(error).splitlines()[0]
    engine = loaded.profile.engine
    count = engine.tensor_parallel_size * engine.pipeline_parallel_size
    verdict, reason = fit_verdict(
        loaded, replace(gpu, count=count, free_bytes=None), as_deployed=False
    )
    if loaded.applied_gpu_override and verdict != "unknown":
        reason += f' (with [gpu_overrides."{loaded.applied_gpu_override}"])'
    return verdict, reason


def save_and_reload(
    loaded: LoadedProfile, data: dict[str, Any]
) -> tuple[Path | None, LoadedProfile]:
    """``save`` then ``reload_profile``: the profile as it now is on disk."""
    backup = save(loaded, data)
    return backup, reload_profile(loaded)


def save(loaded: LoadedProfile, data: dict[str, Any]) -> Path | None:
    """Write ``data`` to ``loaded``'s file atomically; returns the backup's path.

    ``loaded.data`` has this GPU's [gpu_overrides] applied, so the override's keys are written
    back into that table; otherwise a fix made on an overridden GPU would change only the base
    values and the override would still win. With the model on this machine, [model.facts] is
    refreshed from its files on the way (so the saved profile estimates anywhere)."""
    from workbench.estimate.resolve import local_facts_table
    from workbench.profiles import save_profile

    table = local_facts_table(loaded.profile.model, loaded.model_dir)
    if table is not None:
        data = {**data, "model": {**data.get("model", {}), "facts": table}}
    backup = save_profile(
        loaded.path,
        data,
        gpu_override=loaded.applied_gpu_override,
        project_dir=loaded.project_dir,
        user_dir=loaded.user_dir,
    )
    return Path(backup) if backup is not None else None


def apply_suggestion(
    loaded: LoadedProfile, suggestion: Suggestion
) -> tuple[Path | None, LoadedProfile]:
    """Save ``suggestion`` into ``loaded``'s file (backup kept) and read it back."""
    backup = save(loaded, with_setting(loaded.data, suggestion.key, suggestion.value))
    return backup, reload_profile(loaded)


def duplicate_profile(loaded: LoadedProfile, name: str, user_dir: Path | None) -> Path:
    """Copy ``loaded`` into the user profile dir as ``<name>.toml``; refuses to overwrite."""
    from workbench.paths import user_profiles_dir
    from workbench.profiles import save_profile

    target_dir = user_dir or user_profiles_dir()
    target = target_dir / f"{name}.toml"
    if target.exists():
        raise FileExistsError(f"{target} already exists")
    data = renamed(loaded.data, name)
    raw_path = data.get("model", {}).get("path")
    if isinstance(raw_path, str) and target_dir.resolve() != loaded.path.parent.resolve():
        # A relative model path means "next to the original file": keep pointing there.
        from workbench.profiles.models import expand_model_path

        expanded = expand_model_path(raw_path, loaded.path.parent)
        if expanded != expand_model_path(raw_path, target_dir):
            data = with_setting(data, "model.path", str(expanded.resolve()))
    target_dir.mkdir(parents=True, exist_ok=True)
    save_profile(target, data, project_dir=loaded.project_dir, user_dir=loaded.user_dir)
    return target


def export_profile(loaded: LoadedProfile, target_dir: Path | None = None) -> tuple[Path, list[str]]:
    """Write a portable copy (env and secrets stripped, machine paths made portable) to
    ``target_dir`` (default: data dir / exports); returns its path and what was changed."""
    from workbench.files import write_atomic
    from workbench.paths import data_dir
    from workbench.profiles.share import export_profile as portable_copy
    from workbench.profiles.store import render_toml

    exported = portable_copy(loaded)
    directory = target_dir or data_dir() / "exports"
    target = directory / f"{loaded.name}.toml"
    # Not validated here: a portable copy's model paths are meant for the recipient's machine.
    write_atomic(target, render_toml(exported.data))
    return target, list(exported.notes)
