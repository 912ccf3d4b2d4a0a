"""``deletion-sdk tokens`` and ``deletion-sdk webhooks``, and ``serve`` refusing a HOME without a ledger."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from tests.cli_run import run_in_home as run
from tests.unit.service.receiver import Receiver, running_receiver


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def test_tokens_create_list_revoke(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    assert run(capsys, home, "init")[0] == 0
    code, out, _ = run(capsys, home, "tokens", "create", "--scope", "officer", "--name", "desk", "--json")
    assert code == 0
    created = json.loads(out)
    token, token_id = created["token"], created["record"]["token_id"]
    assert token.startswith(f"dsk_{token_id}.") and created["record"]["scope"] == "officer"
    code, out, _ = run(capsys, home, "tokens", "list", "--json")
    listed = json.loads(out)
    assert [t["token_id"] for t in listed] == [token_id] and token.partition(".")[2] not in out
    assert run(capsys, home, "tokens", "revoke", token_id, "--json")[0] == 0
    assert json.loads(run(capsys, home, "tokens", "list", "--active", "--json")[1]) == []
    code, _, err = run(capsys, home, "tokens", "create", "--scope", "root", "--name", "x")
    assert code == 2 and err.startswith("error: The 'scope' parameter must be one of intake, officer, admin")
    code, _, err = run(capsys, home, "tokens", "revoke", "0000000000000000")
    assert code == 2 and "no API token" in err


def test_webhooks_add_deliver_dead_letters_retry(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    assert run(capsys, home, "init")[0] == 0
    with running_receiver(Receiver()) as receiver:
        code, out, _ = run(capsys, home, "webhooks", "add", receiver.url, "--json")
        assert code == 0
        added = json.loads(out)
        receiver.secret = added["secret"]
        assert "secret_salt" not in out
        assert (
            run(capsys, home, "requests", "submit", "--subject", "a@example.org", "--policy", "ccpa")[0] == 0
        )
        code, out, _ = run(capsys, home, "webhooks", "deliver", "--json")
        assert code == 0 and json.loads(out)["delivered"] == 1
    assert [e["type"] for e in receiver.accepted] == ["request.received"]
    endpoint_id = added["endpoint"]["endpoint_id"]
    code, out, _ = run(capsys, home, "webhooks", "list", "--json")
    assert [e["endpoint_id"] for e in json.loads(out)] == [endpoint_id]
    assert json.loads(run(capsys, home, "webhooks", "dead-letters", "--json")[1]) == []
    assert json.loads(run(capsys, home, "webhooks", "disable", endpoint_id, "--json")[1])["disabled_at"]
    code, _, err = run(capsys, home, "webhooks", "add", "ftp://example.org/x")
    assert code == 2 and "http:// or https://" in err
    code, _, err = run(capsys, home, "webhooks", "retry", "7")
    assert code == 2 and "no webhook dead letter" in err


def test_serve_refuses_a_home_without_a_ledger(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "typo-home"
    code, _, err = run(capsys, missing, "serve", "--port", "0")
    assert code == 2 and "deletion-sdk init" in err
    assert not (missing / "ledger.db").exists()


def test_serve_refuses_bad_limits(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    assert run(capsys, home, "init")[0] == 0
    code, _, err = run(capsys, home, "serve", "--max-body-bytes", "10")
    assert code == 2 and "max_body_bytes" in err
