"""The whole app under streaming load: tokens/s vs vLLM's AsyncLLM, and the app's memory.

1. Tokens/s through the whole app (engine service → host process → chat widgets, headless,
   160x48) vs vLLM's AsyncLLM driven directly in this process: the demo model, the same chat
   prompt, ``--tokens`` per sample with EOS ignored, n = 1 and n = 8, measured in one run.
2. App process RSS (psutil) while n = 8 samples of ``--rss-tokens`` tokens stream, turn after
   turn (``--turns``), fed by the scripted engine: the app's memory does not depend on where
   the tokens come from, and ten real 128,000-token turns would take an hour on 2 cores.

    .venv/bin/python bench/bench_app.py [--tokens 2000] [--rss-tokens 16000] [--turns 10]
        [--json bench/results/app.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.child import run_child  # noqa: E402

PROMPT = "What is 23+58? Explain every step."
SIZE = (160, 48)


def _profile(directory: Path, tokens: int, n: int) -> Path:
    path = directory / f"bench-app-n{n}.toml"
    path.write_text(
        'extends = "demo"\n[env]\nVLLM_ALLOW_LONG_MAX_MODEL_LEN = "1"\n'
        f"[engine]\nmax_model_len = {tokens + 512}\nmax_num_seqs = 8\n"
        f"kv_cache_memory_bytes = {256 * 1024 * 1024}\n"
        f"[sampling]\nn = {n}\nmax_tokens = {tokens}\ntemperature = 0.8\nseed = 0\n"
        f"[sampling.extra]\nmin_tokens = {tokens}\nignore_eos = true\n"
    )
    return path


async def app_tokens_per_s(directory: Path, tokens: int, ns: list[int]) -> dict[int, float]:
    """Send the prompt through the real app (one app, the engine loaded once per n)."""
    from workbench.app import create_app
    from workbench.chat.store import ChatStore
    from workbench.engine.service import VllmEngineService
    from workbench.paths import data_dir
    from workbench.profiles import load_profile
    from workbench.profiles.trust import command_line_consent
    from workbench.ui.chat import ChatView

    rates: dict[int, float] = {}
    for n in ns:
        profile = _profile(directory, tokens, n)
        # The bench wrote this profile itself: its [env] has the consent the app would ask for.
        command_line_consent(load_profile(profile), data_dir(), trust=True)
        app = create_app(
            engine=VllmEngineService(log_dir=directory / "logs"),
            initial_profile=str(profile),
            autoload=True,
            chat_store=ChatStore(directory / f"chats-{n}"),
        )
        async with app.run_test(size=SIZE):
            chat = app.query_one(ChatView)
            deadline = time.monotonic() + 300
            while not chat.ready:
                if time.monotonic() > deadline:
                    raise SystemExit("the engine never became ready")
                await asyncio.sleep(0.1)
            await chat.send("warm up")
            while chat.streaming:
                await asyncio.sleep(0.05)
            started = time.monotonic()
            turn = await chat.send(PROMPT)
            while chat.streaming:
                await asyncio.sleep(0.01)
            elapsed = time.monotonic() - started
            generated = sum(
                s.stats.reasoning_tokens + s.stats.answer_tokens for s in turn.samples if s.stats
            )
            rates[n] = generated / elapsed
            print(f"  app n={n}: {generated} tokens in {elapsed:.1f} s", flush=True)
    return rates


async def direct_tokens_per_s(tokens: int, ns: list[int]) -> dict[int, float]:
    """The same prompt and sampling through vLLM's AsyncLLM, no workbench in between."""
    from bench.bench_engine import direct_rates
    from workbench.profiles import load_profile

    os.environ["VLLM_ALLOW_LONG_MAX_MODEL_LEN"] = "1"  # as the profile's [env] does for the app

    return await direct_rates(
        load_profile("demo").require_model_dir(),
        tokens,
        ns,
        PROMPT,
        max_model_len=tokens + 512,
        ignore_eos=True,
        sampling={"temperature": 0.8, "top_p": 0.95},
        chat_template_kwargs={"enable_thinking": True},
    )


