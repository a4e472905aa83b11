"""The Chat pane: conversation, n-up sample columns with thinking panels, summary and doctor."""

from workbench.ui.chat.view import ChatView

__all__ = ["ChatView"]
