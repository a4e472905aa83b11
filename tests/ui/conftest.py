"""Determinism kit for UI tests: fixed terminal, no animation or blink, paths under tmp_path.

The user config/data dirs are already isolated by tests/conftest.py. Snapshot tests run from
``tmp_path`` as the working directory so every path the app shows is short and stable.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.ui.scenarios_shell import TERMINAL_SIZE, ProfileDirs, build_app, write_profile_dirs


@pytest.fixture(autouse=True)
def _stable_ui_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from tmp_path (short, stable displayed paths); no animations."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")


@pytest.fixture
def terminal_size() -> tuple[int, int]:
    """The one terminal size every UI test uses."""
    return TERMINAL_SIZE


@pytest.fixture
def profile_dirs(tmp_path: Path) -> ProfileDirs:
    """Project and user profile dirs with three valid profiles and one invalid one."""
    return write_profile_dirs(tmp_path)


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., Any]:
    """Build the shell app on the fake engine and sampler (keyword args as ``build_app``)."""

    def make(**kwargs: Any) -> Any:
        app, _dirs = build_app(tmp_path, **kwargs)
        return app

    return make
