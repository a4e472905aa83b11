"""Autosave chats as JSON under the user's data dir, atomically; find the latest to resume."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.chat.model import Conversation
from workbench.files import write_atomic


class ChatStoreError(Exception):
    """A saved chat could not be read; the message names the file and the problem."""


class ChatStore:
    """Chats live in ``directory`` (default ``data_dir()/chats``) as ``<id>.json``."""

    def __init__(self, directory: Path | None = None) -> None:
        if directory is None:
            from workbench.paths import data_dir

            directory = data_dir() / "chats"
        self.directory = directory

    @staticmethod
    def new_id() -> str:
        """A sortable, unique chat id: UTC time plus a random suffix."""
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        return f"{stamp}-{secrets.token_hex(3)}"

    def path_for(self, conversation: Conversation) -> Path:
        return self.directory / f"{conversation.id}.json"

    def save(self, conversation: Conversation) -> Path:
        """Write the conversation atomically; returns its path."""
        return self.save_data(conversation.id, conversation.to_dict())

    def save_data(self, chat_id: str, data: dict[str, Any]) -> Path:
        """Write an already-serialised conversation (``Conversation.to_dict``) atomically.

        The UI serialises on its own thread and writes from a worker thread with this.
        """
        path = self.directory / f"{chat_id}.json"
        write_atomic(path, json.dumps(data, indent=1, ensure_ascii=False))
        return path

    def load(self, path: Path) -> Conversation:
        """Read one saved chat; ``ChatStoreError`` names the file on any problem."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ChatStoreError(f"{path}: cannot read ({exc.strerror})") from exc
        except json.JSONDecodeError as exc:
            raise ChatStoreError(
                f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); delete or fix the file"
            ) from exc
        try:
            return Conversation.from_dict(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ChatStoreError(
                f"{path}: not a workbench chat ({type(exc).__name__}: {exc})"
            ) from exc

    def paths(self) -> list[Path]:
        """Saved chat files, newest first (by modification time, then name)."""
        if not self.directory.is_dir():
            return []
        files = [p for p in self.directory.glob("*.json") if p.is_file()]
        return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True)

    def latest(self) -> Conversation | None:
        """The most recently saved chat that reads cleanly, or None."""
        for path in self.paths():
            try:
                return self.load(path)
            except ChatStoreError:
                continue
        return None
