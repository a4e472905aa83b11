"""Engine-service costs, printed as ratios (no asserts; run by hand):

1. validation: the parent's pure pre-check vs vLLM's ``create_engine_config`` in-process (what it
   would cost the app's process to validate with vLLM itself);
2. streaming: decode tokens/s through the service (host process, JSON pipe, parser split) vs
   vLLM's AsyncLLM driven directly in-process, same model, same sampling.

    .venv/bin/python bench/bench_engine.py [--model-dir DIR] [--tokens 256] [--n 4]

Without --model-dir it builds the tiny random Qwen2 of the integration tests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

KV_BYTES = 64 * 1024 * 1024


def _profile_text(model_dir: Path) -> str:
    return (
        f'[model]\npath = "{model_dir}"\n[engine]\nmax_model_len = 1024\n'
        f'kv_cache_memory_bytes = {KV_BYTES}\nreasoning_parser = "deepseek_r1"\n'
    )


def _validate_in_process_seconds(model_dir: Path) -> float:
    code = (
        "import time; t=time.monotonic()\n"
        "from vllm.engine.arg_utils import AsyncEngineArgs\n"
        f"AsyncEngineArgs(model={str(model_dir)!r}, max_model_len=1024, enforce_eager=True,"
        f" kv_cache_memory_bytes={KV_BYTES}).create_engine_config()\n"
        "print(time.monotonic()-t)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def _precheck_seconds(profile_path: Path) -> float:
    from workbench.engine.service import _precheck
    from workbench.profiles import load_profile

    loaded = load_profile(profile_path)
    started = time.monotonic()
    for _ in range(100):
        _precheck(loaded, loaded.require_model_dir(), None)
    return (time.monotonic() - started) / 100


async def _service_tokens_per_s(profile_path: Path, tokens: int, n: int) -> tuple[float, float]:
    from workbench.engine.api import ChatMessage, ChatOverrides, SampleFinished
    from workbench.engine.service import VllmEngineService
    from workbench.profiles import load_profile

    service = VllmEngineService(log_dir=Path(tempfile.mkdtemp()))
    load_seconds = 0.0
    async for progress in service.load(load_profile(profile_path)):
        load_seconds = progress.elapsed_s
    try:
        overrides = ChatOverrides(n=n, max_tokens=tokens, temperature=1.0, seed=0)
        await _drain(service.chat([ChatMessage("user", "warm up")], ChatOverrides(n=1)))
        started = time.monotonic()
        events = await _drain(service.chat([ChatMessage("user", "Two plus two?")], overrides))
        elapsed = time.monotonic() - started
        generated = sum(
            e.stats.reasoning_tokens + e.stats.answer_tokens
            for e in events
            if isinstance(e, SampleFinished)
        )
        return generated / elapsed, load_seconds
    finally:
        await service.unload()


async def _drain(stream: object) -> list[object]:
    return [event async for event in stream]  # type: ignore[attr-defined]


async def direct_rates(
    model_dir: Path,
    tokens: int,
    ns: list[int],
    prompt: str = "Two plus two?",
    *,
    max_model_len: int = 1024,
    ignore_eos: bool = False,
    sampling: dict[str, Any] | None = None,
    chat_template_kwargs: dict[str, Any] | None = None,
) -> dict[int, float]:
    """Tokens/s of vLLM's AsyncLLM driven directly (no workbench), per n: one warm-up, then
    ``prompt`` rendered with the model's chat template, DELTA outputs as the host uses them."""
    from vllm.engine.arg_utils import AsyncEngineArgs
    from vllm.renderers.params import ChatParams
    from vllm.sampling_params import RequestOutputKind, SamplingParams
    from vllm.v1.engine.async_llm import AsyncLLM

    engine = AsyncLLM.from_engine_args(
        AsyncEngineArgs(
            model=str(model_dir),
            max_model_len=max_model_len,
            enforce_eager=True,
            kv_cache_memory_bytes=KV_BYTES,
            max_num_seqs=max(8, *ns),
            disable_log_stats=True,
        )
    )
    try:
        params = ChatParams(
            chat_template_kwargs={"add_generation_prompt": True, **(chat_template_kwargs or {})}
        )

        async def run(text: str, samples: int) -> int:
            _, prompts = await engine.renderer.render_chat_async(
                [[{"role": "user", "content": text}]], params
            )
            values: dict[str, Any] = {"temperature": 1.0, "seed": 0, **(sampling or {})}
            if ignore_eos:
                values.update(ignore_eos=True, min_tokens=tokens)
            request = SamplingParams(
                n=samples,
                max_tokens=tokens,
                output_kind=RequestOutputKind.DELTA,
                skip_special_tokens=False,
                **values,
            )
            count = 0
            async for output in engine.generate(prompts[0], request, f"r-{time.monotonic()}"):
                count += sum(len(c.token_ids) for c in output.outputs)
            return count

        await run("warm up", 1)
        rates: dict[int, float] = {}
        for n in ns:
            started = time.monotonic()
            generated = await run(prompt, n)
            elapsed = time.monotonic() - started
            rates[n] = generated / elapsed
            print(f"  AsyncLLM n={n}: {generated} tokens in {elapsed:.1f} s", flush=True)
        return rates
    finally:
        engine.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--n", type=int, default=4)
    args = parser.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    workdir = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    os.environ.setdefault("WORKBENCH_DATA_DIR", str(workdir / "data"))
    model_dir = args.model_dir
    if model_dir is None:
        from tests.integration.conftest import build_tiny_qwen2

        model_dir = build_tiny_qwen2(workdir / "tiny")
    profile_path = workdir / "bench.toml"
    profile_path.write_text(_profile_text(model_dir))

    precheck = _precheck_seconds(profile_path)
    in_process = _validate_in_process_seconds(model_dir)
    print(
        f"validation: pure pre-check {precheck * 1e3:.2f} ms, vLLM create_engine_config "
        f"in-process (import included) {in_process:.2f} s -> ratio {in_process / precheck:,.0f}x"
    )

    service_rate, load_seconds = asyncio.run(
        _service_tokens_per_s(profile_path, args.tokens, args.n)
    )
    direct_rate = asyncio.run(direct_rates(model_dir, args.tokens, [args.n]))[args.n]
    print(f"load through the service: {load_seconds:.1f} s")
    print(
        f"decode n={args.n}: service {service_rate:.0f} tok/s, direct AsyncLLM {direct_rate:.0f} "
        f"tok/s -> service/direct {service_rate / direct_rate:.2f}"
    )


if __name__ == "__main__":
    main()
