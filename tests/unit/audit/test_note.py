"""C2SP signed notes and tlog checkpoints, pinned to the golang.org/x/mod/sumdb/note reference vector."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deletion_sdk.attest.keys import Ed25519Signer, raw_public_key
from deletion_sdk.audit.checkpoint import Checkpoint, open_checkpoint, parse_checkpoint, sign_checkpoint
from deletion_sdk.audit.note import note_key_hash, parse_note, sign_note, verify_note
from deletion_sdk.errors import InputError, SignatureError

# golang.org/x/mod/sumdb/note: the package documentation's example (key "PeterNeumann").
GO_SIGNER_KEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n— PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


@pytest.fixture(scope="module")
def go_signer() -> Ed25519Signer:
    encoded = GO_SIGNER_KEY.split("+", 4)[4]  # the base64 itself may contain '+'
    raw = base64.b64decode(encoded)
    assert raw[0] == 1  # Ed25519
    return Ed25519Signer(Ed25519PrivateKey.from_private_bytes(raw[1:]))


def test_key_hash_and_public_key_match_the_go_verifier_key(go_signer: Ed25519Signer) -> None:
    name, key_hash, material = GO_VERIFIER_KEY.split("+", 2)
    assert note_key_hash(name, go_signer.public_key).hex() == key_hash
    assert base64.b64decode(material) == b"\x01" + raw_public_key(go_signer.public_key)


def test_signing_reproduces_the_go_note_byte_for_byte(go_signer: Ed25519Signer) -> None:
    assert sign_note(GO_TEXT, name="PeterNeumann", signer=go_signer) == GO_NOTE
    assert verify_note(GO_NOTE, name="PeterNeumann", verifier=go_signer.public_key) == GO_TEXT


def test_tampered_text_or_signature_fails(go_signer: Ed25519Signer) -> None:
    with pytest.raises(SignatureError):
        verify_note(
            GO_NOTE.replace("cryptography", "cryptographY"),
            name="PeterNeumann",
            verifier=go_signer.public_key,
        )
    sig = GO_NOTE.rsplit(" ", 1)[1].strip()
    raw = bytearray(base64.b64decode(sig))
    raw[10] ^= 1
    bad = GO_NOTE.replace(sig, base64.b64encode(bytes(raw)).decode())
    with pytest.raises(SignatureError):
        verify_note(bad, name="PeterNeumann", verifier=go_signer.public_key)


def test_unknown_signatures_are_ignored_but_one_known_is_required(go_signer: Ed25519Signer) -> None:
    stranger = Ed25519Signer(Ed25519PrivateKey.generate())
    extra = sign_note(GO_TEXT, name="witness.example", signer=stranger).split("\n\n")[1]
    both = GO_NOTE + extra
    assert verify_note(both, name="PeterNeumann", verifier=go_signer.public_key) == GO_TEXT
    assert len(parse_note(both)[1]) == 2
    with pytest.raises(SignatureError, match="no signature by key"):
        verify_note(GO_NOTE, name="PeterNeumann", verifier=stranger.public_key)  # same name, other key
    with pytest.raises(SignatureError, match="no signature by key"):
        verify_note(GO_NOTE, name="Someone", verifier=go_signer.public_key)


@pytest.mark.parametrize(
    "bad",
    [
        "no newline",
        "text\n",
        "text\n\n",
        "text\n\n- dash name AAAA\n",
        "text\n\n— name not*base64\n",
        "a\tb\n\n— n AAAAAAA=\n",
    ],
)
def test_malformed_notes(bad: str, go_signer: Ed25519Signer) -> None:
    with pytest.raises(SignatureError):
        verify_note(bad, name="name", verifier=go_signer.public_key)


def test_sign_note_validates_inputs(go_signer: Ed25519Signer) -> None:
    with pytest.raises(InputError):
        sign_note("no final newline", name="n", signer=go_signer)
    with pytest.raises(InputError):
        sign_note("text\n", name="has space", signer=go_signer)
    with pytest.raises(InputError):
        sign_note("text\n", name="has+plus", signer=go_signer)


def test_checkpoint_body_and_roundtrip(go_signer: Ed25519Signer) -> None:
    cp = Checkpoint(origin="example.com/log", tree_size=20852163, root_hash="ab" * 32)
    assert cp.body() == f"example.com/log\n20852163\n{base64.b64encode(bytes.fromhex('ab' * 32)).decode()}\n"
    note = sign_checkpoint(cp, signer=go_signer)
    lines = note.split("\n")
    assert lines[3] == "" and lines[4].startswith("— example.com/log ")
    assert open_checkpoint(note, verifier=go_signer.public_key) == cp
    assert open_checkpoint(note, verifier=go_signer.public_key, origin="example.com/log") == cp
    assert parse_checkpoint(note) == cp
    with pytest.raises(SignatureError, match="expected"):
        open_checkpoint(note, verifier=go_signer.public_key, origin="other.example/log")
    forged = note.replace("\n20852163\n", "\n20852164\n")
    with pytest.raises(SignatureError):
        open_checkpoint(forged, verifier=go_signer.public_key)


@pytest.mark.parametrize(
    "text",
    [
        "origin\n01\nAAAA\n",
        "origin\nten\nAAAA\n",
        "origin\n1\nnot base64!\n",
        "origin\n1\nAAAA\n",
        "origin\n1\n",
    ],
)
def test_malformed_checkpoint_bodies(text: str) -> None:
    with pytest.raises(SignatureError):
        parse_checkpoint(text)
