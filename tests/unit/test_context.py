"""One explicit context: the home layout, the policy resolver, no library module reading the environment."""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import pytest

import deletion_sdk
from deletion_sdk.context import Context
from deletion_sdk.errors import UnknownPolicyError
from deletion_sdk.layout import HomeLayout
from deletion_sdk.policy import PolicyResolver
from deletion_sdk.policy.loader import BUILTIN_POLICY_DIR
from deletion_sdk.settings import Settings

PACKAGE = Path(deletion_sdk.__file__).parent
# The only modules allowed to build Settings from the environment: the CLI and DeletionSDK.open's path.
ENVIRONMENT_READERS = {"sdk.py"}


def _settings_calls_without_arguments(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "Settings"
        and not node.args
        and not node.keywords
    ]


def test_no_library_module_builds_settings_from_the_environment() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "cli" or str(rel) in ENVIRONMENT_READERS:
            continue
        offenders += [f"{rel}:{line}" for line in _settings_calls_without_arguments(path)]
    assert offenders == []


def test_no_module_joins_a_home_directory_name_by_hand() -> None:
    names = ("jobs", "shadow", "qualification", "cache", "models", "keys", "certificates", "reports")
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "layout.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.BinOp)
                and isinstance(node.op, ast.Div)
                and isinstance(node.right, ast.Constant)
                and node.right.value in names
                and "home" in ast.unparse(node.left)
            ):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


def test_home_layout_names_every_artifact(tmp_path: Path) -> None:
    layout = HomeLayout(tmp_path)
    assert layout.ledger_db == tmp_path / "ledger.db"
    assert layout.public_key == tmp_path / "keys" / "signing.pub"
    assert layout.signing_key.parent == layout.keys
    assert layout.model_dir("age") == tmp_path / "models" / "age"
    assert layout.job("j1").verification(0) == tmp_path / "jobs" / "j1" / "verification-0.json"
    assert layout.job("j1").candidate_dir(2) == tmp_path / "jobs" / "j1" / "candidate-2"
    assert layout.shadow_bank("ABCD") == tmp_path / "shadow" / "abcd"
    assert layout.report("j1") == tmp_path / "reports" / "j1.html"
    assert {layout.qualification.name, layout.certificates.name, layout.cache.name} == {
        "qualification",
        "certificates",
        "cache",
    }
    assert Settings(home=tmp_path).layout == layout
    assert Settings(home=tmp_path).resolved_database_url.endswith(str(tmp_path / "ledger.db"))


def _custom_policy(directory: Path, policy_id: str = "house-rules", auc: float = 0.7) -> Path:
    text = (BUILTIN_POLICY_DIR / "gdpr-art17.yaml").read_text().replace("id: gdpr-art17", f"id: {policy_id}")
    text = text.replace("max_attack_auc:", f"max_attack_auc: {auc}  # was:", 1)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{policy_id}.yaml"
    path.write_text(text)
    return path


def test_resolver_reads_the_configured_directory_not_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine, other = tmp_path / "mine", tmp_path / "other"
    path = _custom_policy(mine)
    _custom_policy(other, "env-only")
    monkeypatch.setenv("DELETION_SDK_POLICY_DIR", str(other))
    context = Context.from_settings(Settings(home=tmp_path, policy_dir=mine))
    policy = context.policies.get("house-rules")
    assert policy.digest == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(UnknownPolicyError):
        context.policies.get("env-only")
    # built-ins are still found behind the deployment's directory
    assert context.policies.get("ccpa").id == "ccpa"
    assert [p.id for p in context.policies.list()].count("house-rules") == 1


def test_resolver_reports_drift_of_a_pinned_policy(tmp_path: Path) -> None:
    path = _custom_policy(tmp_path)
    resolver = PolicyResolver(tmp_path)
    pinned = resolver.get("house-rules")
    assert resolver.drift(pinned) is None
    _custom_policy(tmp_path, auc=0.99)
    assert resolver.get("house-rules") == pinned  # cached for the life of the resolver
    drift = resolver.drift(pinned)
    assert drift is not None
    assert drift.pinned_digest == pinned.digest
    assert drift.current_digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert "keeps the pinned" in drift.detail
    path.unlink()
    gone = resolver.drift(pinned)
    assert gone is not None and gone.current_digest is None
