"""Evaluate the demo model through the real vLLM engine and vLLM's ``deepseek_r1`` parser.

Three checks on held-out questions the trainer never saw: greedy accuracy and the parser's
reasoning/answer split; n samples at temperature 1.0 (diversity, single-sample vs majority-vote
accuracy); and ``enable_thinking=False`` (no reasoning, still the right answer).

Run as ``python -m workbench.demo.evaluate`` (spawn-safe entry: vLLM's CPU engine starts children
that re-import ``__main__``) or through ``workbench demo-model eval``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.demo import data

REASONING_PARSER = "deepseek_r1"
MAX_MODEL_LEN = 512
KV_CACHE_BYTES = 128 * 1024 * 1024
MAX_NEW_TOKENS = 160


def builtin_model_dir() -> Path:
    """The model shipped inside the package (what ``builtin:demo`` names)."""
    return Path(__file__).resolve().parent / "model"


@dataclass(frozen=True)
class GreedyRecord:
    """One greedy answer, split by the reasoning parser."""

    question: str
    expected: int
    text: str
    reasoning: str | None
    content: str | None
    correct: bool
    split_ok: bool


@dataclass(frozen=True)
class SampledRecord:
    """n samples at temperature 1.0 for one question."""

    question: str
    expected: int
    answers: list[int | None]
    distinct_texts: int
    majority: int | None

    @property
    def single_accuracy(self) -> float:
        return sum(a == self.expected for a in self.answers) / len(self.answers)

    @property
    def majority_correct(self) -> bool:
        return self.majority == self.expected


@dataclass(frozen=True)
class NoThinkingRecord:
    """One greedy answer with ``enable_thinking=False``."""

    question: str
    expected: int
    text: str
    reasoning: str | None
    content: str | None
    correct: bool
    no_reasoning: bool


@dataclass
class EvalReport:
    """All records of one evaluation run plus the summary numbers."""

    model_dir: str
    greedy: list[GreedyRecord] = field(default_factory=list)
    sampled: list[SampledRecord] = field(default_factory=list)
    no_thinking: list[NoThinkingRecord] = field(default_factory=list)
    samples_per_question: int = 8
    load_seconds: float = 0.0
    generate_seconds: float = 0.0

    def summary(self) -> dict[str, float]:
        """The accuracy table as numbers (fractions in 0..1)."""

        def mean(values: list[float]) -> float:
            return sum(values) / len(values) if values else 0.0

        return {
            "greedy_questions": len(self.greedy),
            "greedy_accuracy": mean([r.correct for r in self.greedy]),
            "greedy_split_ok": mean([r.split_ok for r in self.greedy]),
            "sampled_questions": len(self.sampled),
            "samples_per_question": self.samples_per_question,
            "sample_accuracy": mean([r.single_accuracy for r in self.sampled]),
            "majority_accuracy": mean([r.majority_correct for r in self.sampled]),
            "mean_distinct_texts": mean([r.distinct_texts for r in self.sampled]),
            "questions_with_2plus_distinct": mean([r.distinct_texts >= 2 for r in self.sampled]),
            "no_thinking_questions": len(self.no_thinking),
            "no_thinking_accuracy": mean([r.correct for r in self.no_thinking]),
            "no_thinking_without_reasoning": mean([r.no_reasoning for r in self.no_thinking]),
            "load_seconds": round(self.load_seconds, 1),
            "generate_seconds": round(self.generate_seconds, 1),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "model_dir": self.model_dir,
            "summary": self.summary(),
            "greedy": [asdict(r) for r in self.greedy],
            "sampled": [asdict(r) for r in self.sampled],
            "no_thinking": [asdict(r) for r in self.no_thinking],
        }


def format_table(summary: dict[str, float]) -> str:
    """The accuracy table for a terminal."""

    def pct(key: str) -> str:
        return f"{100 * summary[key]:.1f}%"

    rows = [
        ("check", "questions", "result"),
        ("greedy exact answer", str(summary["greedy_questions"]), pct("greedy_accuracy")),
        ("greedy parser split correct", str(summary["greedy_questions"]), pct("greedy_split_ok")),
        (
            f"T=1.0 single sample (n={summary['samples_per_question']})",
            str(summary["sampled_questions"]),
            pct("sample_accuracy"),
        ),
        ("T=1.0 majority vote", str(summary["sampled_questions"]), pct("majority_accuracy")),
        (
            "T=1.0 distinct texts / question",
            str(summary["sampled_questions"]),
            f"{summary['mean_distinct_texts']:.2f}",
        ),
        (
            "enable_thinking=False exact answer",
            str(summary["no_thinking_questions"]),
            pct("no_thinking_accuracy"),
        ),
        (
            "enable_thinking=False no reasoning",
            str(summary["no_thinking_questions"]),
            pct("no_thinking_without_reasoning"),
        ),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}" for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    timing = f"engine load {summary['load_seconds']}s, generation {summary['generate_seconds']}s"
    return "\n".join([*lines, timing])


def _split(parser: Any, prompt_ids: list[int], text: str) -> tuple[str | None, str | None]:
    """Reasoning and answer as vLLM splits them.

    A prompt that already closed the think block (enable_thinking=False) means the whole output is
    answer: vLLM's streaming path checks ``is_reasoning_end(prompt_ids)`` the same way.
    """
    if parser.is_reasoning_end(prompt_ids):
        return None, text
    reasoning, content = parser.extract_reasoning(text, request=None)
    return reasoning, content


def _split_ok(reasoning: str | None, content: str | None) -> bool:
    """The parser's split is right: trace in reasoning, a number in the answer, no stray tags.

    Whether that number is the right one is the accuracy check, kept apart on purpose.
    """
    if not reasoning or not reasoning.strip() or data.final_number(content) is None:
        return False
    tags = (data.THINK_START, data.THINK_END)
    return not any(tag in reasoning + (content or "") for tag in tags)


def _majority(answers: list[int | None]) -> int | None:
    counted = Counter(a for a in answers if a is not None)
    if not counted:
        return None
    return counted.most_common(1)[0][0]


def evaluate(
    model_dir: Path,
    *,
    questions: int = 200,
    sampled_questions: int | None = None,
    samples: int = 8,
    no_thinking_questions: int | None = None,
    seed: int = 0,
) -> EvalReport:
    """Load ``model_dir`` into vLLM and run the three checks (call under a ``__main__`` guard)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # Engine logs go to stderr so stdout carries only the table or the JSON.
    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
    from vllm import LLM, SamplingParams
    from vllm.reasoning import ReasoningParserManager

    problems = data.held_out_problems(questions)
    sampled_problems = problems[: questions if sampled_questions is None else sampled_questions]
    plain_problems = problems[
        : questions if no_thinking_questions is None else no_thinking_questions
    ]
    report = EvalReport(model_dir=str(model_dir), samples_per_question=samples)

    started = time.monotonic()
    llm = LLM(
        model=str(model_dir),
        enforce_eager=True,
        max_model_len=MAX_MODEL_LEN,
        kv_cache_memory_bytes=KV_CACHE_BYTES,
        dtype="bfloat16",
        seed=seed,
    )
    report.load_seconds = time.monotonic() - started
    parser = ReasoningParserManager.get_reasoning_parser(REASONING_PARSER)(llm.get_tokenizer())

    def conversations(batch: list[data.Problem]) -> list[list[Any]]:
        # Rotate through the question phrasings so every one is exercised.
        return [
            [{"role": "user", "content": data.question_text(problem, index)}]
            for index, problem in enumerate(batch)
        ]

    started = time.monotonic()
    greedy = SamplingParams(temperature=0.0, max_tokens=MAX_NEW_TOKENS, skip_special_tokens=False)
    for index, (problem, output) in enumerate(
        zip(problems, llm.chat(conversations(problems), greedy, use_tqdm=False), strict=True)
    ):
        text = output.outputs[0].text
        reasoning, content = _split(parser, list(output.prompt_token_ids or []), text)
        report.greedy.append(
            GreedyRecord(
                question=data.question_text(problem, index),
                expected=problem.answer,
                text=text,
                reasoning=reasoning,
                content=content,
                correct=data.final_number(content) == problem.answer,
                split_ok=_split_ok(reasoning, content),
            )
        )

    if samples > 0 and sampled_problems:
        sampling = [
            SamplingParams(
                n=samples,
                temperature=1.0,
                top_p=1.0,
                max_tokens=MAX_NEW_TOKENS,
                skip_special_tokens=False,
                seed=seed + index,
            )
            for index in range(len(sampled_problems))
        ]
        outputs = llm.chat(conversations(sampled_problems), sampling, use_tqdm=False)
        for index, (problem, output) in enumerate(zip(sampled_problems, outputs, strict=True)):
            prompt_ids = list(output.prompt_token_ids or [])
            answers = [
                data.final_number(_split(parser, prompt_ids, sample.text)[1])
                for sample in output.outputs
            ]
            report.sampled.append(
                SampledRecord(
                    question=data.question_text(problem, index),
                    expected=problem.answer,
                    answers=answers,
                    distinct_texts=len({sample.text for sample in output.outputs}),
                    majority=_majority(answers),
                )
            )

    if plain_problems:
        outputs = llm.chat(
            conversations(plain_problems),
            greedy,
            use_tqdm=False,
            chat_template_kwargs={"enable_thinking": False},
        )
        for index, (problem, output) in enumerate(zip(plain_problems, outputs, strict=True)):
            text = output.outputs[0].text
            reasoning, content = _split(parser, list(output.prompt_token_ids or []), text)
            report.no_thinking.append(
                NoThinkingRecord(
                    question=data.question_text(problem, index),
                    expected=problem.answer,
                    text=text,
                    reasoning=reasoning,
                    content=content,
                    correct=data.final_number(content) == problem.answer,
                    no_reasoning=not reasoning
                    and data.THINK_START not in text
                    and data.THINK_END not in text,
                )
            )
    report.generate_seconds = time.monotonic() - started
    return report


