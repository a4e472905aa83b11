"""Finished turns far from the viewport sleep: out of the layout, same geometry, awake on sight.

Textual lays out every displayed widget of the screen on each relayout, so a long chat of n = 8
turns made every flush of the streaming turn slower (issue 10/11: the 20-prompt queue load went
from 9 s to 90 s per turn). A sleeping part of the log (a user message, an assistant turn) has
all its children unmounted and its height pinned; these tests hold the geometry, what a turn
shows when it wakes (columns, summary, error, a pick made while it slept), the wake-up on
scrolling and the streaming turn.
"""

from __future__ import annotations

from textual.geometry import Region
from textual.pilot import Pilot
from textual.widgets import Markdown, Static

from tests.ui.scenarios_chat import (
    TERMINAL_SIZE,
    ChatHostApp,
    demo_profile,
    freeze,
    send_prompt,
    until,
)
from workbench.chat.model import AssistantTurn, Conversation, SampleRecord, UserTurn
from workbench.engine.api import SampleStats
from workbench.engine.fake import FakeEngine, turn_long
from workbench.ui.chat.prompt import ConversationLog
from workbench.ui.chat.sample_column import SampleColumn
from workbench.ui.chat.turns import AssistantTurnView, Sleeper, UserMessage

TURNS = 12
N = 4


def long_chat() -> Conversation:
    stats = SampleStats(60, 30, 20, "stop", None, ttft_s=0.1, decode_tokens_per_s=40.0)
    turns: list[UserTurn | AssistantTurn] = []
    for number in range(TURNS):
        answer = "\n\n".join(f"Turn {number}, paragraph {p}: " + "words " * 30 for p in range(3))
        samples = [SampleRecord(i, f"thinking {i}", answer, stats) for i in range(N)]
        turns += [UserTurn(f"question {number}"), AssistantTurn(f"c-{number}", N, samples)]
    first = turns[1]
    assert isinstance(first, AssistantTurn)
    first.error = FIRST_ERROR
    return Conversation("c", "demo", None, turns, "long")


FIRST_ERROR = "the engine stopped after these samples"


def geometry(app: ChatHostApp) -> list[Region]:
    return [part.virtual_region for part in app.chat.log_view.query_children(Sleeper)]


def shown(view: AssistantTurnView) -> list[str]:
    """What a turn shows under its columns: summary and error lines (when displayed)."""
    return [
        str(note.render())
        for note in view.query(".turn-summary, .turn-error").results(Static)
        if note.display
    ]


async def all_awake(pilot: Pilot[None], app: ChatHostApp) -> None:
    """Every turn with its columns mounted: as the chat is laid out without sleeping."""
    log = app.chat.log_view
    log.SLEEP_MARGIN_SCREENS = 10_000
    log.update_sleep()
    parts = list(log.query_children(Sleeper))
    await until(pilot, lambda: not any(p.asleep or p.waking for p in parts), "every part awake")
    await pilot.pause()
    await pilot.pause()


def assert_asleep_iff_far(app: ChatHostApp) -> None:
    """Finished parts more than a screen away from the viewport sleep (with no child left);
    the others are awake."""
    log = app.chat.log_view
    for part in log.query_children(Sleeper):
        region = part.virtual_region
        near = region.bottom >= log.scroll_y - log.size.height and region.y <= (
            log.scroll_y + 2 * log.size.height
        )
        assert part.asleep != near, (part, region, log.scroll_y, log.size)
        assert bool(part.children) != part.asleep, (part, part.children)


async def back_to_sleep(pilot: Pilot[None], app: ChatHostApp) -> None:
    log = app.chat.log_view
    log.SLEEP_MARGIN_SCREENS = ConversationLog.SLEEP_MARGIN_SCREENS
    log.update_sleep()
    await pilot.pause()


