"""Ed25519 key files: modes, encryption, key ids, clear errors."""

from __future__ import annotations

import base64
import hashlib
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deletion_sdk.attest.keys import (
    Ed25519Signer,
    Ed25519Verifier,
    generate_keypair,
    key_id,
    load_key_info,
    load_private_key,
    load_public_key,
    load_signer,
    load_verifier,
)
from deletion_sdk.errors import ConfigurationError, InputError, SignatureError


def _pem_body(path: Path) -> bytes:
    lines = [ln for ln in path.read_text().splitlines() if not ln.startswith("-----")]
    return base64.b64decode("".join(lines))


def test_generate_writes_pkcs8_0600_and_spki_pem(tmp_path: Path) -> None:
    info = generate_keypair(tmp_path / "keys")
    assert stat.S_IMODE(info.private_key_path.stat().st_mode) == 0o600
    assert info.private_key_path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert info.public_key_path.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert info.encrypted is False
    # key id = SHA-256 of the DER SubjectPublicKeyInfo, recomputed from the PEM file alone
    assert info.key_id == hashlib.sha256(_pem_body(info.public_key_path)).hexdigest()
    assert key_id(load_public_key(info.public_key_path)) == info.key_id
    assert load_key_info(tmp_path / "keys").key_id == info.key_id
    assert not list((tmp_path / "keys").glob("*.tmp"))


def test_existing_key_is_not_replaced_without_force(tmp_path: Path) -> None:
    first = generate_keypair(tmp_path)
    with pytest.raises(ConfigurationError, match="--force"):
        generate_keypair(tmp_path)
    second = generate_keypair(tmp_path, force=True)
    assert second.key_id != first.key_id
    assert load_signer(tmp_path).key_id == second.key_id


def test_encrypted_key_needs_the_right_passphrase(tmp_path: Path) -> None:
    info = generate_keypair(tmp_path, passphrase="correct horse")
    assert info.encrypted is True
    assert "ENCRYPTED PRIVATE KEY" in info.private_key_path.read_text()
    with pytest.raises(ConfigurationError, match="DELETION_SDK_KEY_PASSPHRASE"):
        load_private_key(info.private_key_path)
    with pytest.raises(ConfigurationError, match=r"passphrase .* is wrong"):
        load_private_key(info.private_key_path, passphrase="battery staple")
    signer = load_signer(tmp_path, passphrase="correct horse")
    assert signer.key_id == info.key_id
    assert load_key_info(tmp_path).encrypted is True


def test_passphrase_for_a_plain_key_is_refused(tmp_path: Path) -> None:
    generate_keypair(tmp_path)
    with pytest.raises(ConfigurationError, match="not encrypted"):
        load_signer(tmp_path, passphrase="unexpected")


def test_missing_and_wrong_key_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="keys generate"):
        load_signer(tmp_path)
    with pytest.raises(ConfigurationError, match="keys generate"):
        load_key_info(tmp_path)
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(ConfigurationError):
        load_public_key(tmp_path / "junk.pem")
    with pytest.raises(InputError, match="'passphrase'"):
        generate_keypair(tmp_path / "k", passphrase="")


def test_rfc8032_test_1_signature() -> None:
    """RFC 8032 section 7.1, TEST 1: the empty message under a fixed key."""
    secret = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    signer = Ed25519Signer(Ed25519PrivateKey.from_private_bytes(secret))
    expected = bytes.fromhex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    assert signer.sign(b"") == expected
    verifier = Ed25519Verifier(signer.public_key)
    verifier.verify(expected, b"")
    with pytest.raises(SignatureError):
        verifier.verify(expected, b"x")


def test_load_verifier_accepts_directory_file_and_bytes(tmp_path: Path) -> None:
    info = generate_keypair(tmp_path)
    pem = info.public_key_path.read_bytes()
    assert load_verifier(tmp_path).key_id == info.key_id
    assert load_verifier(info.public_key_path).key_id == info.key_id
    assert load_verifier(pem).key_id == info.key_id
    assert "key_id=" in repr(load_signer(tmp_path)) and secret_not_in_repr(load_signer(tmp_path))


def secret_not_in_repr(signer: Ed25519Signer) -> bool:
    return "PRIVATE" not in repr(signer)
