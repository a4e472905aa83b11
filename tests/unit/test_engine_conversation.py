"""Thinking-history policy, template kwargs and sampling merge order (pure)."""

from __future__ import annotations

from workbench.engine.api import ChatMessage, ChatOverrides
from workbench.engine.conversation import chat_template_kwargs, merge_sampling, render_messages
from workbench.profiles.schema import ChatSection, SamplingSection

HISTORY = [
    ChatMessage("user", "q1"),
    ChatMessage("assistant", "a1", reasoning="r1"),
    ChatMessage("user", "q2"),
    ChatMessage("assistant", "a2", reasoning="r2"),
    ChatMessage("user", "q3"),
]


def _assistant_contents(policy: str) -> list[str]:
    rendered = render_messages(HISTORY, policy)  # type: ignore[arg-type]
    return [m["content"] for m in rendered if m["role"] == "assistant"]


def test_strip_sends_no_reasoning_back() -> None:
    assert _assistant_contents("strip") == ["a1", "a2"]


def test_keep_last_sends_only_the_latest_reasoning() -> None:
    assert _assistant_contents("keep_last") == ["a1", "<think>\nr2\n</think>\n\na2"]


def test_keep_all_sends_every_reasoning() -> None:
    assert _assistant_contents("keep_all") == [
        "<think>\nr1\n</think>\n\na1",
        "<think>\nr2\n</think>\n\na2",
    ]


def test_system_prompt_goes_first_unless_the_conversation_has_one() -> None:
    rendered = render_messages(HISTORY[:1], "strip", "be brief")
    assert rendered[0] == {"role": "system", "content": "be brief"}
    own = [ChatMessage("system", "mine"), ChatMessage("user", "q")]
    assert render_messages(own, "strip", "be brief")[0]["content"] == "mine"


def test_template_kwargs_turn_override_wins_and_generation_prompt_is_on() -> None:
    chat = ChatSection(enable_thinking=True, chat_template_kwargs={"custom": 1})
    kwargs = chat_template_kwargs(chat, ChatOverrides(enable_thinking=False))
    assert kwargs == {"custom": 1, "enable_thinking": False, "add_generation_prompt": True}
    assert chat_template_kwargs(chat, None)["enable_thinking"] is True


def test_sampling_merge_order_model_then_profile_then_turn() -> None:
    model_defaults = {"temperature": 0.6, "top_p": 0.95, "top_k": 20, "max_tokens": 100}
    sampling = SamplingSection(temperature=0.8, n=4, stop=["###"])
    merged = merge_sampling(model_defaults, sampling, ChatOverrides(temperature=0.2, seed=7))
    assert merged == {
        "temperature": 0.2,
        "top_p": 0.95,
        "top_k": 20,
        "max_tokens": 100,
        "n": 4,
        "stop": ["###"],
        "seed": 7,
    }


def test_sampling_merge_ignores_unknown_model_defaults() -> None:
    merged = merge_sampling({"not_a_sampling_key": 1}, SamplingSection(), None)
    assert merged == {"n": 1}


def test_sampling_extra_passes_through_with_token_id_keys() -> None:
    sampling = SamplingSection(
        max_tokens=50, extra={"min_tokens": 50, "ignore_eos": True, "logit_bias": {"1": -100}}
    )
    merged = merge_sampling({}, sampling, ChatOverrides(max_tokens=80))
    assert merged == {
        "max_tokens": 80,
        "min_tokens": 50,
        "ignore_eos": True,
        "logit_bias": {1: -100.0},
        "n": 1,
    }
