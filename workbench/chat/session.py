"""The chat session without widgets: the conversation, the quick overrides, the settings in
effect, the next request, the doctor's context and the run card.

"Override, else the profile's value, else the default" is decided here once (``effective``);
the view only renders what this says. Pure: no textual import.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from workbench.chat.doctor import TurnContext
from workbench.chat.export import RunCard
from workbench.chat.model import AssistantTurn, Conversation, UserTurn
from workbench.chat.store import ChatStore
from workbench.engine.api import ChatMessage, ChatOverrides, EngineFigures

if TYPE_CHECKING:
    from workbench.profiles import LoadedProfile

QuickSetting = Literal["n", "temperature", "enable_thinking"]
MAX_N = 16
MAX_TEMPERATURE = 2.0
TEMPERATURE_STEP = 0.1
TEMPERATURE_WHEN_UNSET = 0.7
"""Where the first [/] press starts when neither the profile nor the model sets a temperature."""

_DEFAULTS: dict[QuickSetting, Any] = {"n": 1, "temperature": None, "enable_thinking": True}


@dataclass
class NextRequest:
    """What one send produces: the live turn, the messages and the overrides it goes with."""

    turn: AssistantTurn
    messages: list[ChatMessage]
    overrides: ChatOverrides


@dataclass
class ChatSession:
    """One conversation with the profile it runs on and the quick changes made to it."""

    conversation: Conversation = field(default_factory=lambda: Conversation(ChatStore.new_id()))
    profile: LoadedProfile | None = None
    overrides: ChatOverrides = field(default_factory=ChatOverrides)
    _request_numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # -- settings in effect -------------------------------------------------------------

    def effective(self, key: QuickSetting) -> Any:
        """The turn's override, else the profile's value, else the default."""
        override = getattr(self.overrides, key)
        if override is not None:
            return override
        if self.profile is None:
            return _DEFAULTS[key]
        section = (
            self.profile.profile.chat if key == "enable_thinking" else self.profile.profile.sampling
        )
        return getattr(section, key)

    def overridden(self, key: QuickSetting) -> bool:
        return getattr(self.overrides, key) is not None

    def set_override(self, key: QuickSetting, value: Any) -> None:
        self.overrides = dataclasses.replace(self.overrides, **{key: value})

    def more_samples(self) -> None:
        self.set_override("n", min(MAX_N, self.effective("n") + 1))

    def fewer_samples(self) -> None:
        self.set_override("n", max(1, self.effective("n") - 1))

    def step_temperature(self, step: float) -> None:
        current = self.effective("temperature")
        base = current if current is not None else TEMPERATURE_WHEN_UNSET
        self.set_override("temperature", round(min(MAX_TEMPERATURE, max(0.0, base + step)), 2))

    def toggle_thinking(self) -> None:
        self.set_override("enable_thinking", not self.effective("enable_thinking"))

    # -- the conversation ---------------------------------------------------------------

    def use_profile(self, loaded: LoadedProfile | None) -> None:
        """The profile the engine runs; an empty conversation takes its name and system prompt."""
        self.profile = loaded
        if not self.conversation.turns:
            self.conversation.profile_name = loaded.name if loaded else None
            self.conversation.system_prompt = loaded.profile.chat.system_prompt if loaded else None

    def new_conversation(self) -> Conversation:
        self.conversation = Conversation(
            id=ChatStore.new_id(),
            profile_name=self.profile.name if self.profile else None,
            system_prompt=self.profile.profile.chat.system_prompt if self.profile else None,
        )
        return self.conversation

    def next_request(self, text: str) -> NextRequest:
        """Add the user's message and the (empty, live) assistant turn that answers it."""
        conversation = self.conversation
        if not conversation.title:
            conversation.title = text.splitlines()[0][:60]
        conversation.turns.append(UserTurn(text))
        messages = conversation.messages_for_next_request()
        overrides = self.overrides
        turn = AssistantTurn(
            request_id=f"{conversation.id}-{next(self._request_numbers)}",
            n_requested=self.effective("n"),
            overrides=overrides,
            structured=overrides.json_schema is not None
            or bool(self.profile is not None and self.profile.profile.sampling.json_schema),
        )
        conversation.turns.append(turn)
        return NextRequest(turn, messages, overrides)

    def last_multi_sample_turn(self) -> AssistantTurn | None:
        """The last turn, when it is finished and has samples to pick from."""
        if not self.conversation.turns:
            return None
        last = self.conversation.turns[-1]
        if isinstance(last, AssistantTurn) and last.done and len(last.samples) > 1:
            return last
        return None

    # -- what the doctor and the exports need -------------------------------------------

    def turn_context(self, turn: AssistantTurn) -> TurnContext:
        """How a turn was asked for: the doctor's input (the turn's overrides, else the
        profile's values)."""
        sampling = self.profile.profile.sampling if self.profile else None
        temperature = turn.overrides.temperature
        if temperature is None and sampling is not None:
            temperature = sampling.temperature
        seed = turn.overrides.seed
        if seed is None and sampling is not None:
            seed = sampling.seed
        return TurnContext(
            n_requested=turn.n_requested,
            temperature=temperature,
            seed=seed,
            reasoning_parser=self.profile.profile.engine.reasoning_parser if self.profile else None,
            request_error=turn.error,
            aborted=turn.aborted,
        )

    def run_card(self, figures: EngineFigures | None) -> RunCard:
        """How this chat's answers were made: profile, sampling (with the quick changes), engine."""
        sampling: dict[str, Any] = {}
        model: str | None = None
        if self.profile is not None:
            sampling = self.profile.profile.sampling.model_dump()
            model = self.profile.profile.model.id or self.profile.profile.model.path
        for key in ("n", "temperature", "enable_thinking"):
            value = getattr(self.overrides, key)
            if value is not None:
                sampling[key] = value
        return RunCard.build(
            profile_name=self.conversation.profile_name
            or (self.profile.name if self.profile else None),
            model=model,
            sampling=sampling,
            figures=figures,
        )
