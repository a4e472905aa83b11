"""The whole app, headless, on the real vLLM engine and the shipped demo model.

load → ready → a prompt in the Chat tab → an answer appears → quit; no engine process survives.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from textual.widgets import Input

from workbench.app import create_app
from workbench.chat.model import AssistantTurn
from workbench.engine.service import VllmEngineService
from workbench.gpu import make_sampler
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
