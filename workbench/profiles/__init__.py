"""Profiles: one TOML file that says how to load a model and how to talk to it.

Pure layer: importing this package loads no textual, vllm, torch or pynvml.
"""

from __future__ import annotations

from workbench.profiles.discovery import DiscoveredProfile, discover_profiles
from workbench.profiles.errors import ProfileError
from workbench.profiles.loader import LoadedProfile, load_profile, reload_profile
from workbench.profiles.models import BUILTIN_DEMO_MODEL_DIR, resolve_model_dir
from workbench.profiles.schema import (
    ChatSection,
    EngineSection,
    ModelSection,
    Profile,
    SamplingSection,
)
from workbench.profiles.store import record_tested_on, save_profile

__all__ = [
    "BUILTIN_DEMO_MODEL_DIR",
    "ChatSection",
    "DiscoveredProfile",
    "EngineSection",
    "LoadedProfile",
    "ModelSection",
    "Profile",
    "ProfileError",
    "SamplingSection",
    "discover_profiles",
    "load_profile",
    "reload_profile",
    "record_tested_on",
    "resolve_model_dir",
    "save_profile",
]
