"""Typing latency while the chat streams, in a real terminal (tmux), on the real engine.

The app runs in a tmux pane (160x48) on the CPU vLLM engine. For each load (idle, then n = 1, 4, 8
samples that each stream ``--tokens`` tokens: ``ignore_eos`` and ``min_tokens`` via
[sampling.extra], so no sample stops early), single characters are typed into the chat input and
the time from the key being sent until it is visible in the pane is recorded: rounds of keys
spread over the whole stream, 50 ms apart; a key not visible after 5 s counts as 5 s.

Two models: ``demo`` (the shipped model, EOS never sampled: long arithmetic prose with some
Markdown) and ``degenerate`` (the random tiny Qwen2 of the integration tests, which repeats one
token, as in "!!!!" reports).

    .venv/bin/python bench/bench_typing.py [--models demo,degenerate] [--n 1,4,8]
        [--tokens 16000] [--json bench/results/typing.json]

Prints a table and writes JSON. Needs tmux (``make bench-tools`` installs it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

WIDTH, HEIGHT = 160, 48
KEY_TIMEOUT_S = 5.0
KEY_SPACING_S = 0.05
MARKER = "@@"
EMPTY_INPUT = "Message the model"  # the chat input's placeholder: shown only when empty
PROMPTS = {
    "demo": "What is 23+58? Explain every step in detail.",
    "degenerate": "Tell me a long story.",
}


@dataclass
class LoadResult:
    """Key latencies (ms) for one model under one load."""

    model: str
    load: str
    latencies_ms: list[float] = field(default_factory=list)
    tokens: int = 0
    stream_s: float = 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        position = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
        return ordered[position]

    def summary(self) -> dict[str, float]:
        return {
            "keys": len(self.latencies_ms),
            "p50_ms": self.percentile(0.5),
            "p95_ms": self.percentile(0.95),
            "max_ms": max(self.latencies_ms, default=float("nan")),
            "mean_ms": statistics.fmean(self.latencies_ms) if self.latencies_ms else float("nan"),
        }


class Pane:
    """One tmux server (own socket) holding the app in a WIDTHxHEIGHT window."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=False
        )
        return done.stdout

    def start(self, command: str) -> None:
        self.tmux("new-session", "-d", "-s", "bench", "-x", str(WIDTH), "-y", str(HEIGHT), command)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "bench")

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "bench", "-l", text)

    def key(self, name: str) -> None:
        self.tmux("send-keys", "-t", "bench", name)

    def wait_for(self, text: str, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if text in self.screen():
                return True
            time.sleep(0.1)
        return False

    def kill(self) -> None:
        self.tmux("kill-server")


def typed_count(screen: str) -> int:
    """How many 'x' follow the last marker on screen (-1 when the marker is not visible)."""
    position = screen.rfind(MARKER)
    if position < 0:
        return -1
    rest = screen[position + len(MARKER) :]
    return len(rest) - len(rest.lstrip("x"))


def clear_input(pane: Pane) -> None:
    """Empty the chat input and see it empty before going on. Textual resolves a binding key
    such as ctrl+u only after it has bubbled up to the App, so under load characters typed right
    behind it are inserted first and then wiped by it (seen with n = 8): never type behind a
    ctrl+u that is still on its way, and send none when the input is already empty."""
    if EMPTY_INPUT in pane.screen():
        return
    pane.key("C-u")
    deadline = time.monotonic() + 15
    while EMPTY_INPUT not in pane.screen() and time.monotonic() < deadline:
        time.sleep(0.02)


def type_keys(pane: Pane, count: int) -> list[float]:
    """Type ``count`` x's after a fresh marker; each key's send → visible time in ms."""
    for _attempt in range(3):
        clear_input(pane)
        pane.type(MARKER)
        deadline = time.monotonic() + 15
        while typed_count(pane.screen()) != 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        if typed_count(pane.screen()) == 0:
            break
    else:
        bottom = "\n".join(pane.screen().splitlines()[-6:])
        raise SystemExit(f"the input never showed the marker {MARKER!r}:\n{bottom}")
    latencies: list[float] = []
    for k in range(1, count + 1):
        sent = time.monotonic()
        pane.type("x")
        while True:
            seen = typed_count(pane.screen())
            elapsed = time.monotonic() - sent
            if seen >= k:
                # A capture can itself stall behind a frozen app: cap at the timeout.
                latencies.append(min(elapsed, KEY_TIMEOUT_S) * 1000)
                break
            if elapsed >= KEY_TIMEOUT_S:
                latencies.append(KEY_TIMEOUT_S * 1000)
                break
        time.sleep(KEY_SPACING_S)
    clear_input(pane)
    return latencies


def latest_turn(data_dir: Path) -> dict[str, object] | None:
    """The last assistant turn of the newest autosaved chat (the app autosaves while streaming)."""
    chats = sorted((data_dir / "chats").glob("*.json"), key=lambda p: p.stat().st_mtime)
    if not chats:
        return None
    try:
        data = json.loads(chats[-1].read_text())
    except (OSError, ValueError):
        return None  # mid-replace; the next poll reads it
    turns = [t for t in data["turns"] if t["role"] == "assistant"]
    return turns[-1] if turns else None


def stream_tokens(turn: dict[str, object]) -> int:
    samples = turn.get("samples") or []
    total = 0
    for sample in samples:  # type: ignore[attr-defined]
        stats = sample.get("stats")
        if stats:
            total += stats["reasoning_tokens"] + stats["answer_tokens"]
    return total


def measure_stream(
    pane: Pane, data_dir: Path, model: str, n: int, keys_per_round: int, rounds_every_s: float
) -> LoadResult:
    result = LoadResult(model, f"n={n}")
    previous = latest_turn(data_dir)
    previous_id = previous["request_id"] if previous else None
    for _attempt in range(5):
        # Type the prompt and see it in the input before sending (a key sent right after a
        # clear can be lost in the terminal; the prompt must go out whole).
        clear_input(pane)
        pane.type(PROMPTS[model])
        if pane.wait_for(PROMPTS[model], 5):
            break
    else:
        raise SystemExit(f"{model} n={n}: the prompt never appeared in the input")
    pane.key("Enter")
    started = time.monotonic()
    # Wait for the new turn to be autosaved (its prompt is saved before the reply starts).
    while True:
        turn = latest_turn(data_dir)
        if turn is not None and turn["request_id"] != previous_id:
            break
        if time.monotonic() - started > 60:
            raise SystemExit(f"{model} n={n}: the request never started")
        time.sleep(0.2)
    next_round = time.monotonic() + 2.0
    while True:
        turn = latest_turn(data_dir)
        if turn is not None and turn["request_id"] != previous_id and turn["done"]:
            break
        if time.monotonic() >= next_round:
            result.latencies_ms += type_keys(pane, keys_per_round)
            next_round = time.monotonic() + rounds_every_s
        time.sleep(0.2)
    result.stream_s = time.monotonic() - started
    result.tokens = stream_tokens(turn)
    return result


def write_profile(directory: Path, model: str, tokens: int, n: int) -> Path:
    from tests.integration.conftest import build_tiny_qwen2

    context = tokens + 512
    if model == "demo":
        head = (
            'extends = "demo"\n[env]\nVLLM_ALLOW_LONG_MAX_MODEL_LEN = "1"\n'
            f"[sampling]\ntemperature = 0.8\nn = {n}\n"
        )
    else:
        model_dir = directory / "tiny-qwen2"
        if not (model_dir / "config.json").is_file():
            build_tiny_qwen2(model_dir)
        head = (
            f'[model]\npath = "{model_dir}"\n[engine]\nreasoning_parser = "deepseek_r1"\n'
            f"[sampling]\nn = {n}\n"
        )
    engine = (
        f"max_model_len = {context}\nmax_num_seqs = 8\n"
        f"kv_cache_memory_bytes = {256 * 1024 * 1024}\n"
    )
    if "[engine]" in head:
        head = head.replace("[engine]\n", "[engine]\n" + engine)
    else:
        head += "[engine]\n" + engine
    body = head + (f"[sampling.extra]\nmin_tokens = {tokens}\nignore_eos = true\n")
    # max_tokens is first-class [sampling]; put it in that table.
    if "[sampling]\n" in body:
        body = body.replace("[sampling]\n", f"[sampling]\nmax_tokens = {tokens}\n")
    else:
        body += f"[sampling]\nmax_tokens = {tokens}\n"
    path = directory / f"bench-{model}-n{n}.toml"
    path.write_text(body)
    return path


def start_app(directory: Path, profile: Path, name: str) -> tuple[Pane, Path]:
    """The app in a fresh tmux pane with its own config and data dirs, ready to chat."""
    data_dir = directory / f"data-{name}"
    env = {
        "WORKBENCH_CONFIG_DIR": str(directory / f"config-{name}"),
        "WORKBENCH_DATA_DIR": str(data_dir),
        "HF_HUB_OFFLINE": "1",
        "TERM": "xterm-256color",
        # This checkout's workbench, even when another one is installed in the venv.
        "PYTHONPATH": str(REPO),
    }
    exports = " ".join(f"{k}={v}" for k, v in env.items())
    pane = Pane(f"wb-bench-{os.getpid()}-{name}")
    # The bench wrote this profile itself ([env] asks for consent): consent on the command line.
    command = f"{sys.executable} -m workbench {profile} --trust-profile"
    pane.start(f"cd {REPO} && env {exports} {command}")
    if not pane.wait_for("Type a message below", 240):
        screen = pane.screen()
        pane.kill()
        raise SystemExit(f"{name}: the engine never became ready:\n{screen}")
    return pane, data_dir


def stop_app(pane: Pane, data_dir: Path) -> None:
    """Quit the app (ctrl+q), then make sure no engine of this run is left generating: an
    orphaned engine would eat the CPU of every later measurement."""
    import psutil

    pane.key("C-q")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and pane.tmux("list-sessions"):
        time.sleep(0.5)
    pane.kill()
    for process in psutil.process_iter(["cmdline"]):
        try:
            if process.environ().get("WORKBENCH_DATA_DIR") == str(data_dir):
                print(f"  (killing a leftover process {process.pid})", flush=True)
                process.kill()
        except (psutil.Error, OSError):
            continue


def run_model(
    model: str, ns: list[int], tokens: int, keys: int, rounds_every_s: float, workdir: Path
) -> list[LoadResult]:
    """Idle, then each n on a fresh app and an empty chat: a finished 16,000-token turn on
    screen must not weigh on the next load's numbers (that is measured separately)."""
    directory = workdir / model
    directory.mkdir(parents=True)
    results: list[LoadResult] = []
    for position, n in enumerate(ns):
        profile = write_profile(directory, model, tokens, n)
        pane, data_dir = start_app(directory, profile, f"{model}-n{n}")
        try:
            if position == 0:
                idle = LoadResult(model, "idle")
                idle.latencies_ms = type_keys(pane, keys)
                results.append(idle)
                print(f"  {model} idle: {idle.summary()}", flush=True)
            result = measure_stream(
                pane, data_dir, model, n, keys_per_round=10, rounds_every_s=rounds_every_s
            )
            results.append(result)
            print(
                f"  {model} n={n}: {result.summary()} tokens={result.tokens} "
                f"in {result.stream_s:.0f} s",
                flush=True,
            )
        finally:
            stop_app(pane, data_dir)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="demo,degenerate")
    parser.add_argument("--n", default="1,4,8")
    parser.add_argument("--tokens", type=int, default=16000)
    parser.add_argument("--keys", type=int, default=30, help="keys typed at idle")
    parser.add_argument(
        "--round-every",
        type=float,
        default=5.0,
        help="seconds between rounds of 10 keys while streaming",
    )
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "typing.json")
    parser.add_argument("--label", default="", help="a name for this run in the JSON")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        raise SystemExit("bench_typing needs tmux: run `make bench-tools` first")
    ns = [int(n) for n in args.n.split(",")]
    results: list[LoadResult] = []
    with tempfile.TemporaryDirectory(prefix="wb-bench-typing-") as workdir:
        for model in args.models.split(","):
            results += run_model(model, ns, args.tokens, args.keys, args.round_every, Path(workdir))
    print(
        f"\nTyping latency, key sent → visible (tmux {WIDTH}x{HEIGHT}, {args.tokens} tokens "
        "per sample)"
    )
    print(
        f"{'model':<11} {'load':<6} {'keys':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} "
        f"{'tokens':>7} {'stream s':>8}"
    )
    for result in results:
        s = result.summary()
        print(
            f"{result.model:<11} {result.load:<6} {s['keys']:>5} {s['p50_ms']:>8.0f} "
            f"{s['p95_ms']:>8.0f} {s['max_ms']:>8.0f} {result.tokens:>7} "
            f"{result.stream_s:>8.0f}"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "label": args.label,
                "tokens_per_sample": args.tokens,
                "terminal": f"{WIDTH}x{HEIGHT}",
                "results": [{**asdict(r), **r.summary()} for r in results],
            },
            indent=2,
        )
    )
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
