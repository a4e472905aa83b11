"""How `workbench chat` lays out reasoning and answers on stdout (no engine needed)."""

from __future__ import annotations

import io

from workbench.engine.api import SampleFinished, SampleStats
from workbench.engine.cli import _StreamPrinter

STATS = SampleStats(
    10, 3, 2, "stop", None, ttft_s=0.1, first_answer_token_s=0.3, decode_tokens_per_s=25.0
)


def test_single_sample_streams_thinking_then_answer_under_labels() -> None:
    out = io.StringIO()
    printer = _StreamPrinter(out, live=True)
    printer.delta("let me ", "")
    printer.delta("think", "")
    printer.delta("", "four")
    printer.finished(SampleFinished("r", 0, "", "let me think", "four", STATS), 1)
    text = out.getvalue()
    assert text.startswith("── thinking ──\nlet me think\n── answer ──\nfour\n")
    assert "stop, 3 thinking + 2 answer tokens, 25.0 tok/s" in text
    assert "\x1b[" not in text  # no colour codes when stdout is not a terminal


def test_several_samples_print_one_block_each_when_they_finish() -> None:
    out = io.StringIO()
    printer = _StreamPrinter(out, live=False)
    printer.delta("ignored while several samples stream", "")
    printer.finished(SampleFinished("r", 1, "", "r1", "a1", STATS), 2)
    printer.finished(SampleFinished("r", 0, "", "", "a0", STATS), 2)
    text = out.getvalue()
    assert "ignored" not in text
    first, second = text.split("═══ sample ")[1:]
    assert first.startswith("2/2") and "── thinking ──\nr1\n── answer ──\na1" in first
    assert second.startswith("1/2") and "thinking" not in second.split("═══", 1)[1]
