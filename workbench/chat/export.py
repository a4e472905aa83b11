"""Export a chat to Markdown and JSON, each with a run card saying how the answers were made."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.chat.fields import compare_fields
from workbench.chat.model import AssistantTurn, Conversation, SampleRecord, UserTurn
from workbench.chat.summary import summarise_answers
from workbench.engine.api import EngineFigures
from workbench.engine.timing import turn_metrics
from workbench.files import write_atomic


@dataclass(frozen=True)
class RunCard:
    """Enough to reproduce a chat: profile, sampling (seed included), vLLM version, device."""

    profile_name: str | None
    model: str | None
    sampling: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    vllm_version: str | None = None
    device: str | None = None
    max_model_len: int | None = None

    @classmethod
    def build(
        cls,
        *,
        profile_name: str | None,
        model: str | None,
        sampling: dict[str, Any],
        figures: EngineFigures | None,
    ) -> RunCard:
        """A card from the profile's sampling settings and what the engine reported."""
        return cls(
            profile_name=profile_name,
            model=model,
            sampling={k: v for k, v in sampling.items() if v is not None and v != []},
            seed=sampling.get("seed"),
            vllm_version=figures.vllm_version if figures else None,
            device=figures.device if figures else None,
            max_model_len=figures.max_model_len if figures else None,
        )

    def markdown_lines(self) -> list[str]:
        sampling = ", ".join(f"{k}={v}" for k, v in sorted(self.sampling.items())) or "defaults"
        return [
            "| run card | |",
            "|---|---|",
            f"| profile | {self.profile_name or '-'} |",
            f"| model | {self.model or '-'} |",
            f"| sampling | {sampling} |",
            f"| seed | {self.seed if self.seed is not None else 'unset'} |",
            f"| vLLM | {self.vllm_version or '-'} |",
            f"| device | {self.device or '-'} |",
            f"| max_model_len | {self.max_model_len or '-'} |",
        ]


def _stats_line(sample: SampleRecord) -> str:
    stats = sample.stats
    if stats is None:
        return "unfinished"
    parts = [f"{stats.generated_tokens} tokens"]
    if stats.decode_tokens_per_s is not None:
        parts.append(f"{stats.decode_tokens_per_s:.1f} tok/s")
    parts.append(f"finish {stats.finish_reason or '-'}")
    if stats.cumulative_logprob is not None:
        parts.append(f"logprob {stats.cumulative_logprob:.2f}")
    for name, value, unit in (
        ("ttft", stats.ttft_s, " s"),
        ("first answer", stats.first_answer_token_s if stats.reasoning_tokens else None, " s"),
        ("e2e", stats.e2e_s, " s"),
        ("queue", stats.queue_s, " s"),
        ("mean ITL", stats.mean_itl_ms, " ms"),
        ("p95 ITL", stats.p95_itl_ms, " ms"),
    ):
        if value is not None:
            parts.append(f"{name} {value:.3g}{unit}")
    if stats.cached_prompt_tokens is not None:
        parts.append(f"{stats.cached_prompt_tokens} cached prompt tokens")
    return " · ".join(parts)


def _finished_stats(turn: AssistantTurn) -> list[Any]:
    return [s.stats for s in turn.samples if s.stats is not None]


def _overrides_line(turn: AssistantTurn) -> str:
    chosen = {k: v for k, v in asdict(turn.overrides).items() if v is not None}
    return ", ".join(f"{k}={v}" for k, v in chosen.items())


def to_markdown(conversation: Conversation, card: RunCard) -> str:
    """The chat as a Markdown document: run card, then each turn; thinking in <details>."""
    title = conversation.title or f"Chat {conversation.id}"
    lines = [f"# {title}", "", *card.markdown_lines(), ""]
    if conversation.system_prompt:
        lines += ["## System", "", conversation.system_prompt, ""]
    for turn in conversation.turns:
        if isinstance(turn, UserTurn):
            lines += ["## User", "", turn.content, ""]
            continue
        overrides = _overrides_line(turn)
        heading = f"## Assistant ({len(turn.samples)} of {turn.n_requested} samples)"
        lines += [heading, ""]
        if overrides:
            lines += [f"_overrides: {overrides}_", ""]
        for sample in turn.samples:
            picked = " (continued)" if len(turn.samples) > 1 and turn.picked == sample.index else ""
            if len(turn.samples) > 1:
                lines += [f"### Sample {sample.index + 1}{picked}", ""]
            if sample.reasoning:
                lines += [
                    "<details><summary>Thinking</summary>",
                    "",
                    sample.reasoning,
                    "",
                    "</details>",
                    "",
                ]
            lines += [sample.content or "_(empty answer)_", "", f"_{_stats_line(sample)}_", ""]
        if len(turn.samples) > 1:
            summary = summarise_answers([(s.index, s.content) for s in turn.samples])
            lines += [f"**Summary:** {summary.describe()}", ""]
            metrics = turn_metrics(_finished_stats(turn))
            if metrics is not None and metrics.describe():
                lines += [f"**Run (p50 / p95):** {metrics.describe()}", ""]
        if turn.structured and turn.samples:
            table = compare_fields([(s.index, s.content) for s in turn.samples])
            lines += [f"**Fields:** {table.describe()}", "", *table.markdown_lines(), ""]
        if turn.error:
            lines += [f"> error: {turn.error}", ""]
    return "\n".join(lines).rstrip() + "\n"


def to_json(conversation: Conversation, card: RunCard) -> str:
    """The autosave format plus the run card under "run_card"."""
    data = conversation.to_dict()
    data["run_card"] = asdict(card)
    for turn, raw in zip(conversation.turns, data["turns"], strict=True):
        if not isinstance(turn, AssistantTurn):
            continue
        metrics = turn_metrics(_finished_stats(turn)) if len(turn.samples) > 1 else None
        raw["turn_metrics"] = metrics.to_dict() if metrics is not None else None
        if turn.structured:
            table = compare_fields([(s.index, s.content) for s in turn.samples])
            raw["fields"] = {
                "rows": [asdict(row) for row in table.rows],
                "invalid": {str(i): why for i, why in table.invalid.items()},
            }
    return json.dumps(data, indent=2, ensure_ascii=False)


def export_chat(conversation: Conversation, card: RunCard, directory: Path) -> tuple[Path, Path]:
    """Write ``<id>.md`` and ``<id>.json`` into ``directory`` atomically; returns both paths."""
    markdown_path = directory / f"{conversation.id}.md"
    json_path = directory / f"{conversation.id}.json"
    write_atomic(markdown_path, to_markdown(conversation, card))
    write_atomic(json_path, to_json(conversation, card))
    return markdown_path, json_path
