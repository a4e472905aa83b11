"""The load-failure view: what went wrong, the log lines that say so, and the fix as one key."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from workbench.ui.widgets.footer import KeyFooter

if TYPE_CHECKING:
    from workbench.engine.api import EngineError

ErrorChoice = Literal["fix", "log", "close"]

KIND_TITLES = {
    "invalid_config": "vLLM refused the configuration",
    "max_model_len_too_large": "max_model_len does not fit in the KV cache",
    "model_files_missing": "Model files are missing",
    "unsupported": "Not supported on this device",
    "out_of_memory": "Out of memory",
    "engine_died": "The engine process died",
    "internal": "Internal error",
}


class ErrorScreen(ModalScreen[ErrorChoice]):
    """Cause, log excerpt and suggested fix; f applies the fix, l opens the log, esc closes."""

    BINDINGS = [
        Binding("f", "choose('fix')", "Apply fix"),
        Binding("l", "choose('log')", "Open log"),
        Binding("escape,q", "choose('close')", "Close"),
    ]

    def __init__(self, error: EngineError, profile_name: str, log_tail: list[str]) -> None:
        super().__init__()
        self.error = error
        self.profile_name = profile_name
        self.log_tail = log_tail

    def compose(self) -> ComposeResult:
        error = self.error
        with Vertical(id="error-dialog"):
            yield Static(
                Text.assemble(
                    ("✖ Load failed: ", "bold red"),
                    (KIND_TITLES.get(error.kind, error.kind), "bold"),
                    (f"  ({self.profile_name})", "dim"),
                ),
                id="error-title",
            )
            yield Static(error.message, id="error-message")
            if error.suggestion is not None:
                fix = Text.assemble(
                    ("Suggested fix  ", "bold green"),
                    (f"{error.suggestion.key} = {error.suggestion.value!r}", "bold"),
                    (f"\n{error.suggestion.reason}", "dim"),
                    ("\nPress ", ""),
                    ("f", "bold reverse"),
                    (" to write it into the profile (a backup is kept) and load again.", ""),
                )
            else:
                fix = Text("No automatic fix is known for this failure; see the log.", style="dim")
            yield Static(fix, id="error-fix")
            excerpt = list(error.log_excerpt) or self.log_tail
            with VerticalScroll(id="error-log"):
                log_text = Text()
                for line in excerpt:
                    if log_text:
                        log_text.append("\n")
                    log_text.append(line, style="red" if "Error" in line else "")
                yield Static(log_text or Text("(no log output)", style="dim"))
            if error.log_path is not None:
                yield Static(Text(f"Full log: {error.log_path}", style="dim"))
        yield KeyFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "choose" and parameters == ("fix",) and self.error.suggestion is None:
            return None  # hidden and disabled: there is no fix to apply
        return True

    def action_choose(self, choice: ErrorChoice) -> None:
        self.dismiss(choice)
