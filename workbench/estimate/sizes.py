"""Parse and format memory sizes ("24GiB", "80G", "16384MiB")."""

from __future__ import annotations

import re

from workbench.estimate.errors import EstimateError

GiB = 1024**3
MiB = 1024**2

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1000,
    "kib": 1024,
    "m": MiB,
    "mb": 1000**2,
    "mib": MiB,
    "g": GiB,
    "gb": 1000**3,
    "gib": GiB,
    "t": 1024**4,
    "tb": 1000**4,
    "tib": 1024**4,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str | int) -> int:
    """Bytes from "24GiB", "24GB" (decimal), "80G" (binary, as nvidia-smi means it), "16384MiB"."""
    if isinstance(text, int):
        return text
    match = _SIZE_RE.match(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise EstimateError(
            f"cannot read size {text!r}: use a number and unit, e.g. 24GiB, 24GB, 80G or 16384MiB"
        )
    return int(float(match.group(1)) * _UNITS[unit])


def format_gib(num_bytes: int | float) -> str:
    """``12.34 GiB`` (vLLM reports GiB with two decimals too)."""
    return f"{num_bytes / GiB:.2f} GiB"
