"""`workbench app`: argument defaults, one-line errors for bad profiles, and --resume wiring."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App

from tests.ui.scenarios_shell import TERMINAL_SIZE, build_app, settle
from workbench.chat.model import AssistantTurn, Conversation, SampleRecord, UserTurn
from workbench.chat.store import ChatStore
from workbench.cli import build_parser, main
from workbench.ui.cli import profile_name


def test_app_is_the_default_command_on_the_demo_profile() -> None:
    args = build_parser().parse_args(["app"])
    assert (profile_name(args), args.no_load, args.fake_engine, args.resume) == (
        "demo", False, False, False
    )
    assert args.url is None
    args = build_parser().parse_args(["app", "mine", "--no-load", "--fake-engine", "--resume"])
    assert (args.profile, args.no_load, args.fake_engine, args.resume) == (
        "mine", True, True, True
    )


def test_workbench_with_no_arguments_opens_the_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    """What `make run` does: `workbench` and nothing else runs the app on the demo profile
    (the parser test above never ran it, and `workbench` crashed with a traceback)."""
    seen: dict[str, object] = {}
    original = App.run

    def run(self: App[object], *args: object, **kwargs: object) -> object:
        async def pilot(pilot: object) -> None:
            seen["profile"] = self.initial_profile  # type: ignore[attr-defined]
            seen["autoload"] = self.autoload  # type: ignore[attr-defined]
            self.exit()

        kwargs.update(headless=True, auto_pilot=pilot, size=TERMINAL_SIZE)
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(App, "run", run)
    assert main(["--fake-engine"]) == 0
    assert seen == {"profile": "demo", "autoload": True}
    assert main(["--no-load"]) == 0
    assert seen == {"profile": "demo", "autoload": False}


def test_unknown_profile_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["app", "no-such-profile"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-such-profile" in err
    assert "Traceback" not in err


def test_invalid_profile_file_names_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('[model]\npath = "x"\n\n[engine]\nmax_model_length = 8192\n')
    assert main(["app", str(broken), "--no-load"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "broken.toml" in err and "max_model_length" in err and "max_model_len" in err


async def test_resume_opens_the_last_saved_chat(tmp_path: Path) -> None:
    store = ChatStore(tmp_path / "chats")
    saved = Conversation(
        id="20260101-120000-abcdef",
        profile_name="qwen-n4",
        title="seventeen plus sixty-five",
        turns=[
            UserTurn("What is 17 + 65?"),
            AssistantTurn(request_id="r1", n_requested=1,
                          samples=[SampleRecord(index=0, content="82")], done=True),
        ],
    )
    store.save(saved)
    app, _dirs = build_app(tmp_path)
    app.chat_store = store
    app.resume = True
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await settle(pilot)
        assert app.chat_view.conversation.id == saved.id
        assert app.query_one("#tabs").active == "chat-tab"  # type: ignore[attr-defined]