def build_arg_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m workbench.demo.evaluate",
        description="Evaluate the demo model through the real vLLM engine.",
    )
    add_eval_arguments(parser)
    return parser


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by ``workbench demo-model eval`` and this module's entry point."""
    parser.add_argument("--model", type=Path, default=None, help="model dir (default: built-in)")
    parser.add_argument("--questions", type=int, default=200, help="held-out questions (greedy)")
    parser.add_argument(
        "--sampled-questions", type=int, default=None, help="questions for the n-sample check"
    )
    parser.add_argument("--samples", type=int, default=8, help="samples per question at T=1.0")
    parser.add_argument(
        "--no-thinking-questions",
        type=int,
        default=None,
        help="questions for the enable_thinking=False check",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print every record as JSON")
    parser.add_argument(
        "--json-out", type=Path, default=None, help="also write every record as JSON to this file"
    )


def run_from_args(args: argparse.Namespace) -> int:
    """Run an evaluation for parsed arguments; prints the table (or JSON) to stdout."""
    model_dir: Path = args.model or builtin_model_dir()
    if not (model_dir / "config.json").is_file():
        print(
            f"workbench: {model_dir} has no config.json; "
            "hint: `workbench demo-model train --out DIR` builds one",
            file=sys.stderr,
        )
        return 2
    if args.questions < 1 or args.samples < 0:
        print("workbench: --questions must be at least 1 and --samples at least 0", file=sys.stderr)
        return 2
    try:
        report = evaluate(
            model_dir,
            questions=args.questions,
            sampled_questions=args.sampled_questions,
            samples=args.samples,
            no_thinking_questions=args.no_thinking_questions,
            seed=args.seed,
        )
    except Exception as exc:  # vLLM's own failure; its log above holds the details
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        print(f"workbench: evaluating {model_dir} failed: {first_line}", file=sys.stderr)
        return 1
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(report.to_json(), indent=1), encoding="utf-8")
    if args.json:
        print(json.dumps(report.to_json(), indent=1))
    else:
        print(format_table(report.summary()))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_from_args(build_arg_parser().parse_args()))
