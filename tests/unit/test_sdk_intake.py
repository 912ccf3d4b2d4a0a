from __future__ import annotations

import io
import logging
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from deletion_sdk.errors import ConflictError, IllegalTransitionError, InputError, UnknownPolicyError
from deletion_sdk.ledger.lineage import ExampleInput
from deletion_sdk.logging import configure_logging
from deletion_sdk.sdk import DeletionSDK
from deletion_sdk.settings import Settings


@pytest.fixture
def sdk(home: Path) -> Iterator[DeletionSDK]:
    opened = DeletionSDK.open(home=home)
    yield opened
    opened.close()


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    before_level, before_handlers = root.level, list(root.handlers)
    configure_logging(level="DEBUG", json=True, stream=stream)
    yield stream
    root.handlers[:] = before_handlers
    root.setLevel(before_level)


def test_open_creates_home_database_and_key(home: Path) -> None:
    with DeletionSDK.open(home=home) as sdk:
        assert (home / "ledger.db").exists()
        assert stat.S_IMODE((home / "subject.key").stat().st_mode) == 0o600
        assert sdk.ledger.current_revision() == sdk.ledger.head_revision()
        ref = sdk.subject_ref(subject="alice@example.com")
    with DeletionSDK.open(home=home) as again:  # second open: same key, nothing recreated
        assert again.subject_ref(subject="ALICE@example.com") == ref


