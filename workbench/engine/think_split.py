"""Thinking split on the client, for a server started without ``--reasoning-parser``.

Pure. vLLM's own parsers work on token ids and need the model's tokenizer, which a client of a
remote deployment usually does not have; the parsers this applies to (``deepseek_r1``,
``qwen3``) mark thinking with ``<think>``…``</think>`` text, so the split is on that text, the way
those parsers decide it:
- the opening tag may be missing: the chat template already emitted it (R1 and Qwen3 templates
  with thinking on open ``<think>`` in the prompt), so text before ``</think>`` is thinking;
- no ``</think>`` at all: ``deepseek_r1`` calls all of it thinking (the model never closed it),
  ``qwen3`` all of it answer (thinking was off, or the model skipped it).
A tag split across two deltas is held back until it is whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

OPEN, CLOSE = "<think>", "</think>"
TAG_PARSERS = {"deepseek_r1": "reasoning", "qwen3": "content"}
"""Parsers split here, and what text with no closing tag is, as each parser decides."""


@dataclass
class ThinkSplitter:
    """Feed content deltas in order; get (reasoning, content) pieces back."""

    unclosed_is: str = "reasoning"
    _held: str = ""
    _started: bool = False
    _closed: bool = False
    reasoning: list[str] = field(default_factory=list)
    content: list[str] = field(default_factory=list)

    def feed(self, text: str) -> tuple[str, str]:
        """The thinking and the answer in ``text`` (plus anything held back before it)."""
        if self._closed:
            self.content.append(text)
            return "", text
        text = self._held + text
        self._held = ""
        if not self._started:
            stripped = text.lstrip()
            if OPEN.startswith(stripped) and len(stripped) < len(OPEN):
                self._held = text  # maybe the start of "<think>"
                return "", ""
            self._started = True
            if stripped.startswith(OPEN):
                text = stripped[len(OPEN) :]
        end = text.find(CLOSE)
        if end >= 0:
            self._closed = True
            thinking, answer = text[:end], text[end + len(CLOSE) :]
            self.reasoning.append(thinking)
            self.content.append(answer)
            return thinking, answer
        keep = _partial_tag_suffix(text)
        if keep:
            self._held, text = text[-keep:], text[:-keep]
        self.reasoning.append(text)
        return text, ""

    def finish(self) -> tuple[str, str]:
        """The whole (reasoning, content) once the sample ended, deciding an unclosed tag."""
        reasoning = "".join(self.reasoning) + ("" if self._closed else self._held)
        content = "".join(self.content)
        if not self._closed and self.unclosed_is == "content":
            return "", reasoning
        return reasoning, content


def _partial_tag_suffix(text: str) -> int:
    """Length of the longest end of ``text`` that could begin "</think>"."""
    for size in range(min(len(CLOSE) - 1, len(text)), 0, -1):
        if CLOSE.startswith(text[-size:]):
            return size
    return 0
