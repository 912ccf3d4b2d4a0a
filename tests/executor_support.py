"""Shared by the executor tests: random 8×8 faces, the built-in ``tiny_cnn``, and Ray process checks.

The built-in architecture (not a test-registered one) so that Ray workers, which import only the SDK,
can rebuild the models.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from deletion_sdk.data import FaceTensors
from deletion_sdk.training import TrainConfig

CONFIG = TrainConfig(arch="tiny_cnn", num_classes=4, image_size=8, epochs=1, batch_size=32)
RAY_SKIP_REASON = "the ray extra is not installed (pip install 'deletion-sdk[ray]')"


def ray_available() -> bool:
    """Whether ray imports (the tests that need it are skipped with RAY_SKIP_REASON otherwise)."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def faces(n: int, *, seed: int, offset: int = 0) -> FaceTensors:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 4, (n,), generator=g)
    return FaceTensors(
        images=torch.randint(0, 256, (n, 3, 8, 8), generator=g, dtype=torch.uint8),
        labels=labels,
        ages=labels.float() * 5.0 + 2.5,
        example_ids=tuple(f"ex-{offset + i:05d}" for i in range(n)),
    )


@dataclass(frozen=True)
class Split:
    train: FaceTensors
    forget: FaceTensors
    retain: FaceTensors
    test: FaceTensors


def make_split() -> Split:
    train = faces(72, seed=1)
    return Split(
        train=train,
        forget=train.take(list(range(8))),
        retain=train.take(list(range(8, 72))),
        test=faces(24, seed=2, offset=1_000),
    )


def ray_processes() -> dict[int, str]:
    """Live (non-zombie) processes that look like Ray's: pid -> command line."""
    out: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and ("ray::" in cmd or "/ray/core/src/ray/" in cmd or "ray/_private" in cmd):
            out[int(entry.name)] = cmd
    return out


def wait_gone(pids: set[int], *, timeout_s: float = 30.0) -> set[int]:
    """The pids still alive (non-zombie) after waiting up to ``timeout_s`` for them to exit."""
    deadline = time.monotonic() + timeout_s
    left = set(pids)
    while left and time.monotonic() < deadline:
        left &= set(ray_processes())
        if left:
            time.sleep(0.5)
    return left


def kill_group(pgid: int) -> None:
    """SIGKILL a process group this test started (Ray's agents outlive a SIGKILLed driver)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
