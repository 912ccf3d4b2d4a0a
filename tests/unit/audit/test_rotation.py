"""Key rotation (issue 16, Build 2 and Found 7): the old public key is kept with its validity, what it signed
still verifies, and it cannot sign beyond the last tree it signed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from deletion_sdk.attest.keyring import deployment_keyring, load_keyring
from deletion_sdk.attest.keys import generate_keypair, load_signer
from deletion_sdk.audit import AuditLog, Checkpoint, sign_checkpoint, verify_audit_log
from deletion_sdk.audit.deployment import deployment_audit_log, verify_deployment_log
from deletion_sdk.audit.rotation import rotate_signing_key
from deletion_sdk.errors import AuditLogError, ConfigurationError, SignatureError
from deletion_sdk.ledger._types import utcnow
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.settings import Settings

SUBJECT_REF = "2" * 64


def _events(log: AuditLog, n: int) -> None:
    for i in range(n):
        log.append("request.received", {"request_id": f"r{i}", "subject_ref": SUBJECT_REF}, actor="svc")


def test_replacing_a_key_pair_keeps_the_old_public_key(tmp_path: Path) -> None:
    first = generate_keypair(tmp_path)
    with pytest.raises(ConfigurationError, match="already exists"):
        generate_keypair(tmp_path)
    second = generate_keypair(tmp_path, force=True)
    ring = load_keyring(tmp_path / "keyring.json")
    assert [k.key_id for k in ring.keys] == [first.key_id, second.key_id]
    old = ring.get(first.key_id)
    assert old is not None and old.valid_until is not None and old.last_tree_size is None
    assert old.verifier().key_id == first.key_id  # the public key itself is kept, not only its id


@pytest.fixture
def deployment(tmp_path: Path) -> tuple[Settings, Ledger]:
    settings = Settings(home=tmp_path / "home")
    generate_keypair(settings.layout.keys)
    ledger = Ledger.open(settings.resolved_database_url, create=True)
    yield settings, ledger
    ledger.dispose()


def test_rotation_bounds_the_old_key_and_everything_still_verifies(
    deployment: tuple[Settings, Ledger],
) -> None:
    settings, ledger = deployment
    old_signer = load_signer(settings.layout.keys)
    log = deployment_audit_log(ledger, settings, signer=old_signer)
    _events(log, 5)
    log.checkpoint()
    _events(log, 2)

    rotation = rotate_signing_key(ledger, settings)
    assert rotation.old_key_id == old_signer.key_id and rotation.old_key_last_tree_size == 7
    assert rotation.checkpoint_size == 8  # the keys.rotated event, signed by the new key
    ring = deployment_keyring(settings.layout.keys)
    assert ring.get(old_signer.key_id).last_tree_size == 7  # type: ignore[union-attr]
    new_signer = load_signer(settings.layout.keys)
    assert new_signer.key_id == rotation.new_key_id

    log = deployment_audit_log(ledger, settings, signer=new_signer)
    _events(log, 3)
    log.checkpoint()
    result = verify_deployment_log(ledger, settings)  # each checkpoint under the key valid for it
    assert set(result.key_ids) == {old_signer.key_id, new_signer.key_id}
    assert result.checkpoints_verified == 4 and result.witnessed_checkpoints == 4
    event = log.entry(7).event
    assert event.type == "keys.rotated" and event.data["old_key_id"] == old_signer.key_id

    # the retired key (leaked later, say) signs a checkpoint of the current tree: refused
    forged = sign_checkpoint(
        Checkpoint(origin=log.origin, tree_size=11, root_hash=log.root(11)), signer=old_signer
    )
    with pytest.raises(AuditLogError, match="retired after the checkpoint of 7 entries"):
        verify_audit_log(
            ledger,
            public_keys=None,
            keyring=ring,
            witness=[*log.witness.read(), _witnessed(forged, old_signer.key_id)],  # type: ignore[union-attr]
        )


def _witnessed(note: str, key_id: str):  # type: ignore[no-untyped-def]
    from deletion_sdk.audit.checkpoint import parse_checkpoint
    from deletion_sdk.audit.witness import WitnessedCheckpoint

    cp = parse_checkpoint(note)
    return WitnessedCheckpoint(
        tree_size=cp.tree_size, root_hash=cp.root_hash, key_id=key_id, note=note, witnessed_at=utcnow()
    )


def test_a_certificate_must_be_issued_while_its_key_was_valid(deployment: tuple[Settings, Ledger]) -> None:
    settings, ledger = deployment
    old = load_signer(settings.layout.keys)
    rotate_signing_key(ledger, settings)
    ring = deployment_keyring(settings.layout.keys)
    entry = ring.get(old.key_id)
    assert entry is not None and entry.valid_until is not None and entry.valid_from is not None
    ring.check_time(old.key_id, entry.valid_from + (entry.valid_until - entry.valid_from) / 2)
    with pytest.raises(SignatureError, match=r"after key .* was retired"):
        ring.check_time(old.key_id, entry.valid_until + timedelta(seconds=1))
    with pytest.raises(SignatureError, match=r"before key .* was valid"):
        ring.check_time(old.key_id, entry.valid_from - timedelta(days=1))


def test_rotation_refuses_without_the_old_key_unless_told_it_is_lost(
    deployment: tuple[Settings, Ledger],
) -> None:
    settings, ledger = deployment
    settings.layout.signing_key.write_text("not a key")
    with pytest.raises(ConfigurationError):
        rotate_signing_key(ledger, settings)
    rotation = rotate_signing_key(ledger, settings, old_key_lost=True)
    assert rotation.old_key_last_tree_size is None  # bounded by time only
    assert verify_deployment_log(ledger, settings).checkpoints_verified == 1
