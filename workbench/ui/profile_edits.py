"""Edits the shell makes to a profile's TOML data (pure dict operations, no I/O)."""

from __future__ import annotations

import copy
from typing import Any


def with_setting(data: dict[str, Any], dotted_key: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``data`` with ``dotted_key`` (e.g. "engine.max_model_len") set to ``value``.

    ``None`` removes the key, so the profile falls back to vLLM's default.
    """
    updated = copy.deepcopy(data)
    *tables, leaf = dotted_key.split(".")
    node = updated
    for table in tables:
        child = node.get(table)
        if not isinstance(child, dict):
            child = {}
            node[table] = child
        node = child
    if value is None:
        node.pop(leaf, None)
    else:
        node[leaf] = value
    return updated


def with_settings(data: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """Apply several dotted-key settings in order."""
    for key, value in settings.items():
        data = with_setting(data, key, value)
    return data


def renamed(data: dict[str, Any], name: str) -> dict[str, Any]:
    """A copy of ``data`` whose [meta] name is ``name`` (for duplicates)."""
    return with_setting(data, "meta.name", name)


def without_env(data: dict[str, Any]) -> dict[str, Any]:
    """A copy without [env]: environment variables stay on this machine when exporting."""
    exported = copy.deepcopy(data)
    exported.pop("env", None)
    return exported