_RSS_CHILD = r"""
import asyncio, json, sys, time, psutil, resource
sys.path.insert(0, %(repo)r)
from tests.ui.scenarios_chat import ChatHostApp, demo_profile
from workbench.engine.fake import FakeEngine, turn_long

TURNS, TOKENS = %(turns)d, %(tokens)d
process = psutil.Process()

async def main():
    scripts = [turn_long(8, TOKENS, degenerate=(3, 7)) for _ in range(TURNS)]
    engine = FakeEngine(chat_scripts=scripts)
    app = ChatHostApp(engine, profile=demo_profile(n=8))
    before = process.memory_info().rss
    rows = []
    async with app.run_test(size=(160, 48)) as pilot:
        while not app.chat.ready:
            await pilot.pause()
        after_start = process.memory_info().rss
        for turn in range(TURNS):
            started = time.monotonic()
            peak = 0
            await app.chat.send(f"turn {turn}")
            while app.chat.streaming:
                peak = max(peak, process.memory_info().rss)
                await asyncio.sleep(0.05)
            await pilot.pause()
            rows.append({"turn": turn + 1, "seconds": time.monotonic() - started,
                         "peak_rss": peak, "rss_after": process.memory_info().rss})
    print("BENCH " + json.dumps({"rss_at_start": after_start, "rss_before_app": before,
        "turns": rows, "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))

asyncio.run(main())
"""


def rss_run(turns: int, tokens: int) -> dict[str, Any]:
    code = _RSS_CHILD % {"repo": str(REPO), "turns": turns, "tokens": tokens}
    result: dict[str, Any] = run_child(code, cwd=REPO, what="rss run failed")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--n", default="1,8")
    parser.add_argument("--rss-tokens", type=int, default=16000)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "app.json")
    args = parser.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    ns = [int(n) for n in args.n.split(",")]
    result: dict[str, Any] = {"tokens_per_sample": args.tokens}
    with tempfile.TemporaryDirectory(prefix="wb-bench-app-") as tmp:
        os.environ["WORKBENCH_DATA_DIR"] = str(Path(tmp) / "data")
        os.environ["WORKBENCH_CONFIG_DIR"] = str(Path(tmp) / "config")
        if not args.skip_throughput:
            app_rates = asyncio.run(app_tokens_per_s(Path(tmp), args.tokens, ns))
            direct_rates = asyncio.run(direct_tokens_per_s(args.tokens, ns))
            result["throughput"] = {
                str(n): {
                    "app": app_rates[n],
                    "async_llm": direct_rates[n],
                    "ratio": app_rates[n] / direct_rates[n],
                }
                for n in ns
            }
            print(f"\nTokens/s, {args.tokens} tokens per sample (demo model, EOS ignored)")
            print(f"{'n':>3} {'app':>9} {'AsyncLLM':>9} {'app/direct':>11}")
            for n in ns:
                row = result["throughput"][str(n)]
                print(f"{n:>3} {row['app']:>9.0f} {row['async_llm']:>9.0f} {row['ratio']:>10.2f}x")
    if not args.skip_rss:
        rss = rss_run(args.turns, args.rss_tokens)
        result["rss"] = rss
        mib = 1024 * 1024
        print(f"\nApp RSS, n = 8 x {args.rss_tokens} tokens per turn (scripted engine)")
        print(f"at start: {rss['rss_at_start'] / mib:.0f} MiB")
        for row in rss["turns"]:
            print(
                f"turn {row['turn']:>2}: peak {row['peak_rss'] / mib:>6.0f} MiB, after "
                f"{row['rss_after'] / mib:>6.0f} MiB, {row['seconds']:.1f} s"
            )
        print(f"ru_maxrss: {rss['ru_maxrss_kib'] / 1024:.0f} MiB")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
