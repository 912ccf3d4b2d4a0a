"""Fuzzing certificate files: every malformed or forged file is refused (bad input or a failed check, in one
line), never a traceback and never accepted.

Examples per test (pinned): library 100, ``certificate verify|show`` CLI 15.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deletion_sdk.attest.dsse import INTOTO_PAYLOAD_TYPE, sign_envelope
from deletion_sdk.attest.keys import generate_keypair, load_signer
from deletion_sdk.attest.verify import read_certificate_unverified, verify_certificate
from deletion_sdk.errors import CertificateFormatError, VerificationError
from tests.unit.fuzz._cli import assert_clean_failure, fuzz, run_cli

json_values: Any = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=10,
)
_statement_keys = st.sampled_from(["_type", "subject", "predicateType", "predicate", "digest", "name"])
payloads = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(_statement_keys, json_values, max_size=4).map(lambda v: json.dumps(v).encode()),
    st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
    st.binary(max_size=40),
)
envelope_edits = st.lists(
    st.tuples(st.sampled_from(["payload", "payloadType", "signatures", "extra"]), json_values), max_size=2
)


def _document(
    signer: Any, payload: bytes, signed: bool, edits: list[tuple[str, Any]], raw: bytes | None
) -> bytes:
    if raw is not None:
        return raw
    if signed:
        doc = json.loads(sign_envelope(payload, payload_type=INTOTO_PAYLOAD_TYPE, signer=signer).to_json())
    else:
        doc = {
            "payloadType": INTOTO_PAYLOAD_TYPE,
            "payload": base64.b64encode(payload).decode(),
            "signatures": [],
        }
    for key, value in edits:
        doc[key] = value
    return json.dumps(doc).encode()


def test_certificate_parsers_refuse_cleanly(tmp_path: Path) -> None:
    generate_keypair(tmp_path / "keys")
    signer = load_signer(tmp_path / "keys")
    path = tmp_path / "c.intoto.json"

    @fuzz(100)
    @given(
        payload=payloads,
        signed=st.booleans(),
        edits=envelope_edits,
        raw=st.none() | st.binary(max_size=60) | st.integers(1, 5000).map(lambda n: b"{" * n),
    )
    def check(payload: bytes, signed: bool, edits: list[tuple[str, Any]], raw: bytes | None) -> None:
        path.write_bytes(_document(signer, payload, signed, edits, raw))
        with pytest.raises((VerificationError, CertificateFormatError)) as info:
            verify_certificate(path, signer.public_key)
        assert "\n" not in str(info.value).strip()
        try:
            read_certificate_unverified(path)
        except (VerificationError, CertificateFormatError) as e:
            assert "\n" not in str(e).strip()

    check()


def test_certificate_cli_fails_with_one_error_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    generate_keypair(tmp_path / "keys")
    signer = load_signer(tmp_path / "keys")
    pub = str(tmp_path / "keys" / "signing.pub")
    path = tmp_path / "c.intoto.json"

    @fuzz(15)
    @given(
        payload=payloads, signed=st.booleans(), edits=envelope_edits, raw=st.none() | st.binary(max_size=40)
    )
    def check(payload: bytes, signed: bool, edits: list[tuple[str, Any]], raw: bytes | None) -> None:
        path.write_bytes(_document(signer, payload, signed, edits, raw))
        code, _, err = run_cli(capsys, home, "certificate", "verify", str(path), "--key", pub)
        assert code in (1, 2)
        assert_clean_failure(code, err)
        code, _, err = run_cli(capsys, home, "certificate", "show", str(path))
        assert_clean_failure(code, err)

    check()
