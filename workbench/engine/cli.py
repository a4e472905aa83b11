"""`workbench chat PROFILE --prompt TEXT`: load the profile, stream one turn to stdout, unload.

Imports nothing heavy at import time; the engine runs in its own host process anyway.
Exit codes: 0 done, 1 engine/runtime failure (one line + suggestion on stderr), 2 bad profile.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from workbench.engine.api import EngineError, EngineService, SampleFinished

_DIM, _BOLD, _RESET = "\x1b[2m", "\x1b[1m", "\x1b[0m"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``chat`` command."""
    parser = subparsers.add_parser(
        "chat",
        help="load a profile and answer one prompt headlessly (for scripts and tests)",
        description="Load PROFILE into the embedded vLLM engine, stream one answer (n samples) "
        "to stdout with reasoning and answer separated, then unload.",
    )
    parser.add_argument(
        "profile", metavar="PROFILE", nargs="?", help="profile name or path to a .toml file"
    )
    parser.add_argument(
        "--url",
        metavar="URL",
        help="chat with a running vLLM (OpenAI-compatible) server instead of loading the model",
    )
    parser.add_argument("--model", metavar="NAME", help="with --url: the served model name")
    parser.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="with --url: the environment variable holding the server's API key",
    )
    parser.add_argument("--prompt", required=True, help="the user message")
    parser.add_argument("--n", type=int, default=None, help="samples (default: the profile's n)")
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument("--max-tokens", type=int, default=None, dest="max_tokens")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--no-thinking", action="store_true", help="pass enable_thinking=false to the template"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    parser.add_argument("--log", action="store_true", help="print the engine log path to stderr")
    parser.add_argument(
        "--trust-profile",
        action="store_true",
        help="consent to what a profile from someone else asks for (trust_remote_code, [env], "
        "a custom chat template); remembered until its file changes",
    )
    parser.set_defaults(func=run_chat)


def run_chat(args: argparse.Namespace) -> int:
    """Entry point of ``workbench chat``."""
    from workbench.profiles import ProfileError, load_profile

    for name in ("n", "max_tokens"):
        value = getattr(args, name)
        if value is not None and value < 1:
            print(f"workbench: --{name.replace('_', '-')} must be at least 1", file=sys.stderr)
            return 2
    if args.profile is None and args.url is None:
        print("workbench: give a PROFILE or --url URL", file=sys.stderr)
        return 2
    try:
        profile = load_profile(args.profile) if args.profile is not None else None
        if args.url is not None:
            from workbench.profiles.deployment import deployment_profile

            profile = deployment_profile(
                args.url, model=args.model, api_key_env=args.api_key_env, base=profile
            )
    except ProfileError as exc:
        print(f"workbench: {exc}", file=sys.stderr)
        return 2
    assert profile is not None
    from workbench.paths import data_dir
    from workbench.profiles.trust import command_line_consent

    refusal = command_line_consent(profile, data_dir(), trust=args.trust_profile)
    if refusal is not None:
        print(f"workbench: {refusal}", file=sys.stderr)
        return 2
    return asyncio.run(_chat(args, profile))


def _describe_error(error: EngineError, out: TextIO) -> None:
    print(f"workbench: {error.message}", file=out)
    if error.suggestion is not None:
        suggestion = error.suggestion
        print(f"  fix: set {suggestion.key} = {suggestion.value!r} ({suggestion.reason})", file=out)
    if error.log_path is not None:
        print(f"  engine log: {error.log_path}", file=out)


