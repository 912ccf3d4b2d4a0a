"""A deployment (real SQLite file), one API token per scope, and the app under an in-process client."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from deletion_sdk.sdk import DeletionSDK
from deletion_sdk.service import ServiceAdmin, ServiceConfig, create_app

SUBJECT = "zelda.quartermain+svc@example.org"  # distinctive: tests grep the database and logs for it


@pytest.fixture(scope="session")
def _template_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated HOME made once; each test gets a copy (migrating per test would dominate the run time)."""
    home = tmp_path_factory.mktemp("service-template") / "home"
    DeletionSDK.open(home=home).close()
    return home


@pytest.fixture
def sdk(tmp_path: Path, _template_home: Path) -> Iterator[DeletionSDK]:
    shutil.copytree(_template_home, tmp_path / "home")
    with DeletionSDK.open(home=tmp_path / "home") as opened:
        yield opened


@pytest.fixture
def tokens(sdk: DeletionSDK) -> dict[str, str]:
    admin = ServiceAdmin(sdk)
    return {
        scope: admin.create_token(name=f"{scope}-token", scope=scope).token
        for scope in ("intake", "officer", "admin")
    }


def auth(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


@pytest.fixture
def client(sdk: DeletionSDK) -> Iterator[TestClient]:
    app = create_app(sdk, config=ServiceConfig(deliver_webhooks=False, rate_limit_per_s=None))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def submit(client: TestClient, token: str, *, key: str, subject: str = SUBJECT, **body: object) -> dict:
    r = client.post(
        "/v1/requests",
        json={"subject": subject, "policy": "gdpr-art17", **body},
        headers=auth(token, **{"Idempotency-Key": key}),
    )
    assert r.status_code in (200, 201), r.text
    return r.json()
