"""Facade operations on what makes the evidence trustworthy: signing keys, the audit log, certificates."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

from sqlmodel import Session

from deletion_sdk._facade.base import FacadeBase
from deletion_sdk.attest import KeyInfo, VerifiedCertificate, generate_keypair, load_key_info, load_signer
from deletion_sdk.attest.keys import Ed25519Signer
from deletion_sdk.audit import AuditLog, AuditVerification, NewEvent
from deletion_sdk.audit.deployment import deployment_audit_log, verify_deployment_log
from deletion_sdk.context import Context
from deletion_sdk.errors import ConfigurationError
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.events import ChangeEvent
from deletion_sdk.ledger.subjects import SubjectKey
from deletion_sdk.ledger.webhooks import enqueue as enqueue_webhooks

__all__ = ["TrustOperations"]


class TrustOperations(FacadeBase):
    """The signing key, the audit log (every ledger change is appended to it) and certificates."""

    def __init__(self, *, context: Context, ledger: Ledger, subject_key: SubjectKey) -> None:
        super().__init__(context=context, ledger=ledger, subject_key=subject_key)
        self.ledger.event_sink = self._audit_sink  # audit entries commit in the change's transaction

    @cached_property
    def audit_log(self) -> AuditLog:
        """The deployment's audit log (signs checkpoints with the deployment key once one exists)."""
        signer = self._signer() if self.layout.signing_key.exists() else None
        return deployment_audit_log(self.ledger, self.settings, signer=signer)  # with witness and keyring

    def _audit_sink(self, session: Session, events: Sequence[ChangeEvent]) -> None:
        enqueue_webhooks(session, events)  # the webhook outbox commits with the change, like its audit entry
        self.audit_log.append_many(
            [NewEvent(type=e.type, data=dict(e.data), actor=e.actor) for e in events], session=session
        )

    def verify_audit_log(self) -> AuditVerification:
        """Recompute every leaf, the tree and every signed checkpoint.

        Raises:
            AuditLogError: a row was modified, removed, inserted or reordered (names the first bad entry).
        """
        return verify_deployment_log(self.ledger, self.settings)  # ledger, witness and certificates

    # -- keys -------------------------------------------------------------------------------------

    def generate_keys(self, *, force: bool = False) -> KeyInfo:
        """Create the Ed25519 key pair under HOME/keys (encrypted when DELETION_SDK_KEY_PASSPHRASE is set)."""
        info = generate_keypair(self.layout.keys, passphrase=self.settings.key_passphrase, force=force)
        self.__dict__.pop("audit_log", None)  # the next use picks up the new signer
        return info

    def key_info(self) -> KeyInfo:
        """Key id and paths of the deployment's signing key."""
        return load_key_info(self.layout.keys)

    def _signer(self) -> Ed25519Signer:
        if not self.layout.signing_key.exists():
            raise ConfigurationError(
                f"no signing key in {self.layout.keys}; create one with `deletion-sdk keys generate`"
            )
        return load_signer(self.layout.keys, passphrase=self.settings.key_passphrase)

    # -- certificates -----------------------------------------------------------------------------

    def verify_certificate(
        self, *, path: Path | str, public_key: Path | str | bytes | None = None
    ) -> VerifiedCertificate:
        """Verify a certificate's signature, its audit inclusion proof and signed checkpoint, and that its
        audit entry names this certificate's content.

        Raises:
            SignatureError: the signature does not verify (any change to the file).
            AuditLogError: the embedded proof, checkpoint or audit binding does not hold.
        """
        from deletion_sdk.jobs.certify import verify_certificate_file  # the one check the CLI runs too

        key = public_key if public_key is not None else self.layout.public_key
        return verify_certificate_file(path, public_key=key).certificate
