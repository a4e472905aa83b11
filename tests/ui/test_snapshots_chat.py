"""Snapshots of the Chat pane driven by the scripted fake engine at a fixed terminal size."""

from __future__ import annotations

from typing import Any

from tests.ui.scenarios_chat import (
    TERMINAL_SIZE,
    scenario_doctor_bang,
    scenario_json_fields,
    scenario_long_stream_tails,
    scenario_n4_majority,
    scenario_reader_mid_stream,
    scenario_thinking_collapsed,
    scenario_thinking_streaming,
)


def test_chat_thinking_streaming(snap_compare: Any) -> None:
    """You should see the question "What is 17 + 65?" and under it an open "▼ Thinking…" panel
    with the first half of the reasoning as plain text while it streams ("The user asks for
    17 + 65. Add the tens: …"), no answer yet, and Esc Abort in the footer."""
    app, run_before = scenario_thinking_streaming()
    try:
        assert snap_compare(app, run_before=run_before, terminal_size=TERMINAL_SIZE)
    finally:
        app.engine.release()


def test_chat_thinking_collapsed_after_answer(snap_compare: Any) -> None:
    """You should see the thinking panel folded to "▶ Thought for 12.3 s · 154 tokens", the
    answer "17 + 65 = 82." in bold with its explanation, and the stats lines
    "185 tok · 38.2 tok/s · stop · logp -4.21" and "TTFT 0.12s · ITL 26ms · e2e 12.4s"."""
    app, run_before = scenario_thinking_collapsed()
    assert snap_compare(app, run_before=run_before, terminal_size=TERMINAL_SIZE)


def test_chat_n4_side_by_side_with_majority(snap_compare: Any) -> None:
    """You should see four sample columns side by side (the fourth cut off, with a horizontal
    scrollbar), samples 1, 2 and 4 headed "· 82 ✓ majority" in green, sample 3 headed "· 72",
    each with a folded "Thought for … · 121 tok…" panel (a title longer than the column ends
    in "…" on one line) and stats, and under them
    "Summary: 82 × 3 · 72 × 1 — majority 82 (3 of 4)", then "Run (p50 / p95): TTFT … ·
    first answer … · ITL … · e2e … · … tok/s in all · …% reasoning"."""
    app, run_before = scenario_n4_majority()
    assert snap_compare(app, run_before=run_before, terminal_size=TERMINAL_SIZE)


def test_chat_doctor_flags_bang_repeat(snap_compare: Any) -> None:
    """You should see three columns, sample 2 showing only "!!!!!!!!" in a red border with
    finish reason "length" (its timing line only "ITL 23ms": the script gives it no first-token
    time), the summary and its "Run (p50 / p95)" line, and a red "Doctor: One token repeated
    (sample 2)" card naming a quantized model with the wrong dtype or kernels as the usual
    cause and what to try."""
    app, run_before = scenario_doctor_bang()
    assert snap_compare(app, run_before=run_before, terminal_size=TERMINAL_SIZE)


def test_chat_json_fields_side_by_side(snap_compare: Any) -> None:
    """You should see four columns of JSON answers and under them the summary, a "Run (p50 /
    p95)" line (TTFT, first answer, ITL, e2e, tok/s in all, % reasoning), then "Fields: 3
    fields · 1 agree across all 3 valid answers · sample 4: not JSON (Unterminated string
    starting at: line 1 column 26)" in red over a table: rows answer / method / confident,
    columns 1–4 (column 4 "not JSON" in red), answer 72 and method "carry the one" in yellow
    where they differ, and the agree column "2/3", "2/3", "3/3"."""
    app, run_before = scenario_json_fields()
    assert snap_compare(app, run_before=run_before, terminal_size=(140, 60))


def test_chat_long_stream_live_tails(snap_compare: Any) -> None:
    """You should see four columns 3,000 tokens into a long reply, the fourth cut off at the
    right: each shows a folded "▶ Thinking…" title (the answer has started) and a fixed-height
    live view of its newest 16 lines; columns 1, 2 and 4 end in "Step …" paragraphs with a
    bullet list and a code block rendered as Markdown above the open paragraph, column 3 is
    filled with "!!!!". No stats yet, and Esc Abort in the footer."""
    app, run_before = scenario_long_stream_tails()
    assert snap_compare(app, run_before=run_before, terminal_size=TERMINAL_SIZE)


def test_chat_reader_mid_stream(snap_compare: Any) -> None:
    """You should see the reader over the whole screen, titled "Sample 1 of 4", its status line
    "streaming…" with "Thinking…" and "←/→ sample · Esc close"; under "Thinking" the reasoning
    in muted text, then "Answer" and the reply from its first paragraph ("Step 1: the ones
    column gives 3 + 8 = 11, so write 1 (bold) and carry one; …"), and a footer with Close,
    Previous sample and Next sample."""
    app, run_before = scenario_reader_mid_stream()
    assert snap_compare(app, run_before=run_before, terminal_size=TERMINAL_SIZE)
