"""The audit log of one deployment: its witness, its keyring, its certificates, from the settings.

Everything that opens a deployment's log (the facade, the CLI) goes through :func:`deployment_audit_log`
and :func:`verify_deployment_log`, so the witness and the keyring are never forgotten.
"""

from __future__ import annotations

from collections.abc import Sequence

from deletion_sdk.attest.keyring import deployment_keyring
from deletion_sdk.attest.keys import Signer, Verifier
from deletion_sdk.audit.log import AuditLog
from deletion_sdk.audit.verify import AuditVerification, verify_audit_log
from deletion_sdk.audit.witness import WitnessStore, witness_path
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.settings import Settings

__all__ = ["deployment_audit_log", "verify_deployment_log"]


def deployment_audit_log(ledger: Ledger, settings: Settings, *, signer: Signer | None = None) -> AuditLog:
    """The deployment's audit log with its witness store and keyring."""
    return AuditLog(
        ledger,
        signer=signer,
        witness=WitnessStore(witness_path(settings)),
        keyring=deployment_keyring(settings.layout.keys),
    )


def verify_deployment_log(
    ledger: Ledger, settings: Settings, *, public_keys: Sequence[Verifier] | None = None
) -> AuditVerification:
    """Verify the deployment's log against every checkpoint it can find: the ledger's, the witness's and
    those embedded in the certificates under HOME.

    Args:
        ledger: the deployment's ledger.
        settings: where HOME, the witness and the keys are.
        public_keys: keys to trust; default the deployment's keyring (its current and retired keys).

    Raises:
        AuditLogError: the first problem found.
    """
    keyring = deployment_keyring(settings.layout.keys)
    return verify_audit_log(
        ledger,
        public_keys=list(public_keys) if public_keys else None,
        keyring=None if public_keys else keyring,
        witness=WitnessStore(witness_path(settings)),
        certificates=settings.layout.certificates if settings.layout.certificates.is_dir() else None,
    )
