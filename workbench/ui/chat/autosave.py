"""Autosave of the chat: snapshot on the UI thread, write in a worker thread, newest wins."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

from textual.widget import Widget

from workbench.chat.model import Conversation
from workbench.chat.store import ChatStore


class ChatAutosaver:
    """Saves a conversation through ``store`` from worker threads of ``owner``.

    Saves may finish out of order; an older snapshot never overwrites a newer one. A failing
    directory is reported once per kind of failure, and the chat goes on.
    """

    def __init__(self, owner: Widget, store: ChatStore | None) -> None:
        self.owner = owner
        self.store = store
        self._lock = threading.Lock()
        self._sequence = itertools.count(1)
        self._last_saved = 0
        self._failures_reported: set[str] = set()

    def save(self, conversation: Conversation) -> None:
        """Snapshot now (cheap: references to the texts), write off the UI thread."""
        store = self.store
        if store is None or not conversation.turns:
            return
        chat_id = conversation.id
        data = conversation.to_dict()
        sequence = next(self._sequence)

        def write() -> None:
            with self._lock:
                if sequence < self._last_saved:
                    return
                try:
                    store.save_data(chat_id, data)
                except OSError as error:
                    self._report_failure(store.directory, error)
                    return
                self._last_saved = sequence

        self.owner.run_worker(
            write,
            thread=True,
            group="chat-autosave",
            description="autosave chat",
            exit_on_error=False,
        )

    def _report_failure(self, directory: Path, error: OSError) -> None:
        """Called from a worker thread: one warning per failure kind."""
        reason = error.strerror or str(error)
        if reason in self._failures_reported:
            return
        self._failures_reported.add(reason)
        self.owner.app.call_from_thread(
            self.owner.notify,
            f"Could not autosave the chat in {directory}: {reason}. "
            "The conversation stays on screen; export it or fix the directory.",
            severity="error",
            timeout=10,
        )
