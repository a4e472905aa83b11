"""Exports carry the conversation and a run card (profile, sampling with seed, vLLM, device)."""

from __future__ import annotations

import json
from pathlib import Path

from workbench.chat.export import RunCard, export_chat, to_json, to_markdown
from workbench.chat.model import AssistantTurn, Conversation, SampleRecord, UserTurn
from workbench.engine.api import ChatOverrides, SampleStats
from workbench.engine.fake import DEFAULT_FIGURES

STATS = SampleStats(
    24, 154, 31, "stop", -4.21, ttft_s=0.12, first_answer_token_s=12.42, decode_tokens_per_s=38.2
)


def chat() -> Conversation:
    samples = [
        SampleRecord(0, "Tens then units.", "The answer is **82**.", STATS),
        SampleRecord(1, "Carry the one.", "82", STATS),
        SampleRecord(2, "Oops.", "72", STATS),
    ]
    turn = AssistantTurn("r1", 3, samples, ChatOverrides(n=3), picked=1, done=True)
    return Conversation("c1", "demo", None, [UserTurn("17 + 65?"), turn], "Adding")


CARD = RunCard.build(
    profile_name="demo",
    model="builtin:demo",
    sampling={"temperature": 0.7, "n": 3, "seed": 1234, "top_p": None},
    figures=DEFAULT_FIGURES,
)


def test_run_card_takes_seed_and_engine_figures() -> None:
    assert CARD.seed == 1234
    assert CARD.vllm_version == DEFAULT_FIGURES.vllm_version
    assert CARD.device == "cpu"
    assert "top_p" not in CARD.sampling


def test_markdown_has_card_turns_thinking_stats_and_summary() -> None:
    text = to_markdown(chat(), CARD)
    assert text.startswith("# Adding\n")
    assert "| seed | 1234 |" in text
    assert "| vLLM | 0.32.0 |" in text
    assert "## User\n\n17 + 65?" in text
    assert "### Sample 2 (continued)" in text
    assert "<details><summary>Thinking</summary>\n\nCarry the one." in text
    assert "185 tokens · 38.2 tok/s · finish stop · logprob -4.21" in text
    assert "majority 82 (2 of 3)" in text


def test_json_is_the_autosave_format_plus_the_card() -> None:
    data = json.loads(to_json(chat(), CARD))
    assert data["run_card"]["seed"] == 1234
    assert data["run_card"]["device"] == "cpu"
    assert data["turns"][1]["picked"] == 1
    assert data["turns"][1]["samples"][2]["content"] == "72"


def test_export_writes_both_files(tmp_path: Path) -> None:
    markdown_path, json_path = export_chat(chat(), CARD, tmp_path / "exports")
    assert markdown_path.read_text().startswith("# Adding")
    assert json.loads(json_path.read_text())["id"] == "c1"


def test_exports_carry_the_run_metrics_and_a_structured_turns_fields() -> None:
    stats = SampleStats(
        24,
        10,
        5,
        "stop",
        None,
        ttft_s=0.25,
        first_answer_token_s=1.5,
        e2e_s=2.0,
        queue_s=0.01,
        mean_itl_ms=125.0,
        p95_itl_ms=180.0,
        decode_tokens_per_s=8.0,
        cached_prompt_tokens=16,
    )
    samples = [
        SampleRecord(0, "r", '{"answer": 82, "unit": "none"}', stats),
        SampleRecord(1, "r", '{"answer": 72, "unit": "none"}', stats),
        SampleRecord(2, "r", '{"answer": 8', stats),
    ]
    turn = AssistantTurn("r1", 3, samples, ChatOverrides(n=3), done=True, structured=True)
    conversation = Conversation("c1", "demo", None, [UserTurn("17 + 65?"), turn], "JSON")
    text = to_markdown(conversation, CARD)
    assert "ttft 0.25 s · first answer 1.5 s · e2e 2 s · queue 0.01 s" in text
    assert "mean ITL 125 ms · p95 ITL 180 ms · 16 cached prompt tokens" in text
    assert "**Run (p50 / p95):** TTFT 0.25 / 0.25 s" in text
    assert "| answer | 82 | 72 | — | 1/2 |" in text and "| unit | " in text
    assert "Sample 3 is not valid JSON" in text
    data = json.loads(to_json(conversation, CARD))
    exported = data["turns"][1]
    assert exported["samples"][0]["stats"]["p95_itl_ms"] == 180.0
    assert exported["turn_metrics"]["e2e_s"] == {"p50": 2.0, "p95": 2.0}
    assert exported["fields"]["invalid"].keys() == {"2"}
    assert Conversation.from_dict(data).turns[1] == turn  # the export still loads as a chat
