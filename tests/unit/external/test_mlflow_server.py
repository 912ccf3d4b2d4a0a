"""The MLflow target against a real ``mlflow server`` on loopback (not only a local store)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torchvision
from safetensors.torch import save_file

from deletion_sdk.data import AgeBins

from .test_cli import run

mlflow = pytest.importorskip("mlflow")
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--artifacts-destination",
            (tmp_path / "server-artifacts").as_uri(),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the server's workers are stopped with it
        cwd=tmp_path,
        env={**os.environ, "MLFLOW_SERVER_ALLOWED_HOSTS": "*"},
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("mlflow server did not start: " + (tmp_path / "server.log").read_text()[-2000:])
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()


def test_publish_deployed_to_an_mlflow_server(
    server: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    torch.manual_seed(0)
    net = torchvision.models.mobilenet_v3_small(weights=None, num_classes=AgeBins().num_classes)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp_path / "w.safetensors"))
    home = tmp_path / "home"
    assert run(capsys, home, "init")[0] == 0
    code, out, err = run(
        capsys,
        home,
        "models",
        "register-external",
        "--name",
        "team",
        "--arch",
        "torchvision:mobilenet_v3_small",
        "--weights",
        str(tmp_path / "w.safetensors"),
        "--image-size",
        "16",
        "--deploy",
        "--json",
    )
    assert code == 0 and out.startswith("{"), err + out[:500]
    digest = json.loads(out)["weights_digest"]
    code, out, err = run(
        capsys, home, "registry", "publish-deployed", "team", "--tracking-uri", server, "--json"
    )
    assert code == 0 and out.startswith("{"), err + out[:500]
    pub = json.loads(out)
    assert pub["tracking_uri"] == server and pub["alias_version"] == pub["original_version"]
    client = mlflow.tracking.MlflowClient(server, registry_uri=server)
    serving = client.get_model_version_by_alias("team", "production")
    assert (
        serving.tags["deletion_sdk.weights_sha256"] == digest
        and serving.tags["deletion_sdk.status"] == "deployed"
    )
    names = {a.path for a in client.list_artifacts(serving.run_id, "model")}
    assert any(n.endswith(".safetensors") for n in names)
    code, _, _ = run(capsys, home, "registry", "publish-deployed", "team", "--tracking-uri", server)
    assert code == 0 and len(client.search_model_versions("name='team'")) == 1  # found again, not duplicated
