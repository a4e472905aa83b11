"""Pilot tests of the shell's flows: tune → apply → save, load, load failure → fix, error funnel."""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil
from rich.table import Table
from textual.widgets import DataTable, Input, Static

from tests.ui.scenarios_shell import (
    TERMINAL_SIZE,
    build_app,
    gpu_sample,
    settle,
    wait_for_engine,
)
from workbench.app import WorkbenchApp
from workbench.engine.api import EngineState, LoadProgress
from workbench.engine.fake import DEFAULT_LOAD, LOAD_FAILS_MAX_MODEL_LEN, FakeEngine
from workbench.engine.lifetime import EngineRegistry
from workbench.profiles import LoadedProfile, load_profile
from workbench.ui.profiles_view import ProfilesView
from workbench.ui.screens.dialogs import ConfirmScreen
from workbench.ui.screens.error_screen import ErrorScreen
from workbench.ui.tuner_view import TunerView
from workbench.ui.widgets.status_bar import StatusBar


def _notifications(app: WorkbenchApp) -> list[str]:
    return [notification.message for notification in app._notifications]


async def test_tuner_apply_largest_then_save_keeps_backup(tmp_path: Path) -> None:
    app, dirs = build_app(tmp_path, initial_profile="llama-8b-128k")
    path = dirs.project / "llama-8b-128k.toml"
    original = path.read_text()
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f2")
        await settle(pilot)
        tuner = app.query_one(TunerView)
        assert tuner.estimate is not None and tuner.estimate.verdict == "does_not_fit"
        largest = tuner.estimate.largest_fitting_max_model_len
        assert largest is not None and largest < 131072

        await pilot.press("ctrl+g")
        await settle(pilot)
        assert tuner.values["max_model_len"] == largest
        assert tuner.estimate.verdict in ("fits", "tight")

        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert path.read_text() == original, "nothing is written before the user confirms"
        await pilot.press("y")
        await settle(pilot)

    saved = tomllib.loads(path.read_text())
    assert saved["engine"]["max_model_len"] == largest
    assert saved["engine"]["gpu_memory_utilization"] == 0.9  # untouched keys stay
    backups = [
        p for p in path.parent.rglob("*") if p.is_file() and p != path and p.read_text() == original
    ]
    assert backups, "the previous file is kept as a backup"
    assert load_profile(path).profile.engine.max_model_len == largest


async def test_invalid_field_is_refused_inline(tmp_path: Path) -> None:
    app, dirs = build_app(tmp_path, initial_profile="qwen2.5-7b-chat")
    path = dirs.project / "qwen2.5-7b-chat.toml"
    original = path.read_text()
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f2")
        await settle(pilot)
        await pilot.click("#field-gpu_memory_utilization")
        await pilot.press("end", "backspace", "backspace", "backspace", "1", ".", "5")
        await settle(pilot)
        tuner = app.query_one(TunerView)
        assert "gpu_memory_utilization" in tuner.errors
        assert "(0, 1]" in tuner.errors["gpu_memory_utilization"]
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
    assert path.read_text() == original


async def test_load_from_profiles_view_reaches_ready(tmp_path: Path) -> None:
    engine = FakeEngine()
    app, _dirs = build_app(tmp_path, engine=engine)
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await settle(pilot)
        view = app.query_one(ProfilesView)
        assert view.select("qwen2.5-7b-chat")
        app.query_one("#profiles-table", DataTable).focus()
        await pilot.press("l")
        await wait_for_engine(pilot)
        status = app.query_one(StatusBar)
        assert status.engine_status == "ready"
        assert status.profile_label == "qwen2.5-7b-chat (project)"
        assert engine.state.status == "ready"
        assert app.active_profile is not None and app.active_profile.name == "qwen2.5-7b-chat"
        assert "kv cache" in "\n".join(app.query_one("LogView").lines).lower()  # type: ignore[attr-defined]
    assert engine.unload_count >= 1, "quitting stops the engine"


class FailsOnceEngine(FakeEngine):
    """Fails the first load with the max_model_len error, then loads normally; records loads."""

    def __init__(self) -> None:
        super().__init__(load_script=LOAD_FAILS_MAX_MODEL_LEN)
        self.loaded: list[LoadedProfile] = []
        self._second = FakeEngine(load_script=DEFAULT_LOAD)

    @property
    def state(self) -> EngineState:
        return self._second.state if len(self.loaded) > 1 else super().state

    async def load(self, profile: LoadedProfile) -> AsyncIterator[LoadProgress]:
        self.loaded.append(profile)
        source = super().load(profile) if len(self.loaded) == 1 else self._second.load(profile)
        async for progress in source:
            yield progress


