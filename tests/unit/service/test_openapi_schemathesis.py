"""schemathesis against the OpenAPI document: no 5xx, every status code and body as documented.

For every operation, generated valid (positive) and invalid (negative) requests are sent in-process with an
admin token (which may call everything) and judged by all of schemathesis' checks: no server error, status
codes, response schemas, headers and content types as documented, invalid input refused with a 4xx, and
the operation refusing a call without its token. One check is left out: ``positive_data_acceptance`` expects
every schema-valid request to succeed, but some are refused by rules no schema states (an unknown policy id,
a received-at date in the future): those answer 400, which every such operation documents.
``max_examples`` is pinned and generation derandomised, so every run sends the same requests.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from deletion_sdk.sdk import DeletionSDK
from deletion_sdk.service import ServiceAdmin, ServiceConfig, create_app

pytestmark = pytest.mark.slow

OPERATIONS = [
    ("POST", "/v1/requests"),
    ("GET", "/v1/requests"),
    ("GET", "/v1/requests/{request_id}"),
    ("POST", "/v1/requests/{request_id}/verify"),
    ("POST", "/v1/requests/{request_id}/deny"),
    ("POST", "/v1/requests/{request_id}/extend"),
    ("POST", "/v1/requests/{request_id}/cancel"),
    ("GET", "/v1/jobs"),
    ("GET", "/v1/jobs/{job_id}"),
    ("GET", "/v1/jobs/{job_id}/certificate"),
    ("GET", "/v1/audit/checkpoint"),
    ("GET", "/v1/audit/entries/{index}/proof"),
    ("POST", "/v1/webhooks"),
    ("GET", "/v1/webhooks"),
    ("DELETE", "/v1/webhooks/{endpoint_id}"),
    ("GET", "/v1/webhooks/dead-letters"),
    ("POST", "/v1/webhooks/dead-letters/{dead_letter_id}/retry"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
]


def test_the_list_names_every_operation_of_the_document(sdk: DeletionSDK) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(sdk))
    found = {(op.method.upper(), op.path) for op in (r.ok() for r in schema.get_all_operations())}
    assert found == set(OPERATIONS)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_conforms_to_the_openapi_document(
    sdk: DeletionSDK, tokens: dict[str, str], method: str, path: str, mode: GenerationMode
) -> None:
    ServiceAdmin(sdk).add_webhook(url="http://127.0.0.1:9/unused")  # request changes also write the outbox
    sdk.submit_request(subject="someone@example.org", policy="gdpr-art17")  # something to list and prove
    if mode is GenerationMode.NEGATIVE and path in ("/healthz", "/readyz"):
        pytest.skip("no parameters, headers or body: there is no invalid request to make")
    # A body cap far above any generated body: oversized bodies (413) are tested in test_auth.py.
    config = ServiceConfig(deliver_webhooks=False, rate_limit_per_s=None, max_body_bytes=10_000_000)
    app = create_app(sdk, config=config)
    # The token goes through schemathesis' own auth, so a negative case that leaves it out is sent without it.
    auth = schemathesis.Config.from_dict({"auth": {"openapi": {"token": {"bearer": tokens["admin"]}}}})
    operation = schemathesis.openapi.from_asgi("/openapi.json", app, config=auth)[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=8,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        statuses.append(case.call_and_validate(excluded_checks=[positive_data_acceptance]).status_code)

    statuses: list[int] = []
    run()
    if mode is GenerationMode.POSITIVE and path.startswith("/v1"):
        assert any(s not in (401, 403) for s in statuses), statuses  # the token was sent and accepted
