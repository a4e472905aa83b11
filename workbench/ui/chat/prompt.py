"""The chat's two focus areas: the scrolling conversation and the message input."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Input

from workbench.ui.chat.turns import Sleeper

# Keys whose names Textual cannot map back to the character they type.
_UNNAMED_CHARACTERS = {"plus": "+", "minus": "-"}


class ConversationLog(VerticalScroll, can_focus=True):
    """The scrolling list of turns; focus it to use the single-key chat bindings.

    The scrollbar's gutter is always reserved: the width of the turns never changes when the
    conversation starts to overflow, so no finished pane is laid out again at a new width (for
    long samples that was seconds of Markdown rendering at the end of a turn).

    Finished turns and user messages more than ``SLEEP_MARGIN_SCREENS`` viewports above or
    below what is shown sleep (``Sleeper.sleep``), so a relayout costs the parts near the
    viewport, not the whole chat. The check runs in the scroll watcher: scrolling wakes parts
    a screen ahead, so they are mounted before they reach the screen; after a jump (Home, a
    scrollbar drag) a waking part is blank at its pinned height for the frame or two its
    children take to mount."""

    DEFAULT_CSS = """
    ConversationLog { height: 1fr; padding: 0 1; scrollbar-gutter: stable; }
    ConversationLog:focus { background-tint: $foreground 3%; }
    ConversationLog > .chat-placeholder { color: $text-muted; padding: 1 2; }
    """

    SLEEP_MARGIN_SCREENS = 1
    """Turns within this many viewport heights of the viewport stay awake."""

    _checked_at: float | None = None
    _checked_width = 0

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # Following a stream moves a few lines per flush: look again only after a quarter
        # screen (the margin is a whole one), or at once after a jump.
        if self._checked_at is None or abs(new_value - self._checked_at) * 4 >= self.size.height:
            self.update_sleep()

    def on_resize(self) -> None:
        if self.size.width != self._checked_width:
            # A pinned height was measured at the old width: every part comes back, is laid
            # out at the new width, and the far ones sleep again with their new heights.
            self._checked_width = self.size.width
            parts = list(self.query_children(Sleeper))
            for part in parts:
                part.wake()
            if not any(part.waking for part in parts):
                self.call_after_refresh(self.update_sleep)

    def on_sleeper_woken(self, event: Sleeper.Woken) -> None:
        # once the last of a batch is back (a resize wakes them all), the far ones sleep again
        if not any(part.waking for part in self.query_children(Sleeper)):
            self.call_after_refresh(self.update_sleep)

    def update_sleep(self) -> None:
        """Wake the finished parts (messages, turns) near the viewport; the far ones sleep."""
        height = self.size.height
        if not height:
            return
        self._checked_at = self.scroll_y
        margin = height * self.SLEEP_MARGIN_SCREENS
        top, bottom = self.scroll_y - margin, self.scroll_y + height + margin
        for part in self.query_children(Sleeper):
            if not part.can_sleep or part.waking:
                continue
            region = part.virtual_region
            if not region:  # not laid out yet
                continue
            if region.bottom < top or region.y > bottom:
                part.sleep()
            else:
                part.wake()


class PromptInput(Input):
    """The message input. Esc asks to leave it for the conversation, except while a reply
    streams (``streaming``, set by the chat): then Esc reaches the chat's abort."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave", "Chat keys"),
    ]

    class LeaveRequested(Message):
        """Esc was pressed in the input while nothing streams."""

    streaming = False

    def check_consume_key(self, key: str, character: str | None) -> bool:
        # Without this, the footer would advertise the chat's +/- keys while this input is
        # focused, though typing them inserts text.
        return super().check_consume_key(key, character or _UNNAMED_CHARACTERS.get(key))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "leave":
            return not self.streaming
        return super().check_action(action, parameters)

    def action_leave(self) -> None:
        self.post_message(self.LeaveRequested())
