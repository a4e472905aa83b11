"""Helpers the profile tests share: writing a file, the isolated user profiles dir."""

from __future__ import annotations

from pathlib import Path

import pytest


def write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path``, creating its folders; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    return tmp_path / "config" / "profiles"  # WORKBENCH_CONFIG_DIR from tests/conftest.py
