"""Read vLLM's log lines: load stages, the figures vLLM decided, and the real cause of a failure.

Pure: regexes only. vLLM words these lines slightly differently on GPU and CPU ("GPU KV cache
size", "CPU KV cache size", "Available KV cache memory: X GiB", "Explicitly set (X/Y) GiB for KV
cache"), and the numbers carry thousands separators; the patterns accept both. The raw lines are
kept so the UI can show where a number came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from workbench.engine.api import EngineError, ErrorKind, LoadStage, Suggestion
from workbench.estimate.sizes import GiB, MiB

_NUM = r"[0-9][0-9,]*"
_FLOAT = r"[0-9][0-9,]*(?:\.[0-9]+)?"

# "CPU KV cache size: 2,097,152 tokens, Maximum concurrency for 1,024 tokens per request: 2048.00x"
_KV_TOKENS = re.compile(
    rf"(?:GPU|CPU|XPU|TPU|HPU|NPU|\w+)(?: \+ host)? KV cache size:\s*({_NUM})\s*tokens"
)
_CONCURRENCY = re.compile(
    rf"Maximum concurrency for\s*({_NUM})\s*tokens per request:\s*({_FLOAT})\s*x", re.IGNORECASE
)
# GPU: "Available KV cache memory: 10.5 GiB"; CPU: "Explicitly set (1.0/8.46) GiB for KV cache"
# or "Auto set (3.2/31.0) GiB for KV cache".
_AVAILABLE_KV = re.compile(rf"Available KV cache memory:\s*({_FLOAT})\s*(GiB|MiB|GB|MB)")
_CPU_KV = re.compile(rf"(?:Explicitly|Auto) set \(({_FLOAT})/{_FLOAT}\) GiB for KV cache")
# GPU: "Model loading took 15.27 GiB memory and 6.2 seconds"; CPU: "Checkpoint size: 0.00 GiB."
_WEIGHTS = re.compile(rf"Model loading took\s*({_FLOAT})\s*(GiB|MiB|GB|MB)")
_CHECKPOINT = re.compile(rf"Checkpoint size:\s*({_FLOAT})\s*(GiB|MiB|GB|MB)")
_BLOCKS = re.compile(rf"#\s*(?:GPU|CPU) blocks:\s*({_NUM})")
_ESTIMATED_MAX_LEN = re.compile(rf"estimated maximum model length is\s*({_NUM})")
_NEEDS_KV = re.compile(
    rf"max seq len \(({_NUM})\), \(({_FLOAT}) GiB KV cache is needed, which is larger than the "
    rf"available KV cache memory \(({_FLOAT}) GiB\)"
)
_DERIVED_MAX_LEN = re.compile(
    rf"User-specified max_model_len \(({_NUM})\) is greater than the derived max_model_len "
    rf"\((\w+)=({_NUM})"
)
_AUTO_FIT = re.compile(rf"Auto-fit max_model_len: reduced from ({_NUM}) to ({_NUM})")

_UNITS = {"GiB": GiB, "GB": 10**9, "MiB": MiB, "MB": 10**6}

# Stage markers, matched in order of appearance. The host writes its own "[workbench]" lines.
_STAGE_MARKERS: tuple[tuple[LoadStage, re.Pattern[str]], ...] = (
    (LoadStage.STARTING, re.compile(r"Initializing a V1 LLM engine|\[workbench\] starting engine")),
    (
        LoadStage.LOADING_WEIGHTS,
        re.compile(r"Starting to load model|Loading safetensors checkpoint|Loading weights"),
    ),
    (
        LoadStage.PROFILING,
        re.compile(r"Model loading took|Loading weights took|Memory profiling|profiling"),
    ),
    (
        LoadStage.ALLOCATING_KV,
        re.compile(
            r"Available KV cache memory|set \([0-9.]+/[0-9.]+\) GiB for KV cache|KV cache size:"
        ),
    ),
)


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def _float(text: str) -> float:
    return float(text.replace(",", ""))


def _bytes(amount: str, unit: str) -> int:
    return int(_float(amount) * _UNITS[unit])


def stage_of_line(line: str) -> LoadStage | None:
    """The load stage a vLLM log line announces, if any (the latest stage it matches)."""
    for stage, pattern in reversed(_STAGE_MARKERS):
        if pattern.search(line):
            return stage
    return None


@dataclass
class LogFigures:
    """Figures found in log lines (None where vLLM did not say), with the lines they came from."""

    kv_cache_tokens: int | None = None
    max_concurrency: float | None = None
    concurrency_at_len: int | None = None
    available_kv_bytes: int | None = None
    weights_bytes: int | None = None
    num_blocks: int | None = None
    auto_fit_max_model_len: int | None = None
    raw_lines: list[str] = field(default_factory=list)


def parse_figures(lines: Iterable[str]) -> LogFigures:
    """Collect KV capacity, concurrency, weights and KV memory from vLLM's log lines."""
    found = LogFigures()
    checkpoint_bytes: int | None = None
    for line in lines:
        used = False
        if match := _KV_TOKENS.search(line):
            found.kv_cache_tokens = _int(match.group(1))
            used = True
        if match := _CONCURRENCY.search(line):
            found.concurrency_at_len = _int(match.group(1))
            found.max_concurrency = _float(match.group(2))
            used = True
        if match := _AVAILABLE_KV.search(line):
            found.available_kv_bytes = _bytes(match.group(1), match.group(2))
            used = True
        elif match := _CPU_KV.search(line):
            found.available_kv_bytes = _bytes(match.group(1), "GiB")
            used = True
        if match := _WEIGHTS.search(line):
            found.weights_bytes = _bytes(match.group(1), match.group(2))
            used = True
        elif match := _CHECKPOINT.search(line):
            checkpoint_bytes = _bytes(match.group(1), match.group(2))
            used = True
        if match := _BLOCKS.search(line):
            found.num_blocks = _int(match.group(1))
            used = True
        if match := _AUTO_FIT.search(line):
            found.auto_fit_max_model_len = _int(match.group(2))
            used = True
        if used:
            found.raw_lines.append(line.rstrip("\n"))
    if found.weights_bytes is None:
        found.weights_bytes = checkpoint_bytes  # CPU logs only the checkpoint size
    return found


