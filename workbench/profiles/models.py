"""Find a profile's model on this machine: a local path, $WORKBENCH_MODEL_DIR or the HF cache.

Never downloads. An explicit ``path`` that is missing or broken is a bad profile; an ``id`` that is
not on this machine is not (teammates share ids): it raises ``ModelUnavailableError``.
"""

from __future__ import annotations

import os
from pathlib import Path

import workbench
from workbench.profiles.errors import ProfileError
from workbench.profiles.schema import ModelSection

BUILTIN_DEMO_MODEL_DIR: Path = Path(workbench.__file__).parent / "demo" / "model"
BUILTIN_DEMO = "builtin:demo"
MODEL_DIR_ENV = "WORKBENCH_MODEL_DIR"


class ModelUnavailableError(ProfileError):
    """The profile is fine but its model is not on this machine (yet)."""


def expand_model_path(raw: str, base_dir: Path) -> Path:
    """The directory a ``[model] path`` value names (``builtin:demo``, ``~``, relative to base)."""
    if raw == BUILTIN_DEMO:
        return BUILTIN_DEMO_MODEL_DIR
    path = Path(os.path.expandvars(raw)).expanduser()
    return path if path.is_absolute() else base_dir / path


def resolve_model_dir(model: ModelSection, base_dir: Path) -> Path:
    """The local directory holding the model's config.json; raises ProfileError."""
    if model.path is not None:
        return _resolve_path(model.path, base_dir)
    assert model.id is not None  # the schema requires id or path
    return _resolve_id(model.id, model.revision)


def _resolve_path(raw: str, base_dir: Path) -> Path:
    directory = expand_model_path(raw, base_dir)
    if raw == BUILTIN_DEMO and not (directory / "config.json").is_file():
        raise ModelUnavailableError(
            f"the built-in demo model is not built yet ({directory} has no config.json)",
            key="model.path",
            hint="build it with `workbench demo-model train` (seeded, CPU)",
        )
    if not directory.exists():
        raise ProfileError(
            f"model directory {directory} does not exist",
            key="model.path",
            hint="fix the path, or use `id` to find it in the HF cache / $WORKBENCH_MODEL_DIR",
        )
    if not directory.is_dir():
        raise ProfileError(
            f"{directory} is a file, not a model directory",
            key="model.path",
            hint="point `path` at the folder that holds config.json",
        )
    if not (directory / "config.json").is_file():
        raise ProfileError(
            f"model directory {directory} has no config.json",
            key="model.path",
            hint="point `path` at the folder that holds config.json and the weights",
        )
    return directory


def model_dir_candidates(model_id: str, root: Path) -> list[Path]:
    """Where ``model_id`` may live under a $WORKBENCH_MODEL_DIR root, in lookup order."""
    if "/" in model_id:
        org, name = model_id.split("/", 1)
        return [root / org / name, root / f"{org}__{name}"]
    return [root / model_id]


def _resolve_id(model_id: str, revision: str | None) -> Path:
    looked_in: list[str] = []
    root_value = os.environ.get(MODEL_DIR_ENV)
    if root_value:
        root = Path(root_value).expanduser()
        for candidate in model_dir_candidates(model_id, root):
            if (candidate / "config.json").is_file():
                return candidate
        looked_in.append(f"${MODEL_DIR_ENV}={root}")
    snapshot, cache_dir = _find_in_hf_cache(model_id, revision)
    if snapshot is not None:
        return snapshot
    looked_in.append(f"HF cache {cache_dir}")
    wanted = model_id + (f"@{revision}" if revision else "")
    raise ModelUnavailableError(
        f"{wanted} is not on this machine (looked in {', '.join(looked_in)})",
        key="model.id",
        hint=(
            f"put it under ${MODEL_DIR_ENV}/{model_id}, set `path`, or run "
            f"`huggingface-cli download {model_id}` on a networked machine"
        ),
    )


def hf_hub_cache_dir() -> str | None:
    """The HF hub cache the environment names now (huggingface_hub reads it only at import)."""
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return str(Path(explicit).expanduser())
    home = os.environ.get("HF_HOME")
    return str(Path(home).expanduser() / "hub") if home else None


def _find_in_hf_cache(model_id: str, revision: str | None) -> tuple[Path | None, str]:
    """(snapshot dir holding config.json or None, the cache dir searched)."""
    try:
        from huggingface_hub import constants, try_to_load_from_cache
    except ImportError:
        return None, "(huggingface_hub not installed)"
    cache_dir = hf_hub_cache_dir() or str(constants.HF_HUB_CACHE)
    try:
        found = try_to_load_from_cache(
            model_id, "config.json", cache_dir=cache_dir, revision=revision
        )
    except Exception:  # an id the hub library refuses (bad characters) is simply not cached
        return None, cache_dir
    if isinstance(found, str) and has_weight_files(Path(found).parent):
        return Path(found).parent, cache_dir
    return None, cache_dir


WEIGHT_FILE_PATTERNS = ("*.safetensors", "pytorch_model*.bin", "*.pt", "*.gguf")


def has_weight_files(directory: Path) -> bool:
    """Whether a cached snapshot holds weights, not only the metadata files an estimate reads
    from the Hub (config.json, the shard index)."""
    return any(next(directory.glob(pattern), None) is not None for pattern in WEIGHT_FILE_PATTERNS)
