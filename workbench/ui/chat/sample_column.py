"""One sample of an assistant turn: thinking panel, streamed answer, stats line."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Collapsible, Static

from workbench.chat.model import SampleRecord
from workbench.engine.api import SampleStats
from workbench.ui.chat.text_pane import PaneLines, TextPane

THINKING_LIVE_TITLE = "Thinking…"
THINKING_TAIL_LINES = 8
"""Lines of a live thinking panel: the latest reasoning, at a fixed height."""
ANSWER_TAIL_LINES = 16
"""Lines of a live answer: the latest text, at a fixed height; all of it once finished."""


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
    """'185 tok · 38.2 tok/s · stop · logp -4.21', then the timing line (each fits a 46-cell
    column; the terms are engine.timing's, shown by the "Run metrics" command)."""
    parts = [f"{stats.generated_tokens} tok"]
    if stats.decode_tokens_per_s is not None:
        parts.append(f"{stats.decode_tokens_per_s:.1f} tok/s")
    parts.append(stats.finish_reason or "unfinished")
    if stats.cumulative_logprob is not None:
        parts.append(f"logp {stats.cumulative_logprob:.2f}")
    timing = timing_line(stats)
    return " · ".join(parts) + (f"\n{timing}" if timing else "")


def timing_line(stats: SampleStats) -> str:
    """'TTFT 0.12s · ITL 26/41ms · e2e 4.9s' (mean/p95 ITL), then cached prompt tokens; the
    time to the first answer is the thinking title's "Thought for"."""
    parts = []
    if stats.ttft_s is not None:
        parts.append(f"TTFT {stats.ttft_s:.2f}s")
    if stats.mean_itl_ms is not None:
        p95 = f"/{stats.p95_itl_ms:.0f}" if stats.p95_itl_ms is not None else ""
        parts.append(f"ITL {stats.mean_itl_ms:.0f}{p95}ms")
    if stats.e2e_s is not None:
        parts.append(f"e2e {stats.e2e_s:.1f}s")
    if stats.cached_prompt_tokens:
        parts.append(f"{stats.cached_prompt_tokens} cached")
    return " · ".join(parts)


class ThinkingPanel(Collapsible):
    """A Collapsible that never scrolls itself into view when folded or unfolded: with n columns
    streaming side by side, every automatic fold would yank the view sideways."""

    def _watch_collapsed(self, collapsed: bool) -> None:
        self._update_collapsed(collapsed)
        self.post_message(self.Collapsed(self) if collapsed else self.Expanded(self))


@dataclass(frozen=True)
class KeptColumn:
    """What a finished column shows beyond its record: kept while its turn sleeps unmounted."""

    show_header: bool
    header: str
    classes: frozenset[str]
    collapsed: bool
    thinking: PaneLines | None
    answer: PaneLines | None


class SampleColumn(Vertical):
    """One sample: deltas are buffered, then appended to its two panes by the view's timer.
    While streaming each pane is a fixed-height tail; when the sample finishes, every line."""

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
    /* the title spans the column: sized to the column, never to its text, so a retitle
       ("Thinking…" → "Thought for 6.4 s · 88 tokens") cannot be drawn cut at the old width */
    SampleColumn > Collapsible > CollapsibleTitle {
        width: 1fr;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    SampleColumn TextPane.thinking { color: $text-muted; }
    SampleColumn > .sample-stats { color: $text-muted; }
    SampleColumn > .sample-stats.-abort { color: $warning; }
    """

    def __init__(self, index: int, *, show_header: bool, id: str | None = None) -> None:
        super().__init__(id=id)
        self.index = index
        self.show_header = show_header
        self._reasoning_buffer: list[str] = []
        self._content_buffer: list[str] = []
        self._answer_started = False
        self.finished = False
        self.header_text = f"Sample {index + 1}"

    def compose(self) -> ComposeResult:
        yield Static(self.header_text, classes="sample-header")
        with ThinkingPanel(title=THINKING_LIVE_TITLE, collapsed=False):
            yield TextPane(tail_lines=THINKING_TAIL_LINES, live=True, classes="thinking")
        yield TextPane(tail_lines=ANSWER_TAIL_LINES, live=True, classes="answer")
        yield Static("", classes="sample-stats")

    def on_mount(self) -> None:
        self.query_one(".sample-header").display = self.show_header
        self.query_one(ThinkingPanel).display = False
        self.query_one(".sample-stats").display = False

    @property
    def thinking_panel(self) -> ThinkingPanel:
        return self.query_one(ThinkingPanel)

    @property
    def thinking_pane(self) -> TextPane:
        return self.query_one(".thinking", TextPane)

    @property
    def answer_pane(self) -> TextPane:
        return self.query_one(".answer", TextPane)

    def buffer(self, reasoning: str, content: str) -> None:
        """Queue new text; nothing renders until ``flush``."""
        if reasoning:
            self._reasoning_buffer.append(reasoning)
        if content:
            self._content_buffer.append(content)

    @property
    def has_pending(self) -> bool:
        return bool(self._reasoning_buffer or self._content_buffer)

    def flush(self) -> None:
        """Append buffered text to the panes; collapse thinking when the answer starts."""
        reasoning = "".join(self._reasoning_buffer)
        content = "".join(self._content_buffer)
        self._reasoning_buffer.clear()
        self._content_buffer.clear()
        if self.finished:
            return
        if reasoning:
            panel = self.thinking_panel
            if not panel.display:
                panel.display = True
            self.thinking_pane.append(reasoning)
        if content:
            if not self._answer_started:
                self._answer_started = True
                self.thinking_panel.collapsed = True
            self.answer_pane.append(content)

    async def finish(self, record: SampleRecord) -> None:
        """The sample is done: its panes show every line (the open block rendered as Markdown,
        nothing re-parsed), the final thinking title and the stats line."""
        # Text still buffered goes into the panes first: then what they hold is the final
        # text, and finishing renders only the open block (otherwise the whole text differs
        # and is rendered again from the start: seconds for 16,000 tokens).
        self.flush()
        self.finished = True
        self.thinking_pane.finish(record.reasoning)
        self.answer_pane.finish(record.content)
        await self.show_record(record)

    async def show_record(self, record: SampleRecord) -> None:
        """Render a finished (or restored) sample in one go."""
        panel = self.thinking_panel
        panel.display = bool(record.reasoning)
        panel.title = thinking_title(record.stats, record.reasoning)
        thinking, answer_pane = self.thinking_pane, self.answer_pane
        if thinking.live or thinking.text != record.reasoning:
            thinking.set_text(record.reasoning)
        answer = record.content
        if not answer.strip():
            if record.stats is None:
                answer = "*(no output)*"
            elif record.stats.finish_reason == "abort":
                answer = "*(aborted)*"
            else:
                answer = "*(no answer)*"
        if answer_pane.live or answer_pane.text != answer:
            answer_pane.set_text(answer)
        # An answer (or the end of the sample) means the thinking is done: fold it away.
        panel.collapsed = bool(record.content.strip()) or record.stats is not None
        self._answer_started = bool(record.content)
        stats = self.query_one(".sample-stats", Static)
        if record.stats is not None:
            stats.update(stats_line(record.stats))
            stats.set_class(record.stats.finish_reason == "abort", "-abort")
            stats.display = True

    def set_header(self, text: str) -> None:
        self.header_text = text
        self.query_one(".sample-header", Static).update(text)

    def keep(self) -> KeptColumn:
        """This finished column's look, for ``restore`` on a new column."""
        return KeptColumn(
            self.show_header,
            self.header_text,
            frozenset(name for name in self.classes if name.startswith("-")),
            self.thinking_panel.collapsed,
            self.thinking_pane.keep(),
            self.answer_pane.keep(),
        )

    async def restore(self, record: SampleRecord, kept: KeptColumn) -> None:
        """Show a finished sample as a kept column showed it: its rendered lines, header,
        marks and fold (a sleeping turn waking up)."""
        self.finished = True
        if kept.thinking is not None:
            self.thinking_pane.adopt(kept.thinking)
        if kept.answer is not None:
            self.answer_pane.adopt(kept.answer)
        await self.show_record(record)
        self.thinking_panel.collapsed = kept.collapsed
        self.set_header(kept.header)
        for name in kept.classes:
            self.add_class(name)
