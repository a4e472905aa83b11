"""Streams at real length: thousands of tokens, n = 8, degenerate "!!!!" output.

What must hold: while samples stream, a flush repaints fixed-size live panes and never relayouts
the screen once the panes are full; each finished Markdown block is rendered exactly once; every
pane ends with exactly its sample's text; finished turns stay cheap (one widget per pane).
"""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console
from rich.markdown import Markdown as RichMarkdown
from textual.app import App, ComposeResult
from textual.containers import HorizontalScroll
from textual.screen import Screen

from tests.ui.scenarios_chat import ChatHostApp, demo_profile, send_prompt, settle, until
from tests.ui.scenarios_shell import TERMINAL_SIZE
from workbench.chat.blocks import split_blocks
from workbench.engine.fake import FakeEngine, FakeSample, FakeTurn, long_markdown_chunks, turn_long
from workbench.ui.chat.reader import SampleReader
from workbench.ui.chat.sample_column import ANSWER_TAIL_LINES, SampleColumn
from workbench.ui.chat.text_pane import CODE_THEME, BlockMarkdown, TextPane


class Panes(App[None]):
    """Eight live panes side by side, as in an n = 8 turn."""

    def compose(self) -> ComposeResult:
        with HorizontalScroll():
            for _ in range(8):
                yield TextPane(tail_lines=ANSWER_TAIL_LINES, live=True)


