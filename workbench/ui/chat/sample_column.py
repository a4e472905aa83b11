"""One sample of an assistant turn: thinking panel, streamed answer, stats line."""

from __future__ import annotations

import asyncio

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Collapsible, Markdown, Static
from textual.widgets.markdown import MarkdownStream

from workbench.chat.model import SampleRecord
from workbench.engine.api import SampleStats

THINKING_LIVE_TITLE = "Thinking…"


def thinking_title(stats: SampleStats | None, reasoning: str, *, live: bool = False) -> str:
    """'Thought for 12.3 s · 154 tokens' once known; "Thinking…" while it streams; a sample
    that never finished (restored from a save made mid-stream) says it was interrupted."""
    if stats is None:
        return THINKING_LIVE_TITLE if live else "Thinking (interrupted)"
    tokens = f"{stats.reasoning_tokens} tokens" if stats.reasoning_tokens else ""
    if stats.thinking_seconds is not None:
        head = f"Thought for {stats.thinking_seconds:.1f} s"
    elif stats.finish_reason == "abort":
        head = "Thinking stopped"
    else:
        head = "Thought"
    return " · ".join(part for part in (head, tokens) if part) if reasoning else head


def stats_line(stats: SampleStats) -> str:
    """'185 tok · 38.2 tok/s · stop · logp -4.21' (fits a 46-cell column)."""
    parts = [f"{stats.reasoning_tokens + stats.answer_tokens} tok"]
    if stats.tokens_per_s is not None:
        parts.append(f"{stats.tokens_per_s:.1f} tok/s")
    parts.append(stats.finish_reason or "unfinished")
    if stats.cumulative_logprob is not None:
        parts.append(f"logp {stats.cumulative_logprob:.2f}")
    return " · ".join(parts)


class ThinkingPanel(Collapsible):
    """A Collapsible that never scrolls itself into view when folded or unfolded: with n columns
    streaming side by side, every automatic fold would yank the view sideways."""

    def _watch_collapsed(self, collapsed: bool) -> None:
        self._update_collapsed(collapsed)
        self.post_message(self.Collapsed(self) if collapsed else self.Expanded(self))


class SampleColumn(Vertical):
    """One sample: deltas are buffered, then flushed to MarkdownStreams by the view's timer."""

    DEFAULT_CSS = """
    SampleColumn {
        height: auto;
        padding: 0 1;
        border: round $panel;
    }
    SampleColumn.-picked { border: round $success; }
    SampleColumn.-flagged { border: round $error; }
    SampleColumn > .sample-header { color: $text-muted; text-style: bold; }
    SampleColumn.-majority > .sample-header { color: $success; }
    SampleColumn > Collapsible {
        padding: 0;
        margin: 0;
        border: none;
        background: transparent;
    }
    SampleColumn > Collapsible > Contents { padding: 0 0 0 2; }
    SampleColumn Markdown.thinking { color: $text-muted; margin: 0; padding: 0; }
    SampleColumn Markdown.answer { margin: 0; padding: 0; }
    SampleColumn Markdown.thinking > MarkdownParagraph { margin: 0; }
    SampleColumn > .sample-stats { color: $text-muted; }
    SampleColumn > .sample-stats.-abort { color: $warning; }
    """

    def __init__(self, index: int, *, show_header: bool, id: str | None = None) -> None:
        super().__init__(id=id)
        self.index = index
        self.show_header = show_header
        self._reasoning_buffer: list[str] = []
        self._content_buffer: list[str] = []
        self._reasoning_stream: MarkdownStream | None = None
        self._content_stream: MarkdownStream | None = None
        self._answer_started = False
        self.finished = False

    def compose(self) -> ComposeResult:
        yield Static(f"Sample {self.index + 1}", classes="sample-header")
        with ThinkingPanel(title=THINKING_LIVE_TITLE, collapsed=False):
            yield Markdown(classes="thinking")
        yield Markdown(classes="answer")
        yield Static("", classes="sample-stats")

    def on_mount(self) -> None:
        self.query_one(".sample-header").display = self.show_header
        self.query_one(ThinkingPanel).display = False
        self.query_one(".sample-stats").display = False

    @property
    def thinking_panel(self) -> ThinkingPanel:
        return self.query_one(ThinkingPanel)

    def buffer(self, reasoning: str, content: str) -> None:
        """Queue new text; nothing renders until ``flush``."""
        if reasoning:
            self._reasoning_buffer.append(reasoning)
        if content:
            self._content_buffer.append(content)

    @property
    def has_pending(self) -> bool:
        return bool(self._reasoning_buffer or self._content_buffer)

    async def flush(self) -> None:
        """Write buffered text to the panes' streams; collapse thinking when the answer starts."""
        # Take both buffers before the first await: ``finish`` may run while a write yields, and
        # nothing may be streamed after its full update.
        reasoning = "".join(self._reasoning_buffer)
        content = "".join(self._content_buffer)
        self._reasoning_buffer.clear()
        self._content_buffer.clear()
        if self.finished:
            return
        if reasoning:
            self.thinking_panel.display = True
            if self._reasoning_stream is None:
                self._reasoning_stream = Markdown.get_stream(self.query_one(".thinking", Markdown))
            await self._reasoning_stream.write(reasoning)
        if content and not self.finished:
            if not self._answer_started:
                self._answer_started = True
                self.thinking_panel.collapsed = True
            if self._content_stream is None:
                self._content_stream = Markdown.get_stream(self.query_one(".answer", Markdown))
            await self._content_stream.write(content)

    async def _stop_streams(self) -> None:
        streams = [s for s in (self._reasoning_stream, self._content_stream) if s is not None]
        self._reasoning_stream = None
        self._content_stream = None
        for stream in streams:
            try:
                await stream.stop()
            except asyncio.CancelledError:
                # The stream's own task was cancelled first (the app is shutting down): nothing
                # is left to write. Only a cancellation of *this* task must propagate.
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise

    async def finish(self, record: SampleRecord) -> None:
        """The sample is done: one full Markdown.update per pane (streamed parsing can drop block
        state), the final thinking title and the stats line."""
        self.finished = True
        self._reasoning_buffer.clear()
        self._content_buffer.clear()
        await self._stop_streams()
        await self.show_record(record)

    async def show_record(self, record: SampleRecord) -> None:
        """Render a finished (or restored) sample in one go."""
        panel = self.thinking_panel
        panel.display = bool(record.reasoning)
        panel.title = thinking_title(record.stats, record.reasoning)
        if record.reasoning:
            await self.query_one(".thinking", Markdown).update(record.reasoning)
        answer = record.content
        if not answer.strip():
            if record.stats is None:
                answer = "*(no output)*"
            elif record.stats.finish_reason == "abort":
                answer = "*(aborted)*"
            else:
                answer = "*(no answer)*"
        await self.query_one(".answer", Markdown).update(answer)
        # An answer (or the end of the sample) means the thinking is done: fold it away.
        panel.collapsed = bool(record.content.strip()) or record.stats is not None
        self._answer_started = bool(record.content)
        stats = self.query_one(".sample-stats", Static)
        if record.stats is not None:
            stats.update(stats_line(record.stats))
            stats.set_class(record.stats.finish_reason == "abort", "-abort")
            stats.display = True

    def set_header(self, text: str) -> None:
        self.query_one(".sample-header", Static).update(text)

    async def on_unmount(self) -> None:
        await self._stop_streams()
