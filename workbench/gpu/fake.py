"""A scripted sampler for deterministic UI snapshots (same VramSampler interface)."""

from __future__ import annotations

from collections.abc import Sequence

from workbench.gpu.readings import VramSample


class FakeVramSampler:
    """Returns ``samples`` in order, then holds the last one (``cycle=True`` starts over)."""

    def __init__(self, samples: Sequence[VramSample], *, cycle: bool = False) -> None:
        if not samples:
            raise ValueError("FakeVramSampler needs at least one sample")
        self._samples = tuple(samples)
        self._cycle = cycle
        self._next = 0
        self.calls: list[tuple[int, ...]] = []
        self.closed = False

    def sample(self, engine_pids: Sequence[int] = ()) -> VramSample:
        self.calls.append(tuple(engine_pids))
        index = self._next
        if self._cycle:
            self._next = (self._next + 1) % len(self._samples)
        else:
            self._next = min(self._next + 1, len(self._samples) - 1)
        return self._samples[index]

    def close(self) -> None:
        self.closed = True
