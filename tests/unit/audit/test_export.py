"""An exported log verified offline (no database): an edited, dropped, inserted or reordered entry in the
export is caught and named; only the keys the auditor trusts count (issue 13, auditor's path)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deletion_sdk.attest.keys import Ed25519Signer
from deletion_sdk.audit import AuditLog, NewEvent
from deletion_sdk.audit.export import verify_export
from deletion_sdk.audit.witness import WitnessStore
from deletion_sdk.errors import AuditLogError, ConfigurationError, InputError
from deletion_sdk.ledger.db import Ledger

SUBJECT_REF = "4" * 64


@pytest.fixture
def export(sqlite_url: str, log_key: Ed25519Signer, tmp_path: Path) -> Path:
    ledger = Ledger.open(sqlite_url, create=True)
    log = AuditLog(ledger, signer=log_key, witness=WitnessStore(tmp_path / "witness.jsonl"))
    for lo, hi in ((0, 8), (8, 15), (15, 17)):
        log.append_many(
            [
                NewEvent(
                    type="request.received",
                    data={"request_id": f"r{i}", "subject_ref": SUBJECT_REF},
                    actor="x",
                )
                for i in range(lo, hi)
            ]
        )
        log.checkpoint()
    path = tmp_path / "audit-export.jsonl"
    assert log.export_jsonl(path) == 17
    ledger.dispose()
    return path


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def _write(path: Path, lines: list[str]) -> Path:
    out = path.with_name("tampered.jsonl")
    out.write_text("".join(lines))
    return out


def _entry(line: str) -> dict[str, object]:
    return json.loads(line)


def test_an_untouched_export_verifies_offline(export: Path, log_key: Ed25519Signer) -> None:
    result = verify_export(export, public_keys=log_key.public_key)
    assert (result.tree_size, result.checkpoints_verified, result.witnessed_checkpoints) == (17, 3, 3)
    assert result.unsigned_entries == 0 and result.key_ids == (log_key.key_id,)


def test_an_edited_entry_is_named(export: Path, log_key: Ed25519Signer) -> None:
    lines = _lines(export)
    lines[5] = lines[5].replace('"request_id":"r4"', '"request_id":"r9"')  # line 0 is the head
    with pytest.raises(AuditLogError, match="audit log entry 4: modified") as info:
        verify_export(_write(export, lines), public_keys=log_key.public_key)
    assert info.value.details["index"] == 4


def test_an_edited_entry_with_its_hashes_recomputed_is_caught_by_the_signed_checkpoint(
    export: Path, log_key: Ed25519Signer
) -> None:
    import hashlib

    from deletion_sdk.attest.jcs import canonical_json

    lines = _lines(export)
    chain = bytes.fromhex(str(_entry(lines[0 + 3])["chain_hash"]))  # entry 2
    for i in range(4, 18):  # entry 3 onward
        obj = _entry(lines[i])
        if obj["index"] == 3:
            obj["event"]["data"]["request_id"] = "r99"  # type: ignore[index]
        leaf = hashlib.sha256(b"\x00" + canonical_json(obj["event"])).digest()
        chain = hashlib.sha256(chain + leaf).digest()
        obj["leaf_hash"], obj["chain_hash"] = leaf.hex(), chain.hex()
        lines[i] = json.dumps(obj, separators=(",", ":")) + "\n"
    head = _entry(lines[0])
    head["chain_hash"] = chain.hex()
    lines[0] = json.dumps(head) + "\n"
    with pytest.raises(AuditLogError, match=r"entries 0\.\.7.*contradicts its signed checkpoint"):
        verify_export(_write(export, lines), public_keys=log_key.public_key)


def test_a_dropped_entry_is_named(export: Path, log_key: Ed25519Signer) -> None:
    lines = _lines(export)
    del lines[10]  # entry 9
    with pytest.raises(AuditLogError, match="audit log entry 9: missing"):
        verify_export(_write(export, lines), public_keys=log_key.public_key)


def test_reordered_entries_are_named(export: Path, log_key: Ed25519Signer) -> None:
    lines = _lines(export)
    lines[3], lines[4] = lines[4], lines[3]  # entries 2 and 3
    with pytest.raises(AuditLogError, match="audit log entry 2: missing"):
        verify_export(_write(export, lines), public_keys=log_key.public_key)
    renumbered = [ln.replace('"index":3,', '"index":2,', 1) if i == 3 else ln for i, ln in enumerate(lines)]
    renumbered = [
        ln.replace('"index":2,', '"index":3,', 1) if i == 4 else ln for i, ln in enumerate(renumbered)
    ]
    with pytest.raises(AuditLogError, match="audit log entry 2: out of place"):
        verify_export(_write(export, renumbered), public_keys=log_key.public_key)


def test_dropped_tail_and_checkpoints_are_caught_by_the_witness_lines(
    export: Path, log_key: Ed25519Signer
) -> None:
    lines = [ln for ln in _lines(export) if '"kind":"checkpoint"' not in ln or '"tree_size":8,' in ln]
    lines = [ln for ln in lines if not (ln.startswith('{"kind":"entry"') and _entry(ln)["index"] >= 8)]
    head = _entry(lines[0])
    head["tree_size"], head["chain_hash"] = 8, _entry(lines[8])["chain_hash"]
    lines[0] = json.dumps(head) + "\n"
    with pytest.raises(AuditLogError, match="checkpoint of 15 entries held by the witness is missing"):
        verify_export(_write(export, lines), public_keys=log_key.public_key)


def test_only_keys_the_auditor_trusts_count(
    export: Path, log_key: Ed25519Signer, other_key: Ed25519Signer, tmp_path: Path
) -> None:
    with pytest.raises(AuditLogError, match="no valid signature by a trusted key"):
        verify_export(export, public_keys=other_key.public_key)
    with pytest.raises(ConfigurationError, match="give the public key"):
        verify_export(export, public_keys=None)
    bad = tmp_path / "not-an-export.jsonl"
    bad.write_text('{"kind": "entry"}\n')
    with pytest.raises(InputError, match="line 1 must be its head"):
        verify_export(bad, public_keys=log_key.public_key)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_mangled_export_fails_with_one_clear_error(
    export: Path, log_key: Ed25519Signer, tmp_path: Path, data: st.DataObject
) -> None:
    """Fuzz: any line replaced by arbitrary JSON or text gives an InputError or AuditLogError, only."""
    lines = _lines(export)
    index = data.draw(st.integers(0, len(lines) - 1))
    kind = data.draw(st.sampled_from(["json", "field", "text"]))
    if kind == "json":
        lines[index] = json.dumps(data.draw(_JSON)) + "\n"
    elif kind == "field":
        obj = json.loads(lines[index])
        obj[data.draw(st.sampled_from(sorted(obj)))] = data.draw(_JSON)
        lines[index] = json.dumps(obj) + "\n"
    else:
        lines[index] = data.draw(st.text(max_size=40)).replace("\n", " ") + "\n"
    mangled = tmp_path / "mangled.jsonl"
    mangled.write_text("".join(lines), encoding="utf-8")
    try:
        verify_export(mangled, public_keys=log_key.public_key)
    except (InputError, AuditLogError) as e:
        assert str(e).strip() and "\n" not in str(e).strip()
