"""The public surface is curated: this test pins it (as httpx's test_exported_members does)."""

from __future__ import annotations

import subprocess
import sys

import deletion_sdk

EXPECTED = [
    "AttackResult",
    "AuditLogError",
    "AuditVerification",
    "AuthenticationError",
    "BatchResult",
    "BudgetExceeded",
    "CertificateFormatError",
    "ConfigurationError",
    "ConflictError",
    "ContainsErasedDataError",
    "DatasetRecord",
    "Decision",
    "DeletionSDK",
    "DeletionSDKError",
    "ErasedArtifact",
    "ErasureError",
    "ExampleInput",
    "ExecutorError",
    "FaceTensors",
    "ForgetSetManifest",
    "ForgettingQuality",
    "IllegalTransitionError",
    "ImportReport",
    "InputError",
    "IntegrityError",
    "LineageRecorder",
    "ModelStatus",
    "ModelVersionRecord",
    "NotFoundError",
    "Policy",
    "RedTeamReport",
    "ReportData",
    "RequestRecord",
    "RequestStatus",
    "Settings",
    "ShreddedDataError",
    "SignatureError",
    "SubmitResult",
    "TrainConfig",
    "TrainingRecipe",
    "Unlearner",
    "UnlearnerParams",
    "UnlearningContext",
    "UnlearningResult",
    "VerificationError",
    "VerificationReport",
    "VerifiedCertificate",
    "__version__",
    "evaluate",
    "final_score",
    "forgetting_quality",
    "get_unlearner",
    "list_policies",
    "list_unlearners",
    "load_policy",
    "logit_scaled_confidence",
    "population_attack",
    "qualify",
    "register_unlearner",
    "render_report",
    "run_unlearner",
    "verify_audit_log",
    "verify_certificate",
    "verify_population",
    "write_report",
]


def test_all_is_sorted_and_pinned() -> None:
    assert deletion_sdk.__all__ == sorted(deletion_sdk.__all__)
    assert deletion_sdk.__all__ == sorted(EXPECTED)


def test_every_exported_name_resolves() -> None:
    for name in deletion_sdk.__all__:
        assert getattr(deletion_sdk, name) is not None, name


def test_errors_share_one_root() -> None:
    for name in deletion_sdk.__all__:
        obj = getattr(deletion_sdk, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, deletion_sdk.DeletionSDKError), name


def test_importing_the_package_does_not_load_torch() -> None:
    code = "import sys, deletion_sdk; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_lazy_table_matches_all() -> None:
    assert sorted([*deletion_sdk._EXPORTS, "__version__"]) == deletion_sdk.__all__
