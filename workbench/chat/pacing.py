"""How often the chat flushes streamed text to the screen, from what a flush measurably costs.

A fixed rate is wrong on both ends: on a fast machine with one column it wastes nothing by going
faster, on a slow shared CPU with eight columns every frame steals time from the keyboard. The
pacer keeps the UI thread's share spent on flushing under ``budget`` (a flush that took 10 ms
at a budget of 0.25 waits at least 40 ms before the next one), between ``max_hz`` and
``min_hz``. Pure: the view measures, this decides.

Keys come first. A key that arrives while a flush is being written and painted waits for that
frame, so while the user types, flushes step aside: a due flush waits until typing pauses
(``typing_pause_s``), and while typing goes on the stream still moves at ``min_hz``, its flush
placed right after a key's frame has been painted, the moment the next key is least likely to
be waiting.
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
    typing_pause_s: float = 0.2
    """A due flush waits until no key has been typed for this long (or the text is stale)."""

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

    @property
    def stale_s(self) -> float:
        """The longest streamed text waits unshown, typing or not (one ``min_hz`` interval)."""
        return 1.0 / self.min_hz

    def defer_s(self, now: float, typed_at: float | None, flushed_at: float) -> float:
        """Seconds a due flush should wait because the user is typing (0: flush now): until
        typing pauses, but never past ``stale_s`` after the last flush."""
        if typed_at is None:
            return 0.0
        until = min(typed_at + self.typing_pause_s, flushed_at + self.stale_s)
        return max(0.0, until - now)

    def flush_after_key(self, now: float, flushed_at: float) -> bool:
        """A key was typed mid-stream: is the shown text stale enough to flush right after this
        key's frame (instead of waiting for a pause that may not come)?"""
        return now - flushed_at >= self.stale_s
