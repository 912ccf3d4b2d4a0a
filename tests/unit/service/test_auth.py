"""Tokens: 401 without a valid one, 403 outside its scope, 429 over its rate; stored as a digest only."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from deletion_sdk.errors import AuthenticationError, InputError, NotFoundError
from deletion_sdk.ledger.api_tokens import Scope, authenticate
from deletion_sdk.sdk import DeletionSDK
from deletion_sdk.service import ServiceAdmin, ServiceConfig, create_app
from deletion_sdk.service.limits import RateLimiter
from tests.unit.service.conftest import auth, submit

# (method, path, least scope) of every /v1 operation; a test checks this covers the OpenAPI document.
RID = "00000000-0000-0000-0000-000000000000"
OPERATIONS = [
    ("post", "/v1/requests", "intake"),
    ("get", f"/v1/requests/{RID}", "intake"),
    ("get", "/v1/requests", "officer"),
    ("post", f"/v1/requests/{RID}/verify", "officer"),
    ("post", f"/v1/requests/{RID}/deny", "officer"),
    ("post", f"/v1/requests/{RID}/extend", "officer"),
    ("post", f"/v1/requests/{RID}/cancel", "officer"),
    ("get", "/v1/jobs", "officer"),
    ("get", f"/v1/jobs/{RID}", "officer"),
    ("get", f"/v1/jobs/{RID}/certificate", "officer"),
    ("get", "/v1/audit/checkpoint", "officer"),
    ("get", "/v1/audit/entries/0/proof", "officer"),
    ("post", "/v1/webhooks", "admin"),
    ("get", "/v1/webhooks", "admin"),
    ("delete", "/v1/webhooks/abc", "admin"),
    ("get", "/v1/webhooks/dead-letters", "admin"),
    ("post", "/v1/webhooks/dead-letters/1/retry", "admin"),
]
_RANK = {"intake": 0, "officer": 1, "admin": 2}


def _template(path: str) -> str:
    return (
        path.replace(RID, "{request_id}")
        .replace("/entries/0/", "/entries/{index}/")
        .replace("/dead-letters/1/", "/dead-letters/{dead_letter_id}/")
        .replace("/webhooks/abc", "/webhooks/{endpoint_id}")
    )


def test_the_operation_list_covers_every_route_of_the_openapi_document(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    documented = {
        (method, path)
        for path, item in document["paths"].items()
        for method in item
        if path.startswith("/v1")
    }
    listed = {(m, _template(p).replace("/jobs/{request_id}", "/jobs/{job_id}")) for m, p, _ in OPERATIONS}
    assert documented == listed
    for path, item in document["paths"].items():
        for operation in item.values():
            if path.startswith("/v1"):
                assert operation.get("security") == [{"token": []}], path
                assert {"401", "403", "429"} <= set(operation["responses"]), path


@pytest.mark.parametrize(("method", "path", "_scope"), OPERATIONS)
def test_every_operation_answers_401_without_a_token(
    client: TestClient, method: str, path: str, _scope: str
) -> None:
    r = client.request(method, path, json={})
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert r.json()["error"]["type"] == "AuthenticationError"


@pytest.mark.parametrize(("method", "path", "scope"), OPERATIONS)
def test_tokens_below_the_operations_scope_get_403_and_nothing_changes(
    client: TestClient, sdk: DeletionSDK, tokens: dict[str, str], method: str, path: str, scope: str
) -> None:
    before = sdk.audit_log.size()
    for held, token in tokens.items():
        r = client.request(method, path, json={}, headers=auth(token, **{"Idempotency-Key": "k"}))
        if _RANK[held] < _RANK[scope]:
            assert r.status_code == 403, (held, r.text)
            assert r.json()["error"]["type"] == "ScopeError"
        else:
            assert r.status_code not in (401, 403), (held, r.text)
    if scope != "intake" or method == "get":
        assert sdk.audit_log.size() == before


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer dsk_nothex",
        "Basic dXNlcjpwYXNz",
        "Bearer dsk_0123456789abcdef.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  # unknown id
    ],
)
def test_malformed_unknown_and_foreign_scheme_tokens_are_401(client: TestClient, header: str) -> None:
    r = client.get("/v1/requests/x", headers={"Authorization": header})
    assert r.status_code == 401


def test_a_known_id_with_another_secret_is_401(client: TestClient, tokens: dict[str, str]) -> None:
    token_id, _, secret = tokens["admin"].partition(".")
    forged = f"{token_id}.{'A' * len(secret)}"
    r = client.get("/v1/webhooks", headers=auth(forged))
    assert r.status_code == 401
    assert secret not in r.text


def test_a_revoked_token_is_refused_from_the_next_request(
    client: TestClient, sdk: DeletionSDK, tokens: dict[str, str]
) -> None:
    assert client.get("/v1/requests", headers=auth(tokens["officer"])).status_code == 200
    token_id = tokens["officer"].split(".")[0].removeprefix("dsk_")
    ServiceAdmin(sdk).revoke_token(token_id=token_id)
    r = client.get("/v1/requests", headers=auth(tokens["officer"]))
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]
    assert ServiceAdmin(sdk).revoke_token(token_id=token_id).revoked_at is not None  # again: no change
    with pytest.raises(NotFoundError):
        ServiceAdmin(sdk).revoke_token(token_id="0" * 16)


def test_only_a_digest_of_the_secret_is_stored(sdk: DeletionSDK, tokens: dict[str, str], home: Path) -> None:
    sdk.close()
    stored = b"".join(p.read_bytes() for p in home.glob("*.db*"))
    for token in tokens.values():
        secret = token.partition(".")[2]
        assert secret.encode() not in stored
        assert token.encode() not in stored


def test_authenticate_names_no_secret_and_checks_scope_order(sdk: DeletionSDK) -> None:
    created = ServiceAdmin(sdk).create_token(name="x", scope="officer")
    with sdk.ledger.session(write=False) as session:
        assert authenticate(session, created.token).scope is Scope.OFFICER
        with pytest.raises(AuthenticationError) as caught:
            authenticate(session, created.token[:-1] + ("A" if created.token[-1] != "A" else "B"))
    assert created.token.partition(".")[2] not in str(caught.value)
    assert Scope.ADMIN.allows(Scope.OFFICER) and Scope.OFFICER.allows(Scope.INTAKE)
    assert not Scope.INTAKE.allows(Scope.OFFICER) and not Scope.OFFICER.allows(Scope.ADMIN)


@pytest.mark.parametrize(("name", "scope"), [("", "intake"), ("a b", "intake"), ("ok", "root"), ("ok", None)])
def test_token_creation_validates_name_and_scope(sdk: DeletionSDK, name: str, scope: object) -> None:
    with pytest.raises(InputError):
        ServiceAdmin(sdk).create_token(name=name, scope=scope)  # type: ignore[arg-type]


def test_rate_limit_is_per_token_with_retry_after(sdk: DeletionSDK, tokens: dict[str, str]) -> None:
    # A refill of one request per 1000 s: the fourth request within a test run is always over the limit.
    config = ServiceConfig(deliver_webhooks=False, rate_limit_per_s=0.001, rate_burst=3)
    with TestClient(create_app(sdk, config=config)) as c:
        codes = [c.get("/v1/requests", headers=auth(tokens["officer"])).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = c.get("/v1/requests", headers=auth(tokens["officer"]))
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["error"]["type"] == "RateLimited"
        assert c.get("/v1/requests", headers=auth(tokens["admin"])).status_code == 200  # another token


def test_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate_per_s=2.0, burst=2, clock=lambda: now[0])
    assert limiter.acquire("a") is None and limiter.acquire("a") is None
    wait = limiter.acquire("a")
    assert wait == pytest.approx(0.5)
    now[0] += 0.5
    assert limiter.acquire("a") is None
    assert limiter.acquire("b") is None  # buckets are per key
    now[0] += 100.0
    assert [limiter.acquire("a") for _ in range(3)][:2] == [None, None]  # refill capped at the burst


def test_request_body_over_the_limit_is_413_and_nothing_is_recorded(
    sdk: DeletionSDK, tokens: dict[str, str]
) -> None:
    config = ServiceConfig(deliver_webhooks=False, rate_limit_per_s=None, max_body_bytes=1024)
    big = {"subject": "x" * 400, "policy": "gdpr-art17", "pad": "y" * 2000}
    with TestClient(create_app(sdk, config=config)) as c:
        declared = c.post(
            "/v1/requests", json=big, headers=auth(tokens["intake"], **{"Idempotency-Key": "a"})
        )
        assert declared.status_code == 413

        def chunks():  # no Content-Length: counted as it arrives
            yield b'{"subject": "' + b"x" * 600
            yield b"y" * 600 + b'", "policy": "gdpr-art17"}'

        streamed = c.post(
            "/v1/requests",
            content=chunks(),
            headers=auth(tokens["intake"], **{"Idempotency-Key": "b", "Content-Type": "application/json"}),
        )
        assert streamed.status_code == 413
        assert streamed.json()["error"]["type"] == "RequestTooLarge"
        small = c.post(
            "/v1/requests",
            json={"subject": "ok@example.org", "policy": "gdpr-art17"},
            headers=auth(tokens["intake"], **{"Idempotency-Key": "c"}),
        )
        assert small.status_code == 201
    assert len(sdk.list_requests()) == 1


def test_changes_are_attributed_to_the_token_id_not_its_name(
    client: TestClient, sdk: DeletionSDK, tokens: dict[str, str]
) -> None:
    rid = submit(client, tokens["intake"], key="attr")["request"]["request_id"]
    client.post(f"/v1/requests/{rid}/verify", headers=auth(tokens["officer"]))
    actors = [h.actor for h in sdk.request_history(request_id=rid)]
    intake_id = tokens["intake"].split(".")[0].removeprefix("dsk_")
    officer_id = tokens["officer"].split(".")[0].removeprefix("dsk_")
    assert actors == [f"token:{intake_id}", f"token:{officer_id}"]
