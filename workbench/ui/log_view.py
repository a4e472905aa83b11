"""The Log pane: the engine's captured output, filtered by a search box with matches highlighted."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, RichLog, Static


def filter_lines(lines: Sequence[str], query: str) -> list[str]:
    """Lines containing ``query`` (case-insensitive); all of them when the query is empty."""
    needle = query.strip().lower()
    return [line for line in lines if needle in line.lower()] if needle else list(lines)


def line_style(line: str) -> str:
    """Colour by log level so errors stand out."""
    head = line[:12].upper()
    if "ERROR" in head or "CRITICAL" in head or line.startswith(("Traceback", "RuntimeError")):
        return "red"
    if "WARN" in head:
        return "yellow"
    return ""


class LogView(Vertical):
    """Search box, match count and the (filtered) log lines."""

    BINDINGS = [
        Binding("/", "focus_search", "Search"),
        Binding("ctrl+r", "refresh_log", "Refresh log"),
    ]

    def __init__(
        self,
        source: Callable[[], list[str]],
        *,
        poll_s: float | None = None,
        id: str | None = None,
    ) -> None:
        """``poll_s``: re-read the log this often while the pane is visible (None: only on
        request, as in tests)."""
        super().__init__(id=id)
        self.source = source
        self.poll_s = poll_s
        self.lines: list[str] = []
        self.query_text = ""

    def compose(self) -> ComposeResult:
        with Horizontal(id="log-bar"):
            yield Input(placeholder="search the engine log (/)", compact=True, id="log-search")
            yield Static("", id="log-count")
        yield RichLog(id="log-lines", wrap=False, markup=False, highlight=False, max_lines=20000)

    def on_mount(self) -> None:
        self.refresh_lines()
        if self.poll_s:
            self.set_interval(self.poll_s, self._poll)

    def _poll(self) -> None:
        if self.is_on_screen:
            self.refresh_lines()

    def refresh_lines(self) -> None:
        """Read the engine's log again and redraw (only if it changed)."""
        lines = list(self.source())
        if lines != self.lines:
            self.lines = lines
            self._redraw()

    def search(self, query: str) -> None:
        """Filter to lines containing ``query``."""
        self.query_one("#log-search", Input).value = query

    @on(Input.Changed, "#log-search")
    def _query_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.query_text = event.value
        self._redraw()

    def _redraw(self) -> None:
        log = self.query_one("#log-lines", RichLog)
        log.clear()
        shown = filter_lines(self.lines, self.query_text)
        needle = self.query_text.strip()
        for line in shown:
            text = Text(line, style=line_style(line))
            if needle:
                text.highlight_words([needle], style="black on yellow", case_sensitive=False)
            log.write(text)
        count = self.query_one("#log-count", Static)
        if not self.lines:
            count.update("no engine output yet")
        elif needle:
            count.update(f"{len(shown)} of {len(self.lines)} lines match")
        else:
            count.update(f"{len(self.lines)} lines")

    def action_focus_search(self) -> None:
        self.query_one("#log-search", Input).focus()

    def action_refresh_log(self) -> None:
        self.refresh_lines()
