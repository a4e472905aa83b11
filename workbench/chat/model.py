"""The conversation as data: user turns, assistant turns with n samples, and what goes back to
the model for the next request."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from workbench.engine.api import ChatMessage, ChatOverrides, SampleStats


class _Text:
    """Text that grows by appending: pieces joined only when read, so a stream of thousands
    of deltas costs linear time (``record.content += delta`` copies the whole text each time)."""

    __slots__ = ("_parts",)

    def __init__(self, text: str = "") -> None:
        self._parts = [text] if text else []

    def append(self, text: str) -> None:
        if text:
            self._parts.append(text)

    def get(self) -> str:
        if len(self._parts) > 1:
            self._parts[:] = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""


class SampleRecord:
    """One sample of an assistant turn; ``stats`` is None while it is still streaming."""

    __slots__ = ("_content", "_reasoning", "index", "stats")

    def __init__(
        self,
        index: int,
        reasoning: str = "",
        content: str = "",
        stats: SampleStats | None = None,
    ) -> None:
        self.index = index
        self._reasoning = _Text(reasoning)
        self._content = _Text(content)
        self.stats = stats

    @property
    def reasoning(self) -> str:
        return self._reasoning.get()

    @reasoning.setter
    def reasoning(self, text: str) -> None:
        self._reasoning = _Text(text)

    @property
    def content(self) -> str:
        return self._content.get()

    @content.setter
    def content(self, text: str) -> None:
        self._content = _Text(text)

    def append(self, reasoning: str, content: str) -> None:
        """Add one streamed delta."""
        self._reasoning.append(reasoning)
        self._content.append(content)

    @property
    def finished(self) -> bool:
        return self.stats is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "reasoning": self.reasoning,
            "content": self.content,
            "stats": asdict(self.stats) if self.stats is not None else None,
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SampleRecord):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return (
            f"SampleRecord(index={self.index}, reasoning={self.reasoning!r}, "
            f"content={self.content!r}, stats={self.stats!r})"
        )


@dataclass
class UserTurn:
    content: str
    role: Literal["user"] = "user"


@dataclass
class AssistantTurn:
    """One request's outcome: its samples, what was asked, and which sample continues."""

    request_id: str
    n_requested: int
    samples: list[SampleRecord] = field(default_factory=list)
    overrides: ChatOverrides = field(default_factory=ChatOverrides)
    picked: int | None = None
    aborted: bool = False
    error: str | None = None
    done: bool = False
    structured: bool = False
    """Asked with a JSON schema: its answers are compared field by field (chat.fields)."""
    role: Literal["assistant"] = "assistant"

    def sample(self, index: int) -> SampleRecord:
        """The record for sample ``index``, created on first use (any arrival order)."""
        for record in self.samples:
            if record.index == index:
                return record
        record = SampleRecord(index)
        self.samples.append(record)
        self.samples.sort(key=lambda r: r.index)
        return record

    @property
    def continued_sample(self) -> SampleRecord | None:
        """The sample the conversation continues with: the picked one, else the first."""
        if not self.samples:
            return None
        if self.picked is not None:
            for record in self.samples:
                if record.index == self.picked:
                    return record
        return self.samples[0]


Turn = UserTurn | AssistantTurn


def _turn_to_dict(turn: Turn) -> dict[str, Any]:
    if isinstance(turn, UserTurn):
        return asdict(turn)
    return {
        "request_id": turn.request_id,
        "n_requested": turn.n_requested,
        "samples": [record.to_dict() for record in turn.samples],
        "overrides": asdict(turn.overrides),
        "picked": turn.picked,
        "aborted": turn.aborted,
        "error": turn.error,
        "done": turn.done,
        "structured": turn.structured,
        "role": turn.role,
    }


@dataclass
class Conversation:
    """A whole chat, as autosaved."""

    id: str
    profile_name: str | None = None
    system_prompt: str | None = None
    turns: list[Turn] = field(default_factory=list)
    title: str = ""

    def messages_for_next_request(self) -> list[ChatMessage]:
        """The conversation as sent to the engine: each assistant turn as its continued sample,
        with its reasoning. Which reasoning goes back to the model is the profile's
        ``thinking_history`` policy, applied in one place: ``engine.conversation.render_messages``.
        """
        messages: list[ChatMessage] = []
        if self.system_prompt:
            messages.append(ChatMessage("system", self.system_prompt))
        for turn in self.turns:
            if isinstance(turn, UserTurn):
                messages.append(ChatMessage("user", turn.content))
                continue
            chosen = turn.continued_sample
            if chosen is None or not chosen.content.strip():
                # An aborted or failed turn with no answer is not sent back as an empty reply.
                continue
            messages.append(ChatMessage("assistant", chosen.content, reasoning=chosen.reasoning))
        return messages

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the autosave format)."""
        return {
            "format": 1,
            "id": self.id,
            "title": self.title,
            "profile_name": self.profile_name,
            "system_prompt": self.system_prompt,
            "turns": [_turn_to_dict(turn) for turn in self.turns],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Conversation:
        """Rebuild from ``to_dict`` output; raises KeyError/TypeError/ValueError on bad data."""
        if data.get("format") != 1:
            raise ValueError(f"unknown chat format {data.get('format')!r} (expected 1)")
        turns: list[Turn] = []
        for raw in data["turns"]:
            if raw["role"] == "user":
                turns.append(UserTurn(content=str(raw["content"])))
            elif raw["role"] == "assistant":
                samples = [
                    SampleRecord(
                        index=int(s["index"]),
                        reasoning=str(s["reasoning"]),
                        content=str(s["content"]),
                        stats=SampleStats.from_dict(s["stats"]) if s["stats"] is not None else None,
                    )
                    for s in raw["samples"]
                ]
                turns.append(
                    AssistantTurn(
                        request_id=str(raw["request_id"]),
                        n_requested=int(raw["n_requested"]),
                        samples=samples,
                        overrides=ChatOverrides(**raw["overrides"]),
                        picked=raw["picked"],
                        aborted=bool(raw["aborted"]),
                        error=raw["error"],
                        done=bool(raw["done"]),
                        structured=bool(raw.get("structured", False)),
                    )
                )
            else:
                raise ValueError(f"unknown turn role {raw['role']!r}")
        return cls(
            id=str(data["id"]),
            title=str(data.get("title", "")),
            profile_name=data.get("profile_name"),
            system_prompt=data.get("system_prompt"),
            turns=turns,
        )
