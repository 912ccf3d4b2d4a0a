"""Found 3 of the input review: a policy cannot smuggle a weaker block in, or name a method nobody runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deletion_sdk.errors import PolicyError
from deletion_sdk.policy import load_policy_file
from deletion_sdk.policy.loader import BUILTIN_POLICY_DIR, MAX_DEPTH, MAX_POLICY_BYTES

GDPR = (BUILTIN_POLICY_DIR / "gdpr-art17.yaml").read_text()


def _write(tmp_path: Path, text: str, name: str = "gdpr-art17") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def test_a_second_top_level_block_is_refused_not_silently_used(tmp_path: Path) -> None:
    weaker = (
        "verification:\n  tier: population\n  thresholds:\n    max_attack_auc: 0.99\n"
        "    max_auc_gap_to_reference: 0.49\n    max_forget_accuracy_gap: 0.99\n"
        "    min_retain_accuracy_ratio: 0.01\n    min_holdout_accuracy_ratio: 0.01\n"
    )
    path = _write(tmp_path, GDPR + weaker)
    dup_line = len(GDPR.splitlines()) + 1
    with pytest.raises(PolicyError) as info:
        load_policy_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{dup_line}: duplicate key 'verification'")
    assert "\n" not in message


def test_a_nested_duplicate_key_is_refused(tmp_path: Path) -> None:
    text = GDPR.replace("  thresholds:\n", "  thresholds:\n    max_attack_auc: 0.99\n", 1)
    with pytest.raises(PolicyError, match=r"duplicate key 'verification\.thresholds\.max_attack_auc'"):
        load_policy_file(_write(tmp_path, text))


def test_an_unknown_unlearner_is_refused_at_load_naming_the_line(tmp_path: Path) -> None:
    text, n = re.subn(r"methods: \[([a-z_]+)", "methods: [no_such_method", GDPR, count=1)
    assert n == 1
    line = next(i for i, t in enumerate(text.splitlines(), start=1) if "no_such_method" in t)
    with pytest.raises(
        PolicyError, match=rf":{line}: .*unknown unlearner 'no_such_method'.*registered: .*retrain"
    ):
        load_policy_file(_write(tmp_path, text))


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 5000 + "]" * 5000,  # would overflow the recursive composer
        "a:\n"
        + "".join("  " * i + f"k{i}:\n" for i in range(1, MAX_DEPTH + 2))
        + "  " * (MAX_DEPTH + 2)
        + "x",
        "a: &x [1]\nb: *x\n",
        "x" * (MAX_POLICY_BYTES + 1),
    ],
    ids=["deep-flow", "deep-block", "alias", "too-large"],
)
def test_hostile_yaml_is_one_clean_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy_file(_write(tmp_path, text))
    assert str(info.value).startswith(str(tmp_path))


def test_invalid_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gdpr-art17.yaml"
    path.write_bytes(GDPR.encode() + b"# \xff\n")
    with pytest.raises(PolicyError, match="UTF-8"):
        load_policy_file(path)
