"""DSSE v1: the spec's PAE example, signing, both base64 alphabets, and every tamper detected."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deletion_sdk.attest.dsse import b64decode_any, pae, parse_envelope, sign_envelope, verify_envelope
from deletion_sdk.attest.keys import Ed25519Signer
from deletion_sdk.errors import SignatureError, VerificationError

TYPE = "http://example.com/HelloWorld"


@pytest.fixture(scope="module")
def signer() -> Ed25519Signer:
    return Ed25519Signer(Ed25519PrivateKey.generate())


@pytest.fixture(scope="module")
def other() -> Ed25519Signer:
    return Ed25519Signer(Ed25519PrivateKey.generate())


def test_pae_example_from_the_spec() -> None:
    assert pae(TYPE, b"hello world") == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"


def test_pae_counts_bytes_not_characters() -> None:
    assert pae("", b"") == b"DSSEv1 0  0 "
    assert pae(TYPE, "ಠ".encode()) == "DSSEv1 29 http://example.com/HelloWorld 3 ಠ".encode()
    assert pae("é", b"a b\n\x00") == "DSSEv1 2 é 5 a b\n\x00".encode()


def test_roundtrip_returns_exactly_the_signed_bytes(signer: Ed25519Signer) -> None:
    payload = b'{"hello":"world"}'
    env = sign_envelope(payload, payload_type=TYPE, signer=signer)
    doc = json.loads(env.to_json())
    assert set(doc) == {"payloadType", "payload", "signatures"}
    assert doc["signatures"][0]["keyid"] == signer.key_id
    signer_public = signer.public_key
    signer_public.verify(base64.b64decode(doc["signatures"][0]["sig"]), pae(TYPE, payload))  # independent
    assert verify_envelope(env.to_json(), verifier=signer.public_key, payload_type=TYPE) == payload


def _reencode(text: str, *, urlsafe: bool, pad: bool) -> str:
    raw = base64.b64decode(text)
    out = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(raw).decode()
    return out if pad else out.rstrip("=")


@pytest.mark.parametrize(("urlsafe", "pad"), [(False, True), (False, False), (True, True), (True, False)])
def test_standard_and_url_safe_base64_are_accepted(signer: Ed25519Signer, urlsafe: bool, pad: bool) -> None:
    payload = bytes(range(256))  # exercises '+' '/' vs '-' '_'
    doc = json.loads(sign_envelope(payload, payload_type=TYPE, signer=signer).to_json())
    doc["payload"] = _reencode(doc["payload"], urlsafe=urlsafe, pad=pad)
    doc["signatures"][0]["sig"] = _reencode(doc["signatures"][0]["sig"], urlsafe=urlsafe, pad=pad)
    assert verify_envelope(doc, verifier=signer.public_key, payload_type=TYPE) == payload


def test_b64_rejects_garbage() -> None:
    for bad in ["a", "ab=c", "+-", "abc$", "ab==="]:
        with pytest.raises(ValueError):
            b64decode_any(bad)


def _flip(text: str, position: int) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[position] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def test_byte_flipped_in_payload_is_detected(signer: Ed25519Signer) -> None:
    doc = json.loads(sign_envelope(b'{"passed":true}', payload_type=TYPE, signer=signer).to_json())
    doc["payload"] = _flip(doc["payload"], 5)
    with pytest.raises(SignatureError):
        verify_envelope(doc, verifier=signer.public_key, payload_type=TYPE)


def test_byte_flipped_in_signature_is_detected(signer: Ed25519Signer) -> None:
    doc = json.loads(sign_envelope(b"payload", payload_type=TYPE, signer=signer).to_json())
    for position in (0, 31, 63):
        tampered = json.loads(json.dumps(doc))
        tampered["signatures"][0]["sig"] = _flip(doc["signatures"][0]["sig"], position)
        with pytest.raises(SignatureError):
            verify_envelope(tampered, verifier=signer.public_key, payload_type=TYPE)


def test_wrong_key_is_detected(signer: Ed25519Signer, other: Ed25519Signer) -> None:
    env = sign_envelope(b"payload", payload_type=TYPE, signer=signer)
    with pytest.raises(SignatureError, match="no signature"):
        verify_envelope(env, verifier=other.public_key, payload_type=TYPE)


def test_keyid_is_only_a_hint(signer: Ed25519Signer, other: Ed25519Signer) -> None:
    doc = json.loads(sign_envelope(b"p", payload_type=TYPE, signer=signer).to_json())
    doc["signatures"][0]["keyid"] = other.key_id  # lying hint: still verifies under the real key
    assert verify_envelope(doc, verifier=signer.public_key, payload_type=TYPE) == b"p"
    with pytest.raises(SignatureError):  # and claims of the other key do not make it verify under it
        verify_envelope(doc, verifier=other.public_key, payload_type=TYPE)


def test_any_one_valid_signature_suffices(signer: Ed25519Signer, other: Ed25519Signer) -> None:
    a = json.loads(sign_envelope(b"p", payload_type=TYPE, signer=other).to_json())
    b = json.loads(sign_envelope(b"p", payload_type=TYPE, signer=signer).to_json())
    a["signatures"].append({"keyid": "junk", "sig": "!!!"})
    a["signatures"].extend(b["signatures"])
    assert verify_envelope(a, verifier=signer.public_key, payload_type=TYPE) == b"p"


def test_payload_type_is_authenticated(signer: Ed25519Signer) -> None:
    doc = json.loads(sign_envelope(b"p", payload_type=TYPE, signer=signer).to_json())
    with pytest.raises(SignatureError, match="payloadType"):
        verify_envelope(doc, verifier=signer.public_key, payload_type="application/vnd.in-toto+json")
    doc["payloadType"] = "application/vnd.in-toto+json"  # relabelled: the PAE no longer matches
    with pytest.raises(SignatureError):
        verify_envelope(doc, verifier=signer.public_key, payload_type="application/vnd.in-toto+json")


@pytest.mark.parametrize(
    "bad",
    [
        b"not json",
        b"[]",
        b'{"payload":"aGk="}',
        b'{"payloadType":"t","payload":"aGk=","signatures":[]}',
        b"\xff",
    ],
)
def test_malformed_envelopes_raise_signature_error(bad: bytes, signer: Ed25519Signer) -> None:
    with pytest.raises(SignatureError) as info:
        verify_envelope(bad, verifier=signer.public_key, payload_type=TYPE)
    assert isinstance(info.value, VerificationError)
    with pytest.raises(SignatureError):
        parse_envelope(bad)
