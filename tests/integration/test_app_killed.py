"""The real app, in a real pseudo-terminal, on the real engine, killed with SIGKILL mid-stream:
no engine process survives it (checked by pid), nothing is reported as a leftover afterwards,
and a restart restores the chat up to the last autosave."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import process_running
from tests.integration.conftest import write_long_demo_profile
from tests.ui.scenarios_shell import gpu_sample
from workbench.app import create_app
from workbench.chat.model import AssistantTurn
from workbench.chat.store import ChatStore
from workbench.engine.fake import FakeEngine
from workbench.engine.lifetime import EngineRegistry
from workbench.gpu.fake import FakeVramSampler
from workbench.ui.chat.sample_column import ThinkingPanel

pytestmark = [pytest.mark.engine]

REPO = Path(__file__).resolve().parents[2]
LOAD_TIMEOUT_S = 240


def _until(condition: object, timeout_s: float, what: str) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()  # type: ignore[operator]
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout_s} s")


def _ready_record(engines: Path, app: subprocess.Popen[bytes]) -> dict[str, object] | None:
    """The engine registry's file once the engine is ready (it then lists every engine pid)."""
    assert app.poll() is None, f"the app exited with {app.returncode}"
    for path in engines.glob("*.json"):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if len(record.get("pids") or []) > 1:
            return dict(record)
    return None


def _streamed_chars(chats: Path) -> int:
    conversation = ChatStore(chats).latest()
    if conversation is None:
        return 0
    turns = [t for t in conversation.turns if isinstance(t, AssistantTurn)]
    if not turns:
        return 0
    return sum(len(s.reasoning) + len(s.content) for s in turns[-1].samples)


async def test_app_killed_mid_stream_leaves_no_engine_and_the_chat_restores(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    env = {
        **os.environ,
        "WORKBENCH_DATA_DIR": str(data),
        "WORKBENCH_CONFIG_DIR": str(tmp_path / "config"),
        "HF_HUB_OFFLINE": "1",
        "TERM": "xterm-256color",
        "PYTHONPATH": str(REPO),
    }
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 48, 160, 0, 0))
    app = subprocess.Popen(
        [sys.executable, "-m", "workbench", str(write_long_demo_profile(tmp_path / "profiles"))],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=REPO,
        start_new_session=True,
    )
    os.close(slave)
    stop_draining = threading.Event()

    def drain() -> None:  # the terminal side: read what the app draws so it never blocks
        while not stop_draining.is_set():
            try:
                if not os.read(master, 65536):
                    return
            except OSError:
                return

    threading.Thread(target=drain, daemon=True).start()
    pids: list[int] = []
    try:
        record = _until(
            lambda: _ready_record(data / "engines", app), LOAD_TIMEOUT_S, "the engine became ready"
        )
        assert isinstance(record, dict)
        pids = [int(pid) for pid in record["pids"]]
        assert record["app_pid"] == app.pid and all(process_running(pid) for pid in pids)
        time.sleep(1.0)  # the chat input has the keyboard once the engine is ready
        os.write(master, b"Tell me a long story\r")
        _until(lambda: _streamed_chars(data / "chats") > 200, 120, "the reply was autosaved")

        app.kill()  # SIGKILL: no cleanup code of the app runs
        app.wait()
        survivors = _until(
            lambda: [pid for pid in pids if process_running(pid)] == [] or None,
            10.0,
            "every engine process died with the app",
        )
        assert survivors
        # The registry still has the file the app could not remove; it is not a leftover.
        assert EngineRegistry(data / "engines").leftovers() == []
        assert list((data / "engines").glob("*.json")) == []
    finally:
        stop_draining.set()
        if app.poll() is None:
            app.kill()
        for pid in pids:
            if process_running(pid):
                os.kill(pid, signal.SIGKILL)
        os.close(master)

    # A restart with --resume shows the chat as it was last autosaved: the partial samples,
    # marked as interrupted.
    saved = ChatStore(data / "chats").latest()
    assert saved is not None
    restored = create_app(
        engine=FakeEngine(),
        sampler=FakeVramSampler([gpu_sample(0.35, engine_loaded=False)]),
        chat_store=ChatStore(data / "chats"),
        resume=True,
        sample_interval_s=0,
        project_dir=REPO / "profiles",
        user_dir=tmp_path / "user-profiles",
    )
    async with restored.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.5)
        conversation = restored.chat_view.conversation
        turn = [t for t in conversation.turns if isinstance(t, AssistantTurn)][-1]
        saved_turn = [t for t in saved.turns if isinstance(t, AssistantTurn)][-1]
        assert not saved_turn.done  # it was saved mid-stream (resuming closes it)
        assert [s.to_dict() for s in turn.samples] == [s.to_dict() for s in saved_turn.samples]
        assert len(turn.samples) == 4 and all(s.stats is None for s in turn.samples)
        titles = {panel.title for panel in restored.query(ThinkingPanel) if panel.display}
        assert titles == {"Thinking (interrupted)"}, titles
