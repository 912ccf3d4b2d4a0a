"""Fuzzing the audit export format: a damaged export is refused in one line (never a traceback), and an
export whose entries were changed never verifies.

Examples per test (pinned): library 60, ``audit verify --file`` CLI 10.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deletion_sdk.attest.keys import generate_keypair, load_signer
from deletion_sdk.audit import AuditLog, NewEvent
from deletion_sdk.audit.export import verify_export
from deletion_sdk.errors import ConfigurationError, DeletionSDKError, InputError, VerificationError
from deletion_sdk.ledger.db import Ledger
from tests.unit.fuzz._cli import assert_clean_failure, fuzz, run_cli

json_values: Any = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=8,
)
# Edits to one line: a field replaced, the line replaced by junk or deep nesting, dropped, or repeated.
line_edits = st.lists(
    st.tuples(
        st.integers(0, 30),
        st.sampled_from(["field", "junk", "deep", "drop", "repeat"]),
        st.sampled_from(
            ["kind", "index", "leaf_hash", "chain_hash", "event", "tree_size", "root_hash", "note"]
        ),
        json_values,
        st.binary(max_size=30),
    ),
    min_size=1,
    max_size=3,
)


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, Any]:
    generate_keypair(tmp_path / "keys")
    signer = load_signer(tmp_path / "keys")
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'l.db'}", create=True)
    log = AuditLog(ledger, signer=signer)
    for lo, hi in ((0, 4), (4, 6)):
        log.append_many(
            [
                NewEvent(type="request.received", data={"request_id": f"r{i}"}, actor="x")
                for i in range(lo, hi)
            ]
        )
        log.checkpoint()
    path = tmp_path / "export.jsonl"
    log.export_jsonl(path)
    ledger.dispose()
    return path, signer


def _mutate(lines: list[bytes], edits: list[tuple[int, str, str, Any, bytes]]) -> list[bytes]:
    out = list(lines)
    for at, action, key, value, junk in edits:
        i = at % len(out)
        if action == "field":
            try:
                doc = json.loads(out[i])
                doc[key] = value
                out[i] = json.dumps(doc).encode() + b"\n"
            except (ValueError, TypeError):
                out[i] = junk + b"\n"
        elif action == "junk":
            out[i] = junk + b"\n"
        elif action == "deep":
            out[i] = b"[" * 5000 + b"]" * 5000 + b"\n"
        elif action == "drop" and len(out) > 1:
            del out[i]
        else:
            out.insert(i, out[i])
    return out


def test_a_damaged_export_is_refused_cleanly(exported: tuple[Path, Any], tmp_path: Path) -> None:
    path, signer = exported
    lines = path.read_bytes().splitlines(keepends=True)
    damaged = tmp_path / "damaged.jsonl"

    @fuzz(60)
    @given(edits=line_edits)
    def check(edits: list[tuple[int, str, str, Any, bytes]]) -> None:
        mutated = _mutate(lines, edits)
        damaged.write_bytes(b"".join(mutated))
        try:
            verify_export(damaged, public_keys=signer.public_key)
        except (VerificationError, InputError, ConfigurationError) as e:
            assert "\n" not in str(e).strip()
            return
        entries = [ln for ln in mutated if b'"kind":"entry"' in ln]
        original = [ln for ln in lines if b'"kind":"entry"' in ln]
        assert entries == original  # whatever verified, the entries are exactly the original ones

    check()


def test_audit_verify_file_cli_fails_with_one_error_line(
    capsys: pytest.CaptureFixture[str], exported: tuple[Path, Any], tmp_path: Path
) -> None:
    path, _ = exported
    lines = path.read_bytes().splitlines(keepends=True)
    damaged = tmp_path / "damaged.jsonl"
    pub = str(tmp_path / "keys" / "signing.pub")

    @fuzz(10)
    @given(edits=line_edits)
    def check(edits: list[tuple[int, str, str, Any, bytes]]) -> None:
        damaged.write_bytes(b"".join(_mutate(lines, edits)))
        code, _, err = run_cli(
            capsys, tmp_path / "home", "audit", "verify", "--file", str(damaged), "--key", pub
        )
        assert_clean_failure(code, err)

    check()


def test_the_untouched_export_verifies(exported: tuple[Path, Any]) -> None:
    path, signer = exported
    try:
        result = verify_export(path, public_keys=signer.public_key)
    except DeletionSDKError as e:  # pragma: no cover - a failure here means the fixture is wrong
        pytest.fail(str(e))
    assert result.tree_size == 6