def test_subject_key_from_the_environment(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELETION_SDK_SUBJECT_KEY", "ab" * 32)
    init = DeletionSDK.init(home=home)
    assert init.subject_key_path is None and not init.subject_key_created
    assert not (home / "subject.key").exists()
    with DeletionSDK.open(settings=Settings()) as sdk:
        assert sdk.subject_key.secret == bytes.fromhex("ab" * 32)


def test_facade_lifecycle(sdk: DeletionSDK) -> None:
    received = datetime.now(UTC) - timedelta(days=3)
    first = sdk.submit_request(
        subject="alice@example.com", policy="gdpr-art17", received_at=received.isoformat()
    )
    assert first.created and first.request.received_at == received
    again = sdk.submit_request(subject=" alice@example.com", policy="gdpr-art17")
    assert again.duplicate_of_open and again.request.request_id == first.request.request_id
    rid = first.request.request_id
    extended = sdk.extend_request(request_id=rid, reason="complex request")
    assert extended.due_at > first.request.due_at
    with pytest.raises(ConflictError):
        sdk.extend_request(request_id=rid, reason="twice")
    assert sdk.verify_request(request_id=rid).status == "verified"
    assert sdk.deny_request(request_id=rid, reason="legal hold").status == "denied"
    with pytest.raises(IllegalTransitionError):
        sdk.cancel_request(request_id=rid)
    assert [h.to_status for h in sdk.request_history(request_id=rid)] == [
        "received",
        "received",
        "verified",
        "denied",
    ]
    bob = sdk.submit_request(subject="bob@example.com", policy="ccpa", received_at="2024-01-01")
    assert [r.request_id for r in sdk.overdue()] == [bob.request.request_id]
    assert [r.request_id for r in sdk.list_requests(status="denied")] == [rid]
    assert sdk.get_request(request_id=rid).status == "denied"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"subject": "a@example.com", "policy": "hipaa"}, UnknownPolicyError, "Known policies: .*gdpr-art17"),
        ({"subject": "a@example.com", "policy": ""}, InputError, "'policy' parameter"),
        ({"subject": "", "policy": "ccpa"}, InputError, "'subject' parameter"),
        ({"subject": "a@example.com", "policy": "ccpa", "received_at": "31/01/2024"}, InputError, "ISO 8601"),
        ({"subject": "a@example.com", "policy": "ccpa", "received_at": "2999-01-01"}, InputError, "future"),
        (
            {"subject": "a@example.com", "policy": "ccpa", "idempotency_key": " "},
            InputError,
            "idempotency_key",
        ),
    ],
)
def test_submit_rejects_bad_input_and_records_nothing(
    sdk: DeletionSDK, kwargs: dict[str, str], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        sdk.submit_request(**kwargs)  # type: ignore[arg-type]
    assert sdk.list_requests() == ()


def test_register_and_resolve_in_memory_dataset(sdk: DeletionSDK) -> None:
    refs = [sdk.subject_ref(subject=f"user-{i}") for i in range(3)]
    rows = [ExampleInput(f"x{i}", refs[i % 3], f"{i:064x}", 30.0) for i in range(9)]
    dataset = sdk.register_dataset(name="synthetic", examples=rows)
    assert dataset.n_subjects == 3 and dataset.manifest_digest is None
    assert sdk.list_datasets() == (dataset,) and sdk.get_dataset(dataset="synthetic") == dataset
    rid = sdk.submit_request(subject="user-1", policy="ccpa").request.request_id
    forget = sdk.resolve_forget_set(request_ids=[rid], dataset="synthetic")
    assert forget.example_ids == ("x1", "x4", "x7")
    with pytest.raises(InputError, match="exactly one"):
        sdk.register_dataset(name="y")
    with pytest.raises(InputError, match="sequence of request ids"):
        sdk.resolve_forget_set(request_ids=rid)  # type: ignore[arg-type]


@pytest.mark.postgres
def test_facade_on_postgres(postgres_url: str, home: Path) -> None:
    with DeletionSDK.open(home=home, database_url=postgres_url) as sdk:
        assert sdk.ledger.engine.dialect.name == "postgresql"
        result = sdk.submit_request(subject="carol@example.com", policy="gdpr-art17", idempotency_key="k1")
        assert sdk.submit_request(subject="carol@example.com", policy="gdpr-art17", idempotency_key="k1") == (
            result.model_copy(update={"created": False})
        )
        assert not (home / "ledger.db").exists()


RAW_IDENTIFIERS = [
    "alice.liddell@example.com",
    "Bob.Marley@Example.ORG",
    "customer-778812",
    "Zoë Müller-Lüdenscheidt",
    "+44 20 7946 0958",
    "dora@import.example",
    "eve@import.example",
    "frank@manifest.example",
    "Grace Hopper",
]


def _forms(identifier: str) -> set[bytes]:
    texts = {identifier, identifier.strip(), identifier.lower(), identifier.casefold()}
    return {t.encode(enc) for t in texts for enc in ("utf-8", "utf-16-le")}


def test_no_raw_identifier_reaches_the_database_or_the_logs(
    home: Path,
    tmp_path: Path,
    log_stream: io.StringIO,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    sdk = DeletionSDK.open(home=home)
    try:
        ids = []
        for i, who in enumerate(RAW_IDENTIFIERS[:5]):
            ids.append(
                sdk.submit_request(
                    subject=who, policy="gdpr-art17", idempotency_key=f"k{i}"
                ).request.request_id
            )
        with pytest.raises(InputError) as bad_date:
            sdk.submit_request(subject=RAW_IDENTIFIERS[0], policy="ccpa", received_at="not-a-date")
        csv_file = tmp_path / "requests.csv"
        csv_file.write_text(
            "subject,policy,received_at\n"
            f"{RAW_IDENTIFIERS[5]},ccpa,2024-05-01\n{RAW_IDENTIFIERS[6]},nope,\n{RAW_IDENTIFIERS[6]},ccpa,garbage\n"
        )
        report = sdk.import_requests(path=csv_file)
        Image.new("RGB", (2, 2)).save(tmp_path / "img.bin", format="PNG")  # registration decodes it
        manifest = tmp_path / "manifest.csv"
        manifest.write_text(
            "example_id,subject_id,path,age\n"
            f"m1,{RAW_IDENTIFIERS[7]},img.bin,40\nm2,{RAW_IDENTIFIERS[8]},img.bin,41\nm3,{RAW_IDENTIFIERS[0]},img.bin,42\n"
        )
        sdk.register_dataset(name="faces", manifest=manifest)
        sdk.extend_request(request_id=ids[0], reason="complex")
        sdk.deny_request(request_id=ids[1], reason="identity not verified")
        forget = sdk.resolve_forget_set(request_ids=ids, dataset="faces")
        assert forget.example_ids == ("m3",)
        db_files = sorted(home.glob("ledger.db*"))
        wal = home / "ledger.db-wal"
        assert wal in db_files and wal.stat().st_size > 0  # the WAL holds real, uncheckpointed pages
        blobs = {p.name: p.read_bytes() for p in db_files}
    finally:
        sdk.close()
    blobs.update({f"{p.name} (closed)": p.read_bytes() for p in sorted(home.glob("ledger.db*"))})
    captured = capsys.readouterr()
    logs = log_stream.getvalue() + caplog.text + captured.out + captured.err
    texts = {
        "logs": logs.encode(),
        "errors": (str(bad_date.value) + report.model_dump_json()).encode(),
        "forget set": forget.model_dump_json().encode(),
    }
    assert sdk.subject_ref(subject=RAW_IDENTIFIERS[0]) in logs  # logging was captured: pseudonyms appear
    assert len(report.errors) == 2
    for identifier in RAW_IDENTIFIERS:
        for form in _forms(identifier):
            for where, data in {**blobs, **texts}.items():
                assert form not in data, f"raw identifier {identifier!r} found in {where}"
