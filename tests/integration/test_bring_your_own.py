"""Bring your own model end to end: a torchvision ResNet-18 trained by a plain PyTorch loop outside the SDK.

The data is a UTKFace-named folder generated here; the team's loop (the one in
``examples/bring_your_own.py``) records its batches with the ``LineageRecorder``; the model is registered
with its recipe through the CLI, unlearned by ``batch run`` with exact retraining (which must retrain with
that recipe, on the training pool without the forgotten people), and certified.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import structlog
from safetensors.torch import save_file

from deletion_sdk.attest.verify import verify_certificate
from deletion_sdk.cli.app import main
from deletion_sdk.data import AgeBins
from deletion_sdk.external import LineageRecorder
from deletion_sdk.jobs.models import training_set_root
from deletion_sdk.ledger import lineage, retirement
from deletion_sdk.sdk import DeletionSDK
from deletion_sdk.settings import Settings
from deletion_sdk.training import load_checkpoint
from deletion_sdk.training.external import TrainingRecipe

pytestmark = pytest.mark.slow
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bring_your_own.py"


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bring_your_own_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def cli(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(["--home", str(home), *args])
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), out, err


def test_team_resnet18_registered_with_recipe_unlearned_by_batch_run_and_certified(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DELETION_SDK_DEVICE", "cpu")
    monkeypatch.setenv("DELETION_SDK_REGISTRY", "mlflow")  # batch run publishes to MLflow (SQLite under HOME)
    ex = _example()
    folder, home = tmp_path / "utkface", tmp_path / "home"
    people = ex.write_utkface_folder(folder, n_subjects=24)
    for args in (("init",), ("keys", "generate")):
        assert cli(capsys, home, *args)[0] == 0
    code, out, err = cli(
        capsys,
        home,
        "datasets",
        "import-utkface",
        str(folder),
        "--name",
        "faces",
        "--subjects",
        str(folder / "subjects.csv"),
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["dataset"]["splits"].keys() == {"train", "holdout"}

    # --- outside the SDK: the team's own loop, recipe and files ---
    recipe = TrainingRecipe(optimizer="sgd", lr=0.05, epochs=1, batch_size=16, image_size=ex.IMAGE_SIZE)
    recorder = LineageRecorder(dataset="faces")
    net = ex.team_training_loop(folder, recipe, recorder)
    save_file(
        {k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp_path / "resnet18.safetensors")
    )
    recorder.save(tmp_path / "lineage.json")
    (tmp_path / "recipe.json").write_text(recipe.model_dump_json())

    code, out, err = cli(
        capsys,
        home,
        "models",
        "register-external",
        "--name",
        "age-resnet",
        "--arch",
        "torchvision:resnet18",
        "--weights",
        str(tmp_path / "resnet18.safetensors"),
        "--dataset",
        "faces",
        "--lineage",
        str(tmp_path / "lineage.json"),
        "--recipe",
        str(tmp_path / "recipe.json"),
        "--deploy",
        "--json",
    )
    assert code == 0, err
    original = json.loads(out)
    assert original["metrics"]["recipe"] == "recorded" and original["training_root"]

    import mlflow  # registry: mlflow put the deployed version in the local MLflow registry, alias on it

    uri = f"sqlite:///{(home / 'mlflow' / 'mlflow.db').resolve()}"
    client = mlflow.tracking.MlflowClient(uri, registry_uri=uri)
    first = client.get_model_version_by_alias("age-resnet", "production")
    assert first.tags["deletion_sdk.weights_sha256"] == original["weights_digest"]
    before = {"tracking_uri": uri, "original_version": str(first.version)}
    for person in people[:2]:
        code, _, err = cli(
            capsys, home, "requests", "submit", "--subject", person, "--policy", "gdpr-art17", "--verified"
        )
        assert code == 0, err
    code, out, err = cli(
        capsys, home, "batch", "run", "--model", "age-resnet", "--unlearner", "retrain", "--json"
    )
    assert code == 0, err + out
    result = json.loads(out)
    assert result["status"] == "completed" and result["method"] == "retrain" and result["forget_examples"] > 0

    config = recipe.train_config(arch="torchvision:resnet18", num_classes=AgeBins().num_classes)
    with DeletionSDK.open(settings=Settings(home=home, device="cpu")) as sdk:
        new = sdk.deployed_model(name="age-resnet")
        with sdk.ledger.session(write=False) as session:
            train = lineage.dataset_examples(session, dataset="faces", split="train")
        forgotten = {sdk.subject_ref(subject=p) for p in people[:2]}
        retain = [r for r in train if r.subject_ref not in forgotten]
        weights = sdk.layout.artifact(new.path or "")
    assert new.parent_id == original["model_version_id"] and new.architecture == "torchvision:resnet18"
    meta = load_checkpoint(weights).metadata
    assert meta.train_config is not None
    assert meta.train_config.model_copy(update={"seed": config.seed}) == config  # retrained with the recipe
    assert meta.training_root == training_set_root(retain) == new.training_root  # without the forgotten
    certificate = result["certificate_path"]
    code, _, err = cli(
        capsys, home, "certificate", "verify", certificate, "--key", str(home / "keys" / "signing.pub")
    )
    assert code == 0, err
    verified = verify_certificate(Path(certificate), home / "keys" / "signing.pub")
    predicate, predicate_payload_sha256 = verified.predicate, verified.payload_sha256
    assert predicate.original_model.digest == original["weights_digest"]
    assert predicate.unlearned_model.digest == new.weights_digest and predicate.unlearner.name == "retrain"
    assert cli(capsys, home, "audit", "verify")[0] == 0

    # promoted in the team's MLflow registry: the alias moved to the certified version, certificate attached
    serving = client.get_model_version_by_alias("age-resnet", "production")
    assert str(serving.version) != before["original_version"]
    assert serving.tags["deletion_sdk.weights_sha256"] == new.weights_digest
    assert serving.tags["deletion_sdk.certificate_payload_sha256"] == predicate_payload_sha256
    local = client.download_artifacts(serving.run_id, f"evidence_certificate/{Path(certificate).name}")
    assert Path(local).read_bytes() == Path(certificate).read_bytes()
    # the pre-erasure version is retired there too: deleted once the ledger deleted its weights
    with (
        DeletionSDK.open(settings=Settings(home=home, device="cpu")) as sdk,
        sdk.ledger.session(write=False) as s,
    ):
        ret = retirement.retirement(s, original["model_version_id"])
    assert ret is not None
    listed = {str(mv.version) for mv in client.search_model_versions("name='age-resnet'")}
    if ret.weights_erased_at is not None:
        assert before["original_version"] not in listed
    else:
        kept = client.get_model_version("age-resnet", before["original_version"])
        assert kept.tags["deletion_sdk.status"] == "retired" and "deletion_sdk.retired_at" in kept.tags
        assert not kept.aliases


def test_example_runs_as_written(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(EXAMPLE), str(tmp_path / "byo")],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=EXAMPLE.parent,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "certificate verified" in out.stdout and "audit log verified" in out.stdout
