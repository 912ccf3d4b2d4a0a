"""Fuzzing policy YAML: a policy file loads or is refused with one ``PolicyError`` line; never a traceback.

Examples per test (pinned): loader 120, ``policies check`` CLI 15.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deletion_sdk.errors import PolicyError
from deletion_sdk.policy import load_policy_file
from deletion_sdk.policy.loader import BUILTIN_POLICY_DIR
from tests.unit.fuzz._cli import assert_clean_failure, fuzz, run_cli

LINES = (BUILTIN_POLICY_DIR / "gdpr-art17.yaml").read_text().splitlines()
_hostile = st.sampled_from(
    [
        "verification:",
        "  tier: population",
        "    max_attack_auc: 1.0",
        "a: &x [1, 2]",
        "b: *x",
        "!!python/object/apply:os.system ['true']",
        "c: " + "[" * 200 + "]" * 200,
        "d: {" * 50,
        "- - - - - - - - - - - - - - - - - - - -",
        "unlearning: {methods: [no_such_method, retrain], time_budget_fraction: 0.5}",
        "\t",
        "'",
        "%YAML 1.1",
        "---",
        "\x00",
    ]
)
# A built-in policy with lines replaced, repeated, dropped or interleaved with hostile and random text.
edits = st.lists(
    st.tuples(
        st.integers(0, len(LINES)),
        st.sampled_from(["insert", "replace", "delete", "repeat"]),
        _hostile | st.text(max_size=30) | st.sampled_from(LINES),
    ),
    max_size=4,
)


def _mutate(changes: list[tuple[int, str, str]]) -> str:
    lines = list(LINES)
    for at, action, text in changes:
        i = min(at, len(lines) - 1) if lines else 0
        if action == "insert":
            lines.insert(at, text)
        elif action == "replace" and lines:
            lines[i] = text
        elif action == "delete" and lines:
            del lines[i]
        elif lines:
            lines.insert(i, lines[i])
    return "\n".join(lines) + "\n"


def test_policy_loader_loads_or_refuses_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "gdpr-art17.yaml"

    @fuzz(120)
    @given(changes=edits, tail=st.binary(max_size=20))
    def check(changes: list[tuple[int, str, str]], tail: bytes) -> None:
        path.write_bytes(_mutate(changes).encode("utf-8", "surrogatepass") + tail)
        try:
            policy = load_policy_file(path)
        except PolicyError as e:
            message = str(e)
            assert message.startswith(str(path)) and "\n" not in message
            return
        assert policy.id == "gdpr-art17" and policy.unlearning.methods[-1] == "retrain"

    check()


def test_policies_check_cli_fails_with_one_error_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "gdpr-art17.yaml"

    @fuzz(15)
    @given(changes=edits)
    def check(changes: list[tuple[int, str, str]]) -> None:
        path.write_bytes(_mutate(changes).encode("utf-8", "surrogatepass"))
        code, _, err = run_cli(capsys, tmp_path / "home", "policies", "check", str(path))
        assert_clean_failure(code, err, allowed=(2,))

    check()
