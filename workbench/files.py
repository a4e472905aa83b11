"""Writing user files safely and naming them on screen. Pure; the one owner of both.

Every file workbench writes (profiles, chats, exports, calibration) goes through
``write_atomic``: a reader, or a crash at any instant, sees the old file or the new one, never
half of either. Every path shown to a person goes through ``display_path``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: str | bytes, *, keep_mode: bool = True) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder, fsync, rename, and
    fsync the folder. ``keep_mode``: a replaced file keeps its permission bits."""
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        if isinstance(data, str):
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        if keep_mode and path.exists():
            shutil.copymode(path, temp_name)
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    fsync_dir(directory)


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (best effort: some filesystems refuse)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def display_path(path: Path | str) -> str:
    """``path`` relative to the current directory when inside it, else with ``~/`` for home,
    else as given."""
    path = Path(path)
    if not path.is_absolute():
        return str(path)
    for base, prefix in ((Path.cwd(), ""), (Path.home(), "~/")):
        try:
            return prefix + str(path.relative_to(base))
        except ValueError:
            continue
    return str(path)