async def test_load_failure_fix_saves_and_reloads(tmp_path: Path) -> None:
    engine = FailsOnceEngine()
    app, dirs = build_app(tmp_path, engine=engine, initial_profile="qwen2.5-7b-chat", autoload=True)
    path = dirs.project / "qwen2.5-7b-chat.toml"
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await wait_for_engine(pilot)
        assert isinstance(app.screen, ErrorScreen)
        assert app.query_one(StatusBar).engine_status == "error"
        await pilot.press("f")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_for_engine(pilot)
        assert app.query_one(StatusBar).engine_status == "ready"
        assert len(engine.loaded) == 2
        assert engine.loaded[1].profile.engine.max_model_len == 18080
    assert tomllib.loads(path.read_text())["engine"]["max_model_len"] == 18080


async def test_error_view_without_confirmation_changes_nothing(tmp_path: Path) -> None:
    engine = FakeEngine(load_script=LOAD_FAILS_MAX_MODEL_LEN)
    app, dirs = build_app(tmp_path, engine=engine, initial_profile="qwen2.5-7b-chat", autoload=True)
    path = dirs.project / "qwen2.5-7b-chat.toml"
    original = path.read_text()
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await wait_for_engine(pilot)
        await pilot.press("f")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert not isinstance(app.screen, (ConfirmScreen, ErrorScreen))
        await pilot.press("f6")  # the last error can be reopened
        await settle(pilot)
        assert isinstance(app.screen, ErrorScreen)
    assert path.read_text() == original


class CrashingEngine(FakeEngine):
    """A load that dies with an unexpected (non-EngineError) exception."""

    async def load(self, profile: LoadedProfile) -> AsyncIterator[LoadProgress]:
        yield DEFAULT_LOAD[0]
        raise RuntimeError("socket closed under the engine")


async def test_worker_crash_becomes_a_notification(tmp_path: Path) -> None:
    app, _dirs = build_app(
        tmp_path, engine=CrashingEngine(), initial_profile="qwen2.5-7b-chat", autoload=True
    )
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await wait_for_engine(pilot)
        assert app.is_running
        messages = _notifications(app)
        assert any("socket closed under the engine" in message for message in messages)
        status = app.query_one(StatusBar)
        assert status.engine_status == "error"


class BrokenSampler:
    """A sampler whose reading fails: the gauge must not take the app down."""

    def __init__(self) -> None:
        self.calls = 0

    def sample(self, engine_pids: Any = ()) -> Any:
        self.calls += 1
        raise OSError("NVML went away")

    def close(self) -> None:
        pass


async def test_sampler_failure_is_reported_not_fatal(tmp_path: Path) -> None:
    app, _dirs = build_app(tmp_path)
    sampler = BrokenSampler()
    app.sampler = sampler
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await settle(pilot)
        assert app.is_running
        assert any("NVML went away" in message for message in _notifications(app))
        calls = sampler.calls
        app.sample_vram()  # the next reading is still attempted (no stuck lock) ...
        await settle(pilot)
        assert sampler.calls == calls + 1
        # ... but the same failure is not announced again every half second.
        assert sum("NVML went away" in m for m in _notifications(app)) == 1


async def test_duplicate_asks_a_name_and_writes_a_user_profile(tmp_path: Path) -> None:
    app, dirs = build_app(tmp_path)
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await settle(pilot)
        view = app.query_one(ProfilesView)
        assert view.select("qwen2.5-7b-chat")
        app.query_one("#profiles-table", DataTable).focus()
        await pilot.press("d")
        await settle(pilot)
        name_input = app.screen.query_one("#name", Input)
        name_input.value = "qwen2.5-7b-chat"  # taken: refused inline
        await pilot.press("enter")
        await settle(pilot)
        assert "already exists" in str(app.screen.query_one("#name-error", Static).render())
        name_input.value = "qwen-long"
        await pilot.press("enter")
        await settle(pilot)
        assert "qwen-long" in [p.name for p in view.profiles]
    copy = load_profile(dirs.user / "qwen-long.toml")
    assert copy.profile.engine.max_model_len == 16384
    assert copy.profile.meta.name == "qwen-long"


