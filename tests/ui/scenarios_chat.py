"""Chat scenarios: build a small host app around ``ChatView`` with the scripted fake engine and
drive it to a state. Used by the chat snapshot tests, the pilot tests and the screenshot script.

Each ``scenario_*`` returns ``(app, run_before)``; ``run_before(pilot)`` drives the app to the
state (pytest-textual-snapshot's ``snap_compare(app, run_before=..., terminal_size=...)``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Input

from workbench.chat.model import AssistantTurn
from workbench.chat.store import ChatStore
from workbench.engine.fake import (
    FakeEngine,
    FakeTurn,
    turn_bang_repeat,
    turn_json_fields,
    turn_long,
    turn_n4_majority,
    turn_thinking_then_answer,
)
from workbench.profiles.loader import LoadedProfile
from workbench.profiles.schema import (
    ChatSection,
    EngineSection,
    ModelSection,
    Profile,
    SamplingSection,
)
from workbench.ui.chat import ChatView
from workbench.ui.widgets.footer import KeyFooter

TERMINAL_SIZE = (140, 42)
PROMPT = "What is 17 + 65?"

RunBefore = Callable[[Pilot[None]], Awaitable[None]]


def demo_profile(
    *,
    n: int = 1,
    temperature: float | None = 0.6,
    reasoning_parser: str | None = "deepseek_r1",
    json_schema: str | None = None,
) -> LoadedProfile:
    """An in-memory profile like the shipped demo one (nothing read from disk)."""
    profile = Profile(
        model=ModelSection(path="builtin:demo"),
        engine=EngineSection(max_model_len=4096, reasoning_parser=reasoning_parser),
        sampling=SamplingSection(
            temperature=temperature, n=n, max_tokens=512, json_schema=json_schema
        ),
        chat=ChatSection(enable_thinking=True, thinking_history="strip"),
    )
    return LoadedProfile(
        name="demo",
        path=Path("profiles/demo.toml"),
        origin="project",
        profile=profile,
        data=profile.model_dump(exclude_none=True),
        model_dir=None,
        model_error=None,
        applied_gpu_override=None,
    )


class ChatHostApp(App[None]):
    """Just the Chat pane and a footer, with the engine loaded before the first frame."""

    CSS = "Screen { layout: vertical; }"

    def __init__(
        self,
        engine: FakeEngine,
        *,
        store: ChatStore | None = None,
        profile: LoadedProfile | None = None,
        autosave_interval_s: float = 2.0,
        flush_hz: float = 20.0,
    ) -> None:
        super().__init__()
        self.flush_hz = flush_hz
        self.animation_level = "none"
        self.engine = engine
        self.store = store
        self.profile = profile or demo_profile()
        self.autosave_interval_s = autosave_interval_s

    def compose(self) -> ComposeResult:
        yield ChatView(
            engine=self.engine,
            store=self.store,
            autosave_interval_s=self.autosave_interval_s,
            flush_hz=self.flush_hz,
            id="chat",
        )
        yield KeyFooter()

    async def on_mount(self) -> None:
        chat = self.chat
        self.query_one(Input).cursor_blink = False
        chat.set_profile(self.profile)
        async for _ in self.engine.load(self.profile):
            pass
        chat.set_engine_ready(self.engine.state.figures)
        chat.action_focus_input()

    @property
    def chat(self) -> ChatView:
        return self.query_one(ChatView)


def host(
    scripts: Sequence[FakeTurn], *, store: ChatStore | None = None, **profile_options: object
) -> tuple[ChatHostApp, FakeEngine]:
    engine = FakeEngine(chat_scripts=scripts)
    profile = demo_profile(**profile_options)  # type: ignore[arg-type]
    return ChatHostApp(engine, store=store, profile=profile), engine


async def until(pilot: Pilot[None], condition: Callable[[], bool], what: str) -> None:
    """Let the app process messages until ``condition`` holds (no sleeping, bounded)."""
    for _ in range(500):
        if condition():
            return
        await pilot.pause()
    raise AssertionError(f"timed out waiting for {what}")


async def send_prompt(pilot: Pilot[None], text: str = PROMPT) -> None:
    """Type into the chat input, press Enter, and wait until the reply's stream has started."""
    app = pilot.app
    assert isinstance(app, ChatHostApp)
    await until(pilot, lambda: app.chat.ready, "the engine to be ready")
    turns_before = len(app.chat.conversation.turns)
    app.query_one("#chat-input", Input).focus()
    await pilot.press(*text)
    await pilot.press("enter")
    await until(
        pilot,
        lambda: (
            len(app.chat.conversation.turns) >= turns_before + 2
            and (app.chat.streaming or _last_turn_done(app.chat))
        ),
        "the reply to start streaming",
    )


