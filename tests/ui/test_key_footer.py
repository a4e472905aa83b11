"""The key footer recomposes once however many binding changes arrive before a refresh, and
still shows the bindings as they are after the last one."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from tests.ui.scenarios_shell import TERMINAL_SIZE
from workbench.ui.widgets.footer import KeyFooter


class FooterApp(App[None]):
    BINDINGS = [Binding("a", "alpha", "Alpha"), Binding("b", "beta", "Beta")]

    def __init__(self, footer: type[Footer]) -> None:
        super().__init__()
        self.footer_type = footer
        self.show_beta = True

    def compose(self) -> ComposeResult:
        yield self.footer_type()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.show_beta if action == "beta" else True


async def _composes_after_five_changes(
    footer: type[Footer], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, list[str]]:
    composes = 0
    original = Footer.compose

    def counting(self: Footer) -> object:
        nonlocal composes
        composes += 1
        return original(self)

    monkeypatch.setattr(Footer, "compose", counting)
    app = FooterApp(footer)
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await pilot.pause()
        composes = 0
        for step in range(5):
            app.show_beta = step % 2 == 1  # ends hidden
            app.screen.refresh_bindings()
        for _ in range(4):
            await pilot.pause()
        shown = [key.description for key in app.query(FooterKey)]
    return composes, shown


async def test_five_binding_changes_recompose_once(monkeypatch: pytest.MonkeyPatch) -> None:
    textual_composes, textual_shown = await _composes_after_five_changes(Footer, monkeypatch)
    ours, shown = await _composes_after_five_changes(KeyFooter, monkeypatch)
    assert textual_composes == 5  # what Textual's footer does (the reason for KeyFooter)
    assert ours == 1
    assert shown == textual_shown == ["Alpha", "palette"]  # as the last change left them
