"""The library never writes to stdout; its raw-identifier redaction holds under any logging set-up."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from deletion_sdk.logging import EVENT_ATTRIBUTE, configure_logging, get_logger

RAW = "erin.example@example.org"

# Imports the package, opens a deployment, records and verifies a request from a raw identifier, lists
# requests, and runs a registered unlearner on a tiny model: the calls that log on the way. Logging is left
# unconfigured, as a service that embeds the SDK might.
_USE_THE_LIBRARY = textwrap.dedent(
    """
    import sys

    import torch

    import deletion_sdk
    from deletion_sdk import DeletionSDK
    from deletion_sdk.data.tensors import FaceTensors
    from deletion_sdk.training import TrainConfig, build_model
    from deletion_sdk.unlearning import UnlearningContext, run_unlearner

    with DeletionSDK.open(home=sys.argv[1]) as sdk:
        sdk.generate_keys()
        done = sdk.submit_request(subject=sys.argv[2], policy="gdpr-art17")
        sdk.verify_request(request_id=done.request.request_id, reason="checked")
        sdk.list_requests()
        sdk.verify_audit_log()
    g = torch.Generator().manual_seed(0)

    def faces(n, tag):
        return FaceTensors(
            images=torch.randint(0, 256, (n, 3, 16, 16), generator=g, dtype=torch.uint8),
            labels=torch.randint(0, 4, (n,), generator=g),
            ages=torch.rand(n, generator=g) * 80,
            example_ids=tuple(f"{tag}-{i}" for i in range(n)),
        )

    model = build_model("tiny_cnn", num_classes=4, image_size=16)
    config = TrainConfig(num_classes=4, image_size=16)  # the recipe the model was trained with
    run_unlearner("finetune", model, forget=faces(8, "f"), retain=faces(24, "r"),
                  context=UnlearningContext(device="cpu", seed=0, train_config=config), params={"epochs": 1})
    """
)


@pytest.mark.slow
def test_using_the_library_writes_nothing_to_stdout(tmp_path: Path) -> None:
    script = tmp_path / "use.py"
    script.write_text(_USE_THE_LIBRARY, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "home"), RAW],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout == ""
    assert RAW not in done.stderr


@pytest.mark.slow
def test_the_same_calls_log_at_info_once_logging_is_configured(tmp_path: Path) -> None:
    # The quiet stdout above must come from routing, not from the library logging nothing at all.
    script = tmp_path / "use.py"
    script.write_text(
        "import logging, sys\nlogging.basicConfig(level=logging.INFO, stream=sys.stderr)\n"
        + _USE_THE_LIBRARY,
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "home"), RAW],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout == ""
    assert "INFO:deletion_sdk.unlearning:unlearning.start" in done.stderr
    assert "request." in done.stderr or "intake" in done.stderr
    assert RAW not in done.stderr


class _EverythingFormatter(logging.Formatter):
    """Shows every attribute of the record, as a careless application handler might."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname} {record.name} {record.getMessage()} {vars(record)}"


@pytest.fixture
def root_logging() -> Iterator[io.StringIO]:
    """A DEBUG handler on the root logger writing to a buffer, as an application might add; undone after."""
    root = logging.getLogger()
    before_level, before_handlers = root.level, list(root.handlers)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_EverythingFormatter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.handlers[:] = before_handlers
    root.setLevel(before_level)
    structlog.reset_defaults()


def test_redaction_holds_under_the_applications_logging_and_structlog_config(
    root_logging: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    # An application that configured structlog to print to stdout does not capture the library's loggers.
    structlog.configure(
        processors=[structlog.processors.JSONRenderer()],
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
    )
    log = get_logger("deletion_sdk.test")
    log.info("intake.received", subject=RAW, email=RAW, subject_ref="ab" * 32)
    # Plain stdlib logging on a library logger: the filter removes the personal extra attribute.
    logging.getLogger("deletion_sdk.test").info("plain", extra={"email": RAW, "count": 3})
    text = root_logging.getvalue()
    assert "intake.received" in text and "ab" * 32 in text and "pii_keys_dropped" in text
    assert "plain" in text and "'count': 3" in text
    assert RAW not in text
    assert capsys.readouterr().out == ""


def test_a_disabled_level_is_not_processed(root_logging: io.StringIO) -> None:
    logging.getLogger().setLevel(logging.WARNING)
    log = get_logger("deletion_sdk.test")
    log.debug("quiet", n=1)
    log.warning("loud", n=2)
    assert "quiet" not in root_logging.getvalue() and "loud n=2" in root_logging.getvalue()


def test_records_carry_the_structured_event(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="deletion_sdk")
    get_logger("deletion_sdk.test").info("audit.checkpoint", tree_size=3, name=RAW)
    (record,) = [r for r in caplog.records if r.name == "deletion_sdk.test"]
    event = getattr(record, EVENT_ATTRIBUTE)
    assert event["event"] == "audit.checkpoint" and event["tree_size"] == 3
    assert "name" not in event and event["pii_keys_dropped"] == ["name"]
    assert record.getMessage() == "audit.checkpoint tree_size=3 pii_keys_dropped=['name']"


@pytest.mark.parametrize("as_json", [True, False])
def test_configure_logging_renders_json_lines_or_console_lines(as_json: bool) -> None:
    root = logging.getLogger()
    before_level, before_handlers = root.level, list(root.handlers)
    stream = io.StringIO()
    try:
        configure_logging(level="INFO", json=as_json, stream=stream)
        configure_logging(level="INFO", json=as_json, stream=stream)  # replaces its own handler: no doubles
        get_logger("deletion_sdk.test").info("job.done", job_id="j1", subject=RAW)
        get_logger("deletion_sdk.test").debug("hidden")
    finally:
        root.handlers[:] = before_handlers
        root.setLevel(before_level)
    lines = stream.getvalue().strip().splitlines()
    assert len(lines) == 1
    assert RAW not in lines[0]
    if as_json:
        doc = json.loads(lines[0])
        assert doc["event"] == "job.done" and doc["job_id"] == "j1" and doc["level"] == "info"
        assert doc["logger"] == "deletion_sdk.test" and doc["timestamp"].endswith("Z")
    else:
        assert "job.done" in lines[0] and "job_id=j1" in lines[0] and "[info" in lines[0]
