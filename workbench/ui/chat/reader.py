"""The reader: one sample's whole thinking and answer, scrollable, live while it streams.

In the conversation a streaming sample is a fixed-height tail; this is the full text one key
away (``v``). It follows the stream while scrolled to the bottom, four times a second, adding
only the new text.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Static

from workbench.chat.model import AssistantTurn, SampleRecord
from workbench.ui.chat.sample_column import stats_line, thinking_title
from workbench.ui.chat.text_pane import TextPane
from workbench.ui.widgets.footer import KeyFooter

FOLLOW_INTERVAL_S = 0.25


class SampleReader(ModalScreen[None]):
    """Sample ``index`` of ``turn`` in full; ←/→ moves between samples."""

    DEFAULT_CSS = """
    SampleReader { align: center middle; }
    SampleReader > Vertical {
        width: 100%;
        height: 100%;
        background: $surface;
        border: round $accent;
        border-title-color: $accent;
        border-title-style: bold;
    }
    SampleReader .reader-status { height: 1; padding: 0 1; color: $text-muted; }
    SampleReader .reader-heading { margin: 1 0 0 0; text-style: bold; color: $text-muted; }
    SampleReader VerticalScroll { padding: 0 1; }
    SampleReader TextPane.thinking { color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,v", "dismiss", "Close"),
        Binding("left,h", "sample(-1)", "Previous sample", key_display="←"),
        Binding("right,l", "sample(1)", "Next sample", key_display="→"),
        Binding("home", "scroll_home", "Top", show=False),
        Binding("end", "scroll_end", "Bottom", show=False),
    ]

    def __init__(self, turn: AssistantTurn, index: int = 0) -> None:
        super().__init__()
        self.turn = turn
        self.index = index
        self._shown = (0, 0)
        """Characters of reasoning and answer already in the panes."""
        self._timer: Timer | None = None
        self._finished = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("", classes="reader-status")
            with VerticalScroll():
                yield Static("Thinking", classes="reader-heading thinking-heading")
                yield TextPane(classes="thinking")
                yield Static("Answer", classes="reader-heading")
                yield TextPane(classes="answer")
            yield KeyFooter()

    def on_mount(self) -> None:
        self._show_sample()
        self._timer = self.set_interval(FOLLOW_INTERVAL_S, self._follow)

    @property
    def record(self) -> SampleRecord:
        """The sample shown (an empty one while nothing of it has arrived; never added to the
        turn)."""
        for record in self.turn.samples:
            if record.index == self.index:
                return record
        return SampleRecord(self.index)

    def _show_sample(self) -> None:
        record = self.record
        reasoning, content = record.reasoning, record.content
        thinking = self.query_one(".thinking", TextPane)
        thinking.set_text(reasoning)
        self.query_one(".answer", TextPane).set_text(content)
        self._shown = (len(reasoning), len(content))
        self._finished = record.stats is not None
        if self._finished:
            thinking.finish()
            self.query_one(".answer", TextPane).finish()
        self._update_status()
        self.query_one(VerticalScroll).scroll_home(animate=False)

    def _update_status(self) -> None:
        record = self.record
        count = max(self.turn.n_requested, len(self.turn.samples), 1)
        live = record.stats is None and not self.turn.done
        self.query_one(Vertical).border_title = f"Sample {self.index + 1} of {count}"
        state = (
            "streaming…"
            if live
            else (stats_line(record.stats).replace("\n", " · ") if record.stats else "")
        )
        thinking = thinking_title(record.stats, record.reasoning, live=live)
        self.query_one(".reader-status", Static).update(
            Content.assemble(
                (state, "bold" if live else ""),
                ("   " + thinking if record.reasoning else "", ""),
                ("   ←/→ sample · Esc close", "dim"),
            )
        )
        has_thinking = bool(record.reasoning)
        self.query_one(".thinking-heading").display = has_thinking
        self.query_one(".thinking", TextPane).display = has_thinking

    def _follow(self) -> None:
        """Add what streamed since the last look; stay at the bottom if the reader was there."""
        record = self.record
        reasoning, content = record.reasoning, record.content
        shown_reasoning, shown_content = self._shown
        if (len(reasoning), len(content)) == self._shown and (
            record.stats is None or self._finished
        ):
            return
        scroll = self.query_one(VerticalScroll)
        at_bottom = scroll.max_scroll_y - scroll.scroll_y <= 1
        if len(reasoning) > shown_reasoning:
            self.query_one(".thinking", TextPane).append(reasoning[shown_reasoning:])
        if len(content) > shown_content:
            self.query_one(".answer", TextPane).append(content[shown_content:])
        self._shown = (len(reasoning), len(content))
        if record.stats is not None and not self._finished:
            # The last open block is rendered as Markdown; the final text wins if it differs.
            self._finished = True
            self.query_one(".thinking", TextPane).finish(reasoning)
            self.query_one(".answer", TextPane).finish(content)
        self._update_status()
        if at_bottom and scroll.max_scroll_y:
            scroll.call_after_refresh(scroll.scroll_end, animate=False)

    def action_sample(self, step: int) -> None:
        count = max(self.turn.n_requested, len(self.turn.samples), 1)
        self.index = (self.index + step) % count
        self._show_sample()

    def action_scroll_home(self) -> None:
        self.query_one(VerticalScroll).scroll_home(animate=False)

    def action_scroll_end(self) -> None:
        self.query_one(VerticalScroll).scroll_end(animate=False)

    def action_dismiss(self) -> None:  # type: ignore[override]
        if self._timer is not None:
            self._timer.stop()
        self.dismiss(None)