async def test_full_live_panes_repaint_without_relayout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once each pane has filled its tail, 60 more flushes of Markdown and of "!!!!" into
    eight panes cause no screen layout at all: the cost of a flush does not grow with what
    is already shown."""
    layouts = 0
    original = Screen._refresh_layout

    def counting(self: Screen[Any], *args: Any, **kwargs: Any) -> None:
        nonlocal layouts
        layouts += 1
        original(self, *args, **kwargs)

    monkeypatch.setattr(Screen, "_refresh_layout", counting)
    app = Panes()
    chunks = long_markdown_chunks(6000)
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        panes = list(app.query(TextPane))
        position = 0
        while min(pane.line_count for pane in panes) < ANSWER_TAIL_LINES + 1:
            for index, pane in enumerate(panes):
                pane.append("".join(chunks[position : position + 20]) if index % 2 else "!!" * 20)
            position += 20
            await pilot.pause()
        layouts = 0
        for _ in range(60):
            for index, pane in enumerate(panes):
                pane.append("".join(chunks[position : position + 20]) if index % 2 else "!!" * 20)
            position += 20
            await pilot.pause()
        assert layouts == 0
        for pane in panes:
            assert pane.size.height == ANSWER_TAIL_LINES
            assert pane.line_count > 5 * ANSWER_TAIL_LINES
        # The tail shows the newest text: the last line drawn is the last line streamed.
        assert (
            panes[1].render_line(ANSWER_TAIL_LINES - 1).text.strip()
            in ("".join(chunks[:position]).rstrip().splitlines()[-1])
        )


async def test_each_finished_block_is_rendered_once(monkeypatch: pytest.MonkeyPatch) -> None:
    renders: list[str] = []
    original = TextPane._render_block

    def counting(self: TextPane, block: str, width: int) -> Any:
        renders.append(block)
        return original(self, block, width)

    monkeypatch.setattr(TextPane, "_render_block", counting)
    app = Panes()
    text = "".join(long_markdown_chunks(3000))
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        pane = app.query(TextPane).first()
        await pilot.pause()
        for start in range(0, len(text), 9):
            pane.append(text[start : start + 9])
            if start % 900 == 0:
                await pilot.pause()
        pane.finish(text)
        await pilot.pause()
        assert renders == split_blocks(text)
        assert pane.text == text and not pane.live
        assert pane.size.height == pane.line_count > ANSWER_TAIL_LINES


async def test_n8_long_markdown_and_degenerate_stream_end_exact() -> None:
    """n = 8 samples of 2,000 deltas each (four Markdown replies, four "!!!!" repeats) through
    the chat with its real flush timer: every pane ends with exactly its sample's text, shown in
    full, and a finished turn is a handful of widgets per sample, however long the text."""
    markdown = long_markdown_chunks(2000)
    samples = tuple(
        FakeSample(answer_chunks=markdown if index % 2 == 0 else ("!!",) * 2000)
        for index in range(8)
    )
    engine = FakeEngine(chat_scripts=[FakeTurn(samples=samples)])
    app = ChatHostApp(engine, profile=demo_profile(n=8))
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await send_prompt(pilot)
        await settle(pilot)
        columns = list(app.query(SampleColumn))
        assert len(columns) == 8
        for column in columns:
            expected = "".join(samples[column.index].answer_chunks)
            pane = column.answer_pane
            assert pane.text == expected
            assert not pane.live and pane.size.height == pane.line_count
        widgets_per_column = {len(list(column.query("*"))) for column in columns}
        assert max(widgets_per_column) <= 10, widgets_per_column


async def test_reader_shows_the_whole_sample_and_follows_the_stream() -> None:
    """Mid-stream, v opens the reader on the whole text so far (the column shows only its
    tail); it follows the stream to the end, ←/→ switches sample, Esc closes it."""
    markdown = long_markdown_chunks(1200)
    samples = (FakeSample(answer_chunks=markdown), FakeSample(answer_chunks=("!!",) * 1200))
    engine = FakeEngine(chat_scripts=[FakeTurn(samples=samples, pause_after=1000)])
    app = ChatHostApp(engine, profile=demo_profile(n=2))
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await send_prompt(pilot)
        await engine.wait_paused()
        await app.chat.flush_now()
        await pilot.pause()
        column = app.query(SampleColumn).first()
        assert column.answer_pane.live and column.answer_pane.size.height == ANSWER_TAIL_LINES
        app.chat.log_view.focus()
        await pilot.press("v")
        await pilot.pause()
        reader = app.screen
        assert isinstance(reader, SampleReader)
        pane = reader.query_one(".answer", TextPane)
        so_far = "".join(markdown[:500])
        assert pane.text == so_far
        assert pane.size.height == pane.line_count > 2 * ANSWER_TAIL_LINES
        engine.release()
        await settle(pilot)
        await until(pilot, lambda: pane.text == "".join(markdown), "the reader to follow")
        assert not pane.live
        await pilot.press("right")
        await pilot.pause()
        assert reader.query_one(".answer", TextPane).text == "!!" * 1200
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, SampleReader)


async def test_the_flush_timer_shows_the_stream_without_help() -> None:
    """Nothing but the chat's own paced timer: the first ticks find nothing to write (the
    request has not produced a token yet), and the text still appears while the stream is
    frozen mid-way, in a live tail, before any finish."""
    engine = FakeEngine(chat_scripts=[turn_long(2, 3000, pause_after=2000)])
    app = ChatHostApp(engine, profile=demo_profile(n=2))
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await until(pilot, lambda: app.chat.ready, "the engine to be ready")
        engine.hold()  # the stream waits before its first token
        await send_prompt(pilot)
        for _ in range(5):
            await pilot.pause(0.06)  # several ticks with nothing buffered
        engine.release()
        await engine.wait_paused()
        column = app.query(SampleColumn).first()
        await until(pilot, lambda: column.answer_pane.line_count > 0, "the timer to flush")
        assert column.answer_pane.live and app.chat.streaming
        engine.release()
        await settle(pilot)


def test_block_markdown_is_rich_markdown_with_a_shared_parser() -> None:
    """The shared-parser Markdown sets every attribute Rich's own sets, to the same values, and
    renders every kind of block the same, lines and styles (a Rich upgrade that adds an
    attribute or changes the parser's rules fails here)."""
    blocks = [
        *split_blocks("".join(long_markdown_chunks(400))),
        "| a | b |\n|---|---|\n| 1 | 2 |",
        "~~struck~~ and **bold** and `code` and https://example.com",
        "```python\nprint('x')\n```",
        "> quoted\n> - list in a quote",
        "# Heading",
    ]
    console = Console(width=44, file=open("/dev/null", "w"), color_system="truecolor")  # noqa: SIM115
    options = console.options.update(width=44, height=None)
    for block in blocks:
        ours = BlockMarkdown(block)
        theirs = RichMarkdown(block, code_theme=CODE_THEME, hyperlinks=False)
        assert set(vars(ours)) == set(vars(theirs))
        for name, value in vars(theirs).items():
            if name != "parsed":
                assert getattr(ours, name) == value, name
        assert [(t.type, t.content) for t in ours.parsed] == [
            (t.type, t.content) for t in theirs.parsed
        ]
        assert console.render_lines(ours, options) == console.render_lines(theirs, options)