async def test_far_turns_sleep_keep_their_height_and_wake_when_scrolled_to() -> None:
    engine = FakeEngine(chat_scripts=[turn_long(N, 300, pause_after=200)])
    app = ChatHostApp(engine, profile=demo_profile(n=N))
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await until(pilot, lambda: app.chat.ready, "ready")
        await app.chat.load_chat(long_chat())
        log = app.chat.log_view
        views = list(log.query_children(AssistantTurnView))
        messages = list(log.query_children(UserMessage))
        await until(pilot, lambda: views[0].asleep, "the first turn to sleep")
        asleep = [view.asleep for view in views]
        # At the bottom: the last turns are awake, the far top ones asleep, messages too.
        assert not asleep[-1] and asleep[0], asleep
        assert messages[0].asleep and not messages[-1].asleep
        assert not views[0].children and not messages[0].children
        assert log.max_scroll_y - log.scroll_y <= 1
        for view in views:
            # asleep: its columns are unmounted (not laid out, not in memory); awake: all there
            columns = list(view.query(SampleColumn))
            assert len(columns) == (0 if view.asleep else N), view.asleep
            assert all(column.region for column in columns)
        sleeping = geometry(app)
        height = log.virtual_size.height
        widgets_asleep = len(list(app.screen.walk_children()))

        # The same chat with every turn awake is laid out exactly alike.
        await all_awake(pilot, app)
        assert geometry(app) == sleeping
        assert log.virtual_size.height == height
        widgets_awake = len(list(app.screen.walk_children()))
        assert widgets_asleep < widgets_awake / 2, (widgets_asleep, widgets_awake)
        awake_notes = shown(views[0]), shown(views[-1])
        assert any(FIRST_ERROR in line for line in awake_notes[0]), awake_notes
        assert any("Summary" in line for line in awake_notes[1]), awake_notes
        await back_to_sleep(pilot, app)
        assert_asleep_iff_far(app)

        # Jump to the top: the first turn wakes (its spacer holds the place), the last sleeps.
        log.scroll_home(animate=False)
        await until(pilot, lambda: not views[0].asleep, "the first turn to wake")
        assert views[-1].asleep
        await pilot.pause()
        first = views[0].query(SampleColumn).first()
        assert first.region and first.answer_pane.region.y < app.size.height
        assert "Turn 0, paragraph 0" in first.answer_pane.text
        assert first.thinking_panel.collapsed  # as it was folded before it slept
        first.thinking_panel.collapsed = False  # never laid out before: rendered now
        await pilot.pause()
        await pilot.pause()
        assert first.thinking_pane.text == "thinking 0" and first.thinking_pane.line_count == 1
        assert shown(views[0]) == awake_notes[0]  # the error line is back as it was
        assert messages[0].query_one(Markdown).source == "question 0"

        # A pick made while the last turn sleeps shows when it wakes.
        app.chat.action_pick_sample(2)
        assert views[-1].asleep

        # Back to the bottom: a new reply streams (never asleep) and the top sleeps again.
        log.scroll_end(animate=False)
        await until(pilot, lambda: not views[-1].asleep, "the last turn to wake")
        await pilot.pause()
        picked = views[-1].columns[1]
        assert picked.header_text.endswith("← continuing") and picked.has_class("-picked")
        assert shown(views[-1]) != awake_notes[1]  # the hint to pick is gone
        await send_prompt(pilot, "one more")
        await freeze(pilot, engine)
        streaming = app.chat._streaming_view
        assert app.chat.streaming and streaming is not None
        log.update_sleep()
        assert not streaming.asleep
        log.scroll_home(animate=False)  # scrolled away from it, the live turn stays awake
        await pilot.pause()
        assert not streaming.asleep and views[-1].asleep
        log.scroll_end(animate=False)
        engine.release()
        await until(pilot, lambda: not app.chat.streaming, "the reply to finish")
        await until(pilot, lambda: views[0].asleep, "the top to sleep again")


async def test_a_sleeping_turn_comes_back_at_a_new_width() -> None:
    app = ChatHostApp(FakeEngine(), profile=demo_profile())
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await until(pilot, lambda: app.chat.ready, "ready")
        await app.chat.load_chat(long_chat())
        views = list(app.chat.log_view.query_children(AssistantTurnView))
        await until(pilot, lambda: views[0].asleep, "the first turn to sleep")
        before = geometry(app)
        narrow = (TERMINAL_SIZE[0] - 40, TERMINAL_SIZE[1])
        await pilot.resize_terminal(*narrow)
        # Narrower columns wrap to more lines: a pinned height cannot stay, so every
        # turn is laid out again and the far ones sleep with their new heights.
        await until(
            pilot,
            lambda: not any(v.waking for v in views) and views[0].asleep,
            "the first turn to sleep again",
        )
        await pilot.pause()
        asleep_geometry = geometry(app)
        assert asleep_geometry != before  # taller at the new width
        await all_awake(pilot, app)
        assert geometry(app) == asleep_geometry


async def test_a_queue_of_long_turns_keeps_the_layout_to_the_turns_near_the_viewport() -> None:
    """Six n = 4 turns streamed live: when they are done the turns laid out are the ones
    within a screen of the viewport, whatever the chat's length."""
    prompts = 6
    engine = FakeEngine(chat_scripts=[turn_long(N, 200) for _ in range(prompts)])
    app = ChatHostApp(engine, profile=demo_profile(n=N))
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await until(pilot, lambda: app.chat.ready, "ready")
        for number in range(prompts):
            await send_prompt(pilot, f"question {number}")
            await until(pilot, lambda: not app.chat.streaming, "the reply to finish")
        log = app.chat.log_view
        views = list(log.query_children(AssistantTurnView))
        await until(pilot, lambda: views[0].asleep, "the first turn to sleep")
        log.update_sleep()
        await pilot.pause()
        assert_asleep_iff_far(app)
