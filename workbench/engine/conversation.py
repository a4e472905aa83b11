"""What one chat turn sends to vLLM: messages with the thinking-history policy applied, the
chat-template kwargs, and the sampling values merged in order model < profile < turn.

Pure: no vllm import; the host turns these plain values into vLLM objects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.engine.api import ChatMessage, ChatOverrides

if TYPE_CHECKING:
    from workbench.profiles.schema import ChatSection, SamplingSection, ThinkingHistory

# [sampling] keys that map one-to-one onto vLLM SamplingParams fields.
SAMPLING_KEYS = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "max_tokens",
    "n",
    "seed",
    "repetition_penalty",
    "presence_penalty",
    "frequency_penalty",
    "stop",
    "logprobs",
)


def _with_reasoning(message: ChatMessage) -> str:
    if not message.reasoning:
        return message.content
    return f"<think>\n{message.reasoning.strip()}\n</think>\n\n{message.content}"


def render_messages(
    messages: Sequence[ChatMessage],
    policy: ThinkingHistory,
    system_prompt: str | None = None,
) -> list[dict[str, str]]:
    """OpenAI-style message dicts; earlier assistant reasoning kept per ``policy``.

    "strip" sends no reasoning back, "keep_last" only the most recent assistant turn's, "keep_all"
    every turn's, inside ``<think>...</think>`` before the answer. (Some templates, e.g. Qwen3's,
    strip think blocks from history themselves; the policy cannot add back what they remove.)
    """
    rendered: list[dict[str, str]] = []
    if system_prompt and not (messages and messages[0].role == "system"):
        rendered.append({"role": "system", "content": system_prompt})
    last_assistant = max(
        (i for i, message in enumerate(messages) if message.role == "assistant"), default=-1
    )
    for i, message in enumerate(messages):
        content = message.content
        if message.role == "assistant" and (
            policy == "keep_all" or (policy == "keep_last" and i == last_assistant)
        ):
            content = _with_reasoning(message)
        rendered.append({"role": message.role, "content": content})
    return rendered


def chat_template_kwargs(chat: ChatSection, overrides: ChatOverrides | None) -> dict[str, Any]:
    """Template kwargs: the profile's extras, ``enable_thinking``, the generation prompt."""
    enable_thinking = chat.enable_thinking
    if overrides is not None and overrides.enable_thinking is not None:
        enable_thinking = overrides.enable_thinking
    kwargs = dict(chat.chat_template_kwargs)
    kwargs["enable_thinking"] = enable_thinking
    kwargs["add_generation_prompt"] = True
    return kwargs


def merge_sampling(
    model_defaults: Mapping[str, Any],
    sampling: SamplingSection,
    overrides: ChatOverrides | None,
) -> dict[str, Any]:
    """Sampling values: generation_config defaults < profile [sampling] (and [sampling.extra])
    < this turn's overrides."""
    merged: dict[str, Any] = {
        key: value for key, value in model_defaults.items() if key in SAMPLING_KEYS
    }
    for key in SAMPLING_KEYS:
        value = getattr(sampling, key)
        if key == "stop":
            if value:
                merged["stop"] = list(value)
            continue
        if value is not None:
            merged[key] = value
    for key, value in sampling.extra.items():
        # [sampling.extra] passes through; TOML table keys are strings, vLLM's logit_bias wants
        # token ids as ints.
        merged[key] = (
            {int(token): float(bias) for token, bias in value.items()}
            if key == "logit_bias" and isinstance(value, dict)
            else value
        )
    if overrides is not None:
        for key in ("n", "temperature", "max_tokens", "seed"):
            value = getattr(overrides, key)
            if value is not None:
                merged[key] = value
    merged.setdefault("n", 1)
    return merged


def json_schema(
    sampling: SamplingSection, base_dir: Path, overrides: ChatOverrides | None
) -> dict[str, Any] | None:
    """The turn's JSON schema: this turn's, else the profile's ``sampling.json_schema`` file
    (relative to the profile); None for free text. Raises ValueError for a non-object."""
    if overrides is not None and overrides.json_schema is not None:
        return dict(overrides.json_schema)
    if not sampling.json_schema:
        return None
    schema = json.loads((base_dir / sampling.json_schema).read_text("utf-8"))
    if not isinstance(schema, dict):
        raise ValueError(f"{sampling.json_schema}: a JSON schema must be an object")
    return schema
