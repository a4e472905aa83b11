"""How often the chat flushes streamed text to the screen, from what a flush measurably costs.

A fixed rate is wrong on both ends: on a fast machine with one column it wastes nothing by going
faster, on a slow shared CPU with eight columns every frame steals time from the keyboard. The
pacer keeps the UI thread's share spent on flushing under ``budget`` (a flush that took 10 ms
at a budget of 0.25 waits at least 40 ms before the next one), between ``max_hz`` and
``min_hz``. Pure: the view measures, this decides.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FlushPacer:
    """Interval between flushes from an exponential average of measured frame costs."""

    max_hz: float = 20.0
    min_hz: float = 4.0
    budget: float = 0.25
    """Largest share of the UI thread's time that flushing may take."""
    smoothing: float = 0.3
    """Weight of the newest measurement in the average."""
    average_cost_s: float | None = None

    def record(self, cost_s: float) -> None:
        """One flush (buffered text written and the frame painted) took ``cost_s``."""
        cost_s = max(0.0, cost_s)
        if self.average_cost_s is None:
            self.average_cost_s = cost_s
        else:
            self.average_cost_s += self.smoothing * (cost_s - self.average_cost_s)

    @property
    def interval_s(self) -> float:
        """Seconds until the next flush."""
        fastest, slowest = 1.0 / self.max_hz, 1.0 / self.min_hz
        if self.average_cost_s is None:
            return fastest
        return min(slowest, max(fastest, self.average_cost_s / self.budget))
