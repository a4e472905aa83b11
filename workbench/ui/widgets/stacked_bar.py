"""A one-line horizontal bar split into coloured, labelled segments (memory breakdowns)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from workbench.ui.format import format_bytes


@dataclass(frozen=True)
class Segment:
    """One part of the bar: ``size`` in bytes (or any unit shared with the total)."""

    label: str
    size: float
    style: str


def split_cells(sizes: Sequence[float], total: float, width: int) -> list[int]:
    """Cells per segment, proportional to ``total`` over ``width`` cells (largest remainder;
    non-zero sizes get ≥ 1). Segments summing to less than ``total`` leave cells empty."""
    if width <= 0 or total <= 0:
        return [0 for _ in sizes]
    exact = [max(0.0, size) / total * width for size in sizes]
    cells = [int(value) for value in exact]
    for index, size in enumerate(sizes):
        if size > 0 and cells[index] == 0:
            cells[index] = 1
    target = min(width, round(sum(exact)))
    remainders = sorted(range(len(sizes)), key=lambda i: exact[i] - int(exact[i]), reverse=True)
    for index in remainders:
        if sum(cells) >= target:
            break
        if sizes[index] > 0:
            cells[index] += 1
    while sum(cells) > max(target, sum(1 for s in sizes if s > 0)) and sum(cells) > 0:
        # the ≥ 1 rule can overshoot; trim the largest
        largest = max(range(len(cells)), key=lambda i: cells[i])
        cells[largest] -= 1
    return cells


class StackedBar(Widget):
    """Bar line plus a legend line: "■ weights 15.3 GiB  ■ KV 40.1 GiB …"."""

    DEFAULT_CSS = """
    StackedBar {
        height: 2;
        width: 1fr;
    }
    """

    segments: reactive[tuple[Segment, ...]] = reactive(tuple, layout=False)
    total: reactive[float] = reactive(0.0)

    def set_segments(self, segments: Sequence[Segment], total: float | None = None) -> None:
        """Replace the segments; ``total`` defaults to their sum."""
        self.total = float(total if total is not None else sum(s.size for s in segments))
        self.segments = tuple(segments)

    def render(self) -> Text:
        width = max(0, self.size.width)
        bar = Text()
        cells = split_cells([s.size for s in self.segments], self.total, width)
        for segment, count in zip(self.segments, cells, strict=True):
            bar.append("█" * count, style=segment.style)
        if not self.segments:
            bar.append("░" * width, style="dim")
        legend = Text()
        for segment in self.segments:
            if legend:
                legend.append("  ")
            legend.append("■ ", style=segment.style)
            legend.append(f"{segment.label} {format_bytes(segment.size)}")
        bar.append("\n")
        bar.append_text(legend)
        return bar
