"""Chats round-trip through the store, are written atomically, and the latest one resumes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workbench.chat.model import AssistantTurn, Conversation, SampleRecord, UserTurn
from workbench.chat.store import ChatStore, ChatStoreError
from workbench.engine.api import ChatMessage, ChatOverrides, SampleStats

STATS = SampleStats(
    24, 154, 31, "stop", -4.2, ttft_s=0.12, first_answer_token_s=12.42, decode_tokens_per_s=38.2
)


def conversation(chat_id: str = "c1") -> Conversation:
    turn = AssistantTurn(
        "r1",
        n_requested=2,
        samples=[SampleRecord(0, "think a", "82", STATS), SampleRecord(1, "think b", "72", None)],
        overrides=ChatOverrides(n=2, temperature=0.7),
        picked=1,
        done=True,
    )
    return Conversation(
        chat_id, "demo", "Be brief.", [UserTurn("17 + 65?"), turn, UserTurn("why?")], "t"
    )


def test_default_directory_is_under_the_data_dir(tmp_path: Path) -> None:
    assert ChatStore().directory == tmp_path / "data" / "chats"


def test_round_trip(tmp_path: Path) -> None:
    store = ChatStore(tmp_path / "chats")
    original = conversation()
    path = store.save(original)
    assert path == tmp_path / "chats" / "c1.json"
    assert store.load(path) == original


def test_save_leaves_no_temporary_files_and_replaces_whole(tmp_path: Path) -> None:
    store = ChatStore(tmp_path)
    chat = conversation()
    store.save(chat)
    chat.turns.append(UserTurn("more"))
    store.save(chat)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c1.json"]
    assert store.load(tmp_path / "c1.json").turns[-1] == UserTurn("more")


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ChatStore(tmp_path)
    store.save(conversation())
    before = (tmp_path / "c1.json").read_text()

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        store.save(Conversation("c1", "other"))
    assert (tmp_path / "c1.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c1.json"]


def test_latest_resumes_the_newest_readable_chat(tmp_path: Path) -> None:
    store = ChatStore(tmp_path)
    assert store.latest() is None
    old = store.save(conversation("old"))
    new = store.save(conversation("new"))
    os.utime(old, ns=(1_000_000_000, 1_000_000_000))
    os.utime(new, ns=(2_000_000_000, 2_000_000_000))
    (tmp_path / "broken.json").write_text("{not json")
    os.utime(tmp_path / "broken.json", ns=(3_000_000_000, 3_000_000_000))
    latest = store.latest()
    assert latest is not None and latest.id == "new"


def test_bad_file_gives_a_one_line_error_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": 1, "id": "x"}')
    with pytest.raises(ChatStoreError) as raised:
        ChatStore(tmp_path).load(bad)
    assert str(bad) in str(raised.value) and "\n" not in str(raised.value)


def test_messages_for_next_request_follow_the_pick_and_carry_its_reasoning() -> None:
    """The picked sample continues, with its reasoning; the history policy is not applied
    here but once, where the engine renders the messages (test_engine_conversation)."""
    chat = conversation()
    assert chat.messages_for_next_request() == [
        ChatMessage("system", "Be brief."),
        ChatMessage("user", "17 + 65?"),
        ChatMessage("assistant", "72", reasoning="think b"),
        ChatMessage("user", "why?"),
    ]
