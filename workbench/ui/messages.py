"""Messages the shell posts, named for what already happened."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from workbench.engine.api import EngineError, EngineFigures, EngineState, LoadProgress
    from workbench.estimate import Estimate
    from workbench.gpu import VramSample
    from workbench.profiles import DiscoveredProfile, LoadedProfile


class VramSampled(Message):
    """A fresh VRAM / host-memory reading arrived from the sampler thread."""

    def __init__(self, sample: VramSample) -> None:
        super().__init__()
        self.sample = sample

    def can_replace(self, message: Message) -> bool:
        # A newer reading makes a queued older one worthless.
        return isinstance(message, VramSampled)


class LoadProgressed(Message):
    """The engine load moved to a new stage."""

    def __init__(self, progress: LoadProgress) -> None:
        super().__init__()
        self.progress = progress

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LoadProgressed)


class EngineStateChanged(Message):
    """The engine service pushed a new state (loading, ready, died, unloaded)."""

    def __init__(self, state: EngineState) -> None:
        super().__init__()
        self.state = state


class EngineLoaded(Message):
    """The engine is ready; ``figures`` are what vLLM decided."""

    def __init__(self, profile: LoadedProfile, figures: EngineFigures | None) -> None:
        super().__init__()
        self.profile = profile
        self.figures = figures


class LoadFailed(Message):
    """The engine load failed with a typed error."""

    def __init__(self, profile: LoadedProfile, error: EngineError) -> None:
        super().__init__()
        self.profile = profile
        self.error = error


class ProfilesDiscovered(Message):
    """Profile discovery finished (valid and invalid ones)."""

    def __init__(self, profiles: list[DiscoveredProfile]) -> None:
        super().__init__()
        self.profiles = profiles


class FitEstimated(Message):
    """The estimator produced a fit verdict for one profile on this machine, or (``column``
    "other") on the GPU the user named."""

    def __init__(
        self, name: str, path: str, verdict: str, detail: str, column: str = "fit"
    ) -> None:
        super().__init__()
        self.name = name
        self.path = path
        self.verdict = verdict
        self.detail = detail
        self.column = column


class EstimateComputed(Message):
    """The tuner's live estimate for the current field values is ready."""

    def __init__(self, estimate: Estimate | None, error: str | None) -> None:
        super().__init__()
        self.estimate = estimate
        self.error = error

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EstimateComputed)


class LoadRequested(Message):
    """A view asks the shell to load a profile into the engine."""

    def __init__(self, profile: LoadedProfile) -> None:
        super().__init__()
        self.profile = profile


class TuneRequested(Message):
    """A view asks the shell to open a profile in the tuner."""

    def __init__(self, profile: LoadedProfile) -> None:
        super().__init__()
        self.profile = profile


class ProfileSaved(Message):
    """A profile file was written (atomically) and read back with its loading context;
    ``backup_path`` holds the previous content. ``then_load``: load it into the engine now."""

    def __init__(
        self,
        profile: LoadedProfile,
        backup_path: Path | None,
        *,
        note: str = "",
        then_load: bool = False,
    ) -> None:
        super().__init__()
        self.profile = profile
        self.backup_path = backup_path
        self.note = note or f"Saved {profile.path.name}"
        self.then_load = then_load


class ProfileReloaded(Message):
    """A profile was read again from disk (F5), with the context it was loaded in."""

    def __init__(self, profile: LoadedProfile) -> None:
        super().__init__()
        self.profile = profile


class ProfileWritten(Message):
    """A new profile file (a duplicate) or an export was written; ``note`` says where."""

    def __init__(self, note: str, *, new_profile: bool) -> None:
        super().__init__()
        self.note = note
        self.new_profile = new_profile


class ProfileIoFailed(Message):
    """Reading or writing a profile failed; ``message`` is one line for the user (the file on
    disk is unchanged)."""

    def __init__(self, what: str, message: str) -> None:
        super().__init__()
        self.what = what
        self.message = message
