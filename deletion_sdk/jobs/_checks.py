"""The batch pipeline's small helpers: the kill-at test hook, digest-checked job files, the override rule."""

from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path

from deletion_sdk._fs import atomic_write
from deletion_sdk.errors import InputError, IntegrityError
from deletion_sdk.policy import Policy

__all__ = ["KILL_ENV"]

KILL_ENV = "DELETION_SDK_TEST_KILL_AT"


def _fault_point(name: str) -> None:
    """Test hook: ``DELETION_SDK_TEST_KILL_AT=<step>:<before|after>`` SIGKILLs this process there.

    The resume tests use it to kill a batch run at every step boundary, in a subprocess.
    """
    if os.environ.get(KILL_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _write_json(path: Path, text: str) -> str:
    """Write ``text`` atomically; return its SHA-256."""
    data = text.encode("utf-8")
    atomic_write(path, data)
    return hashlib.sha256(data).hexdigest()


def _read_checked(path: Path, expected: str | None, what: str) -> bytes:
    """The bytes of ``path``, which must hash to ``expected`` (the digest recorded when it was written).

    Raises:
        IntegrityError: the file is missing, unreadable, or its SHA-256 differs.
    """
    try:
        data = path.read_bytes()
    except OSError as e:
        raise IntegrityError(f"the job's {what} ({path}) cannot be read: {e.strerror}") from e
    if expected is None:
        raise IntegrityError(f"the job recorded no digest for its {what}; refusing to trust {path}")
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise IntegrityError(
            f"the job's {what} changed after it was written ({path}: sha256 {actual[:12]}, "
            f"recorded {expected[:12]})"
        )
    return data


def _check_override(unlearner: str | None, policy: Policy) -> None:
    """An explicit unlearner must be one the policy allows (the policy, not the operator, decides)."""
    if unlearner is not None and unlearner not in policy.unlearning.methods:
        raise InputError(
            f"The 'unlearner' parameter must be one of policy {policy.id}'s methods "
            f"({', '.join(policy.unlearning.methods)}). Got {unlearner!r} instead."
        )
