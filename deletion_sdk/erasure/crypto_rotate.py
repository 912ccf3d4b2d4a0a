"""Master-key rotation: make ledger backups taken before an erasure useless, not only vault backups.

Destroying a person's wrapped key makes every copy of their *ciphertext* unreadable — as long as nobody
holds both an older copy of the ledger (which still has the wrapped key) and the master key it was wrapped
under. A backup of the whole HOME holds both when the master key is the file ``HOME/keys/master.key``.
So: keep the master key out of backups (``DELETION_SDK_MASTER_KEY`` from a secret manager), and rotate it
after erasures. :func:`rotate_master_key` rewraps every stored data key under a new master key in one
transaction (with a ``crypto.master_key_rotated`` audit event), then retires the old key; a ledger backup
made before the rotation needs the old master key, which no longer exists.

With a key file the sequence is crash-safe: the new key is written to ``master.key.next`` first, the ledger
is rewrapped and committed, then the new file replaces the old one. A crash between the commit and the
rename is finished by the next :func:`~deletion_sdk.erasure.crypto.load_master_key`.
"""

from __future__ import annotations

import os
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from deletion_sdk.erasure.crypto import load_master_key, next_master_key_path
from deletion_sdk.erasure.crypto_keys import MasterKey, unwrap_data_key, wrap_data_key
from deletion_sdk.errors import ConfigurationError
from deletion_sdk.layout import HomeLayout
from deletion_sdk.ledger import crypto as ledger_crypto
from deletion_sdk.ledger.db import Ledger

__all__ = ["RotationResult", "rotate_master_key"]


class RotationResult(BaseModel):
    """What :func:`rotate_master_key` did.

    Attributes:
        from_fingerprint: the retired master key.
        to_fingerprint: the master key now wrapping every data key.
        n_keys: data keys rewrapped.
        key_file: the master key file (None when the key is given by settings: store the new one yourself).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    from_fingerprint: str
    to_fingerprint: str
    n_keys: int
    key_file: str | None


def rotate_master_key(
    ledger: Ledger,
    layout: HomeLayout,
    *,
    current: str | None = None,
    new: str | None = None,
    now: datetime | None = None,
) -> RotationResult:
    """Rewrap every data key under a new master key and retire the old one.

    Args:
        ledger: the ledger.
        layout: the deployment's HOME layout.
        current: the current master key as hex when it is given by settings (None: the key file).
        new: the new master key as hex; required with ``current`` (the caller stores it in its secret
            manager), generated when the key file is used.
        now: the time recorded (tests pin it).

    Raises:
        ConfigurationError: the current key is missing or wrong; ``current`` given without ``new``; or
            ``new`` equals the current key.
    """
    old = load_master_key(ledger, layout, given=current)
    next_path = next_master_key_path(layout)
    fresh: MasterKey
    if current is not None:
        if new is None:
            raise ConfigurationError(
                "the master key is given by DELETION_SDK_MASTER_KEY: pass the new key as well, and store it "
                "in place of the old one once the rotation is done"
            )
        fresh = MasterKey.from_hex(new)
    else:
        next_path.unlink(missing_ok=True)  # left by a rotation that crashed before its commit: start afresh
        fresh = MasterKey.generate() if new is None else MasterKey.from_hex(new)
    if fresh.fingerprint == old.fingerprint:
        raise ConfigurationError("the new master key is the current one; nothing would be rotated")
    if current is None:
        fresh.write(next_path)

    def rewrap(key: ledger_crypto.WrappedKey) -> bytes:
        plain = unwrap_data_key(old, key.wrapped, subject_ref=key.subject_ref, wrapped_by=key.master_key_id)
        return wrap_data_key(fresh, plain, subject_ref=key.subject_ref)

    with ledger.session() as session:
        n = ledger_crypto.rewrap_data_keys(
            session,
            rewrap,
            from_master_id=old.fingerprint,
            to_master_id=fresh.fingerprint,
            actor="key-rotation",
            now=now,
        )
    ledger_crypto.scrub_sqlite(ledger)
    if current is None:
        os.replace(next_path, layout.master_key)
    return RotationResult(
        from_fingerprint=old.fingerprint,
        to_fingerprint=fresh.fingerprint,
        n_keys=n,
        key_file=None if current is not None else str(layout.master_key),
    )
