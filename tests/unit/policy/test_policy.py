from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deletion_sdk.errors import PolicyError, UnknownPolicyError
from deletion_sdk.policy import Duration, add_months, list_policies, load_policy, load_policy_file

BUILTIN = Path(__file__).resolve().parents[3] / "policies"


def test_builtin_policies_load_and_end_with_retrain() -> None:
    ids = [p.id for p in list_policies()]
    assert ids == ["ccpa", "gdpr-art17", "strict"]
    for p in list_policies():
        assert p.unlearning.methods[-1] == "retrain"
        assert len(p.digest) == 64


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (datetime(2024, 1, 31, 9, 30, tzinfo=UTC), datetime(2024, 2, 29, 9, 30, tzinfo=UTC)),
        (datetime(2023, 1, 31, tzinfo=UTC), datetime(2023, 2, 28, tzinfo=UTC)),
        (datetime(2024, 3, 15, tzinfo=UTC), datetime(2024, 4, 15, tzinfo=UTC)),
        (datetime(2024, 12, 31, tzinfo=UTC), datetime(2025, 1, 31, tzinfo=UTC)),
        (datetime(2024, 5, 31, tzinfo=UTC), datetime(2024, 6, 30, tzinfo=UTC)),
    ],
)
def test_gdpr_one_month_clamps_to_month_end(received: datetime, due: datetime) -> None:
    assert load_policy("gdpr-art17").deadline.due_at(received) == due


def test_gdpr_extension_adds_two_months_to_the_due_date() -> None:
    rule = load_policy("gdpr-art17").deadline
    due = rule.due_at(datetime(2024, 1, 31, tzinfo=UTC))
    assert rule.extended_due_at(due) == datetime(2024, 4, 29, tzinfo=UTC)
    assert rule.max_extensions == 1


def test_ccpa_45_days_plus_45() -> None:
    rule = load_policy("ccpa").deadline
    due = rule.due_at(datetime(2024, 1, 1, tzinfo=UTC))
    assert due == datetime(2024, 2, 15, tzinfo=UTC)
    assert rule.extended_due_at(due) == datetime(2024, 3, 31, tzinfo=UTC)


def test_naive_received_at_is_utc() -> None:
    assert load_policy("ccpa").deadline.due_at(datetime(2024, 1, 1)).tzinfo is not None


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)), st.integers(0, 36))
def test_add_months_lands_in_the_right_month_and_never_overflows(moment: datetime, months: int) -> None:
    out = add_months(moment, months)
    assert (out.year * 12 + out.month) - (moment.year * 12 + moment.month) == months
    assert out.day <= moment.day
    assert (out.hour, out.minute) == (moment.hour, moment.minute)


def test_duration_describe() -> None:
    assert Duration(months=1).describe() == "1 month"
    assert Duration(days=45).describe() == "45 days"


def test_unknown_policy_lists_known_ids() -> None:
    with pytest.raises(UnknownPolicyError, match="gdpr-art17"):
        load_policy("no-such-policy")


