"""The chat's two focus areas: the scrolling conversation and the message input."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Input

# Keys whose names Textual cannot map back to the character they type.
_UNNAMED_CHARACTERS = {"plus": "+", "minus": "-"}


class ConversationLog(VerticalScroll, can_focus=True):
    """The scrolling list of turns; focus it to use the single-key chat bindings.

    The scrollbar's gutter is always reserved: the width of the turns never changes when the
    conversation starts to overflow, so no finished pane is laid out again at a new width (for
    long samples that was seconds of Markdown rendering at the end of a turn)."""

    DEFAULT_CSS = """
    ConversationLog { height: 1fr; padding: 0 1; scrollbar-gutter: stable; }
    ConversationLog:focus { background-tint: $foreground 3%; }
    ConversationLog > .chat-placeholder { color: $text-muted; padding: 1 2; }
    """


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
