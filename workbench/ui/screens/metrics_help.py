"""What each run metric means: the one set of definitions (``engine.timing``), in the app."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from workbench.engine.timing import METRIC_DEFINITIONS, TURN_DEFINITIONS


def definitions_table() -> Table:
    table = Table(show_header=True, header_style="bold", expand=True, box=None, padding=(0, 1))
    table.add_column("metric", no_wrap=True, style="cyan")
    table.add_column("what it means", ratio=1)
    for name, meaning in METRIC_DEFINITIONS.items():
        table.add_row(name, meaning)
    table.add_row("", "")
    table.add_row("per turn (n > 1)", "", style="bold")
    for name, meaning in TURN_DEFINITIONS.items():
        table.add_row(name, meaning)
    return table


class MetricsHelpScreen(ModalScreen[None]):
    """The run metrics' definitions (sample stats, turn summary, ``--json``, exports)."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close")]

    DEFAULT_CSS = """
    MetricsHelpScreen { align: center middle; }
    MetricsHelpScreen > VerticalScroll {
        width: 90%; height: 80%; border: round $accent; padding: 0 1; background: $surface;
    }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Label("Run metrics (Esc closes)", classes="dialog-title")
            yield Static(definitions_table(), id="metrics-definitions")
