"""Crypto-shredding primitives: sealed examples bound to owner, id and digest; wrapped keys bound to owner."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from deletion_sdk.erasure.crypto_keys import (
    MAGIC,
    MasterKey,
    key_digest,
    new_data_key,
    open_example,
    seal_example,
    unwrap_data_key,
    wrap_data_key,
)
from deletion_sdk.errors import ConfigurationError, IntegrityError

ALICE = "a" * 64
BOB = "b" * 64


def _bind(data: bytes, example_id: str, ref: str = ALICE) -> dict[str, str]:
    return {"subject_ref": ref, "example_id": example_id, "content_digest": hashlib.sha256(data).hexdigest()}


def test_a_sealed_example_opens_only_with_its_key_and_binding() -> None:
    key, data = new_data_key(), b"\x89PNG face bytes of ex-1"
    sealed = seal_example(key, data, **_bind(data, "ex-1"))
    assert sealed.startswith(MAGIC)
    assert data not in sealed
    assert open_example(key, sealed, **_bind(data, "ex-1")) == data
    with pytest.raises(IntegrityError, match="ex-1"):
        open_example(new_data_key(), sealed, **_bind(data, "ex-1"))  # another person's key
    with pytest.raises(IntegrityError, match="ex-2"):
        open_example(key, sealed, **_bind(data, "ex-2"))  # relabelled as another example
    with pytest.raises(IntegrityError):
        open_example(key, sealed, **_bind(data, "ex-1", BOB))  # moved to another person
    wrong_digest = {**_bind(data, "ex-1"), "content_digest": hashlib.sha256(b"other").hexdigest()}
    with pytest.raises(IntegrityError):
        open_example(key, sealed, **wrong_digest)


def test_swapped_ciphertexts_between_examples_are_caught() -> None:
    key = new_data_key()
    one, two = b"first image", b"second image"
    sealed_one = seal_example(key, one, **_bind(one, "ex-1"))
    sealed_two = seal_example(key, two, **_bind(two, "ex-2"))
    with pytest.raises(IntegrityError, match="ex-1"):
        open_example(key, sealed_two, **_bind(one, "ex-1"))
    with pytest.raises(IntegrityError, match="ex-2"):
        open_example(key, sealed_one, **_bind(two, "ex-2"))


@pytest.mark.parametrize("position", [0, len(MAGIC), len(MAGIC) + 12, -1])
def test_every_flipped_byte_is_caught(position: int) -> None:
    key, data = new_data_key(), b"x" * 100
    sealed = bytearray(seal_example(key, data, **_bind(data, "ex-1")))
    sealed[position] ^= 0x01
    with pytest.raises(IntegrityError, match="ex-1"):
        open_example(key, bytes(sealed), **_bind(data, "ex-1"))


def test_truncated_or_plaintext_files_are_refused() -> None:
    key, data = new_data_key(), b"face"
    with pytest.raises(IntegrityError, match="not a sealed example"):
        open_example(key, data, **_bind(data, "ex-1"))
    with pytest.raises(IntegrityError, match="not a sealed example"):
        open_example(key, MAGIC + b"\x00" * 10, **_bind(data, "ex-1"))


def test_an_operator_who_seals_other_bytes_under_the_registered_digest_is_caught() -> None:
    # Whoever holds the data key can seal anything under the right associated data; the digest check after
    # decryption still refuses bytes other than the registered ones.
    key, registered, substitute = new_data_key(), b"registered face", b"another face"
    sealed = seal_example(key, substitute, **_bind(registered, "ex-1"))
    with pytest.raises(IntegrityError, match="registered digest"):
        open_example(key, sealed, **_bind(registered, "ex-1"))


def test_wrapped_keys_are_bound_to_their_owner_and_master() -> None:
    master, key = MasterKey.generate(), new_data_key()
    wrapped = wrap_data_key(master, key, subject_ref=ALICE)
    assert len(wrapped) == 60 and key not in wrapped
    assert unwrap_data_key(master, wrapped, subject_ref=ALICE, wrapped_by=master.fingerprint) == key
    with pytest.raises(IntegrityError, match="altered or moved"):
        unwrap_data_key(master, wrapped, subject_ref=BOB)
    other = MasterKey.generate()
    with pytest.raises(ConfigurationError, match=master.fingerprint):
        unwrap_data_key(other, wrapped, subject_ref=ALICE, wrapped_by=master.fingerprint)
    with pytest.raises(IntegrityError):  # without the recorded fingerprint the tag still fails
        unwrap_data_key(other, wrapped, subject_ref=ALICE)
    assert key_digest(wrapped) == hashlib.sha256(wrapped).hexdigest()
    assert key_digest(wrap_data_key(master, key, subject_ref=ALICE)) != key_digest(wrapped)  # fresh nonce


def test_master_key_file_is_private_never_overwritten_and_never_shown(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    master = MasterKey.create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert MasterKey.load(path).fingerprint == master.fingerprint
    with pytest.raises(ConfigurationError, match="already exists"):
        MasterKey.create(path)
    assert MasterKey.load(path).fingerprint == master.fingerprint
    secret = path.read_text().strip()
    assert secret not in repr(master) and master.fingerprint in repr(master)


def test_bad_master_keys_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no master key"):
        MasterKey.load(tmp_path / "missing.key")
    with pytest.raises(ConfigurationError, match="hex digits"):
        MasterKey.from_hex("not hex")
    with pytest.raises(ConfigurationError, match="32 bytes"):
        MasterKey.from_hex("ab" * 16)
    bad = tmp_path / "bad.key"
    bad.write_text("zz\n")
    os.chmod(bad, 0o600)
    with pytest.raises(ConfigurationError):
        MasterKey.load(bad)
