"""Consent before a profile from someone else runs code: one check for the app and the CLI.

A profile you did not write (the project's ``profiles/`` folder, a file passed by path, or a
user profile that ``extends`` one of those) may ask for what ``share.consent_needed`` lists:
``model.trust_remote_code`` (Python shipped with the model runs), ``[env]`` (variables such as
``LD_PRELOAD`` or ``PYTHONPATH`` load code into the engine), a custom chat template. Loading
such a profile asks first; a yes is remembered for exactly those files' bytes (a SHA-256 over
the chain), so a teammate's edit asks again. Your own user profiles and the shipped ones never
ask: importing a shared file into the user dir already took consent (``profiles import``).
Pure: no textual, vllm or torch.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.files import display_path, write_atomic
from workbench.profiles.loader import (
    BUILTIN_PROFILES_DIR,
    LoadedProfile,
    load_chain,
    locate_key,
    read_profile_file,
)
from workbench.profiles.share import TRUST_FLAG, consent_needed

TRUST_STORE = "trusted-profiles.json"
"""In the user's data dir: the consents given, by the digest of the files they cover."""


@dataclass(frozen=True)
class ConsentItem:
    """One thing the profile asks for, and where it asks for it."""

    key: str
    why: str
    path: Path
    line: int | None

    def where(self) -> str:
        line = f":{self.line}" if self.line else ""
        return f"{display_path(self.path)}{line}"


@dataclass(frozen=True)
class ConsentRequest:
    """A profile that needs a yes before it loads."""

    profile: str
    items: tuple[ConsentItem, ...]
    digest: str
    """SHA-256 over the bytes of every file of the chain that asks: the consent's identity."""

    def message(self) -> str:
        """One line: what it asks for, and where."""
        what = "; ".join(f"{item.key} {item.why} ({item.where()})" for item in self.items)
        return f"profile {self.profile!r} needs your consent: {what}"


def _inside(path: Path, directory: Path | None) -> bool:
    if directory is None:
        return False
    try:
        return path.resolve().is_relative_to(directory.resolve())
    except OSError:
        return False


def _own(path: Path, loaded: LoadedProfile) -> bool:
    """Written by this user (the user profiles dir) or shipped with workbench."""
    return _inside(path, loaded.user_dir) or _inside(path, BUILTIN_PROFILES_DIR)


def consent_request(loaded: LoadedProfile) -> ConsentRequest | None:
    """What ``loaded`` asks for that came from a file this user did not write; None if nothing."""
    needed = consent_needed(loaded.data)
    if not needed:
        return None
    try:
        chain = load_chain(
            read_profile_file(loaded.path),
            loaded.project_dir or loaded.path.parent,
            loaded.user_dir or loaded.path.parent,
        )
    except Exception:  # the files changed since the load: ask, naming the profile itself
        chain = []
    items: list[ConsentItem] = []
    for key, why in needed:
        path, line = locate_key(chain, key) if chain else (loaded.path, None)
        if line is None and chain:
            # Not in the files as such (a [gpu_overrides] table supplied it): the profile's own.
            path = loaded.path
        if not _own(path, loaded):
            items.append(ConsentItem(".".join(key), why, path, line))
    if not items:
        return None
    digest = hashlib.sha256()
    for path in sorted({item.path for item in items} | set(loaded.sources or (loaded.path,))):
        digest.update(str(path).encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"<unreadable>")
    return ConsentRequest(loaded.name, tuple(items), digest.hexdigest())


def _read_store(store: Path) -> dict[str, Any]:
    try:
        data = json.loads(store.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # none yet, or unreadable: everything asks again (never trusts by accident)
    return data if isinstance(data, dict) else {}


def is_granted(request: ConsentRequest, data_dir: Path) -> bool:
    return request.digest in _read_store(data_dir / TRUST_STORE)


def grant(request: ConsentRequest, data_dir: Path) -> None:
    """Remember the yes for these exact files (written atomically)."""
    store = data_dir / TRUST_STORE
    data = _read_store(store)
    data[request.digest] = {
        "profile": request.profile,
        "keys": [item.key for item in request.items],
        "files": sorted({str(item.path) for item in request.items}),
        "granted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_atomic(store, json.dumps(data, indent=2, sort_keys=True) + "\n")


def pending_consent(loaded: LoadedProfile, data_dir: Path) -> ConsentRequest | None:
    """The consent ``loaded`` still needs before it may load; None when none is needed or it
    was given for these files."""
    request = consent_request(loaded)
    if request is None or is_granted(request, data_dir):
        return None
    return request


def command_line_consent(loaded: LoadedProfile, data_dir: Path, *, trust: bool) -> str | None:
    """For a command: None when ``loaded`` may load (``trust`` gives the consent and records
    it), else the refusal, one line and its hint."""
    if loaded.profile.deployment is not None:
        return None  # a deployment runs nothing on this machine
    request = pending_consent(loaded, data_dir)
    if request is None:
        return None
    if trust:
        grant(request, data_dir)
        return None
    return (
        f"{request.message()}\n  hint: read the file, then re-run with {TRUST_FLAG} to load "
        "it anyway (remembered until the file changes)"
    )
