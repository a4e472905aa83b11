"""The JSON-lines protocol between the app and the engine host, and event (de)serialisation.

Pure. Each line is one JSON object. App → host: the load spec first, then commands
(``{"op": "chat" | "abort" | "shutdown", ...}``). Host → app: ``{"ev": ...}`` messages; chat
events travel batched in ``{"ev": "events", "items": [...]}``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from workbench.engine.api import (
    ChatEvent,
    ChatMessage,
    ChatOverrides,
    EngineError,
    RequestFailed,
    RequestFinished,
    SampleDelta,
    SampleFinished,
    SampleStats,
    Suggestion,
)

PROTOCOL_VERSION = 1


def encode(message: dict[str, Any]) -> bytes:
    """One protocol line."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """Parse one protocol line (raises ValueError on garbage)."""
    value = json.loads(line)
    if not isinstance(value, dict):
        raise ValueError("protocol line is not an object")
    return value


def error_to_dict(error: EngineError) -> dict[str, Any]:
    suggestion = error.suggestion
    return {
        "kind": error.kind,
        "message": error.message,
        "suggestion": dataclasses.asdict(suggestion) if suggestion else None,
        "log_excerpt": list(error.log_excerpt),
    }


def error_from_dict(data: dict[str, Any]) -> EngineError:
    suggestion = data.get("suggestion")
    return EngineError(
        data.get("kind", "internal"),
        data.get("message", "unknown engine error"),
        suggestion=Suggestion(**suggestion) if suggestion else None,
        log_excerpt=tuple(data.get("log_excerpt") or ()),
    )


def event_to_dict(event: ChatEvent) -> dict[str, Any]:
    """A chat event as a JSON-able dict tagged with its type."""
    if isinstance(event, SampleDelta):
        return {
            "t": "delta",
            "id": event.request_id,
            "i": event.index,
            "r": event.reasoning,
            "c": event.content,
        }
    if isinstance(event, SampleFinished):
        return {
            "t": "sample",
            "id": event.request_id,
            "i": event.index,
            "text": event.text,
            "reasoning": event.reasoning,
            "content": event.content,
            "stats": dataclasses.asdict(event.stats),
        }
    if isinstance(event, RequestFinished):
        return {"t": "done", **dataclasses.asdict(event)}
    return {"t": "failed", "id": event.request_id, "error": error_to_dict(event.error)}


def event_from_dict(data: dict[str, Any]) -> ChatEvent:
    """Inverse of ``event_to_dict``."""
    tag = data["t"]
    if tag == "delta":
        return SampleDelta(data["id"], data["i"], reasoning=data["r"], content=data["c"])
    if tag == "sample":
        return SampleFinished(
            data["id"],
            data["i"],
            data["text"],
            data["reasoning"],
            data["content"],
            SampleStats.from_dict(data["stats"]),
        )
    if tag == "done":
        fields = {k: v for k, v in data.items() if k != "t"}
        return RequestFinished(**fields)
    if tag == "failed":
        return RequestFailed(data["id"], error_from_dict(data["error"]))
    raise ValueError(f"unknown event type {tag!r}")


def coalesce_deltas(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge a batch's deltas per sample; a sample's deltas never move past its other events."""
    merged: list[dict[str, Any]] = []
    open_delta: dict[tuple[str, int], dict[str, Any]] = {}
    for item in items:
        if item["t"] != "delta":
            for key in [key for key in open_delta if key[0] == item["id"]]:
                del open_delta[key]
            merged.append(item)
            continue
        key = (item["id"], item["i"])
        if key in open_delta:
            open_delta[key]["r"] += item["r"]
            open_delta[key]["c"] += item["c"]
        else:
            open_delta[key] = dict(item)
            merged.append(open_delta[key])
    return merged


def messages_to_list(messages: list[ChatMessage]) -> list[dict[str, str]]:
    return [dataclasses.asdict(message) for message in messages]


def messages_from_list(data: list[dict[str, Any]]) -> list[ChatMessage]:
    return [ChatMessage(**item) for item in data]


def overrides_to_dict(overrides: ChatOverrides | None) -> dict[str, Any] | None:
    return None if overrides is None else dataclasses.asdict(overrides)


def overrides_from_dict(data: dict[str, Any] | None) -> ChatOverrides | None:
    return None if data is None else ChatOverrides(**data)
