"""Qualification: N originals, retrains and unlearning runs, F, final score, oracle, stored report, CLI."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from deletion_sdk.cli.app import main
from deletion_sdk.data import FaceTensors
from deletion_sdk.errors import InputError, IntegrityError
from deletion_sdk.executor import ResultStore
from deletion_sdk.training import TrainConfig
from deletion_sdk.unlearning import get_unlearner
from deletion_sdk.verification.qualification import (
    QualificationReport,
    load_qualification,
    qualify,
    select_forget_set,
    store_qualification,
)

from .conftest import make_faces

CONFIG = TrainConfig(
    arch="verification_test_mlp", num_classes=4, image_size=8, epochs=5, batch_size=30, lr=1e-2
)


@pytest.fixture(scope="module")
def qualified(tmp_path_factory: pytest.TempPathFactory) -> tuple[QualificationReport, Path]:
    g = torch.Generator().manual_seed(9)
    train = make_faces(120, offset=60_000, generator=g)
    test = make_faces(40, offset=70_000, generator=g)
    forget = train.take(list(range(12)))
    home = tmp_path_factory.mktemp("home")
    report = qualify(
        "finetune",
        CONFIG,
        6,
        train=train,
        test=test,
        forget=forget,
        device="cpu",
        directory=home / "qualification",
    )
    return report, home


def test_report_figures(qualified: tuple[QualificationReport, Path]) -> None:
    report, _ = qualified
    assert (report.n_models, report.n_forget, report.n_retain, report.n_test) == (6, 12, 108, 40)
    assert report.forgetting.n_models == 6 and report.forgetting.epsilons.shape == (12,)
    assert report.oracle.n_models == 3 and report.forgetting_at_oracle_size.n_models == 3
    assert 0.0 <= report.forgetting.score <= 1.0
    expected = (
        report.forgetting.score
        * (report.retain_accuracy_unlearned.value / report.retain_accuracy_retrained.value)
        * (report.test_accuracy_unlearned.value / report.test_accuracy_retrained.value)
    )
    assert report.final_score == pytest.approx(expected)
    assert report.retain_accuracy_retrained.n == 6
    assert report.time_fraction > 0
    default_epochs = get_unlearner("finetune").Params().epochs  # type: ignore[attr-defined]
    assert report.unlearner == "finetune" and report.params["epochs"] == default_epochs


def test_report_is_stored_by_digest_and_tampering_is_detected(
    qualified: tuple[QualificationReport, Path],
) -> None:
    report, home = qualified
    digest = report.digest()
    path = home / "qualification" / f"{digest}.json"
    assert path.is_file()
    assert load_qualification(digest, directory=home / "qualification") == report
    assert json.loads(path.read_bytes()) == json.loads(report.model_dump_json())
    path.write_bytes(path.read_bytes().replace(b'"finetune"', b'"retrain_"'))
    with pytest.raises(IntegrityError):
        load_qualification(digest, directory=home / "qualification")
    store_qualification(report, directory=home / "qualification")  # restore


def test_trained_models_are_cached_and_shared_between_methods(
    qualified: tuple[QualificationReport, Path],
) -> None:
    report, home = qualified
    store = ResultStore(home / "qualification" / "models")
    records = store.records()
    assert Counter(r.kind for r in records) == {"train": 12, "unlearn": 6}
    assert {r.label for r in records if r.kind == "train"} >= {"original-000", "retrain-005"}
    models = home / "qualification" / "models"
    mtimes = {p: p.stat().st_mtime_ns for p in models.rglob("*.safetensors")}
    g = torch.Generator().manual_seed(9)
    train = make_faces(120, offset=60_000, generator=g)
    test = make_faces(40, offset=70_000, generator=g)
    other = qualify(
        "neggrad_plus",
        CONFIG,
        6,
        train=train,
        test=test,
        forget=train.take(list(range(12))),
        device="cpu",
        directory=home / "qualification",
    )
    after = {p: p.stat().st_mtime_ns for p in models.rglob("*.safetensors")}
    assert {p: after[p] for p in mtimes} == mtimes  # nothing trained again or rewritten
    assert Counter(r.kind for r in store.records()) == {"train": 12, "unlearn": 12}
    # same retrained models: the retrained-side accuracies and the oracle are identical
    assert other.retain_accuracy_retrained == report.retain_accuracy_retrained
    np.testing.assert_array_equal(other.oracle.epsilons, report.oracle.epsilons)


def test_a_rerun_reuses_every_run_and_gives_the_same_figures(
    qualified: tuple[QualificationReport, Path],
) -> None:
    report, home = qualified
    g = torch.Generator().manual_seed(9)
    train = make_faces(120, offset=60_000, generator=g)
    test = make_faces(40, offset=70_000, generator=g)
    lines: list[str] = []
    again = qualify(
        "finetune",
        CONFIG,
        6,
        train=train,
        test=test,
        forget=train.take(list(range(12))),
        device="cpu",
        directory=home / "qualification",
        progress=lines.append,
    )
    assert len(lines) == 18 and all("stored earlier" in line for line in lines)
    assert again.model_dump(exclude={"created_at"}) == report.model_dump(exclude={"created_at"})


def test_a_tampered_stored_model_is_refused(
    qualified: tuple[QualificationReport, Path], tmp_path: Path
) -> None:
    _, home = qualified
    copy = tmp_path / "qualification"
    shutil.copytree(home / "qualification", copy)
    store = ResultStore(copy / "models")
    victim = next(r for r in store.records() if r.label == "retrain-002")
    path = store.weights_path(victim.key)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    g = torch.Generator().manual_seed(9)
    train = make_faces(120, offset=60_000, generator=g)
    test = make_faces(40, offset=70_000, generator=g)
    with pytest.raises(IntegrityError):
        qualify(
            "finetune",
            CONFIG,
            6,
            train=train,
            test=test,
            forget=train.take(list(range(12))),
            device="cpu",
            directory=copy,
        )


def test_forget_set_takes_whole_subjects() -> None:
    g = torch.Generator().manual_seed(1)
    base = make_faces(60, offset=0, generator=g)
    subjects = tuple(f"s{i // 3}" for i in range(60))
    data = FaceTensors(
        images=base.images,
        labels=base.labels,
        ages=base.ages,
        example_ids=base.example_ids,
        subject_ids=subjects,
    )
    forget = select_forget_set(data, fraction=0.1, seed=3)
    assert len(forget) >= 6 and len(forget) % 3 == 0
    assert forget.subject_ids is not None
    chosen = set(forget.subject_ids)
    assert sum(s in chosen for s in subjects) == len(forget)


def test_bad_input() -> None:
    g = torch.Generator().manual_seed(2)
    train, test = make_faces(30, offset=0, generator=g), make_faces(10, offset=100, generator=g)
    with pytest.raises(InputError, match="n_models"):
        qualify("finetune", CONFIG, 4, train=train, test=test, device="cpu")
    with pytest.raises(InputError, match="together"):
        qualify("finetune", CONFIG, 6, train=train, device="cpu")
    with pytest.raises(InputError, match="subset"):
        qualify("finetune", CONFIG, 6, train=train, test=test, forget=test, device="cpu")


def test_cli_rejects_too_few_models(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["qualify", "--unlearner", "finetune", "--models", "2", "--json"])
    assert exit_info.value.code == 2
    assert "models" in capsys.readouterr().err


def test_cli_rejects_an_unknown_executor(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--home", str(tmp_path), "qualify", "--unlearner", "finetune", "--executor", "nope", "--json"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "registered executor" in err and "local" in err and "ray" in err
    assert not (tmp_path / "qualification" / "models").exists()
