"""Small modal dialogs: confirm a destructive action, ask for a name or a line of text."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class ConfirmScreen(ModalScreen[bool]):
    """Ask yes/no before something destructive; dismisses with True for yes."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, detail: str = "", yes_label: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.yes_label = yes_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, classes="dialog-title")
            if self.detail:
                yield Static(self.detail, classes="dialog-detail")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes_label} (y)", variant="warning", id="yes")
                yield Button("No (n)", id="no")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    @on(Button.Pressed)
    def _button(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class AskScreen(ModalScreen[str | None]):
    """Ask for one line of text; ``problem(text)`` refuses it inline (None = accepted)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        title: str,
        initial: str = "",
        problem: Callable[[str], str | None] = lambda _: None,
        suggestions: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.title_text = title
        self.initial = initial
        self.problem = problem
        self.suggestions = list(suggestions)

    def compose(self) -> ComposeResult:
        from textual.suggester import SuggestFromList

        suggester = (
            SuggestFromList(self.suggestions, case_sensitive=False) if self.suggestions else None
        )
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Input(value=self.initial, id="name", suggester=suggester)
            yield Static("", id="name-error", classes="field-error")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        problem = self.problem(text)
        if problem:
            self.query_one("#name-error", Static).update(problem)
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class NameScreen(AskScreen):
    """Ask for a profile name; refuses names that are empty or not file-safe."""

    def __init__(self, title: str, initial: str = "", taken: frozenset[str] = frozenset()) -> None:
        super().__init__(title, initial, lambda name: name_problem(name, taken))


def name_problem(name: str, taken: frozenset[str]) -> str | None:
    """Why ``name`` cannot be a profile file name, or None if it can."""
    if not name:
        return "a name is needed"
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
    bad = sorted(set(name) - allowed)
    if bad or name.startswith("."):
        return f"use letters, digits, '-', '_' or '.'; not {''.join(bad) or 'a leading dot'}"
    if name in taken:
        return f"a profile named {name!r} already exists; pick another name"
    return None
