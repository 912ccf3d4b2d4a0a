"""Atomic file writes: every file the SDK writes appears whole or not at all.

Data goes to a temporary file in the target's directory, is flushed and fsync'ed, gets its final
permissions, and is renamed over the target (``os.replace``, atomic on POSIX); the directory is then
fsync'ed so the rename survives a crash. On any error the temporary file is removed and the target is
left as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal, overload

__all__ = ["atomic_write", "atomic_writer"]


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # platforms without directory fds
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@overload
def atomic_writer(
    path: Path | str, *, mode: int = ..., text: Literal[True]
) -> contextlib.AbstractContextManager[IO[str]]: ...
@overload
def atomic_writer(
    path: Path | str, *, mode: int = ..., text: Literal[False] = ...
) -> contextlib.AbstractContextManager[IO[bytes]]: ...
@contextlib.contextmanager  # type: ignore[misc]
def atomic_writer(path: Path | str, *, mode: int = 0o644, text: bool = False) -> Iterator[IO[Any]]:
    """A file object whose content replaces ``path`` atomically when the block ends without error.

    Args:
        path: the target (its directory is created when missing).
        mode: permission bits of the final file (0o600 for secrets).
        text: open in UTF-8 text mode instead of binary.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        fh: IO[Any] = os.fdopen(fd, "w", encoding="utf-8") if text else os.fdopen(fd, "wb")
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


def atomic_write(path: Path | str, data: bytes | str, *, mode: int = 0o644) -> Path:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` atomically; returns ``Path(path)``."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_writer(path, mode=mode) as fh:
        fh.write(raw)
    return Path(path)
