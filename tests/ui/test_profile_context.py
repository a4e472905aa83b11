"""A profile keeps the context it was loaded in (discovery dirs, GPU, origin) through F5, a Tuner
save and a fix; profile I/O runs in workers; the Tuner compares only the profile that is loaded.
Each test drives the real widgets of the app on the scripted engine."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Static

from tests.ui.scenarios_shell import (
    RTX_4090,
    TERMINAL_SIZE,
    build_app,
    settle,
    wait_for_engine,
)
from workbench.app import WorkbenchApp
from workbench.profiles import ProfileError, load_profile
from workbench.ui.screens.dialogs import ConfirmScreen
from workbench.ui.tuner_view import TunerView
from workbench.ui.widgets.status_bar import StatusBar


def _notifications(app: WorkbenchApp) -> list[str]:
    return [notification.message for notification in app._notifications]


@pytest.fixture
def elsewhere(tmp_path: Path) -> Iterator[Path]:
    """Run from a directory that is not the project (as a user who started the app elsewhere)."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    old = Path.cwd()
    os.chdir(cwd)
    yield cwd
    os.chdir(old)


def _child_of_base(project: Path, user: Path) -> None:
    """project/child.toml extends the user's base.toml (found through the discovery dirs only)."""
    (user / "base.toml").write_text(
        '[model]\npath = "../models/qwen2.5-7b-instruct"\n\n[engine]\nmax_model_len = 8192\n'
    )
    (project / "child.toml").write_text(
        'extends = "base"\n\n[sampling]\nn = 2\n\n'
        '[gpu_overrides."NVIDIA GeForce RTX 4090".engine]\nmax_model_len = 4096\n'
    )


async def test_f5_keeps_the_project_origin_extends_and_gpu_override(
    tmp_path: Path, elsewhere: Path
) -> None:
    app, dirs = build_app(tmp_path / "root")
    _child_of_base(dirs.project, dirs.user)
    app.initial_profile = "child"
    app.autoload = True
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await wait_for_engine(pilot)
        before = app.active_profile
        assert before is not None and before.origin == "project"
        assert before.profile.engine.max_model_len == 4096  # the RTX 4090 override
        await pilot.press("f5")
        await wait_for_engine(pilot)
        after = app.active_profile
        assert after is not None and after is not before
        # extends resolved against the project dir (the cwd has no base.toml), origin kept
        assert after.origin == "project" and after.sources[1] == dirs.user / "base.toml"
        assert after.applied_gpu_override == RTX_4090.name
        assert after.profile.engine.max_model_len == 4096
        assert "(project)" in str(app.query_one(StatusBar).render())


async def test_tuner_save_keeps_the_gpu_override_applied(tmp_path: Path, elsewhere: Path) -> None:
    app, dirs = build_app(tmp_path / "root")
    _child_of_base(dirs.project, dirs.user)
    app.initial_profile = "child"
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f2")
        await settle(pilot)
        tuner = app.query_one(TunerView)
        tuner.query_one("#field-max_model_len").value = "2048"  # type: ignore[attr-defined]
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        saved = tuner.profile
        assert saved is not None and saved.applied_gpu_override == RTX_4090.name
        assert saved.profile.engine.max_model_len == 2048 and saved.origin == "project"
        text = (dirs.project / "child.toml").read_text()
        assert 'extends = "base"' in text and "max_model_len = 2048" in text
        again = load_profile(
            dirs.project / "child.toml",
            gpu_name=RTX_4090.name,
            project_dir=dirs.project,
            user_dir=dirs.user,
        )
        assert again.profile.engine.max_model_len == 2048


async def test_f5_on_a_profile_made_invalid_says_why_and_keeps_running(tmp_path: Path) -> None:
    app, dirs = build_app(tmp_path, initial_profile="qwen2.5-7b-chat", autoload=True)
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await wait_for_engine(pilot)
        path = dirs.project / "qwen2.5-7b-chat.toml"
        path.write_text(path.read_text() + "\n[engine]\nmax_model_len = 1\n")  # duplicate table
        await pilot.press("f5")
        await settle(pilot)
        messages = _notifications(app)
        assert any(
            "qwen2.5-7b-chat not reloaded" in m and "qwen2.5-7b-chat.toml" in m for m in messages
        ), messages
        assert app.is_running and app.engine.state.status == "ready"


async def test_profile_io_runs_in_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Export and duplicate write files off the UI thread (a worker thread), then say so."""
    import threading

    from workbench.ui import profile_access

    threads: list[str] = []
    for name in ("export_profile", "duplicate_profile"):
        original = getattr(profile_access, name)

        def recording(*args: object, _original: object = original) -> object:
            threads.append(threading.current_thread().name)
            return _original(*args)  # type: ignore[operator]

        monkeypatch.setattr(profile_access, name, recording)
    app, dirs = build_app(tmp_path)
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down", "down")  # past "broken" and the built-in demo: llama-8b-128k
        await settle(pilot)
        await pilot.press("x")  # export the selected profile
        await settle(pilot)
        await pilot.press("d")  # duplicate it: a name dialog, then Enter
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        messages = _notifications(app)
    assert any(m.startswith("Exported") for m in messages), messages
    assert any(m.startswith("Duplicated") for m in messages), messages
    assert len(threads) == 2 and threading.main_thread().name not in threads


async def test_tuner_compares_only_the_profile_that_is_loaded(tmp_path: Path) -> None:
    app, _dirs = build_app(tmp_path, initial_profile="qwen2.5-7b-chat", autoload=True)
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await wait_for_engine(pilot)
        tuner = app.query_one(TunerView)
        assert tuner.actual is not None
        other = load_profile("llama-8b-128k", project_dir=_dirs.project, user_dir=_dirs.user)
        tuner.open_profile(other)
        await settle(pilot)
        assert tuner.actual is None
        compare = tuner.query_one("#tuner-compare", Static)
        assert "Estimate vs vLLM" not in str(compare.content)
        assert app.active_profile is not None
        tuner.open_profile(app.active_profile)
        await settle(pilot)
        assert tuner.actual is not None


def test_a_variant_of_the_demo_outside_the_project_extends_the_builtin(tmp_path: Path) -> None:
    variant = tmp_path / "my-demo.toml"
    variant.write_text('extends = "demo"\n\n[sampling]\nn = 2\n')
    loaded = load_profile(variant, project_dir=tmp_path / "none", user_dir=tmp_path / "none")
    assert loaded.profile.sampling.n == 2 and loaded.profile.model.path == "builtin:demo"
    assert loaded.sources[1].parent.name == "builtin"
    with pytest.raises(ProfileError, match="did you mean 'demo'"):
        variant.write_text('extends = "dmeo"\n')
        load_profile(variant, project_dir=tmp_path / "none", user_dir=tmp_path / "none")