def _write(tmp_path: Path, text: str, name: str = "custom.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _builtin_text(name: str) -> str:
    return (BUILTIN / f"{name}.yaml").read_text()


def test_malformed_threshold_names_field_and_line(tmp_path: Path) -> None:
    text = _builtin_text("gdpr-art17").replace("id: gdpr-art17", "id: custom")
    text = text.replace("max_attack_auc: 0.62", "max_attack_auc: lots")
    path = _write(tmp_path, text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "max_attack_auc" in row)
    with pytest.raises(PolicyError) as err:
        load_policy_file(path)
    assert f"custom.yaml:{line}:" in str(err.value)
    assert "verification.thresholds.max_attack_auc" in str(err.value)


def test_misspelt_field_is_rejected(tmp_path: Path) -> None:
    text = _builtin_text("ccpa").replace("id: ccpa", "id: custom").replace("max_attack_auc", "max_atack_auc")
    with pytest.raises(PolicyError, match="max_atack_auc"):
        load_policy_file(_write(tmp_path, text))


def test_retrain_must_be_last(tmp_path: Path) -> None:
    text = _builtin_text("ccpa").replace("id: ccpa", "id: custom")
    text, n = re.subn(r"methods: \[[^\]]*\]", "methods: [retrain, finetune]", text)
    assert n == 1
    with pytest.raises(PolicyError, match=r"unlearning\.methods"):
        load_policy_file(_write(tmp_path, text))


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ("gdpr-art17", "max_attack_auc"),
        ("gdpr-art17", "min_retain_accuracy_ratio"),
        ("ccpa", "min_holdout_accuracy_ratio"),
        ("strict", "max_lira_excess_flagged"),
    ],
)
def test_a_policy_without_its_tiers_thresholds_is_refused(tmp_path: Path, policy: str, field: str) -> None:
    text = _builtin_text(policy).replace(f"id: {policy}", "id: custom")
    text, n = re.subn(rf"^\s*{field}:.*$\n", "", text, flags=re.MULTILINE)
    assert n == 1
    with pytest.raises(PolicyError, match=rf"thresholds\.{field}") as err:
        load_policy_file(_write(tmp_path, text))
    assert "custom.yaml:" in str(err.value) and "verification" in str(err.value)


def test_a_threshold_less_policy_is_refused(tmp_path: Path) -> None:
    text = _builtin_text("gdpr-art17").replace("id: gdpr-art17", "id: custom")
    text = re.sub(r"  thresholds:\n(    .*\n|\s*#.*\n|\s+\n)*", "  thresholds: {}\n", text)
    with pytest.raises(PolicyError, match="max_attack_auc"):
        load_policy_file(_write(tmp_path, text))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("max_attack_auc: 0.62", "max_attack_auc: 1.0"),
        ("min_retain_accuracy_ratio: 0.75", "min_retain_accuracy_ratio: 0.0"),
        ("min_holdout_accuracy_ratio: 0.90", "min_holdout_accuracy_ratio: 0"),
        ("max_auc_gap_to_reference: 0.10", "max_auc_gap_to_reference: 0.5"),
    ],
)
def test_a_threshold_no_evidence_could_fail_is_refused(tmp_path: Path, old: str, new: str) -> None:
    text = _builtin_text("gdpr-art17").replace("id: gdpr-art17", "id: custom")
    assert old in text
    with pytest.raises(PolicyError, match=new.split(":")[0]):
        load_policy_file(_write(tmp_path, text.replace(old, new)))


def test_invalid_yaml_names_line(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"bad.yaml:2: not valid YAML"):
        load_policy_file(_write(tmp_path, "id: bad\n  title: [unclosed\n", "bad.yaml"))


def test_id_must_match_file_name(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="file name"):
        load_policy_file(_write(tmp_path, _builtin_text("ccpa"), "other.yaml"))


def test_policy_dir_overrides_builtin(tmp_path: Path) -> None:
    text = _builtin_text("ccpa").replace("time_budget_fraction: 0.30", "time_budget_fraction: 0.5")
    _write(tmp_path, text, "ccpa.yaml")
    assert load_policy("ccpa", policy_dir=tmp_path).unlearning.time_budget_fraction == 0.5
    assert load_policy("ccpa").unlearning.time_budget_fraction == 0.30


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deletion_sdk.cli", *args], capture_output=True, text=True)


def test_cli_policies_check_exit_codes(tmp_path: Path) -> None:
    ok = _cli("policies", "check", str(BUILTIN / "strict.yaml"), "--json")
    assert ok.returncode == 0, ok.stderr
    bad = _write(
        tmp_path, _builtin_text("ccpa").replace("id: ccpa", "id: custom").replace("days: 45}", "days: -1}")
    )
    out = _cli("policies", "check", str(bad))
    assert out.returncode == 2
    assert out.stderr.startswith("error: ") and "deadline.response.days" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
