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
