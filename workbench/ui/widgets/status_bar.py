"""The top status line: active profile and engine state (stage + elapsed / ready / error)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widget import Widget

from workbench.ui.format import format_count

if TYPE_CHECKING:
    from workbench.engine.api import EngineError, EngineFigures, LoadProgress


class StatusBar(Widget):
    """Profile name and origin on the left, engine state next to it."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        width: 1fr;
    }
    """

    def __init__(self, *, live_clock: bool = False, id: str | None = None) -> None:
        """``live_clock``: count elapsed seconds between load events (off in tests: no clocks)."""
        super().__init__(id=id)
        self.live_clock = live_clock
        self._progress_received_at = 0.0
        self.profile_label: str | None = None
        self.engine_status = "unloaded"
        self.progress: LoadProgress | None = None
        self.figures: EngineFigures | None = None
        self.error: EngineError | None = None

    def show_profile(self, name: str | None, origin: str | None = None) -> None:
        """Show the active profile (or none)."""
        self.profile_label = None if name is None else f"{name} ({origin})" if origin else name
        self.refresh()

    def show_progress(self, progress: LoadProgress) -> None:
        """The engine is loading: show the stage and its elapsed seconds."""
        self.engine_status, self.progress, self.error = "loading", progress, None
        self._progress_received_at = time.monotonic()
        self.refresh()

    def on_mount(self) -> None:
        if self.live_clock:
            self.set_interval(0.5, self._tick)

    def _tick(self) -> None:
        if self.engine_status == "loading":
            self.refresh()

    @property
    def elapsed_s(self) -> float:
        """Seconds since the load began: the engine's figure, plus wall time since it said so."""
        if self.progress is None:
            return 0.0
        extra = time.monotonic() - self._progress_received_at if self.live_clock else 0.0
        return self.progress.elapsed_s + extra

    def show_ready(self, figures: EngineFigures | None) -> None:
        """The engine is ready: show its KV capacity."""
        self.engine_status, self.figures, self.error = "ready", figures, None
        self.refresh()

    def show_error(self, error: EngineError | None, message: str | None = None) -> None:
        """The load failed (or a worker crashed)."""
        self.engine_status, self.error = "error", error
        self._error_message = message or (error.message if error else "unknown error")
        self.refresh()

    def show_unloaded(self) -> None:
        """No engine is loaded."""
        self.engine_status, self.progress, self.figures, self.error = "unloaded", None, None, None
        self.refresh()

    def render(self) -> Text:
        text = Text(" Profile ", style="reverse")
        text.append(f" {self.profile_label or 'none'} ", style="bold")
        text.append(" │ Engine ", style="dim")
        if self.engine_status == "loading" and self.progress is not None:
            text.append("⏳ ", style="yellow")
            text.append(self.progress.stage.value, style="bold yellow")
            text.append(f" · {self.elapsed_s:.1f} s")
            if self.progress.detail:
                text.append(f" · {self.progress.detail}", style="dim")
        elif self.engine_status == "ready":
            text.append("● ready", style="bold green")
            if self.figures is not None:
                text.append(
                    f" · {self.figures.device} · KV {format_count(self.figures.kv_cache_tokens)}"
                    f" tokens · max_model_len {format_count(self.figures.max_model_len)}"
                    f" · loaded in {self.figures.load_seconds:.1f} s"
                )
        elif self.engine_status == "error":
            text.append("✖ error: ", style="bold red")
            text.append(self._error_message, style="red")
            text.append("  (f6: details)", style="dim")
        else:
            text.append("○ not loaded", style="dim")
            text.append("  (select a profile and press l)", style="dim")
        text.truncate(max(1, self.size.width), overflow="ellipsis")
        return text