async def _chat(args: argparse.Namespace, profile: Any) -> int:
    from workbench.engine.api import (
        ChatMessage,
        ChatOverrides,
        EngineError,
        RequestFailed,
        RequestFinished,
        SampleDelta,
        SampleFinished,
    )
    from workbench.engine.choose import service_for

    service = service_for(profile)
    err = sys.stderr
    try:
        try:
            async for progress in service.load(profile):
                detail = f"  {progress.detail}" if progress.detail else ""
                print(f"[{progress.elapsed_s:6.1f}s] {progress.stage.value}{detail}", file=err)
        except EngineError as exc:
            _describe_error(exc, err)
            return 1
        if args.log and service.state.log_path is not None:
            print(f"engine log: {service.state.log_path}", file=err)
        overrides = ChatOverrides(
            n=args.n,
            temperature=args.temperature,
            max_tokens=args.max_tokens,
            seed=args.seed,
            enable_thinking=False if args.no_thinking else None,
        )
        n = args.n or profile.profile.sampling.n
        printer = _StreamPrinter(sys.stdout, live=not args.json and n == 1)
        samples: dict[int, SampleFinished] = {}
        outcome: RequestFinished | RequestFailed | None = None
        async for event in service.chat([ChatMessage("user", args.prompt)], overrides):
            if isinstance(event, SampleDelta):
                printer.delta(event.reasoning, event.content)
            elif isinstance(event, SampleFinished):
                samples[event.index] = event
                if not args.json:
                    printer.finished(event, n)
            else:
                outcome = event
        if args.json:
            json.dump(_as_json(profile.name, service, samples, outcome), sys.stdout, indent=2)
            print()
        if isinstance(outcome, RequestFailed):
            _describe_error(outcome.error, err)
            return 1
        if isinstance(outcome, RequestFinished) and outcome.error:
            print(f"workbench: {outcome.error}", file=err)
            return 1
        return 0
    finally:
        await service.unload()


class _StreamPrinter:
    """Reasoning dim under a "thinking" label, the answer under an "answer" label."""

    def __init__(self, out: TextIO, *, live: bool) -> None:
        self.out = out
        self.live = live
        self.color = out.isatty()
        self.section: str | None = None

    def _style(self, text: str, style: str) -> str:
        return f"{style}{text}{_RESET}" if self.color else text

    def _enter(self, section: str) -> None:
        if self.section != section:
            if self.section is not None:
                self.out.write("\n")
            self.out.write(self._style(f"── {section} ──", _BOLD) + "\n")
            self.section = section

    def delta(self, reasoning: str, content: str) -> None:
        if not self.live:
            return
        if reasoning:
            self._enter("thinking")
            self.out.write(self._style(reasoning, _DIM))
        if content:
            self._enter("answer")
            self.out.write(content)
        self.out.flush()

    def finished(self, sample: SampleFinished, n: int) -> None:
        stats = sample.stats
        summary = (
            f"{stats.finish_reason}, {stats.reasoning_tokens} thinking + "
            f"{stats.answer_tokens} answer tokens"
            + (f", {stats.tokens_per_s:.1f} tok/s" if stats.tokens_per_s else "")
        )
        if self.live:
            self.out.write("\n" + self._style(f"── done: {summary} ──", _DIM) + "\n")
            self.out.flush()
            return
        self.out.write(self._style(f"═══ sample {sample.index + 1}/{n} ({summary}) ═══", _BOLD))
        self.out.write("\n")
        if sample.reasoning:
            self.out.write(self._style("── thinking ──", _BOLD) + "\n")
            self.out.write(self._style(sample.reasoning.strip(), _DIM) + "\n")
        self.out.write(self._style("── answer ──", _BOLD) + "\n")
        self.out.write(sample.content.strip() + "\n\n")
        self.out.flush()


def _as_json(
    profile_name: str,
    service: EngineService,
    samples: dict[int, SampleFinished],
    outcome: Any,
) -> dict[str, Any]:
    from workbench.engine.api import RequestFailed, RequestFinished

    figures = service.state.figures
    result: dict[str, Any] = {
        "profile": profile_name,
        "figures": None
        if figures is None
        else {k: v for k, v in dataclasses.asdict(figures).items() if k != "raw_lines"},
        "samples": [
            {
                "index": sample.index,
                "reasoning": sample.reasoning,
                "content": sample.content,
                "text": sample.text,
                "stats": dataclasses.asdict(sample.stats),
            }
            for _, sample in sorted(samples.items())
        ],
    }
    from workbench.engine.timing import turn_metrics

    if len(samples) > 1:
        metrics = turn_metrics([sample.stats for sample in samples.values()])
        result["turn"] = metrics.to_dict() if metrics is not None else None
    if isinstance(outcome, RequestFinished):
        result.update(
            n_requested=outcome.n_requested,
            n_received=outcome.n_received,
            aborted=outcome.aborted,
            error=outcome.error,
        )
    elif isinstance(outcome, RequestFailed):
        result.update(error=outcome.error.message, error_kind=outcome.error.kind)
    return result
