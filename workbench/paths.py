"""Where workbench keeps user files. Pure; no singletons: each call reads the environment.

WORKBENCH_CONFIG_DIR / WORKBENCH_DATA_DIR override platformdirs (tests point them at tmp_path).
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "workbench"


def config_dir() -> Path:
    """User config dir: user profiles live in ``config_dir() / "profiles"``."""
    override = os.environ.get("WORKBENCH_CONFIG_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    """User data dir: chats, engine logs, calibration records."""
    override = os.environ.get("WORKBENCH_DATA_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def user_profiles_dir() -> Path:
    return config_dir() / "profiles"


def project_profiles_dir(cwd: Path | None = None) -> Path:
    """``./profiles`` of the current directory (the project's shared profiles)."""
    return (cwd or Path.cwd()) / "profiles"
