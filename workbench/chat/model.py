"""The conversation as data: user turns, assistant turns with n samples, and what goes back to
the model for the next request."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from workbench.engine.api import ChatMessage, ChatOverrides, SampleStats
from workbench.profiles.schema import ThinkingHistory


@dataclass
class SampleRecord:
    """One sample of an assistant turn; ``stats`` is None while it is still streaming."""

    index: int
    reasoning: str = ""
    content: str = ""
    stats: SampleStats | None = None

    @property
    def finished(self) -> bool:
        return self.stats is not None


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


@dataclass
class Conversation:
    """A whole chat, as autosaved."""

    id: str
    profile_name: str | None = None
    system_prompt: str | None = None
    turns: list[Turn] = field(default_factory=list)
    title: str = ""

    def messages_for_next_request(
        self, thinking_history: ThinkingHistory = "strip"
    ) -> list[ChatMessage]:
        """The conversation as sent to the engine; reasoning kept per the history policy."""
        messages: list[ChatMessage] = []
        if self.system_prompt:
            messages.append(ChatMessage("system", self.system_prompt))
        assistant_positions = [i for i, t in enumerate(self.turns) if isinstance(t, AssistantTurn)]
        last_assistant = assistant_positions[-1] if assistant_positions else None
        for position, turn in enumerate(self.turns):
            if isinstance(turn, UserTurn):
                messages.append(ChatMessage("user", turn.content))
                continue
            chosen = turn.continued_sample
            if chosen is None or not chosen.content.strip():
                # An aborted or failed turn with no answer is not sent back as an empty reply.
                continue
            keep = thinking_history == "keep_all" or (
                thinking_history == "keep_last" and position == last_assistant
            )
            messages.append(
                ChatMessage("assistant", chosen.content, reasoning=chosen.reasoning if keep else "")
            )
        return messages

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the autosave format)."""
        return {
            "format": 1,
            "id": self.id,
            "title": self.title,
            "profile_name": self.profile_name,
            "system_prompt": self.system_prompt,
            "turns": [asdict(turn) for turn in self.turns],
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
                        stats=SampleStats(**s["stats"]) if s["stats"] is not None else None,
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
