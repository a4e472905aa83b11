"""Finished turns far from the viewport sleep: out of the layout, same geometry, awake on sight.

Textual lays out every displayed widget of the screen on each relayout, so a long chat of n = 8
turns made every flush of the streaming turn slower (issue 10/11: the 20-prompt queue load went
from 9 s to 90 s per turn). A sleeping turn's row of columns is unmounted behind a spacer of the
same height; these tests hold the geometry, the wake-up on scrolling and the streaming turn.
"""

from __future__ import annotations

from textual.geometry import Region
from textual.pilot import Pilot

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
from workbench.ui.chat.turns import AssistantTurnView

TURNS = 12
N = 4


def long_chat() -> Conversation:
    stats = SampleStats(60, 30, 20, "stop", None, ttft_s=0.1, decode_tokens_per_s=40.0)
    turns: list[UserTurn | AssistantTurn] = []
    for number in range(TURNS):
        answer = "\n\n".join(f"Turn {number}, paragraph {p}: " + "words " * 30 for p in range(3))
        samples = [SampleRecord(i, f"thinking {i}", answer, stats) for i in range(N)]
        turns += [UserTurn(f"question {number}"), AssistantTurn(f"c-{number}", N, samples)]
    return Conversation("c", "demo", None, turns, "long")


def geometry(app: ChatHostApp) -> list[Region]:
    return [view.virtual_region for view in app.chat.log_view.query_children(AssistantTurnView)]


async def all_awake(pilot: Pilot[None], app: ChatHostApp) -> None:
    """Every turn with its columns mounted: as the chat is laid out without sleeping."""
    log = app.chat.log_view
    log.SLEEP_MARGIN_SCREENS = 10_000
    log.update_sleep()
    views = list(log.query_children(AssistantTurnView))
    await until(pilot, lambda: not any(v.asleep or v.waking for v in views), "every turn awake")
    await pilot.pause()
    await pilot.pause()


def assert_asleep_iff_far(app: ChatHostApp) -> None:
    """Finished turns more than a screen away from the viewport sleep; the others are awake."""
    log = app.chat.log_view
    for view in log.query_children(AssistantTurnView):
        region = view.virtual_region
        near = region.bottom >= log.scroll_y - log.size.height and region.y <= (
            log.scroll_y + 2 * log.size.height
        )
        assert view.asleep != near, (region, log.scroll_y, log.size)


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
        await until(pilot, lambda: views[0].asleep, "the first turn to sleep")
        asleep = [view.asleep for view in views]
        # At the bottom: the last turns are awake, the far top ones asleep.
        assert not asleep[-1] and asleep[0], asleep
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

        # Back to the bottom: a new reply streams (never asleep) and the top sleeps again.
        log.scroll_end(animate=False)
        await pilot.pause()
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
        # Narrower columns wrap to more lines: the spacer cannot keep the old height, so every
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
