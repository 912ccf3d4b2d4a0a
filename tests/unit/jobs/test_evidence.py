"""``jobs.evidence``: the leave-one-out calibrator of the per-example tier, and the qualification lookup."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from deletion_sdk.jobs.evidence import find_qualification, loo_calibrator
from deletion_sdk.training import TrainConfig
from deletion_sdk.verification import ForgettingQuality
from deletion_sdk.verification.estimates import Estimate
from deletion_sdk.verification.qualification import QualificationReport, store_qualification

NAN = np.nan


def test_loo_calibrator_takes_the_first_out_member_and_masks_it() -> None:
    out_confs = np.array(  # [K=4, n=5]; NaN = the example was IN that shadow model
        [
            [NAN, 1.0, 2.0, NAN, 7.0],
            [3.0, NAN, 4.0, NAN, 8.0],
            [5.0, 6.0, NAN, NAN, NAN],
            [9.0, 0.5, NAN, NAN, NAN],
        ]
    )
    before = out_confs.copy()
    calibrator, rest = loo_calibrator(out_confs)
    np.testing.assert_array_equal(calibrator, [3.0, 1.0, 2.0, NAN, 7.0])
    np.testing.assert_array_equal(
        rest,
        [
            [NAN, NAN, NAN, NAN, NAN],
            [NAN, NAN, 4.0, NAN, 8.0],
            [5.0, 6.0, NAN, NAN, NAN],
            [9.0, 0.5, NAN, NAN, NAN],
        ],
    )
    assert calibrator.shape == (5,) and rest.shape == (4, 5) and rest.dtype == np.float64
    np.testing.assert_array_equal(out_confs, before)  # the input is not modified
    # every OUT value is either the calibrator or left in the reference, never both, never lost
    assert np.isnan(rest).sum() == np.isnan(out_confs).sum() + np.isfinite(calibrator).sum()
    assert np.nansum(rest) + np.nansum(calibrator) == pytest.approx(np.nansum(out_confs))


def test_loo_calibrator_accepts_integer_input_without_out_members() -> None:
    calibrator, rest = loo_calibrator(np.array([[1, 2], [3, 4]]))
    np.testing.assert_array_equal(calibrator, [1.0, 2.0])
    np.testing.assert_array_equal(rest, [[NAN, NAN], [3.0, 4.0]])


def _fq(score: float) -> ForgettingQuality:
    return ForgettingQuality(
        score=score,
        epsilons=np.array([0.0, 0.5, 1.0]),
        bin_scores=np.array([1.0, 0.5, 0.25]),
        n_models=6,
        n_examples=3,
        delta=0.01,
        max_epsilon=2.0,
        n_bins=4,
        n_peaky=0,
        n_separated=0,
        n_without_rule=0,
    )


def _estimate(value: float) -> Estimate:
    return Estimate(
        value=value, ci_low=value - 0.05, ci_high=value + 0.05, n=6, confidence_level=0.95, method="normal"
    )


def _report(
    unlearner: str, created_at: str, *, final_score: float, oracle: float = 0.5, arch: str = "tiny_cnn"
) -> QualificationReport:
    return QualificationReport(
        unlearner=unlearner,
        unlearner_version="1",
        params={"epochs": 1},
        train_config=TrainConfig(arch=arch, epochs=1),
        n_models=6,
        seed=0,
        device="cpu",
        n_train=100,
        n_forget=3,
        n_retain=97,
        n_test=40,
        training_root="1" * 64,
        forget_root="2" * 64,
        forgetting=_fq(final_score),
        forgetting_at_oracle_size=_fq(final_score),
        oracle=_fq(oracle),
        retain_accuracy_unlearned=_estimate(0.8),
        retain_accuracy_retrained=_estimate(0.8),
        test_accuracy_unlearned=_estimate(0.6),
        test_accuracy_retrained=_estimate(0.6),
        final_score=final_score,
        unlearning_time_s=_estimate(1.0),
        retrain_time_s=_estimate(10.0),
        time_fraction=0.1,
        created_at=created_at,
    )


def test_find_qualification_picks_the_newest_report_of_the_method(tmp_path: Path) -> None:
    directory = tmp_path / "qualification"
    older = store_qualification(
        _report("finetune", "2025-01-01T00:00:00+00:00", final_score=0.2), directory=directory
    )
    newest = store_qualification(
        _report("finetune", "2025-03-01T00:00:00+00:00", final_score=0.3, oracle=0.6), directory=directory
    )
    scrub = store_qualification(
        _report("scrub", "2025-09-01T00:00:00+00:00", final_score=0.9), directory=directory
    )
    other_arch = store_qualification(
        _report("finetune", "2025-06-01T00:00:00+00:00", final_score=0.1, arch="resnet18"),
        directory=directory,
    )
    # malformed files are skipped: not JSON, not UTF-8, JSON of another shape, a report missing fields
    (directory / "0-broken.json").write_text("{not json")
    (directory / "1-binary.json").write_bytes(b"\xff\xfe\x00garbage")
    (directory / "2-list.json").write_text("[1, 2, 3]")
    partial = json.loads(newest.path.read_text())
    del partial["oracle"]
    partial["created_at"] = "2099-01-01T00:00:00+00:00"
    (directory / "3-partial.json").write_text(json.dumps(partial))
    (directory / "notes.txt").write_text("not a report")

    found = find_qualification("finetune", directory=directory, arch="tiny_cnn")
    assert found == (newest.digest, pytest.approx(0.3 / 0.6))
    assert find_qualification("finetune", directory=directory) == (
        other_arch.digest,
        pytest.approx(0.1 / 0.5),
    )
    assert find_qualification("scrub", directory=directory, arch="tiny_cnn") == (
        scrub.digest,
        pytest.approx(0.9 / 0.5),
    )
    assert find_qualification("retrain", directory=directory) is None
    assert find_qualification("finetune", directory=directory, arch="vit") is None
    assert older.digest != newest.digest


def test_find_qualification_without_a_directory_or_oracle(tmp_path: Path) -> None:
    assert find_qualification("finetune", directory=tmp_path / "absent") is None
    stored = store_qualification(
        _report("finetune", "2025-01-01T00:00:00+00:00", final_score=0.4, oracle=0.0), directory=tmp_path
    )
    assert find_qualification("finetune", directory=tmp_path) == (stored.digest, 0.0)  # no oracle: no ratio
