"""Master-key rotation: after an erasure and a rotation, an older ledger backup opens nothing of theirs."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from deletion_sdk.erasure.crypto import next_master_key_path, sealed_path, vault_name
from deletion_sdk.erasure.crypto_keys import MasterKey, open_example, unwrap_data_key, wrap_data_key
from deletion_sdk.erasure.crypto_rotate import rotate_master_key
from deletion_sdk.errors import ConfigurationError, IntegrityError
from deletion_sdk.ledger import crypto as ledger_crypto
from tests.unit.erasure.test_crypto_store import NOW, World, _world, stored


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from _world(tmp_path, None)


def _backup_ledger(w: World, target: Path) -> Path:
    source = sqlite3.connect(w.sdk.layout.ledger_db)
    dest = sqlite3.connect(target)
    try:
        source.backup(dest)
    finally:
        source.close()
        dest.close()
    return target


def _wrapped_in_backup(backup: Path, ref: str) -> bytes:
    engine = sa.create_engine(f"sqlite:///{backup}")
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text("SELECT wrapped_key FROM subject_data_keys WHERE subject_ref = :r"), {"r": ref}
            ).one()
            return bytes(row[0])
    finally:
        engine.dispose()


def test_rotation_makes_a_ledger_backup_from_before_the_erasure_useless(world: World, tmp_path: Path) -> None:
    w = world
    w.ingest()
    backup_db = _backup_ledger(w, tmp_path / "ledger-backup.db")
    victim = w.of(w.victim)[0]
    bind = {
        "subject_ref": victim.subject_ref,
        "example_id": victim.example_id,
        "content_digest": victim.content_digest,
    }
    sealed_copy = sealed_path(w.sdk.layout.vault, vault_name(**bind)).read_bytes()
    original = (w.data_dir / str(victim.path)).read_bytes()
    w.store().erase(stored(w.of(w.victim)), now=NOW)
    old_secret = w.sdk.layout.master_key.read_text().strip()

    # Without a rotation, the backup's wrapped key and the master key in HOME still open the shredded copy:
    # this is the hole rotation closes.
    old_wrapped = _wrapped_in_backup(backup_db, w.victim)
    old_master = MasterKey.from_hex(old_secret)
    key = unwrap_data_key(old_master, old_wrapped, subject_ref=w.victim)
    assert open_example(key, sealed_copy, **bind) == original

    result = rotate_master_key(w.sdk.ledger, w.sdk.layout, now=NOW)
    assert result.from_fingerprint == old_master.fingerprint and result.n_keys == 3
    current = MasterKey.load(w.sdk.layout.master_key)
    assert current.fingerprint == result.to_fingerprint != old_master.fingerprint
    with pytest.raises(ConfigurationError, match=old_master.fingerprint):
        unwrap_data_key(current, old_wrapped, subject_ref=w.victim, wrapped_by=old_master.fingerprint)
    with pytest.raises(IntegrityError):
        unwrap_data_key(current, old_wrapped, subject_ref=w.victim)
    # The old master key is in no file under HOME any more; everyone else still loads under the new one.
    for path in (p for p in w.sdk.layout.home.rglob("*") if p.is_file()):
        assert old_secret.encode() not in path.read_bytes(), path
    assert not next_master_key_path(w.sdk.layout).exists()
    assert w.load().shape[0] == len(w.others())
    with w.sdk.ledger.session(write=False) as session:
        assert ledger_crypto.master_key_ids(session) == {current.fingerprint: 3}
    kinds = [e.event.type for e in w.sdk.audit_log.entries()]
    assert kinds.count("crypto.master_key_rotated") == 1


def test_a_rotation_interrupted_after_its_commit_is_finished_by_the_next_load(world: World) -> None:
    w = world
    w.ingest()
    old = MasterKey.load(w.sdk.layout.master_key)
    fresh = MasterKey.generate()
    fresh.write(next_master_key_path(w.sdk.layout))
    with w.sdk.ledger.session() as session:  # the rotation's transaction committed, then the process died
        ledger_crypto.rewrap_data_keys(
            session,
            lambda k: wrap_data_key(
                fresh, unwrap_data_key(old, k.wrapped, subject_ref=k.subject_ref), subject_ref=k.subject_ref
            ),
            from_master_id=old.fingerprint,
            to_master_id=fresh.fingerprint,
            actor="test",
        )
    assert w.load().shape[0] == len(w.rows)
    assert MasterKey.load(w.sdk.layout.master_key).fingerprint == fresh.fingerprint
    assert not next_master_key_path(w.sdk.layout).exists()


def test_a_rotation_that_died_before_its_commit_keeps_the_old_key(world: World) -> None:
    w = world
    w.ingest()
    old = MasterKey.load(w.sdk.layout.master_key)
    MasterKey.generate().write(next_master_key_path(w.sdk.layout))  # written, ledger untouched
    assert w.load().shape[0] == len(w.rows)
    assert MasterKey.load(w.sdk.layout.master_key).fingerprint == old.fingerprint
    result = rotate_master_key(w.sdk.ledger, w.sdk.layout)  # a new rotation starts afresh
    assert result.from_fingerprint == old.fingerprint and w.load().shape[0] == len(w.rows)


def test_a_master_key_from_settings_rotates_only_with_the_new_key_given(world: World) -> None:
    w = world
    w.ingest()
    secret = w.sdk.layout.master_key.read_text().strip()
    w.sdk.layout.master_key.unlink()  # the deployment keeps it in its secret manager instead
    with pytest.raises(ConfigurationError, match="pass the new key"):
        rotate_master_key(w.sdk.ledger, w.sdk.layout, current=secret)
    with pytest.raises(ConfigurationError, match="is the current one"):
        rotate_master_key(w.sdk.ledger, w.sdk.layout, current=secret, new=secret)
    new = secrets.token_hex(32)
    result = rotate_master_key(w.sdk.ledger, w.sdk.layout, current=secret, new=new, now=NOW)
    assert result.key_file is None and result.to_fingerprint == MasterKey.from_hex(new).fingerprint
    assert not w.sdk.layout.master_key.exists() and not next_master_key_path(w.sdk.layout).exists()
    with pytest.raises(ConfigurationError, match="is not the one"):
        w.load(master_key=secret)
    assert w.load(master_key=new).shape[0] == len(w.rows)