# --- failures ---------------------------------------------------------------------------------

_NOISE = re.compile(r"^\s*$|Traceback \(most recent call last\)|^\s+File \"|^\s+\^+\s*$")
_OOM = re.compile(
    r"out of memory|OutOfMemoryError|Cannot allocate memory|std::bad_alloc|MemoryError|"
    r"is less than requested memory for kv|No available memory for the cache blocks|"
    r"Cannot auto-fit max_model_len",
    re.IGNORECASE,
)
_MISSING = re.compile(
    r"No such file or directory|does not appear to have (?:a file named|any of)|"
    r"Invalid repository ID or local directory|Can't load (?:the )?(?:config|tokenizer)|"
    r"Cannot find any model weights|not a valid model|FileNotFoundError|"
    r"We couldn't connect to|offline mode is enabled|LocalEntryNotFoundError|"
    r"is not a local folder and is not a valid model identifier",
)
_UNSUPPORTED = re.compile(
    r"Head size \d+ is not supported|head_size|is not supported (?:on|by|for)|"
    r"not supported on (?:CPU|this)|Model architectures? .* (?:are|is) not supported|"
    r"Unsupported dtype|dtype .* is not supported|does not support|NotImplementedError",
)


_CHATTER = re.compile(r"\b(?:INFO|WARNING|DEBUG)\s+\d\d-\d\d \d\d:\d\d:\d\d ")


def _interesting(lines: Sequence[str]) -> list[str]:
    return [line.rstrip("\n") for line in lines if not _NOISE.search(line)]


def excerpt(lines: Sequence[str], limit: int = 12) -> tuple[str, ...]:
    """The last ``limit`` informative lines (tracebacks' frame lines dropped)."""
    return tuple(_interesting(lines)[-limit:])


