"""Small text formatters shared by the shell's widgets (pure)."""

from __future__ import annotations

from pathlib import Path

GIB = 1024**3
MIB = 1024**2


def format_bytes(value: int | float | None) -> str:
    """Bytes as a short human figure ("7.6 GiB", "512 MiB"); None → "n/a"."""
    if value is None:
        return "n/a"
    if abs(value) >= GIB:
        return f"{value / GIB:.1f} GiB"
    if abs(value) >= MIB:
        return f"{value / MIB:.0f} MiB"
    return f"{value / 1024:.0f} KiB"


def format_count(value: int | None) -> str:
    """An integer with thousands separators; None → "n/a"."""
    return "n/a" if value is None else f"{value:,}"


def format_optional(value: float | int | None, fmt: str, suffix: str = "") -> str:
    """Format a value that NVML or vLLM may not report; None → "n/a"."""
    return "n/a" if value is None else f"{value:{fmt}}{suffix}"


def display_path(path: Path | str) -> str:
    """``path`` relative to the current directory when inside it, else with ``~`` for home."""
    path = Path(path)
    for base, prefix in ((Path.cwd(), ""), (Path.home(), "~/")):
        try:
            return prefix + str(path.relative_to(base))
        except ValueError:
            continue
    return str(path)


def without_path(message: str, path: Path | str) -> str:
    """``message`` with ``path`` shortened to its display form (errors name their file)."""
    return message.replace(str(path), display_path(path))
