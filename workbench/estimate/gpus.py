"""GPU specs: a built-in table of what NVML reports for common GPUs, with fuzzy lookup."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Literal

from workbench.estimate.sizes import MiB
from workbench.gpu.readings import CpuFeatures


@dataclass(frozen=True)
class GpuSpec:
    """One device kind: NVML name, total memory per device, free memory if measured, count."""

    name: str
    total_bytes: int
    free_bytes: int | None = None
    count: int = 1
    device: Literal["cuda", "cpu"] = "cuda"
    cpu: CpuFeatures | None = None
    """For the CPU engine: the host CPU's features that vLLM decides block sizes by."""


@lru_cache(maxsize=1)
def known_gpus() -> tuple[GpuSpec, ...]:
    """The built-in table (copied from nvidia-smi outputs in public issues; see gpus.json)."""
    text = resources.files("workbench.estimate").joinpath("gpus.json").read_text("utf-8")
    return tuple(GpuSpec(row["name"], row["total_mib"] * MiB) for row in json.loads(text))


def _tokens(text: str) -> list[str]:
    text = text.lower().replace("geforce", " ").replace("nvidia", " ").replace("tesla", " ")
    text = re.sub(r"(\d+)\s*gb\b", r"\1gb", text)
    return [t for t in re.split(r"[\s\-_/]+", text) if t]


def lookup_gpu(name: str, count: int = 1) -> GpuSpec | None:
    """Find a GPU by a loose name: "3090", "RTX 4090", "A100 80GB", "T4", "h100"; None if unknown.

    Each query token must equal a token of the table name ("l4" never matches "L40S"), or, when
    five characters or longer, occur in the name with spaces removed ("rtx3090"). Among matches
    the name with the fewest extra tokens wins; ties go to the first row (newer driver names).
    """
    query = _tokens(name)
    if not query:
        return None
    best: tuple[int, GpuSpec] | None = None
    for gpu in known_gpus():
        if gpu.name.lower() == name.strip().lower():
            best = (-1, gpu)
            break
        have = _tokens(gpu.name)
        squashed = "".join(have)
        if all(q in have or (len(q) >= 5 and q in squashed) for q in query):
            extra = len(have) - len(query)
            if best is None or extra < best[0]:
                best = (extra, gpu)
    if best is None:
        return None
    return GpuSpec(best[1].name, best[1].total_bytes, count=count)
