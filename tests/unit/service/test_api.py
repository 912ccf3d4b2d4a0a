"""The API's behaviour: intake with idempotency keys, status and history, review, jobs, audit proofs."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from deletion_sdk.attest.dsse import sign_envelope
from deletion_sdk.attest.keys import load_public_key
from deletion_sdk.ledger import jobs as jobq
from deletion_sdk.ledger.job_state import JobState
from deletion_sdk.merkle import verify_inclusion
from deletion_sdk.sdk import DeletionSDK
from tests.unit.service.conftest import SUBJECT, auth, submit


def test_submit_then_replay_returns_the_same_request(client: TestClient, tokens: dict[str, str]) -> None:
    first = submit(client, tokens["intake"], key="ticket-1")
    again = client.post(
        "/v1/requests",
        json={"subject": SUBJECT, "policy": "gdpr-art17"},
        headers=auth(tokens["intake"], **{"Idempotency-Key": "ticket-1"}),
    )
    assert first["created"] is True
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["request"]["request_id"] == first["request"]["request_id"]
    assert first["request"]["status"] == "received"
    assert set(first["request"]) >= {"request_id", "status", "due_at", "received_at", "policy_digest"}
    assert "subject_ref" not in first["request"] and "idempotency_key" not in first["request"]


def test_a_key_reused_for_another_person_is_409(client: TestClient, tokens: dict[str, str]) -> None:
    submit(client, tokens["intake"], key="shared")
    r = client.post(
        "/v1/requests",
        json={"subject": "someone.else@example.org", "policy": "gdpr-art17"},
        headers=auth(tokens["intake"], **{"Idempotency-Key": "shared"}),
    )
    assert r.status_code == 409 and r.json()["error"]["type"] == "ConflictError"


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        ({"subject": SUBJECT, "policy": "gdpr-art17"}, {}, 422),  # no Idempotency-Key
        ({"subject": SUBJECT, "policy": "no-such-policy"}, {"Idempotency-Key": "p"}, 400),
        (
            {"subject": SUBJECT, "policy": "gdpr-art17", "received_at": "2999-01-01T00:00:00Z"},
            {"Idempotency-Key": "f"},
            400,
        ),
        ({"subject": "", "policy": "gdpr-art17"}, {"Idempotency-Key": "e"}, 422),
        ({"subject": SUBJECT, "policy": "gdpr-art17", "extra": 1}, {"Idempotency-Key": "x"}, 422),
        ({"subject": 12, "policy": "gdpr-art17"}, {"Idempotency-Key": "t"}, 422),
    ],
)
def test_bad_intake_is_refused_in_one_line_without_echoing_the_identifier(
    client: TestClient, sdk: DeletionSDK, tokens: dict[str, str], body: dict, headers: dict, status: int
) -> None:
    r = client.post("/v1/requests", json=body, headers=auth(tokens["intake"], **headers))
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["message"] and "\n" not in error["message"]
    assert SUBJECT not in r.text
    assert sdk.list_requests() == ()


def test_status_history_and_review_through_the_api(
    client: TestClient, sdk: DeletionSDK, tokens: dict[str, str]
) -> None:
    officer = auth(tokens["officer"])
    rid = submit(client, tokens["intake"], key="k1")["request"]["request_id"]
    verified = client.post(f"/v1/requests/{rid}/verify", json={"reason": "passport seen"}, headers=officer)
    assert verified.status_code == 200 and verified.json()["status"] == "verified"
    illegal = client.post(f"/v1/requests/{rid}/verify", headers=officer)
    assert illegal.status_code == 409 and illegal.json()["error"]["type"] == "IllegalTransitionError"
    extended = client.post(f"/v1/requests/{rid}/extend", json={"reason": "complex case"}, headers=officer)
    assert extended.status_code == 200 and extended.json()["extensions"] == 1
    assert (
        client.post(f"/v1/requests/{rid}/extend", json={"reason": "again"}, headers=officer).status_code
        == 409
    )
    assert (
        client.post(f"/v1/requests/{rid}/deny", json={}, headers=officer).status_code == 422
    )  # reason needed
    denied = client.post(f"/v1/requests/{rid}/deny", json={"reason": "legal hold"}, headers=officer)
    assert denied.json()["status"] == "denied" and denied.json()["outcome_reason"] == "legal hold"
    detail = client.get(f"/v1/requests/{rid}", headers=auth(tokens["intake"])).json()
    assert [(h["from_status"], h["to_status"]) for h in detail["history"]] == [
        (None, "received"),
        ("received", "verified"),
        ("verified", "verified"),
        ("verified", "denied"),
    ]
    assert detail["history"][1]["reason"] == "passport seen"
    assert detail["request"] == denied.json()
    other = submit(client, tokens["intake"], key="k2", subject="other@example.org")["request"]["request_id"]
    cancelled = client.post(f"/v1/requests/{other}/cancel", headers=officer)
    assert cancelled.json()["status"] == "cancelled"
    listed = client.get("/v1/requests", params={"status": "cancelled"}, headers=officer).json()["items"]
    assert [r["request_id"] for r in listed] == [other]
    assert client.get("/v1/requests", params={"status": "nonsense"}, headers=officer).status_code == 422
    assert client.get("/v1/requests/not-a-request", headers=officer).status_code == 404


def test_verified_at_intake_moves_straight_to_verified(client: TestClient, tokens: dict[str, str]) -> None:
    answer = submit(client, tokens["intake"], key="v", verified=True)
    assert answer["request"]["status"] == "verified"


def test_the_raw_identifier_is_never_stored_logged_or_returned(
    client: TestClient,
    sdk: DeletionSDK,
    tokens: dict[str, str],
    home: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    answers = [submit(client, tokens["intake"], key="raw")]
    answers.append(submit(client, tokens["intake"], key="raw"))
    answers.append(submit(client, tokens["intake"], key="raw-2"))  # duplicate of the open request
    rid = answers[0]["request"]["request_id"]
    answers.append(client.get(f"/v1/requests/{rid}", headers=auth(tokens["officer"])).json())
    answers.append(client.get("/v1/requests", headers=auth(tokens["officer"])).json())
    sdk.close()
    stored = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    assert SUBJECT.encode() not in stored and SUBJECT.lower().encode() not in stored
    assert SUBJECT not in json.dumps(answers)
    out, err = capfd.readouterr()
    assert SUBJECT not in caplog.text + out + err


def test_jobs_and_their_certificate(client: TestClient, sdk: DeletionSDK, tokens: dict[str, str]) -> None:
    officer = auth(tokens["officer"])
    assert client.get("/v1/jobs", headers=officer).json() == {"items": []}
    rid = submit(client, tokens["intake"], key="job", verified=True)["request"]["request_id"]
    sdk.generate_keys()
    with sdk.ledger.session() as session:  # a job holding the request, as `batch run` claims it
        job = jobq.claim_new_job(session, model_name="age")
    assert job is not None
    no_cert = client.get(f"/v1/jobs/{job.job_id}/certificate", headers=officer)
    assert no_cert.status_code == 404 and "no certificate" in no_cert.json()["error"]["message"]
    envelope = sign_envelope(
        b'{"job": "x"}', payload_type="application/vnd.in-toto+json", signer=sdk._signer()
    )
    with sdk.ledger.session() as session:
        state = JobState.model_validate(
            {**job.state.model_dump(), "certificate_envelope": envelope.to_json()}
        )
        jobq.update_job(session, job_id=job.job_id, worker=job.worker, state=state)
    listed = client.get("/v1/jobs", headers=officer).json()["items"]
    assert [(j["job_id"], j["has_certificate"]) for j in listed] == [(job.job_id, True)]
    assert client.get(f"/v1/jobs/{job.job_id}", headers=officer).json()["model_name"] == "age"
    fetched = client.get(f"/v1/jobs/{job.job_id}/certificate", headers=officer).json()
    assert fetched == json.loads(envelope.to_json())
    signature = base64.b64decode(fetched["signatures"][0]["sig"])
    from deletion_sdk.attest.dsse import pae

    load_public_key(sdk.layout.public_key).verify(
        signature, pae(fetched["payloadType"], base64.b64decode(fetched["payload"]))
    )
    assert client.get("/v1/jobs/nope", headers=officer).status_code == 404
    assert client.get(f"/v1/requests/{rid}", headers=officer).json()["request"]["status"] == "scheduled"


def test_checkpoint_and_inclusion_proof_verify_against_each_other(
    client: TestClient, sdk: DeletionSDK, tokens: dict[str, str]
) -> None:
    officer = auth(tokens["officer"])
    assert client.get("/v1/audit/checkpoint", headers=officer).status_code == 404
    submit(client, tokens["intake"], key="a1")
    sdk.generate_keys()
    sdk.audit_log.checkpoint()
    checkpoint = client.get("/v1/audit/checkpoint", headers=officer).json()
    assert checkpoint["tree_size"] == sdk.audit_log.size()
    assert checkpoint["root_hash"] in checkpoint["note"] or checkpoint["note"]
    last = checkpoint["tree_size"] - 1
    proof = client.get(f"/v1/audit/entries/{last}/proof", headers=officer).json()
    assert proof["checkpoint"] == checkpoint["note"] and proof["root_hash"] == checkpoint["root_hash"]
    verify_inclusion(
        leaf=bytes.fromhex(proof["leaf_hash"]),
        index=proof["index"],
        tree_size=proof["tree_size"],
        proof=[bytes.fromhex(p) for p in proof["proof"]],
        root=bytes.fromhex(checkpoint["root_hash"]),
    )
    assert proof["event"]["seq"] == last
    assert client.get(f"/v1/audit/entries/{last + 1}/proof", headers=officer).status_code == 404
    too_big = client.get("/v1/audit/entries/0/proof", params={"tree_size": last + 50}, headers=officer)
    assert too_big.status_code == 400


def test_health_and_readiness(client: TestClient, sdk: DeletionSDK) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    with sdk.ledger.session() as session:  # a database another version migrated only to 0005: not ready
        session.execute(sa.text("UPDATE alembic_version SET version_num = '0005_audit_tree'"))
    not_ready = client.get("/readyz")
    assert not_ready.status_code == 503 and not_ready.json()["revision"] == "0005_audit_tree"