async def test_export_writes_a_copy_without_env(tmp_path: Path) -> None:
    app, dirs = build_app(tmp_path)
    source = dirs.project / "qwen2.5-7b-chat.toml"
    source.write_text(source.read_text() + '\n[env]\nHF_TOKEN = "hf_secret"\n')
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await settle(pilot)
        assert app.query_one(ProfilesView).select("qwen2.5-7b-chat")
        app.query_one("#profiles-table", DataTable).focus()
        await pilot.press("x")
        await settle(pilot)
        assert any("Exported qwen2.5-7b-chat" in m and "[env]" in m for m in _notifications(app))
    exported = tmp_path / "data" / "exports" / "qwen2.5-7b-chat.toml"
    assert exported.is_file()
    assert "hf_secret" not in exported.read_text()
    assert tomllib.loads(exported.read_text())["engine"]["max_model_len"] == 16384


async def test_command_palette_lists_shell_and_chat_actions(tmp_path: Path) -> None:
    from workbench.ui.chat.view import ChatView

    app, _dirs = build_app(tmp_path)
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await settle(pilot)
        titles = {command.title for command in app.get_system_commands(app.screen)}
    for expected in (
        "Reload engine",
        "Unload engine",
        "Show last load error",
        "Load selected profile",
        "Duplicate selected profile",
        "Apply largest fitting max_model_len",
        "Save tuned profile",
    ):
        assert expected in titles
    assert {title for title, _help, _action in ChatView.COMMANDS} <= titles


async def test_tuner_shows_estimate_beside_vllm_figures_after_load(tmp_path: Path) -> None:
    app, _dirs = build_app(tmp_path, initial_profile="qwen2.5-7b-chat", autoload=True)
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await wait_for_engine(pilot)
        await pilot.press("f2")
        await settle(pilot)
        tuner = app.query_one(TunerView)
        assert tuner.actual is not None
        table = app.query_one("#tuner-compare", Static).content
        assert isinstance(table, Table) and table.title == "Estimate vs vLLM (last load)"
        estimate_column, vllm_column = table.columns[1], table.columns[2]
        kv_row = [str(cell) for cell in table.columns[0]._cells].index("KV tokens")
        assert list(vllm_column._cells)[kv_row] == "131,072"  # the fake engine's figure
        assert list(estimate_column._cells)[kv_row] != "n/a"


async def test_gauge_shows_every_gpu_and_na_fields(tmp_path: Path) -> None:
    from workbench.gpu import VramSample
    from workbench.ui.widgets.vram_gauge import VramGauge

    one = gpu_sample(0.5).gpus[0]
    two = replace(
        one,
        index=1,
        used_bytes=one.total_bytes // 10,
        utilization_pct=None,
        temperature_c=None,
        processes=(),
    )
    sample = VramSample(timestamp=0.0, gpus=(one, two), host=None)
    app, _dirs = build_app(tmp_path, samples=[sample])
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await settle(pilot)
        gauge = app.query_one(VramGauge)
        lines = str(gauge.render()).splitlines()
        assert gauge.size.height == 4 and len(lines) == 4
        assert lines[0].startswith("GPU0") and lines[2].startswith("GPU1")
        assert "util n/a · n/a · n/a" in lines[2]


async def test_switching_to_chat_puts_the_keyboard_in_the_message_input(tmp_path: Path) -> None:
    """F3 then typing writes a message; it must not fire the chat's single-key controls."""
    app, _dirs = build_app(tmp_path, initial_profile="llama-8b-128k")
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        focused = app.focused
        assert isinstance(focused, Input) and focused.id == "chat-input"
        await pilot.press("t", "+")
        assert focused.value == "t+"


async def test_engines_left_by_a_crash_are_shown_with_their_memory_and_stopped_on_yes(
    tmp_path: Path, orphan: tuple[EngineRegistry, int, int]
) -> None:
    """A real leftover (a session leader and its child, their app gone): the app says so at
    start, with the profile, pids and memory, and stops both only when asked."""
    registry, host_pid, child_pid = orphan
    app, _ = build_app(tmp_path, registry=registry)
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await until_screen(pilot, ConfirmScreen)
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        assert "left 1 engine(s) running" in dialog.question
        assert "qwen3-8b" in dialog.detail and str(child_pid) in dialog.detail
        await pilot.press("y")
        for _ in range(200):
            if not registry.leftovers():
                break
            await pilot.pause(0.05)
        assert registry.leftovers() == []
    assert not psutil.pid_exists(child_pid) or psutil.Process(child_pid).status() == "zombie"


async def test_leftover_engines_are_left_alone_on_no(
    tmp_path: Path, orphan: tuple[EngineRegistry, int, int]
) -> None:
    registry, host_pid, child_pid = orphan
    app, _ = build_app(tmp_path, registry=registry)
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await until_screen(pilot, ConfirmScreen)
        await pilot.press("n")
        await settle(pilot)
    [leftover] = registry.leftovers()
    assert set(leftover.alive) == {host_pid, child_pid}


