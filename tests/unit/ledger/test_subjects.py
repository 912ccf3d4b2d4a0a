from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deletion_sdk.errors import ConfigurationError, InputError
from deletion_sdk.ledger.subjects import SubjectKey, normalise_identifier, subject_ref, validate_subject_ref

KEY = SubjectKey(b"\x01" * 32)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Alice@Example.COM \n", "alice@example.com"),
        ("alice@example.com", "alice@example.com"),
        ("Customer-AB12", "Customer-AB12"),  # not an e-mail: case kept
        ("\tcustomer-ab12 ", "customer-ab12"),
        ("Stra\u00dfe@Example.de", "strasse@example.de"),  # case-folded, not just lower-cased
        ("e\u0301@x.org", "\u00e9@x.org"),  # NFC
    ],
)
def test_normalise_identifier(raw: str, expected: str) -> None:
    assert normalise_identifier(raw) == expected


@pytest.mark.parametrize("bad", ["", "   ", "\n\t"])
def test_empty_identifiers_are_refused(bad: str) -> None:
    with pytest.raises(InputError, match="'subject' parameter"):
        subject_ref(bad, KEY)


def test_subject_ref_is_hmac_sha256_of_the_normalised_identifier() -> None:
    expected = hmac.new(b"\x01" * 32, b"alice@example.com", hashlib.sha256).hexdigest()
    assert subject_ref(" ALICE@example.com", KEY) == expected
    assert subject_ref("alice@example.com", SubjectKey(b"\x02" * 32)) != expected


@given(st.text(min_size=1, max_size=40).filter(lambda s: s.strip() != ""))
def test_normalisation_is_idempotent_and_refs_are_stable(identifier: str) -> None:
    once = normalise_identifier(identifier)
    assert normalise_identifier(once) == once
    ref = subject_ref(identifier, KEY)
    assert ref == subject_ref(once, KEY) == subject_ref(f"  {identifier}\t", KEY)
    assert validate_subject_ref(ref) == ref


@given(
    st.from_regex(r"[A-Za-z0-9._%+-]{1,12}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9-]{1,12}\.[A-Za-z]{2,6}", fullmatch=True),
)
def test_email_case_variants_share_one_ref(local: str, domain: str) -> None:
    address = f"{local}@{domain}"
    assert subject_ref(address.upper(), KEY) == subject_ref(address.lower(), KEY) == subject_ref(address, KEY)


_PART = st.text(
    alphabet=st.characters(blacklist_categories=("Zs", "Zl", "Zp", "Cc", "Cs"), blacklist_characters="@"),
    min_size=1,
    max_size=12,
)


@given(_PART, _PART)
def test_unicode_email_normalisation_is_idempotent(local: str, domain: str) -> None:
    address = f"{local}@{domain}"
    once = normalise_identifier(address)
    assert normalise_identifier(once) == once
    assert subject_ref(address.upper(), KEY) == subject_ref(once.upper(), KEY)


def test_validate_subject_ref_never_echoes_the_value() -> None:
    with pytest.raises(InputError) as info:
        validate_subject_ref("alice@example.com")
    assert "alice" not in str(info.value)


def test_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "home" / "subject.key"
    key, created = SubjectKey.load_or_create(path)
    assert created
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again, created_again = SubjectKey.load_or_create(path)
    assert not created_again
    assert again.secret == key.secret
    assert path.read_text().strip() == key.secret.hex()


def test_key_repr_hides_the_key() -> None:
    key = SubjectKey.generate()
    assert key.secret.hex() not in repr(key)
    assert key.fingerprint in repr(key)


@pytest.mark.parametrize("text", ["abc", "zz" * 32, "00" * 31])
def test_malformed_keys_are_configuration_errors(text: str) -> None:
    with pytest.raises(ConfigurationError, match="subject key"):
        SubjectKey.from_hex(text)


def test_missing_key_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="deletion-sdk init"):
        SubjectKey.load(tmp_path / "nope.key")


def test_permissive_key_file_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "subject.key"
    path.write_text("ab" * 32)
    os.chmod(path, 0o644)
    assert SubjectKey.load(path).secret == bytes.fromhex("ab" * 32)
