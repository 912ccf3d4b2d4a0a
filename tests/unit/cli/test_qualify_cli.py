"""``deletion-sdk qualify`` end to end on the tiny synthetic data: real training, no network, a tmp HOME.

The full run trains 6 originals and 6 retrains and runs 6 unlearnings (one epoch each, 16×16 pixels). On
the two-core development machine it took about 10 s when idle but 50 to 160 s while other jobs shared the
cores, so it is marked ``slow`` (it still runs in ``make test``); the option checks fail before any training.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from deletion_sdk.training import TrainConfig
from deletion_sdk.verification.qualification import load_qualification
from tests.cli_run import run_cli as run
from tests.unit.cli._errors import json_error

CONFIG = TrainConfig(arch="tiny_cnn", image_size=16, epochs=1, batch_size=256)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a network connection fails the test (nothing may be downloaded)."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"the test tried to open a network connection: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def sdk_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The SDK home, under a tmp user HOME too (so no cache lands in the developer's ~)."""
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    return tmp_path / "sdk-home"


@pytest.mark.slow
def test_qualify_tiny_writes_its_report_under_home(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sdk_home: Path, offline: None
) -> None:
    config = tmp_path / "train.json"
    config.write_text(CONFIG.model_dump_json())
    args = ["--home", str(sdk_home), "qualify", "--unlearner", "finetune", "--size", "tiny", "--models", "6"]
    args += ["--config", str(config), "--device", "cpu", "--param", "epochs=1"]
    code, out, err = run(capsys, *args, "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["unlearner"], summary["n_models"]) == ("finetune", 6)
    for key in (
        "forgetting_quality",
        "final_score",
        "oracle_forgetting_quality",
        "forgetting_quality_at_half",
    ):
        assert 0.0 <= summary[key] <= 1.0
    assert summary["time_fraction"] > 0

    directory = sdk_home / "qualification"
    stored = Path(summary["path"])
    assert stored == directory / f"{summary['digest']}.json" and stored.is_file()
    report = load_qualification(summary["digest"], directory=directory)  # digest-checked on load
    assert report.train_config == CONFIG and report.params["epochs"] == 1 and report.device == "cpu"
    assert (
        report.n_models == 6 and report.n_forget > 0 and report.n_train == report.n_forget + report.n_retain
    )
    # every run is stored by task key: 6 originals, 6 retrains and 6 unlearned models
    assert len(list((directory / "models").rglob("*.safetensors"))) == 18


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--size", "huge"], "'--size' option must be 'default' or 'tiny'"),
        (["--param", "no-equals-sign"], "'--param' option must be KEY=VALUE"),
        (["--models", "5"], "--models"),
    ],
    ids=["size", "param", "too-few-models"],
)
def test_qualify_rejects_bad_options_with_exit_2(
    capsys: pytest.CaptureFixture[str], sdk_home: Path, offline: None, extra: list[str], message: str
) -> None:
    args = ["--home", str(sdk_home), "qualify", "--unlearner", "finetune", "--size", "tiny", *extra]
    code, out, err = run(capsys, *args, "--json")
    assert code == 2 and out == ""
    assert message in json_error(err)["message"]
    assert not (sdk_home / "qualification").exists() or not any((sdk_home / "qualification").glob("*.json"))
