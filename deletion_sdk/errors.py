"""Every error the SDK raises, rooted at :class:`DeletionSDKError`.

Callers catch the branch they care about; the CLI maps branches to exit codes
(``InputError`` and ``ConfigurationError`` -> 2, everything else -> 1).

    DeletionSDKError
    ├── ConfigurationError          settings, keys or HOME missing or unusable
    ├── InputError (ValueError)     a caller passed something invalid; nothing was changed
    │   ├── UnknownPolicyError      no policy with that id
    │   ├── PolicyError             a policy file is malformed (names the field and line)
    │   ├── ManifestError           a dataset manifest or import file is malformed
    │   ├── CertificateFormatError  a certificate file is unreadable, not JSON, or nested too deeply
    │   ├── ContainsErasedDataError a model version holding erased people's data asked to be deployed
    │   └── RegistryError           unknown or duplicate plugin name (lists what is registered)
    ├── NotFoundError (LookupError) a request, dataset, model, job or entry does not exist
    │   └── ShreddedDataError       the example's data key was destroyed (crypto-shredded)
    ├── AuthenticationError         an API token is missing, unknown, revoked or outside its scope
    ├── ConflictError               the ledger's state forbids the operation
    │   ├── IllegalTransitionError  a request status change the lifecycle does not allow
    │   └── SuppressedSubjectError  data of an erased subject offered for ingestion
    ├── IntegrityError              stored bytes do not match their recorded digest
    ├── BudgetExceeded              an unlearner ran out of its time budget
    ├── JobError                    a batch job could not finish a step
    │   └── ErasureError            an artifact holding erased data could not be deleted (names why)
    ├── ExecutorError               a training task failed or its executor gave no result in time
    └── VerificationError           a security or forgetting check failed (fail closed)
        ├── SignatureError          a DSSE signature or signed checkpoint does not verify
        ├── AuditLogError           the audit log was modified, removed, inserted or reordered
        └── ProofError              a Merkle inclusion or consistency proof does not verify
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuditLogError",
    "AuthenticationError",
    "BudgetExceeded",
    "CertificateFormatError",
    "ConfigurationError",
    "ConflictError",
    "ContainsErasedDataError",
    "DeletionSDKError",
    "ErasureError",
    "ExecutorError",
    "IllegalTransitionError",
    "InputError",
    "IntegrityError",
    "JobError",
    "ManifestError",
    "NotFoundError",
    "PolicyError",
    "ProofError",
    "RegistryError",
    "ShreddedDataError",
    "SignatureError",
    "SuppressedSubjectError",
    "UnknownPolicyError",
    "VerificationError",
]


class DeletionSDKError(Exception):
    """Root of every error raised by deletion_sdk."""


class ConfigurationError(DeletionSDKError):
    """Settings, keys or the SDK home are missing or unusable."""


class InputError(DeletionSDKError, ValueError):
    """A caller passed an invalid value. Nothing was recorded or changed."""


class UnknownPolicyError(InputError):
    """No policy with the given id is known."""


class PolicyError(InputError):
    """A policy document is malformed."""


class ManifestError(InputError):
    """A dataset manifest or request import file is malformed."""


class ContainsErasedDataError(InputError):
    """A model version that holds erased people's data was asked to be deployed (or is retired)."""


class CertificateFormatError(InputError):
    """A certificate file is unreadable, not UTF-8 JSON, or nested too deeply (nothing to verify)."""


class RegistryError(InputError):
    """A plugin name is unknown, or already registered."""


class NotFoundError(DeletionSDKError, LookupError):
    """The requested object does not exist."""


class ShreddedDataError(NotFoundError):
    """An example's data key was destroyed (crypto-shredded): its ciphertext can no longer be read."""


class AuthenticationError(DeletionSDKError):
    """An API token is missing, unknown, revoked, or not allowed what it was used for."""


class ConflictError(DeletionSDKError):
    """The current state of the ledger forbids the operation."""


class IllegalTransitionError(ConflictError):
    """A deletion-request status change that the lifecycle does not allow."""


class SuppressedSubjectError(ConflictError):
    """Data of a subject on the suppression list was offered for ingestion."""


class IntegrityError(DeletionSDKError):
    """Stored bytes do not match their recorded digest."""


class BudgetExceeded(DeletionSDKError):
    """An unlearner ran past its time budget.

    Attributes:
        budget_s: the budget in seconds.
        elapsed_s: seconds spent when the run was stopped.
        completed_steps: optimiser steps finished before stopping.
    """

    def __init__(self, message: str, *, budget_s: float, elapsed_s: float, completed_steps: int) -> None:
        super().__init__(message)
        self.budget_s = budget_s
        self.elapsed_s = elapsed_s
        self.completed_steps = completed_steps


class JobError(DeletionSDKError):
    """A batch job step could not be completed."""


class ErasureError(JobError):
    """An artifact holding an erased person's data could not be deleted, or is still readable."""


class ExecutorError(DeletionSDKError):
    """A training or unlearning task failed, or its executor (e.g. Ray) gave no result in time."""


class VerificationError(DeletionSDKError):
    """A check failed. Verification functions raise this instead of returning False."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details


class SignatureError(VerificationError):
    """A signature does not verify under the given key."""


class AuditLogError(VerificationError):
    """The audit log does not match its recorded hashes, proofs or checkpoints."""


class ProofError(VerificationError):
    """A Merkle inclusion or consistency proof does not verify."""
