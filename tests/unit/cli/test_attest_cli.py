"""``deletion-sdk keys|certificate|audit`` through the real entry point (in-process, for speed)."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from deletion_sdk import DeletionSDK
from deletion_sdk.attest import (
    AuditRecord,
    CertificatePredicate,
    DecisionRecord,
    Ed25519Signer,
    ForgetSetRef,
    ModelRef,
    PolicyRef,
    RequestRecord,
    UnlearnerRecord,
    VerificationSummary,
    certificate_path,
    load_signer,
    sign_certificate,
    verify_certificate,
    write_certificate,
)
from deletion_sdk.attest.verify import predicate_digest
from deletion_sdk.audit import AuditLog, verify_certificate_audit
from deletion_sdk.cli.app import main
from deletion_sdk.errors import AuditLogError
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.merkle import verify_inclusion
from tests.cli_run import run_cli as run

SUBJECT_REF = "e" * 64


def _sha(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


@pytest.fixture
def keyed_home(home: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    code, out, _ = run(capsys, "keys", "generate", "--json")
    assert code == 0, out
    return home


@pytest.fixture
def ledger(keyed_home: Path) -> Any:
    code, _, err = run_init(keyed_home)
    assert code == 0, err
    opened = Ledger.open(f"sqlite:///{keyed_home / 'ledger.db'}")
    yield opened
    opened.dispose()


def run_init(home: Path) -> tuple[int, str, str]:
    try:
        main(["init", "--json"])
    except SystemExit as e:
        return int(e.code or 0), "", ""
    return 0, "", ""  # pragma: no cover


def _predicate(signer: Ed25519Signer, audit: AuditRecord, issued_at: datetime) -> CertificatePredicate:
    t = datetime(2025, 1, 2, tzinfo=UTC)
    fields: dict[str, Any] = {
        "job_id": "job-9",
        "requests": (
            RequestRecord(
                request_id="req-1", subject_ref=SUBJECT_REF, received_at=t, due_at=t, policy_id="gdpr-art17"
            ),
        ),
        "policy": PolicyRef(id="gdpr-art17", digest=_sha("policy")),
        "forget_set": ForgetSetRef(size=3, merkle_root=_sha("forget")),
        "original_model": ModelRef(digest=_sha("m1"), version="age/1"),
        "unlearned_model": ModelRef(digest=_sha("m2"), version="age/2"),
        "unlearner": UnlearnerRecord(name="finetune", version="1", wall_time_s=1.5, device="cpu"),
        "verification": VerificationSummary(tier="population", figures={"mia_auc": 0.5}),
        "decision": DecisionRecord(passed=True, checks=({"name": "mia_auc", "passed": True},)),
        "audit": audit,
        "issued_at": issued_at,
        "sdk_version": "0.1.0",
        "signer_key_id": signer.key_id,
    }
    return CertificatePredicate(**fields)


def _certificate(home: Path, ledger: Ledger, *, bound: bool = True) -> Path:
    """A signed certificate whose audit event names its predicate digest (``bound``) or carries none."""
    signer = load_signer(home / "keys")
    log = AuditLog(ledger, signer=signer)
    log.append("request.completed", {"request_id": "req-1", "subject_ref": SUBJECT_REF}, actor="batch")
    placeholder = AuditRecord(
        tree_size=1, root_hash="0" * 64, entry_index=0, leaf_hash="0" * 64, checkpoint="pending"
    )
    data: dict[str, Any] = {"job_id": "job-9"}
    issued_at = datetime.now(UTC)  # while the key is valid (the keyring checks it)
    if bound:
        data["predicate_sha256"] = predicate_digest(_predicate(signer, placeholder, issued_at))
    entry = log.append("certificate.issued", data, actor="batch")
    predicate = _predicate(signer, log.audit_record(entry.index), issued_at)
    return write_certificate(
        sign_certificate(predicate, signer=signer), certificate_path(home / "certs", "job-9")
    )


def test_keys_generate_and_show(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(capsys, "keys", "generate", "--json")
    assert code == 0
    generated = json.loads(out)
    assert Path(generated["private_key_path"]) == home / "keys" / "signing.key"
    assert generated["encrypted"] is False
    code, out, err = run(capsys, "keys", "generate")
    assert (
        code == 2
        and err.startswith("error: ")
        and "keys rotate" in err
        and len(err.strip().splitlines()) == 1
    )
    code, out, _ = run(capsys, "keys", "show", "--json")
    assert code == 0 and json.loads(out)["key_id"] == generated["key_id"]

    # --force no longer overwrites signing.pub silently (issue 16, Found 7): it is refused ...
    code, out, err = run(capsys, "keys", "generate", "--force")
    assert code == 2 and "--force does not replace it" in err and "keys rotate" in err
    code, out, _ = run(capsys, "keys", "show", "--json")
    assert json.loads(out)["key_id"] == generated["key_id"]
    # ... and `keys rotate` keeps the old public key in the keyring, bounded to what it signed
    code, out, err = run(capsys, "keys", "rotate", "--json")
    assert code == 0, err
    rotated = json.loads(out)
    assert rotated["old_key_id"] == generated["key_id"] and rotated["new_key_id"] != generated["key_id"]
    assert rotated["old_key_last_tree_size"] == 0 and rotated["checkpoint_size"] == 1
    code, out, _ = run(capsys, "keys", "show", "--json")
    shown = json.loads(out)
    assert shown["key_id"] == rotated["new_key_id"]
    assert [k["key_id"] for k in shown["retired_keys"]] == [generated["key_id"]]
    assert shown["retired_keys"][0]["last_tree_size"] == 0
    code, out, err = run(capsys, "audit", "verify", "--json")
    assert code == 0, err
    assert sorted(json.loads(out)["key_ids"]) == sorted([generated["key_id"], rotated["new_key_id"]])


def test_keys_show_without_keys_is_a_configuration_error(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "keys", "show")
    assert code == 2 and "keys generate" in err


def test_certificate_verify_and_show(
    keyed_home: Path, ledger: Ledger, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cert = _certificate(keyed_home, ledger)
    pub = str(keyed_home / "keys" / "signing.pub")
    code, out, err = run(capsys, "certificate", "verify", str(cert), "--key", pub, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["valid"] is True and doc["audit"]["event_type"] == "certificate.issued"
    assert doc["summary"]["job_id"] == "job-9"
    assert doc["predicate_sha256"] == predicate_digest(verify_certificate(cert, Path(pub)).predicate)
    code, out, err = run(capsys, "certificate", "verify", str(cert))  # HOME's key is never used silently
    assert code == 2 and out == "" and "--key PUB.pem or a pinned --key-id" in err
    key_id = doc["key_id"]
    code, out, _ = run(capsys, "certificate", "verify", str(cert), "--key-id", key_id)  # pinned: HOME keyring
    assert code == 0 and out.startswith("valid:") and "names this certificate" in out
    code, out, err = run(capsys, "certificate", "verify", str(cert), "--key", pub, "--key-id", "0" * 64)
    assert code == 1 and "not the pinned --key-id" in err

    envelope = json.loads(cert.read_text())
    raw = bytearray(base64.b64decode(envelope["payload"]))
    raw[100] ^= 1
    envelope["payload"] = base64.b64encode(bytes(raw)).decode()
    tampered = tmp_path / "tampered.intoto.json"
    tampered.write_text(json.dumps(envelope))
    code, out, err = run(capsys, "certificate", "verify", str(tampered), "--key", pub, "--json")
    assert code == 1 and json.loads(out)["valid"] is False
    assert err.startswith("error: invalid certificate: ") and len(err.strip().splitlines()) == 1

    code, out, _ = run(capsys, "certificate", "show", str(tampered))
    assert code == 0 and "UNVERIFIED" in out  # shown, but clearly marked
    code, out, _ = run(capsys, "certificate", "show", str(cert), "--json")
    shown = json.loads(out)
    assert shown["verified"] is False and "UNVERIFIED" in shown["warning"]
    code, out, _ = run(capsys, "certificate", "show", str(cert), "--key", pub)
    assert code == 0 and out.startswith("VERIFIED") and "job-9" in out and "PASSED" in out
    code, _, err = run(capsys, "certificate", "show", str(tampered), "--key", pub)
    assert code == 1 and err.startswith("error: ")
    code, _, err = run(capsys, "certificate", "verify", str(tmp_path / "missing.intoto.json"))
    assert code == 2 and err.startswith("error: ")
    code, _, err = run(capsys, "certificate", "verify", str(cert), "--key", str(tmp_path / "nokey.pem"))
    assert code == 2 and "public key" in err


def test_certificate_verify_rejects_a_certificate_its_audit_entry_does_not_name(
    keyed_home: Path, ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    """Signature and inclusion proof hold, but the audit event carries no predicate digest: invalid."""
    cert = _certificate(keyed_home, ledger, bound=False)
    pub = keyed_home / "keys" / "signing.pub"
    verified = verify_certificate(cert, pub)  # the signature is good ...
    verify_certificate_audit(
        verified, public_key=load_signer(keyed_home / "keys").public_key
    )  # ... the proof too

    code, out, err = run(capsys, "certificate", "verify", str(cert), "--key", str(pub), "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["valid"] is False and doc["type"] == "AuditLogError"
    assert "carries no predicate digest" in doc["error"]
    code, out, err = run(capsys, "certificate", "verify", str(cert), "--key", str(pub))
    assert code == 1 and out == ""
    assert err.startswith("error: invalid certificate: ") and "no predicate digest" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "certificate", "show", str(cert), "--key", str(pub))
    assert code == 1 and "no predicate digest" in err

    with DeletionSDK.open(home=keyed_home) as sdk, pytest.raises(AuditLogError, match="no predicate digest"):
        sdk.verify_certificate(path=cert)


def test_a_changed_predicate_resigned_with_the_same_key_is_rejected_by_cli_and_library(
    keyed_home: Path, ledger: Ledger, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Whoever holds the key can re-sign other content, but the audit log recorded this content's digest."""
    cert = _certificate(keyed_home, ledger)
    pub = keyed_home / "keys" / "signing.pub"
    signer = load_signer(keyed_home / "keys")
    original = verify_certificate(cert, pub).predicate
    altered = original.model_copy(
        update={
            "forget_set": ForgetSetRef(size=1, merkle_root=_sha("a smaller forget set")),
            "decision": DecisionRecord(passed=True, checks=()),
        }
    )
    forged = write_certificate(
        sign_certificate(altered, signer=signer), certificate_path(tmp_path / "forged", "job-9")
    )
    resigned = verify_certificate(forged, pub)  # the signature is valid ...
    assert resigned.predicate.forget_set.size == 1 and resigned.predicate.audit == original.audit
    verify_certificate_audit(resigned, public_key=signer.public_key)  # ... and so is the inclusion proof

    code, out, err = run(capsys, "certificate", "verify", str(cert), "--key", str(pub), "--json")
    assert code == 0, err  # the certificate the log recorded still verifies
    code, out, err = run(capsys, "certificate", "verify", str(forged), "--key", str(pub), "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc == {"valid": False, "error": doc["error"], "type": "AuditLogError"}
    assert "names a different certificate" in doc["error"]
    assert err.startswith("error: invalid certificate: ") and "different certificate" in err

    with DeletionSDK.open(home=keyed_home) as sdk:
        assert sdk.verify_certificate(path=cert).predicate == original
        with pytest.raises(AuditLogError, match="names a different certificate"):
            sdk.verify_certificate(path=forged)


def test_audit_commands(
    keyed_home: Path, ledger: Ledger, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = AuditLog(ledger)
    for i in range(9):
        log.append("request.received", {"request_id": f"r{i}", "subject_ref": SUBJECT_REF}, actor="intake")

    code, out, err = run(capsys, "audit", "checkpoint", "--json")
    assert code == 0, err
    checkpoint = json.loads(out)
    assert checkpoint["tree_size"] == 9 and checkpoint["note"].startswith("deletion-sdk.local/audit-log\n9\n")

    code, out, err = run(capsys, "audit", "verify", "--json")
    assert code == 0, err
    verified = json.loads(out)
    assert verified["valid"] is True and verified["tree_size"] == 9 and verified["checkpoints_verified"] == 1

    code, out, _ = run(capsys, "audit", "prove", "4", "--json")
    proof = json.loads(out)
    verify_inclusion(
        leaf=bytes.fromhex(proof["leaf_hash"]),
        index=4,
        tree_size=proof["tree_size"],
        proof=[bytes.fromhex(p) for p in proof["proof"]],
        root=bytes.fromhex(checkpoint["root_hash"]),
    )
    code, out, _ = run(capsys, "audit", "prove", "4")
    assert code == 0 and "signed checkpoint:" in out
    code, _, err = run(capsys, "audit", "prove", "99")
    assert code == 2 and "99" in err

    export = tmp_path / "audit.jsonl"
    code, out, _ = run(capsys, "audit", "export", "--out", str(export), "--json")
    assert code == 0 and json.loads(out)["entries"] == 9
    kinds = [json.loads(line)["kind"] for line in export.read_text().splitlines()]
    assert kinds == ["head"] + ["entry"] * 9 + ["checkpoint", "witness", "key"]

    with ledger.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE audit_entries SET event = REPLACE(event, 'r3', 'r8') WHERE entry_index = 3")
        )
    code, out, err = run(capsys, "audit", "verify")
    assert code == 1 and err.startswith("error: audit log entry 3:") and len(err.strip().splitlines()) == 1
    code, out, err = run(capsys, "audit", "verify", "--json")
    assert code == 1 and json.loads(out) == {
        "valid": False,
        "error": err[len("error: ") :].strip(),
        "index": 3,
    }
    code, out, err = run(capsys, "audit", "checkpoint")  # nothing new: the stored checkpoint stands
    assert code == 0, err
    log.append("request.received", {"request_id": "r9", "subject_ref": SUBJECT_REF}, actor="intake")
    with ledger.engine.begin() as conn:  # an entry not yet signed, edited before the next checkpoint
        conn.execute(
            sa.text("UPDATE audit_entries SET event = REPLACE(event, 'r9', 'r7') WHERE entry_index = 9")
        )
    code, out, err = run(capsys, "audit", "checkpoint")
    assert code == 1 and "refusing to sign: audit log entry 9" in err
