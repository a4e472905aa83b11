"""Pilot tests of the chat flows, asserting on the view's state and on what the fake engine got."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from textual.widgets import Input
from textual.widgets._collapsible import CollapsibleTitle

from tests.ui.scenarios_chat import (
    TERMINAL_SIZE,
    ChatHostApp,
    demo_profile,
    host,
    send_prompt,
    settle,
    until,
)
from workbench.chat.model import AssistantTurn, Conversation, SampleRecord, UserTurn
from workbench.chat.store import ChatStore
from workbench.engine.api import ChatMessage, ChatOverrides, EngineError, SampleStats
from workbench.engine.fake import (
    FakeEngine,
    FakeSample,
    FakeTurn,
    sample,
    turn_bang_repeat,
    turn_n4_majority,
    turn_thinking_then_answer,
)
from workbench.ui.chat.prompt import ConversationLog
from workbench.ui.chat.sample_column import SampleColumn
from workbench.ui.chat.text_pane import TextPane
from workbench.ui.chat.turns import AssistantTurnView, DoctorCard, UserMessage


async def wait_for_autosaves(app: ChatHostApp) -> None:
    """Wait for autosave workers only (the stream's worker is frozen on purpose)."""
    autosaves = [w for w in app.workers if w.group == "chat-autosave"]
    if autosaves:  # an empty list would mean "every worker" to wait_for_complete
        await app.workers.wait_for_complete(autosaves)


def last_turn(app: ChatHostApp) -> AssistantTurn:
    turn = app.chat.conversation.turns[-1]
    assert isinstance(turn, AssistantTurn)
    return turn


async def test_abort_then_n4_then_pick_sample_2_then_continue(tmp_path: Path) -> None:
    app, engine = host(
        [turn_thinking_then_answer(pause_after=5), turn_n4_majority()],
        store=ChatStore(tmp_path / "chats"),
    )
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        # 1. A reply starts streaming; Esc (pressed in the input) aborts it.
        await send_prompt(pilot, "first question")
        await engine.wait_paused()
        await pilot.press("escape")
        await settle(pilot)
        aborted = last_turn(app)
        assert aborted.aborted and aborted.done
        assert aborted.samples[0].stats is not None
        assert aborted.samples[0].stats.finish_reason == "abort"
        column = app.query(AssistantTurnView).last().columns[0]
        assert "abort" in str(column.query_one(".sample-stats").render())
        assert engine.aborts == [aborted.request_id]

        # 2. Esc again (not streaming) leaves the input; + three times asks for n=4.
        await pilot.press("escape")
        assert isinstance(app.focused, ConversationLog)
        await pilot.press("plus", "plus", "plus")
        assert app.chat.effective_n() == 4
        await pilot.press("i")
        await send_prompt(pilot, "17 + 65?")
        await settle(pilot)
        four = last_turn(app)
        assert len(four.samples) == 4 and four.n_requested == 4
        assert engine.requests[-1].overrides == ChatOverrides(n=4)

        # 3. Pick sample 2 from the conversation.
        app.chat.log_view.focus()
        await pilot.press("2")
        await pilot.pause()
        assert four.picked == 1
        picked_column = app.query(AssistantTurnView).last().columns[1]
        assert picked_column.has_class("-picked")

        # 4. Continue: the next request carries sample 2's answer as the assistant turn.
        await send_prompt(pilot, "and plus one?")
        await settle(pilot)
        sent = engine.requests[-1].messages
        # Sample 2's answer with its reasoning: the engine applies the thinking-history policy.
        assert sent[-2:] == (
            ChatMessage("assistant", "82", reasoning=four.samples[1].reasoning),
            ChatMessage("user", "and plus one?"),
        )
        # The aborted turn had no answer, so it is not sent back as an empty reply.
        assert [m.role for m in sent] == ["user", "user", "assistant", "user"]

    saved = ChatStore(tmp_path / "chats").latest()
    assert saved is not None
    assert len(saved.turns) == 6
    saved_four = saved.turns[3]
    assert isinstance(saved_four, AssistantTurn) and saved_four.picked == 1


async def test_quick_changes_reach_the_next_request() -> None:
    app, engine = host([turn_thinking_then_answer(), turn_thinking_then_answer()])
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await until(pilot, lambda: app.chat.ready, "ready")
        app.chat.log_view.focus()
        await pilot.press("plus", "t", "right_square_bracket")
        bar = str(app.chat.query_one(".quick-bar").render())
        assert "n 2" in bar and "thinking off" in bar and "temperature 0.7" in bar
        await send_prompt(pilot)
        await settle(pilot)
        assert engine.requests[-1].overrides == ChatOverrides(
            n=2, temperature=0.7, enable_thinking=False
        )
        turn = last_turn(app)
        assert all(sample.reasoning == "" for sample in turn.samples)
        # Thinking off: no thinking panel is shown.
        for column in app.query(SampleColumn):
            assert not column.thinking_panel.display


async def test_thinking_panel_streams_open_then_folds_with_its_title() -> None:
    app, engine = host([turn_thinking_then_answer(pause_after=10)])
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await send_prompt(pilot)
        await engine.wait_paused()
        await app.chat.flush_now()
        await pilot.pause()
        column = app.query_one(SampleColumn)
        panel = column.thinking_panel
        assert panel.display and not panel.collapsed
        assert panel.title == "Thinking…"
        engine.release()
        await settle(pilot)
        assert panel.collapsed
        assert panel.title == "Thought for 12.3 s · 154 tokens"
        answer = column.query_one(".answer", TextPane)
        assert answer.text.startswith("**17 + 65 = 82.**")
        # It expands on demand, showing the whole reasoning.
        await pilot.click(CollapsibleTitle)
        await pilot.pause()
        assert not panel.collapsed
        thinking = column.query_one(".thinking", TextPane)
        assert thinking.text.endswith("Check: 82 - 65 = 17. Correct.")
        assert thinking.region.height > 0


async def test_periodic_autosave_while_streaming(tmp_path: Path) -> None:
    store = ChatStore(tmp_path)
    engine = FakeEngine(chat_scripts=[turn_thinking_then_answer(pause_after=6)])
    # One tick per 100 s, autosave every 200 s: the real timer never fires during the test, and
    # the two ticks driven by hand below stand for 200 s of streaming. No clock involved.
    app = ChatHostApp(
        engine, store=store, profile=demo_profile(), autosave_interval_s=200, flush_hz=0.01
    )
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await send_prompt(pilot)
        await engine.wait_paused()
        await wait_for_autosaves(app)
        at_send = store.latest()
        assert at_send is not None  # the prompt was saved when it was sent
        assert at_send.turns[0] == UserTurn("What is 17 + 65?")
        sent_turn = at_send.turns[-1]
        assert isinstance(sent_turn, AssistantTurn) and sent_turn.samples == []
        await app.chat.flush_tick()
        await wait_for_autosaves(app)
        after_one_tick = store.latest()
        assert after_one_tick is not None and after_one_tick.turns[-1] == sent_turn
        await app.chat.flush_tick()
        await wait_for_autosaves(app)
        partial = store.latest()
        assert partial is not None
        streaming_turn = partial.turns[-1]
        assert isinstance(streaming_turn, AssistantTurn) and not streaming_turn.done
        assert streaming_turn.samples[0].reasoning  # the reasoning so far was saved
        engine.release()
        await settle(pilot)
    final = store.latest()
    assert final is not None
    done_turn = final.turns[-1]
    assert isinstance(done_turn, AssistantTurn) and done_turn.done


async def test_resume_an_autosaved_chat(tmp_path: Path) -> None:
    store = ChatStore(tmp_path)
    stats = SampleStats(
        24, 40, 5, "stop", None, ttft_s=0.1, first_answer_token_s=3.3, decode_tokens_per_s=40.0
    )
    store.save(
        Conversation(
            "saved-1",
            "demo",
            None,
            [
                UserTurn("What is the capital of France?"),
                AssistantTurn(
                    "saved-1-1",
                    1,
                    [SampleRecord(0, "France's capital is Paris.", "Paris.", stats)],
                    done=True,
                ),
            ],
            "capital",
        )
    )
    engine = FakeEngine()
    app = ChatHostApp(engine, store=store, profile=demo_profile())
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await until(pilot, lambda: app.chat.ready, "ready")
        app.chat.log_view.focus()
        await pilot.press("r")
        await until(pilot, lambda: bool(app.query(UserMessage)), "the chat to be restored")
        await pilot.pause()
        assert app.chat.conversation.id == "saved-1"
        assert app.query_one(UserMessage).text == "What is the capital of France?"
        column = app.query_one(SampleColumn)
        assert column.query_one(".answer", TextPane).text == "Paris."
        assert column.thinking_panel.collapsed
        assert column.thinking_panel.title == "Thought for 3.2 s · 40 tokens"
        # The next message continues the resumed conversation.
        await send_prompt(pilot, "And of Italy?")
        await settle(pilot)
        assert engine.requests[-1].messages == (
            ChatMessage("user", "What is the capital of France?"),
            ChatMessage("assistant", "Paris.", reasoning="France's capital is Paris."),
            ChatMessage("user", "And of Italy?"),
        )


async def test_export_writes_markdown_and_json_with_run_card(tmp_path: Path) -> None:
    app, engine = host([turn_thinking_then_answer()])
    app_export = tmp_path / "exports"
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        app.chat.export_dir = app_export
        await send_prompt(pilot)
        await settle(pilot)
        app.chat.log_view.focus()
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()
        chat_id = app.chat.conversation.id
    markdown = (app_export / f"{chat_id}.md").read_text()
    assert "| profile | demo |" in markdown and "| vLLM | 0.32.0 |" in markdown
    data = json.loads((app_export / f"{chat_id}.json").read_text())
    assert data["run_card"]["sampling"]["temperature"] == 0.6
    assert data["run_card"]["device"] == "cpu"


async def test_send_before_the_engine_is_ready_waits_for_it_then_sends() -> None:
    """Enter while the profile still loads: the message is queued (shown), nothing is sent;
    the moment the engine is ready it goes out as the first turn."""
    engine = FakeEngine()
    app = ChatHostApp(engine, profile=demo_profile())
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await until(pilot, lambda: app.chat.ready, "ready")
        figures = app.chat.figures
        app.chat.set_engine_ready(None)  # as the shell does when a load starts
        app.chat.action_focus_input()
        await pilot.press(*"What is 23+58?", "enter")
        await pilot.pause()
        assert app.chat.conversation.turns == [] and engine.requests == []
        assert app.chat.queued_prompt == "What is 23+58?"
        queued = app.chat.query_one(".chat-queued")
        assert queued.display and "sends when demo is ready" in str(queued.render())
        app.chat.set_engine_ready(figures)
        await until(pilot, lambda: len(engine.requests) == 1, "the queued message to be sent")
        assert isinstance(app.chat.conversation.turns[0], UserTurn)
        assert app.chat.conversation.turns[0].content == "What is 23+58?"
        assert app.chat.queued_prompt is None and not queued.display


async def test_a_failed_load_gives_the_queued_message_back() -> None:
    engine = FakeEngine()
    app = ChatHostApp(engine, profile=demo_profile())
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await until(pilot, lambda: app.chat.ready, "ready")
        app.chat.set_engine_ready(None)
        app.chat.action_focus_input()
        await pilot.press(*"hello there", "enter")
        await pilot.pause()
        app.chat.set_engine_unavailable("demo did not load")
        await pilot.pause()
        assert app.chat.query_one("#chat-input", Input).value == "hello there"
        assert engine.requests == [] and app.chat.queued_prompt is None
        placeholder = str(app.chat.query_one(".chat-placeholder").render())
        assert "demo did not load" in placeholder and "Waiting" not in placeholder


@pytest.mark.parametrize(("n", "scrolls"), [(4, False), (8, True)])
async def test_n_columns_fill_the_width_before_scrolling_sideways(n: int, scrolls: bool) -> None:
    """At 160 terminal columns four samples sit side by side filling the row exactly; eight
    scroll sideways (each no narrower than MIN_COLUMN_WIDTH)."""
    from textual.containers import HorizontalScroll

    from workbench.ui.chat.turns import MIN_COLUMN_WIDTH

    app, _engine = host(
        [
            turn_n4_majority()
            if n == 4
            else FakeTurn(samples=tuple(sample(answer="42") for _ in range(8)))
        ],
        n=n,
    )
    async with app.run_test(size=(160, 48)) as pilot:
        await send_prompt(pilot)
        await settle(pilot)
        row = app.query_one(AssistantTurnView).query_one(HorizontalScroll)
        columns = list(row.query(SampleColumn))
        assert len(columns) == n
        widths = [column.outer_size.width for column in columns]
        assert (row.max_scroll_x > 0) == scrolls, (widths, row.size.width)
        if scrolls:
            assert min(widths) == MIN_COLUMN_WIDTH
        else:
            assert sum(widths) == row.size.width and max(widths) - min(widths) <= 1


async def test_fewer_samples_than_asked_shows_missing_column_and_doctor_card() -> None:
    app, engine = host([turn_bang_repeat()], n=4, temperature=0.8)
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await send_prompt(pilot)
        await settle(pilot)
        turn = last_turn(app)
        assert (turn.n_requested, len(turn.samples)) == (4, 3)
        assert turn.error is not None
        columns = app.query(AssistantTurnView).last().columns
        assert "not returned" in str(columns[3].query_one(".sample-header").render())
        codes = [card.finding.code for card in app.query(DoctorCard)]
        assert codes == ["repeated_token", "fewer_samples"]
        assert columns[1].has_class("-flagged")


async def test_n8_stream_renders_in_batches_not_per_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight samples streaming: deltas only fill buffers; one flush writes each pane once, however
    many deltas it holds; each pane ends with exactly its full text."""
    appends = 0
    original_append = TextPane.append

    def counting_append(self: TextPane, text: str) -> None:
        nonlocal appends
        appends += 1
        original_append(self, text)

    monkeypatch.setattr(TextPane, "append", counting_append)
    words = " ".join(f"w{i}" for i in range(60))
    turn = FakeTurn(samples=tuple(sample(answer=words) for _ in range(8)), pause_after=240)
    engine = FakeEngine(chat_scripts=[turn])
    # A flush timer of one tick per 100 s: only the explicit flush below writes to the panes.
    app = ChatHostApp(engine, profile=demo_profile(n=8), flush_hz=0.01)
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await send_prompt(pilot)
        await engine.wait_paused()
        assert appends == 0, "240 deltas arrived; none may render by itself"
        await app.chat.flush_now()
        assert appends == 8, "one append per pane for 30 buffered deltas each"
        engine.release()
        await settle(pilot)
        for column in app.query(SampleColumn):
            assert column.query_one(".answer", TextPane).text == words


async def test_request_failure_is_shown_under_the_turn() -> None:
    died = EngineError("engine_died", "the engine process exited (code -9); see the Log tab")
    app, engine = host([FakeTurn(samples=(), fail=died)])
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await send_prompt(pilot)
        await settle(pilot)
        turn = last_turn(app)
        assert turn.done and turn.error == died.message
        error_line = app.query(AssistantTurnView).last().query_one(".turn-error")
        assert error_line.display
        assert "engine process exited" in str(error_line.render())
        assert not app.chat.streaming


async def test_autosave_failure_warns_once_and_the_chat_goes_on(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the chats directory should be")
    app, engine = host(
        [turn_thinking_then_answer(), turn_thinking_then_answer()], store=ChatStore(blocker)
    )
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await send_prompt(pilot)
        await settle(pilot)
        await send_prompt(pilot, "again")
        await settle(pilot)
        assert app.is_running
        assert len(app.chat.conversation.turns) == 4
        warnings = [n for n in app._notifications if "Could not autosave" in n.message]
        assert len(warnings) == 1
        assert str(blocker) in warnings[0].message


async def test_resumed_mid_stream_save_says_thinking_was_interrupted(tmp_path: Path) -> None:
    store = ChatStore(tmp_path)
    interrupted = AssistantTurn("x-1", 1, [SampleRecord(0, "Halfway through", "", None)])
    store.save(Conversation("x", "demo", None, [UserTurn("hello"), interrupted], "x"))
    app = ChatHostApp(FakeEngine(), store=store, profile=demo_profile())
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await until(pilot, lambda: app.chat.ready, "ready")
        await app.chat.action_resume_last()
        await pilot.pause()
        column = app.query_one(SampleColumn)
        assert column.thinking_panel.title == "Thinking (interrupted)"
        assert column.query_one(".answer", TextPane).text == "*(no output)*"


async def test_resume_and_new_chat_are_refused_while_a_reply_streams(tmp_path: Path) -> None:
    store = ChatStore(tmp_path)
    store.save(Conversation("older", "demo", None, [UserTurn("old question")], "older"))
    app, engine = host([turn_thinking_then_answer(pause_after=4)], store=store)
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await send_prompt(pilot)
        await engine.wait_paused()
        live_id = app.chat.conversation.id
        await app.chat.action_resume_last()
        await app.chat.action_new_chat()
        assert app.chat.conversation.id == live_id and app.chat.streaming
        engine.release()
        await settle(pilot)
        assert last_turn(app).done


async def test_the_context_gauge_counts_the_conversation_and_warns_before_it_overflows() -> None:
    """The quick bar shows the next prompt's tokens against max_model_len, counted by the
    engine after each turn and as the draft changes, and says so before a turn would not fit."""
    from dataclasses import replace

    from workbench.engine.fake import DEFAULT_FIGURES

    # max_tokens 512 of a 600-token context: the second turn's prompt leaves too little room
    engine = FakeEngine(
        chat_scripts=[turn_thinking_then_answer(), turn_thinking_then_answer()],
        figures=replace(DEFAULT_FIGURES, max_model_len=600),
        count_prompts=True,
    )
    app = ChatHostApp(engine, profile=demo_profile())
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        chat = app.chat
        await until(pilot, lambda: chat.context is not None, "the first count")
        assert chat.context is not None and chat.context.max_model_len == 600
        empty = chat.context.tokens
        bar = str(chat.query_one(".quick-bar").render())
        assert f"context {empty}/600" in bar and "does not fit" not in bar
        await send_prompt(pilot)
        await settle(pilot)
        await until(
            pilot, lambda: chat.context is not None and chat.context.tokens > empty, "a count"
        )
        after_turn = chat.context
        assert after_turn is not None and after_turn.fits
        # A long draft, counted once typing pauses: it would not leave max_tokens for the reply
        chat.query_one(Input).value = "word " * 80
        await pilot.pause(chat.CONTEXT_DEBOUNCE_S + 0.2)
        await until(
            pilot, lambda: chat.context is not None and not chat.context.fits, "the draft count"
        )
        bar = str(chat.query_one(".quick-bar").render())
        assert "⚠ the next turn does not fit (max_tokens 512" in bar
        assert f"/600 ({chat.context.fraction * 100:.0f}%)" in bar


async def test_typing_mid_stream_defers_flushes_but_the_stream_keeps_moving() -> None:
    """While the user types, flushes step aside (a key never waits behind one it did not need
    to), yet the stream still shows new text every stale interval, typing or not."""
    long_turn = FakeTurn(samples=(FakeSample(reasoning_chunks=("thinking ",) * 4000),))
    engine = FakeEngine(chat_scripts=[long_turn], step_delay_s=0.002)
    app = ChatHostApp(engine, profile=demo_profile())
    flushes: list[float] = []
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        chat = app.chat
        chat.pacer.typing_pause_s = 10.0  # typing never pauses here: only staleness flushes
        flush = chat._streaming_view_flush

        async def counted(view: AssistantTurnView) -> None:
            flushes.append(time.perf_counter())
            await flush(view)

        chat._streaming_view_flush = counted  # type: ignore[method-assign,assignment]
        await send_prompt(pilot, "think for a long time")
        await until(pilot, lambda: chat.streaming and len(flushes) >= 3, "the stream to flush")
        pane = app.query_one(SampleColumn).thinking_pane
        started, shown_before = time.perf_counter(), len(pane.text)
        flushes.clear()
        while time.perf_counter() - started < 1.5:
            await pilot.press("x")
            await asyncio.sleep(0.03)
        typed_s = time.perf_counter() - started
        assert chat.streaming, "the scripted stream ended before the typing did"
        shown_after = len(pane.text)
        assert app.query_one("#chat-input", Input).value.startswith("xxx")
        # At most one flush per stale interval (plus the one due when typing began); without
        # the pacer stepping aside the timer would have flushed at 20 Hz, ~30 times.
        assert 2 <= len(flushes) <= typed_s / chat.pacer.stale_s + 2, (len(flushes), typed_s)
        assert shown_after > shown_before  # the stream kept moving on screen while typing
        await pilot.press("escape")
        await settle(pilot)
