"""A deployment with a deployed model version (no weights needed) and a policy directory of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deletion_sdk.jobs.pipeline import BatchRunner
from deletion_sdk.ledger import registry
from deletion_sdk.policy.loader import BUILTIN_POLICY_DIR
from deletion_sdk.sdk import DeletionSDK
from deletion_sdk.settings import Settings

MODEL = "age"


@pytest.fixture
def sdk(tmp_path: Path) -> Iterator[DeletionSDK]:
    policies = tmp_path / "policies"
    policies.mkdir()
    text = (BUILTIN_POLICY_DIR / "gdpr-art17.yaml").read_text().replace("id: gdpr-art17", "id: house")
    (policies / "house.yaml").write_text(text)
    with DeletionSDK.open(settings=Settings(home=tmp_path / "home", policy_dir=policies)) as opened:
        opened.generate_keys()
        with opened.ledger.session() as session:
            version = registry.add_model_version(
                session, name=MODEL, weights_digest="ab" * 32, architecture="tiny_cnn"
            )
            registry.mark_deployed(session, version.model_version_id)
        yield opened


def runner(sdk: DeletionSDK) -> BatchRunner:
    return BatchRunner(ledger=sdk.ledger, context=sdk.context, audit=sdk.audit_log, signer=sdk._signer())


def due_request(sdk: DeletionSDK, policy: str = "house") -> str:
    r = sdk.submit_request(subject="someone@example.org", policy=policy, verified=True)
    return r.request.request_id
