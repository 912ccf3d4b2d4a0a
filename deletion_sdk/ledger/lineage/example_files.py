"""Reading a manifest's example files safely: inside the dataset root, regular files, bounded, real images.

A manifest is input from whoever prepared the dataset; its paths must not reach outside the dataset root
(``../../etc/passwd``, ``/etc/shadow``, a symlink pointing out), and its files must not be able to hang or
exhaust registration (``/dev/zero``, a FIFO, a 50 GB file) or fail only later, in training (a text file
called ``face.png``). So every file is:

1. resolved relative to the root, with symlinks followed, and refused unless the result is inside the root
   (an absolute path is refused outright);
2. checked with ``stat`` before it is opened, and refused unless it is a regular file of at most
   :data:`MAX_EXAMPLE_BYTES`; then opened with ``O_NONBLOCK`` and checked again on the open descriptor (the
   file cannot be swapped for a FIFO in between), and read with the cap;
3. decoded as an image by Pillow (``verify`` and a full decode), with decompression bombs refused.
"""

from __future__ import annotations

import io
import os
import stat
import warnings
from pathlib import Path, PurePosixPath, PureWindowsPath

__all__ = [
    "MAX_EXAMPLE_BYTES",
    "MAX_IMAGE_PIXELS",
    "ExampleFileError",
    "read_example_image",
    "resolve_inside",
]

MAX_EXAMPLE_BYTES = 32 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000  # a 6,300 x 6,300 photo; far beyond any face crop


class ExampleFileError(ValueError):
    """Why one example file was refused (the caller adds the manifest line)."""


def resolve_inside(root: Path, relative: str) -> Path:
    """``root / relative`` with symlinks resolved, which must exist and lie inside ``root``.

    Raises:
        ExampleFileError: an absolute path, a path that leaves the root (by ``..`` or a symlink), or a
            file that does not exist.
    """
    if PurePosixPath(relative).is_absolute() or PureWindowsPath(relative).is_absolute() or "\x00" in relative:
        raise ExampleFileError(f"path must be relative to the dataset root; got {relative!r}")
    base = root.resolve()
    try:
        target = (base / relative).resolve(strict=True)
    except FileNotFoundError:
        raise ExampleFileError(f"file not found: {relative}") from None
    except (OSError, RuntimeError) as e:  # a symlink loop, a component that is not a directory
        raise ExampleFileError(f"cannot resolve {relative}: {getattr(e, 'strerror', None) or e}") from None
    if not target.is_relative_to(base):
        raise ExampleFileError(f"path leaves the dataset root: {relative}")
    return target


def read_regular_file(path: Path, shown: str, *, max_bytes: int = MAX_EXAMPLE_BYTES) -> bytes:
    """The bytes of ``path``, which must be a regular file of at most ``max_bytes``; never blocks.

    Raises:
        ExampleFileError: unreadable, not a regular file (device, FIFO, socket, directory), or too large.
    """
    try:
        before = os.stat(path)
    except OSError as e:
        raise ExampleFileError(f"cannot read {shown}: {e.strerror or e}") from None
    if not stat.S_ISREG(before.st_mode):
        raise ExampleFileError(f"not a regular file (a device, FIFO, socket or directory): {shown}")
    if before.st_size > max_bytes:
        raise ExampleFileError(f"file larger than {max_bytes} bytes: {shown}")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise ExampleFileError(f"cannot read {shown}: {e.strerror or e}") from None
    with os.fdopen(fd, "rb") as fh:
        after = os.fstat(fh.fileno())
        if not stat.S_ISREG(after.st_mode) or (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
            raise ExampleFileError(f"file changed while it was being read: {shown}")
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ExampleFileError(f"file larger than {max_bytes} bytes: {shown}")
    return data


def _check_image(data: bytes, shown: str) -> None:
    from PIL import Image  # imported here: the ledger needs Pillow only when it registers files

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                width, height = im.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise ExampleFileError(f"image of {width}x{height} pixels is too large: {shown}")
                im.verify()
            with Image.open(io.BytesIO(data)) as im:  # verify() leaves the image unusable; decode it fully
                im.load()
    except ExampleFileError:
        raise
    except (Exception, Image.DecompressionBombWarning) as e:  # Pillow raises many types on bad data
        raise ExampleFileError(f"not a decodable image ({type(e).__name__}): {shown}") from None


def read_example_image(root: Path, relative: str) -> bytes:
    """The bytes of the example file ``relative`` under ``root``, once they are known to be an image.

    Raises:
        ExampleFileError: the path is refused, the file is not a bounded regular file, or not an image.
    """
    target = resolve_inside(root, relative)
    data = read_regular_file(target, relative)
    _check_image(data, relative)
    return data
