"""deletion_sdk: make the right to erasure real for machine-learning models.

Record a person's deletion request, find every training example that came from them, make the deployed
model forget those examples with a pluggable unlearning method, prove the forgetting with membership
inference and statistical tests, and emit a signed certificate plus a tamper-evident audit trail.

    from deletion_sdk import DeletionSDK

    with DeletionSDK.open(home="./.deletion_sdk") as sdk:
        sdk.submit_request(subject="alice@example.com", policy="gdpr-art17")
        result = sdk.run_batch(model="age-predictor")

The names below are the public surface; they are imported on first use, so ``import deletion_sdk`` stays
cheap (torch is loaded only when a name that needs it is touched).
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("deletion-sdk")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

_EXPORTS: dict[str, str] = {
    # facade and configuration
    "DeletionSDK": "deletion_sdk.sdk",
    "Settings": "deletion_sdk.settings",
    # errors
    "AuditLogError": "deletion_sdk.errors",
    "AuthenticationError": "deletion_sdk.errors",
    "BudgetExceeded": "deletion_sdk.errors",
    "CertificateFormatError": "deletion_sdk.errors",
    "ConfigurationError": "deletion_sdk.errors",
    "ConflictError": "deletion_sdk.errors",
    "ContainsErasedDataError": "deletion_sdk.errors",
    "DeletionSDKError": "deletion_sdk.errors",
    "ErasureError": "deletion_sdk.errors",
    "ExecutorError": "deletion_sdk.errors",
    "IllegalTransitionError": "deletion_sdk.errors",
    "InputError": "deletion_sdk.errors",
    "IntegrityError": "deletion_sdk.errors",
    "NotFoundError": "deletion_sdk.errors",
    "ShreddedDataError": "deletion_sdk.errors",
    "SignatureError": "deletion_sdk.errors",
    "VerificationError": "deletion_sdk.errors",
    # records and results
    "BatchResult": "deletion_sdk.jobs.results",
    "DatasetRecord": "deletion_sdk.ledger.records",
    "ErasedArtifact": "deletion_sdk.erasure.records",
    "ExampleInput": "deletion_sdk.ledger.lineage",
    "ForgetSetManifest": "deletion_sdk.ledger.records",
    "ImportReport": "deletion_sdk.ledger.records",
    "ModelStatus": "deletion_sdk.ledger.statuses",
    "ModelVersionRecord": "deletion_sdk.ledger.records",
    "RedTeamReport": "deletion_sdk.jobs.redteam",
    "RequestRecord": "deletion_sdk.ledger.records",
    "RequestStatus": "deletion_sdk.ledger.statuses",
    "SubmitResult": "deletion_sdk.ledger.records",
    # policies
    "Decision": "deletion_sdk.policy",
    "Policy": "deletion_sdk.policy",
    "evaluate": "deletion_sdk.policy",
    "list_policies": "deletion_sdk.policy",
    "load_policy": "deletion_sdk.policy",
    # unlearning
    "Unlearner": "deletion_sdk.unlearning",
    "UnlearnerParams": "deletion_sdk.unlearning",
    "UnlearningContext": "deletion_sdk.unlearning",
    "UnlearningResult": "deletion_sdk.unlearning",
    "get_unlearner": "deletion_sdk.unlearning",
    "list_unlearners": "deletion_sdk.unlearning",
    "register_unlearner": "deletion_sdk.unlearning",
    "run_unlearner": "deletion_sdk.unlearning",
    # training and data
    "FaceTensors": "deletion_sdk.data",
    "LineageRecorder": "deletion_sdk.external",
    "TrainConfig": "deletion_sdk.training",
    "TrainingRecipe": "deletion_sdk.training.external",
    # verification
    "AttackResult": "deletion_sdk.verification",
    "ForgettingQuality": "deletion_sdk.verification",
    "VerificationReport": "deletion_sdk.verification",
    "final_score": "deletion_sdk.verification",
    "forgetting_quality": "deletion_sdk.verification",
    "logit_scaled_confidence": "deletion_sdk.verification",
    "population_attack": "deletion_sdk.verification",
    "qualify": "deletion_sdk.verification",
    "verify_population": "deletion_sdk.verification",
    # attestation and audit
    "AuditVerification": "deletion_sdk.audit",
    "VerifiedCertificate": "deletion_sdk.attest",
    "verify_audit_log": "deletion_sdk.audit",
    "verify_certificate": "deletion_sdk.attest",
    # report
    "ReportData": "deletion_sdk.report",
    "render_report": "deletion_sdk.report",
    "write_report": "deletion_sdk.report",
}

__all__ = [
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'deletion_sdk' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from deletion_sdk.attest import VerifiedCertificate, verify_certificate
    from deletion_sdk.audit import AuditVerification, verify_audit_log
    from deletion_sdk.data import FaceTensors
    from deletion_sdk.erasure.records import ErasedArtifact
    from deletion_sdk.errors import (
        AuditLogError,
        AuthenticationError,
        BudgetExceeded,
        CertificateFormatError,
        ConfigurationError,
        ConflictError,
        ContainsErasedDataError,
        DeletionSDKError,
        ErasureError,
        ExecutorError,
        IllegalTransitionError,
        InputError,
        IntegrityError,
        NotFoundError,
        ShreddedDataError,
        SignatureError,
        VerificationError,
    )
    from deletion_sdk.external import LineageRecorder
    from deletion_sdk.jobs.redteam import RedTeamReport
    from deletion_sdk.jobs.results import BatchResult
    from deletion_sdk.ledger.lineage import ExampleInput
    from deletion_sdk.ledger.records import (
        DatasetRecord,
        ForgetSetManifest,
        ImportReport,
        ModelVersionRecord,
        RequestRecord,
        SubmitResult,
    )
    from deletion_sdk.ledger.statuses import ModelStatus, RequestStatus
    from deletion_sdk.policy import Decision, Policy, evaluate, list_policies, load_policy
    from deletion_sdk.report import ReportData, render_report, write_report
    from deletion_sdk.sdk import DeletionSDK
    from deletion_sdk.settings import Settings
    from deletion_sdk.training import TrainConfig
    from deletion_sdk.training.external import TrainingRecipe
    from deletion_sdk.unlearning import (
        Unlearner,
        UnlearnerParams,
        UnlearningContext,
        UnlearningResult,
        get_unlearner,
        list_unlearners,
        register_unlearner,
        run_unlearner,
    )
    from deletion_sdk.verification import (
        AttackResult,
        ForgettingQuality,
        VerificationReport,
        logit_scaled_confidence,
        population_attack,
        qualify,
        verify_population,
    )
    from deletion_sdk.verification.forgetting_quality import final_score, forgetting_quality
