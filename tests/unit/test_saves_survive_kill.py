"""An app killed in the middle of saving leaves whole files: a child process saves a profile, a
chat, the calibration file and a chat export in a tight loop, alternating two versions of each
(large enough that a write takes a while), and is SIGKILLed at random moments, many times. After
every kill each file must parse and equal one of its two versions; no temporary file may be left
that a later read would mistake for the real one."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KILLS = 25

SAVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from workbench.chat.export import RunCard, export_chat
    from workbench.chat.model import Conversation, UserTurn
    from workbench.chat.store import ChatStore
    from workbench.estimate.calibration import CalibrationStore
    from workbench.profiles.store import save_profile

    root = Path(sys.argv[1])
    store = ChatStore(root / "chats")
    calibration = CalibrationStore(root / "calibration.json")
    card = RunCard(profile_name="p", model="m")
    conversations = []
    for version in (0, 1):
        conversation = Conversation(id="chat")
        conversation.turns.append(UserTurn("v%d " % version + "x" * 200_000))
        conversations.append(conversation)
    print("ready", flush=True)
    turn = 0
    while True:
        version = turn % 2
        save_profile(root / "p.toml", {"model": {"path": "builtin:demo"},
                     "sampling": {"temperature": 0.5 + version, "max_tokens": 10 + version}})
        store.save(conversations[version])
        calibration._write({"k": [{"version": version, "pad": "y" * 200_000}]})
        export_chat(conversations[version], card, root / "exports")
        turn += 1
    """
)


def _check(root: Path) -> None:
    if (root / "p.toml").exists():
        profile = tomllib.loads((root / "p.toml").read_text())
        assert profile["sampling"]["temperature"] in (0.5, 1.5)
        assert profile["sampling"]["max_tokens"] == 10 + int(profile["sampling"]["temperature"])
    chat = root / "chats" / "chat.json"
    if chat.exists():
        text = json.loads(chat.read_text())["turns"][0]["content"]
        assert text[:3] in ("v0 ", "v1 ") and len(text) == 200_003
    if (root / "calibration.json").exists():
        [record] = json.loads((root / "calibration.json").read_text())["records"]["k"]
        assert record["version"] in (0, 1) and len(record["pad"]) == 200_000
    exported = root / "exports" / "chat.json"
    if exported.exists():
        data = json.loads(exported.read_text())
        assert data["run_card"]["profile_name"] == "p"
        assert len(data["turns"][0]["content"]) == 200_003
    markdown = root / "exports" / "chat.md"
    if markdown.exists():
        assert markdown.read_text().rstrip().endswith("x")
    for stray in root.rglob("*.tmp"):
        # A temporary file from the killed write may be left; it never has the real name.
        assert stray.name.startswith("."), stray


def test_killed_mid_save_leaves_every_file_whole(tmp_path: Path) -> None:
    rng = random.Random(0)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for _ in range(KILLS):
        saver = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(tmp_path)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert saver.stdout is not None and saver.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 0.6))
        assert saver.poll() is None, "the save loop stopped by itself"
        os.kill(saver.pid, signal.SIGKILL)
        saver.wait()
        _check(tmp_path)
    # The loop did write: every file exists by now.
    for name in ("p.toml", "chats/chat.json", "calibration.json", "exports/chat.json"):
        assert (tmp_path / name).is_file(), name
