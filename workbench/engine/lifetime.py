"""Engine processes never outlive the app: the host dies with its parent, takes its process group
with it, and a registry of live engines lets the next start find what a crash left behind.

Host side (``die_with_parent``): the kernel sends the host SIGTERM when the app dies
(``prctl(PR_SET_PDEATHSIG)``), a thread also watches the parent pid (PDEATHSIG is Linux-only and
misses a parent that died before it was set), and either way the host SIGKILLs its whole process
group: the engine core and worker processes vLLM started are in it.

App side (``EngineRegistry``): one JSON file per running host under ``<data dir>/engines/``,
written when the host starts and removed once it and every process it started are gone. A file
whose processes are still alive at the next start is an engine a crash (or ``kill -9`` of the
app) left running; ``leftovers()`` lists them with their memory so the app can offer to stop
them. A pid is only trusted together with its start time (pids are reused).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil

PR_SET_PDEATHSIG = 1
PARENT_WATCH_S = 0.5


def _stop_group(*_: object) -> None:
    """Kill this process and everything it started, now (there is no one left to report to)."""
    if os.getpgrp() == os.getpid():
        with contextlib.suppress(OSError):
            os.killpg(os.getpgrp(), signal.SIGKILL)
    else:  # not a group leader (started by hand): only our own descendants
        import psutil

        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                child.kill()
    os._exit(137)


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_WATCH_S)
    _stop_group()


def die_with_parent(parent_pid: int) -> None:
    """Make the host (and its process group) go when ``parent_pid``, the app, goes."""
    signal.signal(signal.SIGTERM, _stop_group)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != parent_pid:
        _stop_group()  # the app died before we could ask to be told
    threading.Thread(
        target=_watch_parent, args=(parent_pid,), name="watch-parent", daemon=True
    ).start()


def kill_descendants() -> None:
    """SIGKILL every process this one started that is still alive (the host's last act)."""
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(children, timeout=5)


# --- the registry (app side) ------------------------------------------------------------------


@dataclass(frozen=True)
class EngineRecord:
    """One engine host the app started: enough to find it again and to say what it is."""

    host_pid: int
    started_at: float  # the host's process start time (psutil), to tell a reused pid apart
    profile: str
    app_pid: int
    app_started_at: float
    pids: tuple[int, ...] = ()

    def to_json(self) -> str:
        return json.dumps(
            {
                "host_pid": self.host_pid,
                "started_at": self.started_at,
                "profile": self.profile,
                "app_pid": self.app_pid,
                "app_started_at": self.app_started_at,
                "pids": list(self.pids),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> EngineRecord:
        data = json.loads(text)
        return cls(
            int(data["host_pid"]),
            float(data["started_at"]),
            str(data["profile"]),
            int(data["app_pid"]),
            float(data["app_started_at"]),
            tuple(int(pid) for pid in data.get("pids", [])),
        )


@dataclass(frozen=True)
class Leftover:
    """An engine from an earlier run whose processes are still alive."""

    record: EngineRecord
    alive: tuple[int, ...]
    rss_bytes: int
    path: Path

    def describe(self) -> str:
        gib = self.rss_bytes / 1024**3
        return (
            f"{self.record.profile}: {len(self.alive)} process(es) "
            f"(pids {', '.join(map(str, self.alive))}), {gib:.1f} GiB memory"
        )


class EngineRegistry:
    """Pid files of the engines this user's apps started (``<data dir>/engines``)."""

    def __init__(self, directory: Path | None = None) -> None:
        if directory is None:
            from workbench.paths import data_dir

            directory = data_dir() / "engines"
        self.directory = directory

    def _path(self, host_pid: int) -> Path:
        return self.directory / f"{host_pid}.json"

    def record(self, host_pid: int, profile: str, pids: tuple[int, ...] = ()) -> None:
        """Write (or update) the file of a running host, atomically."""
        import psutil

        from workbench.files import write_atomic

        try:
            started_at = psutil.Process(host_pid).create_time()
        except psutil.Error:
            return  # already gone: nothing to find later
        self.directory.mkdir(parents=True, exist_ok=True)
        app_started_at = psutil.Process().create_time()
        entry = EngineRecord(host_pid, started_at, profile, os.getpid(), app_started_at, pids)
        write_atomic(self._path(host_pid), entry.to_json())

    def forget(self, host_pid: int) -> None:
        """The host and its processes are gone."""
        with contextlib.suppress(OSError):
            self._path(host_pid).unlink()

    def leftovers(self) -> list[Leftover]:
        """Engines of earlier runs still alive; files of engines that are gone are removed."""
        import psutil

        found: list[Leftover] = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                record = EngineRecord.from_json(path.read_text("utf-8"))
            except (OSError, ValueError, KeyError, TypeError):
                with contextlib.suppress(OSError):
                    path.unlink()  # unreadable: it cannot lead to a process
                continue
            if _app_alive(record):
                continue  # its app (this one, or another workbench) still runs it
            alive: list[int] = []
            rss = 0
            for process in _same_processes(record):
                with contextlib.suppress(psutil.Error):
                    if process.status() != psutil.STATUS_ZOMBIE:
                        alive.append(process.pid)
                        rss += process.memory_info().rss
            if not alive:
                with contextlib.suppress(OSError):
                    path.unlink()
                continue
            found.append(Leftover(record, tuple(alive), rss, path))
        return found

    def stop(self, leftover: Leftover, grace_s: float = 5.0) -> list[int]:
        """SIGTERM, then SIGKILL, a leftover engine; the pids that would not die."""
        import psutil

        processes = _same_processes(leftover.record)
        for process in processes:
            with contextlib.suppress(psutil.Error):
                process.terminate()
        _, alive = psutil.wait_procs(processes, timeout=grace_s)
        for process in alive:
            with contextlib.suppress(psutil.Error):
                process.kill()
        _, alive = psutil.wait_procs(alive, timeout=grace_s)
        still = [p.pid for p in alive if _is_running(p)]
        if not still:
            self.forget(leftover.record.host_pid)
        return still


def _app_alive(record: EngineRecord) -> bool:
    import psutil

    try:
        app = psutil.Process(record.app_pid)
        return abs(app.create_time() - record.app_started_at) < 1.0 and _is_running(app)
    except psutil.Error:
        return False


def _is_running(process: psutil.Process) -> bool:
    import psutil

    try:
        return bool(process.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _same_processes(record: EngineRecord) -> list[psutil.Process]:
    """The record's processes that still are what it recorded: the host by pid and start
    time; the others by pid, started after the host, and in the host's process group."""
    import psutil

    processes: list[psutil.Process] = []
    try:
        host = psutil.Process(record.host_pid)
        if abs(host.create_time() - record.started_at) < 1.0:
            processes.append(host)
    except psutil.Error:
        pass
    for pid in record.pids:
        if pid == record.host_pid:
            continue
        try:
            process = psutil.Process(pid)
            if process.create_time() + 1.0 >= record.started_at and (
                os.getpgid(pid) == record.host_pid
            ):
                processes.append(process)
        except (psutil.Error, OSError):
            continue
    return processes
