"""The whole app, headless, on the real vLLM engine and the shipped demo model.

load → ready → a prompt in the Chat tab → an answer appears → quit; no engine process survives.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from textual.widgets import Input

from tests.integration.conftest import write_long_demo_profile
from workbench.app import create_app
from workbench.chat.model import AssistantTurn
from workbench.engine.service import VllmEngineService
from workbench.gpu import make_sampler
from workbench.ui.chat.sample_column import ThinkingPanel
from workbench.ui.widgets.status_bar import StatusBar

REPO_ROOT = Path(__file__).resolve().parents[2]
LOAD_TIMEOUT_S = 180
ANSWER_TIMEOUT_S = 120

# The demo model ships in the package: if it is missing, these tests must fail, not skip.
pytestmark = [pytest.mark.engine]


def _alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped has already exited and freed its memory)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


async def _survivors(pids: tuple[int, ...], grace_s: float = 15.0) -> list[int]:
    """Engine pids still running after ``grace_s`` (exit is not instantaneous)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace_s
    while True:
        alive = [pid for pid in pids if _alive(pid)]
        if not alive or loop.time() > deadline:
            return alive
        await asyncio.sleep(0.2)


async def test_demo_profile_loads_chats_and_quits_cleanly(tmp_path: Path) -> None:
    engine = VllmEngineService(log_dir=tmp_path / "logs")
    app = create_app(
        engine=engine,
        sampler=make_sampler(),
        initial_profile="demo",
        autoload=True,
        project_dir=REPO_ROOT / "profiles",
        user_dir=tmp_path / "user-profiles",
        sample_interval_s=0,
    )
    engine_pids: tuple[int, ...] = ()
    try:
        async with app.run_test(size=(140, 42)) as pilot:
            loads = [w for w in app.workers if w.group == "engine"]
            assert loads, "autoload starts the engine"
            await asyncio.wait_for(
                asyncio.gather(*(w.wait() for w in loads), return_exceptions=True),
                LOAD_TIMEOUT_S,
            )
            await pilot.pause()
            status = app.query_one(StatusBar)
            assert status.engine_status == "ready", (status.engine_status, engine.log_lines()[-20:])
            assert engine.state.figures is not None and engine.state.figures.kv_cache_tokens
            engine_pids = engine.state.pids
            assert engine_pids

            await pilot.press("f3")
            await pilot.pause()
            app.query_one("#chat-input", Input).focus()
            await pilot.press(*"What is 2 + 3?")
            await pilot.press("enter")
            await pilot.pause()
            chat = app.chat_view

            async def answered() -> AssistantTurn:
                while True:
                    turns = [t for t in chat.conversation.turns if isinstance(t, AssistantTurn)]
                    if turns and turns[-1].done:
                        return turns[-1]
                    await pilot.pause(0.2)

            turn = await asyncio.wait_for(answered(), ANSWER_TIMEOUT_S)
            assert turn.error is None, turn.error
            assert turn.samples, "the engine sent samples"
            assert any((s.content or s.reasoning).strip() for s in turn.samples)

            await app.action_quit()
    finally:
        await engine.unload()
    assert engine_pids
    survivors = await _survivors(engine_pids)
    assert not survivors, f"engine processes survived quitting: {survivors}"


async def _until(pilot: object, condition: object, timeout_s: float) -> float:
    """Seconds until ``condition()`` held (polling every 20 ms); fails after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not condition():  # type: ignore[operator]
        assert loop.time() - started < timeout_s, f"not within {timeout_s} s"
        await pilot.pause(0.02)  # type: ignore[attr-defined]
    return loop.time() - started


async def test_engine_killed_idle_then_mid_stream_is_pushed_to_the_screen(
    tmp_path: Path,
) -> None:
    """SIGKILL of the engine host, first while idle (no request there to report it: the state is
    pushed), then mid-stream with n = 4: the status bar says so at once, the cause and a
    reload key are offered, the partial samples are kept and marked, the chat is autosaved,
    no engine process is left, and F5 loads the same profile again."""
    from workbench.chat.store import ChatStore

    engine = VllmEngineService(log_dir=tmp_path / "logs")
    store = ChatStore(tmp_path / "chats")
    app = create_app(
        engine=engine,
        sampler=make_sampler(),
        initial_profile=str(write_long_demo_profile(tmp_path / "profiles")),
        autoload=True,
        project_dir=REPO_ROOT / "profiles",
        user_dir=tmp_path / "user-profiles",
        chat_store=store,
        sample_interval_s=0,
    )

    async def loaded(pilot: object) -> tuple[int, ...]:
        loads = [w for w in app.workers if w.group == "engine"]
        await asyncio.wait_for(
            asyncio.gather(*(w.wait() for w in loads), return_exceptions=True), LOAD_TIMEOUT_S
        )
        await pilot.pause()  # type: ignore[attr-defined]
        assert app.query_one(StatusBar).engine_status == "ready", engine.log_lines()[-20:]
        return engine.state.pids

    try:
        async with app.run_test(size=(160, 48)) as pilot:
            status = app.query_one(StatusBar)
            chat = app.chat_view
            # 1. Killed while idle.
            pids = await loaded(pilot)
            os.kill(min(pids), signal.SIGKILL)  # the host: the oldest pid
            # Nothing polls here (sample_interval_s=0) and no request is open: only a pushed
            # state can reach the status bar. (Measured, not asserted: see the Faults table.)
            seconds = await _until(pilot, lambda: status.engine_status == "error", 10.0)
            print(f"idle engine death on the status bar after {seconds:.2f} s")
            assert "died" in str(status.render()), str(status.render())
            assert app.last_error is not None and app.last_error.kind == "engine_died"
            assert not await _survivors(pids, grace_s=10.0)

            # 2. F5 loads the same profile again.
            await pilot.press("f5")
            await _until(pilot, lambda: status.engine_status == "loading", 10.0)
            pids = await loaded(pilot)

            # 3. Killed mid-stream with n = 4.
            await pilot.press("f3")
            app.query_one("#chat-input", Input).focus()
            await pilot.press(*"Tell me a long story", "enter")

            def streaming() -> bool:
                turns = [t for t in chat.conversation.turns if isinstance(t, AssistantTurn)]
                return (
                    bool(turns)
                    and sum(len(s.reasoning) + len(s.content) for s in turns[-1].samples) > 200
                )

            await _until(pilot, streaming, ANSWER_TIMEOUT_S)
            os.kill(min(pids), signal.SIGKILL)
            seconds = await _until(pilot, lambda: status.engine_status == "error", 10.0)
            print(f"mid-stream engine death on the status bar after {seconds:.2f} s")
            turn = [t for t in chat.conversation.turns if isinstance(t, AssistantTurn)][-1]
            await _until(pilot, lambda: turn.done, 5.0)
            assert turn.error is not None and "died" in turn.error
            assert len(turn.samples) == 4
            kept = [s for s in turn.samples if s.reasoning or s.content]
            assert kept and all(s.stats is None for s in kept)  # partial: no stats
            await pilot.pause()
            titles = [panel.title for panel in app.query(ThinkingPanel) if panel.display]
            assert titles and set(titles) == {"Thinking (interrupted)"}, titles
            assert not await _survivors(pids, grace_s=10.0)

            # The autosave has the partial turn.
            saved = store.latest()
            assert saved is not None
            partial = [t for t in saved.turns if isinstance(t, AssistantTurn)][-1]
            assert sum(len(s.reasoning) + len(s.content) for s in partial.samples) > 200

            await app.action_quit()
    finally:
        await engine.unload()