def _last_turn_done(chat: ChatView) -> bool:
    last = chat.conversation.turns[-1] if chat.conversation.turns else None
    return isinstance(last, AssistantTurn) and last.done


async def settle(pilot: Pilot[None]) -> None:
    """Wait until the streamed turn (if not frozen) and every autosave have finished."""
    app = pilot.app
    assert isinstance(app, ChatHostApp)
    await app.workers.wait_for_complete()
    await until(pilot, lambda: not app.chat.streaming, "the reply to finish")
    await app.workers.wait_for_complete()
    await pilot.pause()


async def freeze(pilot: Pilot[None], engine: FakeEngine) -> None:
    """Wait until the fake engine is frozen mid-stream, then render what has arrived."""
    await engine.wait_paused()
    app = pilot.app
    assert isinstance(app, ChatHostApp)
    await app.chat.flush_now()
    await pilot.pause()
    await pilot.pause()


def scenario_thinking_streaming() -> tuple[ChatHostApp, RunBefore]:
    """Thinking panel open and streaming; the stream is frozen halfway through the reasoning."""
    app, engine = host([turn_thinking_then_answer(pause_after=14)])

    async def run_before(pilot: Pilot[None]) -> None:
        await send_prompt(pilot)
        await freeze(pilot, engine)

    return app, run_before


def scenario_thinking_collapsed() -> tuple[ChatHostApp, RunBefore]:
    """The answer has arrived: the thinking panel folded itself and reports time and tokens."""
    app, engine = host([turn_thinking_then_answer()])

    async def run_before(pilot: Pilot[None]) -> None:
        await send_prompt(pilot)
        await settle(pilot)

    return app, run_before


def scenario_n4_majority() -> tuple[ChatHostApp, RunBefore]:
    """Four samples side by side; three say 82, one says 72; the summary names the majority."""
    app, engine = host([turn_n4_majority()], n=4, temperature=0.8)

    async def run_before(pilot: Pilot[None]) -> None:
        await send_prompt(pilot)
        await settle(pilot)

    return app, run_before


def scenario_doctor_bang() -> tuple[ChatHostApp, RunBefore]:
    """Three samples, one of which is only "!!!!!!!!": the doctor card explains the usual cause."""
    app, engine = host([turn_bang_repeat()], n=3, temperature=0.8)

    async def run_before(pilot: Pilot[None]) -> None:
        await send_prompt(pilot)
        await settle(pilot)

    return app, run_before


def scenario_json_fields() -> tuple[ChatHostApp, RunBefore]:
    """A JSON-schema profile, n = 4: the answers compared field by field under the columns."""
    app, engine = host([turn_json_fields()], n=4, temperature=0.8, json_schema="answer.json")

    async def run_before(pilot: Pilot[None]) -> None:
        await send_prompt(pilot)
        await settle(pilot)

    return app, run_before


def scenario_long_stream_tails() -> tuple[ChatHostApp, RunBefore]:
    """Four samples 3,000 tokens into a long reply (one of them the "!!!!" model), frozen: each
    column is a fixed-height live view of its newest lines."""
    app, engine = host([turn_long(4, 6000, degenerate=(2,), pause_after=4 * 3000)], n=4)

    async def run_before(pilot: Pilot[None]) -> None:
        await send_prompt(pilot)
        await freeze(pilot, engine)

    return app, run_before


def scenario_reader_mid_stream() -> tuple[ChatHostApp, RunBefore]:
    """The same stream; v opened the reader on sample 1: its whole text so far, from the top."""
    app, engine = host([turn_long(4, 6000, degenerate=(2,), pause_after=4 * 3000)], n=4)

    async def run_before(pilot: Pilot[None]) -> None:
        await send_prompt(pilot)
        await freeze(pilot, engine)
        app.chat.log_view.focus()
        await pilot.press("v")
        await pilot.pause()

    return app, run_before


SCENARIOS: dict[str, Callable[[], tuple[ChatHostApp, RunBefore]]] = {
    "chat-thinking-streaming": scenario_thinking_streaming,
    "chat-thinking-collapsed": scenario_thinking_collapsed,
    "chat-n4-majority": scenario_n4_majority,
    "chat-doctor-bang": scenario_doctor_bang,
    "chat-json-fields": scenario_json_fields,
    "chat-long-stream-tails": scenario_long_stream_tails,
    "chat-reader-mid-stream": scenario_reader_mid_stream,
}
