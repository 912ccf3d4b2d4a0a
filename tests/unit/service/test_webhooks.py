"""Webhooks: an outbox row per request change (same transaction), signed POSTs, backoff, dead letters."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from deletion_sdk.errors import IllegalTransitionError, InputError, SignatureError
from deletion_sdk.ledger import requests as reqs
from deletion_sdk.ledger._types import utcnow
from deletion_sdk.ledger.statuses import RequestStatus
from deletion_sdk.sdk import DeletionSDK
from deletion_sdk.service import ServiceAdmin, ServiceConfig, WebhookDeliverer, sign_webhook, verify_webhook
from tests.unit.service.conftest import SUBJECT, auth, submit
from tests.unit.service.receiver import Receiver, running_receiver

FAST = ServiceConfig(
    deliver_webhooks=False, webhook_backoff_s=10.0, webhook_max_attempts=3, webhook_timeout_s=5
)


def _hook(sdk: DeletionSDK, receiver: Receiver, events: list[str] | None = None) -> str:
    new = ServiceAdmin(sdk).add_webhook(url=receiver.url, events=events)
    receiver.secret = new.secret
    return new.endpoint.endpoint_id


# -- signatures ---------------------------------------------------------------------------------------


def test_signature_round_trip_and_every_way_it_fails() -> None:
    body = b'{"id":"e1","type":"request.received"}'
    header = sign_webhook(secret="whsec_a", body=body, timestamp=1_000_000)
    assert verify_webhook(secret="whsec_a", body=body, header=header, now=1_000_010) == 1_000_000
    cases = [
        ("whsec_b", body, header, 1_000_010),  # wrong secret
        ("whsec_a", body + b" ", header, 1_000_010),  # altered body
        ("whsec_a", body, header, 1_000_000 + 301),  # replayed after the tolerance
        ("whsec_a", body, header.replace("t=1000000", "t=1000001"), 1_000_010),  # timestamp moved
        ("whsec_a", body, "v1=" + header.split("v1=")[1], 1_000_010),  # no timestamp
        ("whsec_a", body, None, 1_000_010),  # no header
        ("whsec_a", body, "t=1000000", 1_000_010),  # no MAC
    ]
    for secret, data, value, now in cases:
        with pytest.raises(SignatureError):
            verify_webhook(secret=secret, body=data, header=value, now=now)
    rotated = f"{header},v1={'0' * 64}"  # an extra (e.g. old-secret) MAC next to the right one still verifies
    assert verify_webhook(secret="whsec_a", body=body, header=rotated, now=1_000_010) == 1_000_000


def test_endpoint_secrets_are_derived_not_stored(sdk: DeletionSDK, home) -> None:
    new = ServiceAdmin(sdk).add_webhook(url="https://crm.example/hooks")
    assert ServiceAdmin(sdk).webhook_secret(endpoint_id=new.endpoint.endpoint_id) == new.secret
    other = ServiceAdmin(sdk).add_webhook(url="https://crm.example/hooks")
    assert other.secret != new.secret
    sdk.close()
    stored = b"".join(p.read_bytes() for p in home.glob("*.db*"))
    assert new.secret.encode() not in stored and new.secret.removeprefix("whsec_").encode() not in stored


@pytest.mark.parametrize("url", ["ftp://x.example/a", "not a url", "http://", "https://" + "a" * 2050])
def test_endpoint_urls_must_be_http(sdk: DeletionSDK, url: str) -> None:
    with pytest.raises(InputError):
        ServiceAdmin(sdk).add_webhook(url=url)


def test_unknown_event_types_are_refused(sdk: DeletionSDK) -> None:
    with pytest.raises(InputError, match=r"request\.status_changed"):
        ServiceAdmin(sdk).add_webhook(url="https://x.example", events=["request.deleted"])


# -- the outbox ------------------------------------------------------------------------------------


def test_every_request_change_queues_one_delivery_per_endpoint_without_personal_data(
    client: TestClient, sdk: DeletionSDK, tokens: dict[str, str]
) -> None:
    admin = ServiceAdmin(sdk)
    everything = admin.add_webhook(url="https://a.example/hook").endpoint.endpoint_id
    changes_only = admin.add_webhook(url="https://b.example/hook", events=["request.status_changed"])
    rid = submit(client, tokens["intake"], key="w1")["request"]["request_id"]
    officer = auth(tokens["officer"])
    client.post(f"/v1/requests/{rid}/verify", headers=officer)
    client.post(f"/v1/requests/{rid}/extend", json={"reason": "needs time"}, headers=officer)
    sdk.cancel_request(request_id=rid, reason="withdrawn by phone", actor="officer-desk")  # not via HTTP
    deliveries = admin.deliveries()
    by_endpoint = {
        e: [d.event_type for d in deliveries if d.endpoint_id == e]
        for e in (everything, changes_only.endpoint.endpoint_id)
    }
    assert by_endpoint[everything] == [
        "request.received",
        "request.status_changed",
        "request.extended",
        "request.status_changed",
    ]
    assert by_endpoint[changes_only.endpoint.endpoint_id] == ["request.status_changed"] * 2
    statuses = [
        json.loads(d.payload)["data"].get("to_status") for d in deliveries if d.endpoint_id == everything
    ]
    assert statuses == [None, "verified", None, "cancelled"]
    subject_ref = sdk.get_request(request_id=rid).subject_ref
    for d in deliveries:
        assert SUBJECT not in d.payload and subject_ref not in d.payload
        assert "withdrawn by phone" not in d.payload and "needs time" not in d.payload
        assert json.loads(d.payload)["data"]["request_id"] == rid


def test_a_change_that_rolls_back_leaves_no_delivery(sdk: DeletionSDK) -> None:
    admin = ServiceAdmin(sdk)
    admin.add_webhook(url="https://a.example/hook")
    rid = sdk.submit_request(subject=SUBJECT, policy="gdpr-art17").request.request_id
    queued = len(admin.deliveries())
    with (
        pytest.raises(RuntimeError),
        sdk.ledger.session() as session,
    ):  # crash after the change, before commit
        reqs.transition(session, request_id=rid, to=RequestStatus.VERIFIED, actor="t")
        assert len(admin.deliveries()) == queued  # not visible outside the transaction
        raise RuntimeError("killed")
    assert sdk.get_request(request_id=rid).status == "received"
    assert len(admin.deliveries()) == queued
    sdk.deny_request(request_id=rid, reason="x")
    with pytest.raises(IllegalTransitionError):  # a refused change queues nothing either
        sdk.deny_request(request_id=rid, reason="x")
    assert len(admin.deliveries()) == queued + 1


def test_a_disabled_endpoint_gets_no_new_events(
    client: TestClient, sdk: DeletionSDK, tokens: dict[str, str]
) -> None:
    admin_headers = auth(tokens["admin"])
    created = client.post("/v1/webhooks", json={"url": "https://a.example/hook"}, headers=admin_headers)
    assert created.status_code == 201 and created.json()["secret"].startswith("whsec_")
    endpoint_id = created.json()["endpoint"]["endpoint_id"]
    assert "secret_salt" not in created.text
    submit(client, tokens["intake"], key="d1")
    gone = client.delete(f"/v1/webhooks/{endpoint_id}", headers=admin_headers)
    assert gone.status_code == 200 and gone.json()["disabled_at"] is not None
    submit(client, tokens["intake"], key="d2", subject="second@example.org")
    assert len(ServiceAdmin(sdk).deliveries()) == 1
    listed = client.get("/v1/webhooks", headers=admin_headers).json()["items"]
    assert [e["endpoint_id"] for e in listed] == [endpoint_id]


# -- delivery: a real receiver on loopback ------------------------------------------------------------


def test_receiver_gets_signed_events_after_retries_with_exponential_backoff(sdk: DeletionSDK) -> None:
    with running_receiver(Receiver(script=[500, 503])) as receiver:
        _hook(sdk, receiver)
        rid = sdk.submit_request(subject=SUBJECT, policy="gdpr-art17").request.request_id
        deliverer = WebhookDeliverer(sdk, config=FAST)
        try:
            t0 = utcnow()
            first = deliverer.deliver_due(now=t0)
            assert (first.attempted, first.retried) == (1, 1)
            (pending,) = ServiceAdmin(sdk).deliveries(status="pending")
            assert pending.attempts == 1 and pending.last_error == "HTTP 500"
            assert pending.next_attempt_at == t0 + timedelta(seconds=10)  # first retry: the base delay
            assert deliverer.deliver_due(now=t0 + timedelta(seconds=9)).attempted == 0  # not due yet
            second = deliverer.deliver_due(now=t0 + timedelta(seconds=10))
            assert second.retried == 1
            (pending,) = ServiceAdmin(sdk).deliveries(status="pending")
            assert pending.next_attempt_at == t0 + timedelta(seconds=30)  # then twice as long: 10 + 20
            third = deliverer.deliver_due(now=t0 + timedelta(seconds=30))
            assert third.delivered == 1
        finally:
            deliverer.stop()
    assert receiver.calls == 3 and receiver.refused == []
    (event,) = receiver.accepted
    assert event["type"] == "request.received" and event["data"]["request_id"] == rid
    (done,) = ServiceAdmin(sdk).deliveries()
    assert done.status == "delivered" and done.attempts == 3 and done.event_id == event["id"]


def test_a_receiver_that_keeps_failing_ends_in_the_dead_letters_and_can_be_retried(
    client: TestClient, sdk: DeletionSDK, tokens: dict[str, str]
) -> None:
    with running_receiver(Receiver(script=[500, 500, 500])) as receiver:
        _hook(sdk, receiver)
        submit(client, tokens["intake"], key="dl")
        deliverer = WebhookDeliverer(sdk, config=FAST)
        try:
            t0 = utcnow()
            rounds = [deliverer.deliver_due(now=t0 + timedelta(seconds=s)) for s in (0, 10, 30)]
            assert [r.dead_lettered for r in rounds] == [0, 0, 1]
            assert ServiceAdmin(sdk).deliveries(status="pending") == ()
            dead = client.get("/v1/webhooks/dead-letters", headers=auth(tokens["admin"])).json()["items"]
            assert len(dead) == 1 and dead[0]["attempts"] == 3 and dead[0]["last_error"] == "HTTP 500"
            assert sdk.audit_log.entry(sdk.audit_log.size() - 1).event.type == "webhook.dead_lettered"
            retried = client.post(
                f"/v1/webhooks/dead-letters/{dead[0]['dead_letter_id']}/retry", headers=auth(tokens["admin"])
            )
            assert retried.status_code == 200 and retried.json()["event_id"] == dead[0]["event_id"]
            assert deliverer.deliver_due(now=t0 + timedelta(seconds=31)).delivered == 1  # receiver fixed
        finally:
            deliverer.stop()
    assert [e["id"] for e in receiver.accepted] == [dead[0]["event_id"]]
    assert client.get("/v1/webhooks/dead-letters", headers=auth(tokens["admin"])).json()["items"] == []
    assert (
        client.post("/v1/webhooks/dead-letters/999/retry", headers=auth(tokens["admin"])).status_code == 404
    )


def test_a_receiver_with_another_secret_refuses_and_the_delivery_is_retried(sdk: DeletionSDK) -> None:
    with running_receiver(Receiver()) as receiver:
        _hook(sdk, receiver)
        receiver.secret = "whsec_" + "0" * 64  # the customer configured a wrong secret
        sdk.submit_request(subject=SUBJECT, policy="gdpr-art17")
        deliverer = WebhookDeliverer(sdk, config=FAST)
        try:
            assert deliverer.deliver_due().retried == 1
        finally:
            deliverer.stop()
    assert receiver.accepted == [] and len(receiver.refused) == 1
    assert ServiceAdmin(sdk).deliveries()[0].last_error == "HTTP 400"


def test_an_unreachable_receiver_is_a_failed_attempt(sdk: DeletionSDK) -> None:
    with running_receiver(Receiver()) as receiver:
        url = receiver.url
    ServiceAdmin(sdk).add_webhook(url=url)  # its server is gone: connection refused
    sdk.submit_request(subject=SUBJECT, policy="gdpr-art17")
    deliverer = WebhookDeliverer(sdk, config=FAST)
    try:
        assert deliverer.deliver_due().retried == 1
    finally:
        deliverer.stop()
    assert "Connect" in (ServiceAdmin(sdk).deliveries()[0].last_error or "")


def test_a_claimed_delivery_is_not_claimed_twice_until_its_lease_ends(sdk: DeletionSDK) -> None:
    from deletion_sdk.ledger import webhooks

    ServiceAdmin(sdk).add_webhook(url="https://a.example/hook")
    sdk.submit_request(subject=SUBJECT, policy="gdpr-art17")
    t0 = utcnow()
    assert len(webhooks.claim_due(sdk.ledger, lease_s=60, now=t0)) == 1
    assert webhooks.claim_due(sdk.ledger, lease_s=60, now=t0 + timedelta(seconds=59)) == ()
    assert len(webhooks.claim_due(sdk.ledger, lease_s=60, now=t0 + timedelta(seconds=61))) == 1
