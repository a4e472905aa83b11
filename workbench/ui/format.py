"""Small text formatters shared by the shell's widgets (pure)."""

from __future__ import annotations

from pathlib import Path

from workbench.estimate.sizes import GiB, MiB
from workbench.files import display_path


def format_bytes(value: int | float | None) -> str:
    """Bytes as a short human figure ("7.6 GiB", "512 MiB"); None → "n/a"."""
    if value is None:
        return "n/a"
    if abs(value) >= GiB:
        return f"{value / GiB:.1f} GiB"
    if abs(value) >= MiB:
        return f"{value / MiB:.0f} MiB"
    return f"{value / 1024:.0f} KiB"


def format_count(value: int | None) -> str:
    """An integer with thousands separators; None → "n/a"."""
    return "n/a" if value is None else f"{value:,}"


def format_optional(value: float | int | None, fmt: str, suffix: str = "") -> str:
    """Format a value that NVML or vLLM may not report; None → "n/a"."""
    return "n/a" if value is None else f"{value:{fmt}}{suffix}"


def without_path(message: str, path: Path | str) -> str:
    """``message`` with ``path`` shortened to its display form (errors name their file)."""
    return message.replace(str(path), display_path(path))


VERDICT_BADGES: dict[str, tuple[str, str, str]] = {
    # verdict: (short badge for tables, headline for the Tuner, style)
    "fits": ("✔ fits", "FITS", "bold green"),
    "tight": ("◐ tight", "TIGHT", "bold yellow"),
    "does_not_fit": ("✖ too big", "DOES NOT FIT", "bold red"),
    "unknown": ("? n/a", "UNKNOWN", "dim"),
    "pending": ("…", "…", "dim"),
    "invalid": ("✖ invalid", "INVALID", "bold red"),
}
"""How an estimator verdict looks everywhere it is shown: one table, so they cannot drift."""