async def until_screen(pilot: Any, kind: type) -> None:
    for _ in range(200):
        if isinstance(pilot.app.screen, kind):
            return
        await pilot.pause(0.05)
    raise AssertionError(f"no {kind.__name__} was shown")


async def test_the_gauge_shows_the_embedded_engines_scheduler_figures(tmp_path: Path) -> None:
    """vLLM's stat logger (here scripted) reaches the gauge as a third line while loaded."""
    from workbench.engine.remote_metrics import RemoteMetrics
    from workbench.ui.widgets.vram_gauge import VramGauge

    live = RemoteMetrics(
        kv_usage=0.42,
        running=2,
        waiting=1,
        preemptions=3,
        prefix_queries=200,
        prefix_hits=50,
        kv_cache_tokens=131072,
    )
    engine = FakeEngine(live=live)
    app, _dirs = build_app(
        tmp_path,
        engine=engine,
        initial_profile="qwen2.5-7b-chat",
        autoload=True,
        samples=[gpu_sample(0.5)],
    )
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await wait_for_engine(pilot)
        app.sample_vram()
        await settle(pilot)
        gauge = app.query_one(VramGauge)
        lines = str(gauge.render()).splitlines()
        assert gauge.size.height == 3 and len(lines) == 3, lines
        assert lines[2].startswith("engine KV cache 42% of 131,072 tokens · running 2")
        assert "waiting 1 · prefix-cache hits 25% · preemptions 3" in lines[2]
        await app.engine.unload()
        app.sample_vram()
        await settle(pilot)
        assert len(str(gauge.render()).splitlines()) == 2  # no engine, no scheduler line


async def test_the_run_metrics_help_lists_every_definition(tmp_path: Path) -> None:
    from workbench.engine.timing import METRIC_DEFINITIONS
    from workbench.ui.screens.metrics_help import MetricsHelpScreen

    app, _dirs = build_app(tmp_path)
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await settle(pilot)
        app.action_metrics_help()
        await settle(pilot)
        assert isinstance(app.screen, MetricsHelpScreen)
        table = app.screen.query_one("#metrics-definitions", Static).content
        assert isinstance(table, Table)
        assert set(METRIC_DEFINITIONS) <= {str(cell) for cell in table.columns[0]._cells}
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, MetricsHelpScreen)


async def test_a_teammates_profile_that_runs_code_asks_before_it_loads(tmp_path: Path) -> None:
    """trust_remote_code from the project's profiles/: the app asks; no loads nothing and says
    why (F5 asks again); yes loads it and is remembered for that file; an edit asks again."""
    engine = FakeEngine()
    app, dirs = build_app(tmp_path, engine=engine, initial_profile="risky", autoload=True)
    risky = dirs.project / "risky.toml"
    risky.write_text('extends = "demo"\n[model]\ntrust_remote_code = true\n')
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "risky comes from a file you did not write" in app.screen.question
        assert "model.trust_remote_code" in app.screen.detail
        assert "risky.toml:3" in app.screen.detail
        await pilot.press("n")
        await settle(pilot)
        assert engine.log_lines() == [], "refused: no load may start"
        assert engine.state.status != "ready"
        reason = app.chat_view.unavailable_reason or ""
        assert "needs your consent" in reason and "F5" in reason
        await pilot.press("f5")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)  # F5 asks again
        await pilot.press("y")
        await wait_for_engine(pilot)
        assert (engine.state.status, engine.state.profile_name) == ("ready", "risky")
    # A second run of the app: remembered, no question...
    again, _ = build_app(tmp_path / "again", engine=FakeEngine())
    again.project_dir = dirs.project
    again.initial_profile, again.autoload = "risky", True
    async with again.run_test(size=TERMINAL_SIZE) as pilot:
        await wait_for_engine(pilot)
        assert not isinstance(again.screen, ConfirmScreen)
        assert again.engine.state.status == "ready"
    # ...until the file changes.
    risky.write_text('extends = "demo"\n[model]\ntrust_remote_code = true\n[sampling]\nn = 2\n')
    third, _ = build_app(tmp_path / "third", engine=FakeEngine())
    third.project_dir = dirs.project
    third.initial_profile, third.autoload = "risky", True
    async with third.run_test(size=TERMINAL_SIZE) as pilot:
        await settle(pilot)
        assert isinstance(third.screen, ConfirmScreen)