def one_line(text: str, width: int = 300) -> str:
    """An exception's text on one line: pydantic's "[type=...]" and URL lines dropped."""
    parts = []
    for line in text.splitlines():
        line = re.sub(r"\s*\[type=[^\]]*\]", "", line).strip()
        if line and not line.startswith("For further information"):
            parts.append(line)
    joined = ": ".join(parts)
    return joined if len(joined) <= width else joined[: width - 1] + "…"


def _last_matching(lines: Sequence[str], pattern: re.Pattern[str]) -> str | None:
    for line in reversed(lines):
        if pattern.search(line):
            return line.strip()
    return None


def _short(line: str, width: int = 220) -> str:
    # Strip vLLM's "(EngineCore pid=1) ERROR 11-21 18:12:39 [core.py:1] " prefix.
    line = re.sub(r"^\(\w+(?:-\d+)? pid=\d+\)\s*", "", line)
    line = re.sub(r"^(?:INFO|WARNING|ERROR|DEBUG|CRITICAL)\s+[\d-]+ [\d:]+ \[[^\]]+\]\s*", "", line)
    return line if len(line) <= width else line[: width - 1] + "…"


def classify_failure(
    lines: Sequence[str],
    *,
    fallback: str,
    log_path: Path | None = None,
    default_kind: ErrorKind = "engine_died",
) -> EngineError:
    """Map a failed load's (or crash's) log lines to a typed ``EngineError`` with its real cause."""
    # vLLM's INFO/WARNING lines mention "not supported" and the like in healthy runs; causes are
    # in ERROR lines and raw exception text.
    tail = [line for line in excerpt(lines, 60) if not _CHATTER.search(line)][-40:]
    cause: list[str] = []  # the line the message came from, shown first in the excerpt

    def error(kind: ErrorKind, message: str, suggestion: Suggestion | None = None) -> EngineError:
        shown = tuple(dict.fromkeys([*cause, *excerpt(lines, 11)]))
        return EngineError(
            kind, message, suggestion=suggestion, log_path=log_path, log_excerpt=shown
        )

    for line in reversed(tail):
        if match := _NEEDS_KV.search(line):
            cause.append(line)
            max_len, needed, available = _int(match.group(1)), match.group(2), match.group(3)
            estimate = _ESTIMATED_MAX_LEN.search(line)
            suggestion = None
            message = (
                f"max_model_len {max_len} does not fit: one request needs {needed} GiB of KV "
                f"cache, "
                f"{available} GiB is available"
            )
            if estimate:
                value = _int(estimate.group(1))
                message += f"; vLLM estimates the maximum model length is {value}"
                suggestion = Suggestion(
                    "engine.max_model_len", value, "vLLM's estimate of what fits in the KV cache"
                )
            return error("max_model_len_too_large", message, suggestion)
        if match := _DERIVED_MAX_LEN.search(line):
            cause.append(line)
            asked, key, derived = _int(match.group(1)), match.group(2), _int(match.group(3))
            return error(
                "invalid_config",
                f"max_model_len {asked} is above the model's maximum ({key}={derived})",
                Suggestion("engine.max_model_len", derived, f"the model's {key}"),
            )
    if found := _last_matching(tail, _OOM):
        cause.append(found)
        return error(
            "out_of_memory",
            f"out of memory: {_short(found)} "
            "(lower max_model_len or max_num_seqs, or the KV budget)",
        )
    if found := _last_matching(tail, _MISSING):
        cause.append(found)
        return error("model_files_missing", f"model files missing: {_short(found)}")
    if found := _last_matching(tail, _UNSUPPORTED):
        cause.append(found)
        return error("unsupported", f"not supported here: {_short(found)}")
    last_error = _last_matching(tail, re.compile(r"Error|Exception|error:"))
    detail = _short(last_error) if last_error else fallback
    return error(default_kind, detail if detail else fallback)
